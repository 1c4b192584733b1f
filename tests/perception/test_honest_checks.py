"""Checks that look at the effect on the right object: a screen condition is judged on the element
the step named (never on a title that repeats its words, never on a field that merely shares one
word with it), and a tabletop object keeps its identity when a slip makes the detector relabel it.
The screens and scenes are written for these tests."""

from __future__ import annotations

from embodied.types import Condition, SceneObject, UIElement
from perception.screen_predicates import evaluate
from perception.tracking import ObjectTracker
from perception.ui_query import ElementMatcher, echoes, text_score


def box(eid: str, role: str, text: str, left: int, top: int, width: int = 160, height: int = 28,
        **kw: object) -> UIElement:
    return UIElement(eid, role, text, (left, top, left + width, top + height),
                     clickable=role not in ("text", "label", "heading"), editable=role == "textbox", **kw)  # type: ignore[arg-type]


def sign_up_form(name: str = "", email: str = "") -> list[UIElement]:
    return [box("t", "heading", "Create your account", 20, 10, 300),
            box("l1", "label", "Full name", 20, 60, 90), box("f1", "textbox", name, 130, 60),
            box("l2", "label", "Email", 20, 100, 90), box("f2", "textbox", email, 130, 100)]


def test_a_value_in_the_wrong_field_does_not_pass_for_a_garbled_field_description() -> None:
    from embodied.types import Observation

    # The step's field description swallowed the rest of the sentence; the value went to Email.
    obs = Observation(elements=sign_up_form(email="Lin Wei"))
    garbled = Condition("field_value", ("full name and lin@example.org as the email, accept the rules", "Lin Wei"))
    result = evaluate(garbled, obs)
    assert result.holds is False
    right = evaluate(Condition("field_value", ("Full name", "Lin Wei")), obs)
    assert right.holds is False  # the Full name field is still empty


def test_a_switch_named_only_by_a_title_cannot_pass_as_turned_off() -> None:
    from embodied.types import Observation

    # A settings page whose title bar says "Bluetooth"; the switch itself sits further down.
    title = box("title", "heading", "Bluetooth", 10, 5, 200)
    switch = box("sw", "switch", "", 300, 80, 50, checked=True)
    label = box("lab", "text", "Use Bluetooth", 20, 80, 200)
    on_screen = Observation(elements=[title, label, switch])
    off = Condition("checked", ("Bluetooth",), negated=True)
    assert evaluate(off, on_screen).holds is False  # still on: judged on the switch
    only_title = Observation(elements=[title, label])
    result = evaluate(off, only_title)
    assert result.holds is False and "no checked state" in result.why  # not "undecided"


def test_an_element_repeating_the_instruction_is_never_a_target() -> None:
    instruction = "Press the Launch button to begin the countdown"
    elements = [box("q", "text", "Press the Launch button to begin the countdown", 0, 0, 400),
                box("b", "button", "Cancel", 20, 60, 80)]
    matcher = ElementMatcher()
    assert matcher.best("Launch", elements) is not None  # without the rule: the instruction text wins
    assert matcher.best("Launch", elements, avoid=instruction) is None
    assert echoes(elements[0].text, instruction) and not echoes("Launch", instruction)


def test_a_one_word_query_against_a_longer_many_word_label_does_not_crash() -> None:
    assert text_score("Notifications", "Dark mode") < 0.5
    assert text_score("Autosynchronisation", "Use dark mode at night") < 0.5


def test_a_relabelled_object_keeps_its_name_after_a_slip() -> None:
    tracker = ObjectTracker()
    small = SceneObject("red block 1", "red", "cube", (0.50, 0.10, 0.02), (0.04, 0.04, 0.04))
    large = SceneObject("red block 2", "red", "cube", (0.55, -0.10, 0.03), (0.06, 0.06, 0.06))
    assert [o.name for o in tracker.update([small, large])] == ["red block 1", "red block 2"]
    # The small cube slipped, lies on its side further right, and now reads as a cylinder; the
    # detector's fresh names would call the large cube "red block".
    slipped = SceneObject("red cylinder", "red", "cylinder", (0.45, -0.02, 0.02), (0.04, 0.05, 0.04))
    still = SceneObject("red block", "red", "cube", (0.55, -0.10, 0.03), (0.06, 0.06, 0.06))
    names = {o.shape: o.name for o in tracker.update([slipped, still])}
    assert names == {"cylinder": "red block 1", "cube": "red block 2"}
    new = SceneObject("red block", "red", "cube", (0.3, 0.2, 0.02), (0.03, 0.03, 0.03))
    renamed = {o.name for o in tracker.update([slipped, still, new])}
    assert renamed == {"red block 1", "red block 2", "red block 3"}
