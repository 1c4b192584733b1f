"""GUI predicates over an observation: what the screen monitor and GUI success checks evaluate.

* ``text_visible(X)``: some element shows text matching X;
* ``checked(X)``: the checkbox/switch/radio described by X is ticked;
* ``field_value(X, V)``: the field described by X holds V (case and spacing ignored; OCR'd
  values may differ by a character or two);
* ``slider_value(X, V)``: the slider described by X reads the number V (within half its step);
* ``element_absent(X)``: nothing matches X (a dialog closed, a button gone);
* ``screen_changed()``: the screen differs from a previous observation.

Each returns ``holds`` (None when it cannot be decided from the screen, e.g. a password value)
and, when it does not hold, the failure category: ``not_found`` when the element the condition
is about is not on screen, ``wrong_state`` when it is there in the wrong state.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from embodied.conditions import GUI_PREDICATES
from embodied.types import Condition, FailureCategory, Observation, UIElement
from perception.ui_query import ElementMatcher, Query, fragment_of, labels_for, normalize, parse_query, text_score

_BOX_ROLES = ("checkbox", "switch", "radio", "option", "tab")
_SWITCH_ROLES = ("switch", "checkbox", "radio")
_FIELD_ROLES = ("textbox", "password", "search", "textarea", "select", "combobox", "slider")


@dataclass(frozen=True)
class PredicateResult:
    holds: bool | None
    why: str
    category: FailureCategory = FailureCategory.NONE


def is_gui_condition(cond: Condition) -> bool:
    return cond.predicate in GUI_PREDICATES


def evaluate(cond: Condition, obs: Observation, previous: Observation | None = None,
             matcher: ElementMatcher | None = None) -> PredicateResult:
    """Evaluate one GUI condition on ``obs`` (``previous`` is needed by ``screen_changed``).
    ``negated`` conditions flip ``holds``; a failing negated condition is ``wrong_state``."""
    if not is_gui_condition(cond):
        raise ValueError(f"{cond.predicate!r} is not a GUI predicate ({', '.join(GUI_PREDICATES)})")
    matcher = matcher or ElementMatcher()
    result = _evaluate(cond, obs, previous, matcher)
    if not cond.negated or result.holds is None or result.category is FailureCategory.NOT_FOUND:
        return result  # "not checked(X)" with no X on screen is not shown to hold
    holds = not result.holds
    return PredicateResult(holds, f"not: {result.why}", FailureCategory.NONE if holds else FailureCategory.WRONG_STATE)


def _evaluate(cond: Condition, obs: Observation, previous: Observation | None,
              matcher: ElementMatcher) -> PredicateResult:
    p, args = cond.predicate, cond.args
    if p == "screen_changed":
        return _screen_changed(obs, previous)
    if p == "text_visible":
        hit = visible_text(args[0], obs.elements)
        if hit is not None:
            return PredicateResult(True, f"{args[0]!r} is visible ({hit.role} {hit.text!r})")
        return PredicateResult(False, f"{args[0]!r} is not visible; screen shows: {_summary(obs.elements)}",
                               FailureCategory.WRONG_STATE)
    if p == "element_absent":
        match = matcher.best(args[0], obs.elements)
        if match is None:
            return PredicateResult(True, f"no element matches {args[0]!r}")
        return PredicateResult(False, f"{args[0]!r} is still on screen ({match.element.role} {match.element.text!r})",
                               FailureCategory.WRONG_STATE)
    if p == "checked":
        el = _subject(args[0], obs.elements, matcher, _BOX_ROLES)
        if el is None:
            return _missing(args[0], obs.elements, matcher)
        if el.checked is None and el.selected is None:
            el = switch_of(el, obs.elements) or el  # a settings title: its row's switch holds the state
        state = el.checked if el.checked is not None else el.selected
        if state is None:
            # A text with no state (a title, a label whose box was not found) cannot show that a
            # box is ticked: reporting it as undecided let "turn off X" pass with X still on.
            return PredicateResult(False, f"{args[0]!r} matches a {el.role} {el.text!r} that has no checked state: "
                                          f"no checkbox, switch or radio button of that name is on screen",
                                   FailureCategory.NOT_FOUND)
        return PredicateResult(bool(state), f"{args[0]!r} is {'checked' if state else 'not checked'}",
                               FailureCategory.NONE if state else FailureCategory.WRONG_STATE)
    if p == "slider_value":
        el = _subject(args[0], obs.elements, matcher, ("slider",))
        if el is None:
            return _missing(args[0], obs.elements, matcher)
        if el.role != "slider":
            return PredicateResult(False, f"{args[0]!r} matches a {el.role} {el.text!r}, not a slider",
                                   FailureCategory.NOT_FOUND)
        try:
            want, have = float(args[1]), float(el.text)
        except ValueError:
            return PredicateResult(False, f"the slider {args[0]!r} reads {el.text!r}, wanted the number {args[1]!r}",
                                   FailureCategory.WRONG_STATE)
        step = el.value_range[2] if el.value_range else 0.0
        ok = abs(have - want) <= max(step / 2, 1e-9)
        return PredicateResult(ok, f"the slider {args[0]!r} reads {el.text}, wanted {args[1]}",
                               FailureCategory.NONE if ok else FailureCategory.WRONG_STATE)
    if p == "field_value":
        el = _subject(args[0], obs.elements, matcher, _FIELD_ROLES)
        if el is None:
            return _missing(args[0], obs.elements, matcher)
        if el.role == "password":
            return PredicateResult(None, f"{args[0]!r} is a password field: its value is not readable")
        ok = values_match(args[1], el.text)
        return PredicateResult(ok, f"{args[0]!r} holds {el.text!r}, wanted {args[1]!r}",
                               FailureCategory.NONE if ok else FailureCategory.WRONG_STATE)
    raise ValueError(f"unhandled GUI predicate {p!r}")


def visible_text(text: str, elements: Sequence[UIElement], threshold: float = 0.85) -> UIElement | None:
    """The element whose text (or description) shows ``text``: contained as words, or nearly
    equal (OCR slips), else None."""
    want = normalize(text)
    best: tuple[float, UIElement] | None = None
    for el in elements:
        for shown in (el.text, el.description):
            if not shown:
                continue
            have = normalize(shown)
            score = 1.0 if want and f" {want} " in f" {have} " else text_score(text, shown)
            if best is None or score > best[0]:
                best = (score, el)
    return best[1] if best is not None and best[0] >= threshold else None


def values_match(want: str, have: str, min_ratio: float = 0.9) -> bool:
    """Field values compared case- and space-insensitively, allowing an OCR slip (ratio >= 0.9)."""
    a, b = " ".join(want.lower().split()), " ".join(have.lower().split())
    if a == b:
        return True
    return bool(a) and difflib.SequenceMatcher(None, a, b).ratio() >= min_ratio


def _subject(query: str, elements: Sequence[UIElement], matcher: ElementMatcher,
             roles: tuple[str, ...]) -> UIElement | None:
    """The element a condition is about, preferring the given roles when the query names none.
    It must be *named* by the query's label (see :func:`names`): an element that merely shares a
    word with a long description ("name and grace@x as the email" -> the Email field) is not the
    one the step meant, so the condition cannot hold on it."""
    q = parse_query(query)
    found = None
    if not q.roles and not q.element_id:
        match = matcher.best(replace(q, roles=roles), elements)
        if match is not None and match.element.role in roles:
            found = match.element
    if found is None:
        match = matcher.best(q, elements)
        found = match.element if match is not None else None
    if found is not None and q.label and not q.element_id and not q.anchor and not names(q, found, elements):
        return None
    return found


def names(query: Query, element: UIElement, elements: Sequence[UIElement], min_score: float = 0.7) -> bool:
    """Whether ``element`` is the one ``query`` names: one of its names (text, description, the
    label beside it) matches the query's label, or the whole description, well (>= ``min_score``:
    equal, contained as words, or an OCR slip away), not merely overlaps it, and is not just a
    few of the description's words ("1" is not "grid coordinate (1")."""
    return any(max(text_score(query.label, n), text_score(query.raw, n)) >= min_score
               and not fragment_of(n, query.label) for n in labels_for(element, elements))


def switch_of(element: UIElement, elements: Sequence[UIElement]) -> UIElement | None:
    """The on/off widget that ``element`` stands for: itself when it has a state, else the
    switch, checkbox or radio button in its row (vertically overlapping its centre, nearest
    first), else one carrying the same label. A settings title ("Airplane mode") is not the
    switch beside it: tapping the title may open a page, and only the switch reads the state."""
    if element.checked is not None:
        return element
    boxes = [e for e in elements if e.checked is not None and e.role in _SWITCH_ROLES]
    y = element.center[1]
    row = [e for e in boxes if e.bounds[1] <= y <= e.bounds[3]]
    if row:
        return min(row, key=lambda e: abs(e.center[0] - element.center[0]))
    label = " ".join(element.text.lower().split())
    same = [e for e in boxes if label and " ".join(e.text.lower().split()) == label]
    return same[0] if len(same) == 1 else None


def _missing(query: str, elements: Sequence[UIElement], matcher: ElementMatcher) -> PredicateResult:
    near = matcher.closest_texts(query, elements, 3)
    hint = f"; closest visible: {', '.join(repr(t) for t in near)}" if near else ""
    return PredicateResult(False, f"no element matches {query!r}{hint}", FailureCategory.NOT_FOUND)


def _screen_changed(obs: Observation, previous: Observation | None, min_pixels: int = 40) -> PredicateResult:
    if previous is None:
        return PredicateResult(None, "no earlier screen to compare with")
    # Either view of a change counts: the elements (texts, states) or the pixels, where a handful of
    # changed pixels (a blinking text cursor's worth) is not a change.
    before = [(e.role, e.text, e.checked, e.selected, e.value_range) for e in previous.elements]
    after = [(e.role, e.text, e.checked, e.selected, e.value_range) for e in obs.elements]
    if before != after:
        gone, new = len(set(before) - set(after)), len(set(after) - set(before))
        return PredicateResult(True, f"the screen changed ({gone} element(s) gone, {new} new or different)")
    a, b = previous.images.get("screen"), obs.images.get("screen")
    pixels = ""
    if a is not None and b is not None and a.shape == b.shape:
        diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
        count = int(np.count_nonzero(diff.max(axis=-1) > 16 if diff.ndim == 3 else diff > 16))
        if count >= min_pixels:
            return PredicateResult(True, f"{count} pixels changed (threshold {min_pixels})")
        pixels = f"; {count} pixels differ (threshold {min_pixels})"
    return PredicateResult(False, f"the screen did not change: the same {len(after)} elements (texts, states) as "
                                  f"before the step{pixels}", FailureCategory.NO_EFFECT)


def _summary(elements: Sequence[UIElement], n: int = 12) -> str:
    texts = [e.text for e in elements if e.text][:n]
    return ", ".join(repr(t) for t in texts) or "no text"
