"""GUI predicates and the screen monitor's verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from embodied.conditions import ConditionSyntaxError, parse_condition
from embodied.types import (
    Checkpoint,
    Execution,
    ExecutionStatus,
    FailureCategory,
    Observation,
    PrimitiveCall,
    Subgoal,
    UIElement,
)
from perception.screen_monitor import ScreenMonitor
from perception.screen_predicates import evaluate, values_match


def screen(checked: bool = False, email: str = "", extra: str = "", pixel: int = 0) -> Observation:
    els = [
        UIElement("e0", "text", "Email", (10, 10, 60, 30)),
        UIElement("e1", "textbox", email, (70, 10, 300, 32), clickable=True, editable=True),
        UIElement("e2", "password", "***", (70, 40, 300, 62), clickable=True, editable=True, description="Password"),
        UIElement("e3", "checkbox", "I agree", (10, 70, 24, 84), clickable=True, checked=checked),
        UIElement("e4", "button", "Submit", (10, 100, 80, 125), clickable=True),
    ]
    if extra:
        els.append(UIElement("e5", "text", extra, (10, 140, 200, 160)))
    image = np.zeros((200, 320, 3), np.uint8)
    image[:10, :10] = pixel  # 100 pixels: a visible change when pixel differs
    return Observation(elements=els, images={"screen": image})


def check(text: str, obs: Observation, previous: Observation | None = None) -> tuple[bool | None, FailureCategory]:
    r = evaluate(parse_condition(text), obs, previous)
    return r.holds, r.category


def test_predicates() -> None:
    done = screen(checked=True, email="ada@example.com", extra="Submitted")
    assert check("text_visible(Submitted)", done) == (True, FailureCategory.NONE)
    assert check("text_visible(Submitted)", screen()) == (False, FailureCategory.WRONG_STATE)
    assert check("checked(I agree)", done)[0] is True
    assert check("checked(I agree)", screen()) == (False, FailureCategory.WRONG_STATE)
    assert check("not checked(I agree)", screen())[0] is True
    assert check("checked(Newsletter)", screen()) == (False, FailureCategory.NOT_FOUND)
    assert check("field_value(Email, ada@example.com)", done)[0] is True
    assert check("field_value(Email, ADA@example.con)", done)[0] is True  # one OCR slip, case ignored
    assert check("field_value(Email, bob@example.com)", done) == (False, FailureCategory.WRONG_STATE)
    assert check("field_value(Password, x)", done)[0] is None  # never readable
    assert check("element_absent(Cancel)", done)[0] is True
    assert check("element_absent(Submit)", done) == (False, FailureCategory.WRONG_STATE)
    assert check("screen_changed()", done, previous=None)[0] is None
    assert check("screen_changed()", screen(pixel=90), previous=screen())[0] is True
    assert check("screen_changed()", screen(), previous=screen())[0] is False


def test_gui_conditions_parse_with_arity() -> None:
    assert parse_condition("field_value(Email, a@b.c)").args == ("Email", "a@b.c")
    assert parse_condition("screen_changed()").args == ()
    with pytest.raises(ConditionSyntaxError):
        parse_condition("checked()")
    with pytest.raises(ConditionSyntaxError, match="did you mean"):
        parse_condition("text_visibel(OK)")


def test_values_match() -> None:
    assert values_match("Ada  Lovelace", "ada lovelace")
    assert not values_match("Ada", "Bob")
    assert not values_match("", "x")


def execution(n_calls: int = 2, checkpoints: list[Checkpoint] | None = None) -> Execution:
    calls = [PrimitiveCall(index=i, name=name, args=[], kwargs={}, line=i + 1)
             for i, name in enumerate(["type_text", "tap"][:n_calls])]
    return Execution(status=ExecutionStatus.OK, calls=calls, checkpoints=checkpoints or [])


def test_monitor_verdicts() -> None:
    monitor = ScreenMonitor()
    goal = Subgoal("submit the form", conditions=[parse_condition("checked(I agree)"),
                                                  parse_condition("text_visible(Submitted)")])
    bad = monitor.check(goal, execution(), screen(checked=True))
    assert not bad.ok and bad.monitor == "screen"
    assert bad.category is FailureCategory.WRONG_STATE
    assert "text_visible(Submitted)" in bad.why
    assert bad.failed_call == 1 and bad.primitive == "tap" and bad.failed_line == 2
    assert "Submit" in bad.evidence.visible_text
    good = monitor.check(goal, execution(), screen(checked=True, extra="Submitted"))
    assert good.ok


def test_monitor_passes_without_gui_conditions_and_on_undecidable() -> None:
    monitor = ScreenMonitor()
    assert monitor.check(Subgoal("stack", conditions=[parse_condition("on(a, b)")]), execution(), screen()).ok
    v = monitor.check(Subgoal("pw", conditions=[parse_condition("field_value(Password, x)")]), execution(), screen())
    assert v.ok and v.evidence.undecided


def test_monitor_screen_changed_uses_first_checkpoint() -> None:
    before, after = screen(), screen(pixel=50)
    cps = [Checkpoint("start", 0, observation=before), Checkpoint("end", 2, observation=after)]
    goal = Subgoal("tap it", conditions=[parse_condition("screen_changed()")])
    assert ScreenMonitor().check(goal, execution(checkpoints=cps), after).ok
    same = [Checkpoint("start", 0, observation=before), Checkpoint("end", 2, observation=screen())]
    v = ScreenMonitor().check(goal, execution(checkpoints=same), screen())
    assert not v.ok and v.category is FailureCategory.NO_EFFECT
