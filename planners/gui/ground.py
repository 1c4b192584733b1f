"""Match element descriptions from an instruction to what the screen shows, at planning time.

The planner may read the observation (never the app's internals), so it grounds each
:class:`~planners.gui.grammar.Target` before writing a subgoal:

* the description as written, through :class:`perception.ui_query.ElementMatcher`;
* label synonyms when the words are not shown ("x" -> the "Close" button, "sign in" -> "Log in");
* semantic matching (sentence embeddings) when the matcher has an embedder;
* a quoted label that matches several elements differing only in letter case ("yes" / "Yes")
  picks the exact one, by element id;
* a field named by a word no label shows ("as the date") falls back to the only field on screen;
* a plural ("both text fields") expands to one description per element.

A description that matches nothing stays as written: the element may appear later (after a
scroll, a tap, typing); the planner's revision and the repairer deal with it then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from embodied.types import UIElement
from perception.ui_query import ROLE_WORDS, ElementMatcher, labels_for, parse_query, text_score
from planners.gui import lexicon as lx
from planners.gui.grammar import Target

FIELD_ROLES = ROLE_WORDS["field"]
BOX_ROLES = ("checkbox", "switch", "radio")
DROPDOWN_ROLES = ROLE_WORDS["dropdown"]


@dataclass
class Grounded:
    """A description ready for a policy: ``query`` for the primitives, ``element`` the element it
    matched now (None when nothing on screen matches), ``element_id`` set only when the query
    alone would be ambiguous, and a ``note`` when the description was reinterpreted."""

    target: Target
    query: str
    element: UIElement | None = None
    element_id: str = ""
    note: str = ""
    loose: bool = False  # the element only contains the label among other words

    @property
    def found(self) -> bool:
        return self.element is not None

    @property
    def label(self) -> str:
        """Text to look for on screen (for scroll_until / wait_for): the label, else the element's text."""
        if self.target.label:
            return self.target.label
        return self.element.text if self.element is not None and self.element.text else ""


class Grounder:
    """Grounds targets on a list of elements (see the module docstring)."""

    def __init__(self, matcher: ElementMatcher | None = None, avoid: str = "") -> None:
        self.matcher = matcher or ElementMatcher()
        self.avoid = avoid  # the instruction: an element repeating it is never the target

    def find(self, query: str, elements: Sequence[UIElement], prefer_roles: tuple[str, ...] = ()) -> UIElement | None:
        """The element the primitives would pick for ``query`` (preferring ``prefer_roles`` when
        the query names no role, as ``type_text(into=...)`` does), or None."""
        q = parse_query(query)
        if prefer_roles and not q.roles and not q.element_id:
            match = self.matcher.best(replace(q, roles=prefer_roles), elements, self.avoid)
            if match is not None and match.element.role in prefer_roles:
                return match.element
        match = self.matcher.best(q, elements, self.avoid)
        return match.element if match is not None else None

    def ground(self, target: Target, elements: Sequence[UIElement], prefer_roles: tuple[str, ...] = ()) -> Grounded:
        """The element for ``target``. A match that merely contains the label among other words
        ("x" inside a sentence that mentions "x") is taken only when no synonym names an element
        exactly."""
        query = target.query()
        element = self.find(query, elements, prefer_roles)
        if element is not None and (not target.label or self.names(target.label, element, elements)):
            return Grounded(target, query, element, self._case_exact(target, query, element, elements))
        for synonym in lx.synonyms_of(target.label) if target.label else []:
            alt = target.with_label(synonym)
            found = self.find(alt.query(), elements, prefer_roles)
            if found is not None and self.names(synonym, found, elements):
                shown = found.text or found.description or synonym
                final = target.with_label(shown)
                return Grounded(final, final.query(), found, note=f"{target.label!r} is shown as {shown!r}")
        kind = target.label.lower() if target.label and not target.role else ""
        if element is None and kind in ROLE_WORDS:  # 'click the "checkbox"': a kind of element, not a text
            as_role = replace(target, label="", role=kind, quoted=False)
            found = self.find(as_role.query(), elements)
            if found is not None:
                return Grounded(as_role, as_role.query(), found, note=f"{target.label!r} names a kind of element")
        return Grounded(target, query, element, loose=element is not None)

    @staticmethod
    def names(label: str, element: UIElement, elements: Sequence[UIElement], min_score: float = 0.9) -> bool:
        """Whether ``element`` is named ``label`` (its text, description or the label beside
        it), allowing case and small slips, not mere containment in longer text."""
        return any(text_score(label, n) >= min_score for n in labels_for(element, elements))

    def _case_exact(self, target: Target, query: str, element: UIElement, elements: Sequence[UIElement]) -> str:
        """An element id when a quoted label matches elements whose texts differ only in case and
        the best match is not the one with the exact case."""
        if not target.quoted or element.text == target.label:
            return ""
        ranked = self.matcher.rank(query, elements)
        exact = [m.element for m in ranked if m.element.text == target.label]
        if exact and ranked and exact[0].text.lower() == element.text.lower():
            return exact[0].id
        return ""

    def ground_field(self, target: Target, elements: Sequence[UIElement]) -> Grounded:
        """A text field: by its label, else the only editable field on screen."""
        grounded = self.ground(target, elements, FIELD_ROLES)
        if grounded.found and (grounded.element.editable or grounded.element.role in (*FIELD_ROLES, *DROPDOWN_ROLES)):
            return grounded
        fields = [e for e in elements if e.editable or e.role in FIELD_ROLES]
        if len(fields) == 1:
            only = Target(target.text, role="text field")
            return Grounded(only, only.query(), fields[0],
                            note=f"no field is labelled {target.label or target.text!r}; using the only text field")
        if not grounded.found and target.label and not target.role:
            named = replace(target, role="text field")
            element = self.find(named.query(), elements)
            if element is not None:
                return Grounded(named, named.query(), element)
        return grounded

    def ground_dropdown(self, target: Target, elements: Sequence[UIElement]) -> Grounded:
        grounded = self.ground(target, elements, DROPDOWN_ROLES)
        if grounded.found and grounded.element.role in DROPDOWN_ROLES:
            return grounded
        lists = [e for e in elements if e.role in DROPDOWN_ROLES]
        if len(lists) == 1:
            only = Target(target.text, role="dropdown")
            return Grounded(only, only.query(), lists[0])
        return grounded

    def expand(self, target: Target, elements: Sequence[UIElement]) -> list[Target]:
        """A plural description ("both text fields", "all checkboxes") as one ordinal target per
        matching element, in reading order; the target itself when it is not plural."""
        if not target.plural:
            return [target]
        roles = ROLE_WORDS.get(target.role, ()) if target.role else ()
        single = replace(target, plural="")
        if not roles:
            return [single]
        count = sum(1 for e in elements if e.role in roles)
        if count <= 1:
            return [single]
        return [replace(single, ordinal=i + 1) for i in range(count)]

    def first_of(self, labels: Sequence[str], elements: Sequence[UIElement],
                 roles: tuple[str, ...] = ("button", "link", "icon", "image_button")) -> UIElement | None:
        """The first visible clickable element whose text is one of ``labels`` (in that order of
        preference): a dismiss button, a submit button."""
        for label in labels:
            want = " ".join(label.lower().split())
            for e in elements:
                names = (e.text, e.description)
                if (e.role in roles or e.clickable) and any(" ".join(n.lower().split()) == want for n in names if n):
                    return e
        return None
