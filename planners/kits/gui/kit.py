"""The GUI kit: a screen (desktop, browser, MiniWoB++, phone) operated by tapping, typing,
scrolling and keys. Predicates are judged on the UI elements and text of the observation
(:mod:`perception.screen_predicates`)."""

from __future__ import annotations

from pathlib import Path

from embodied.domain import DomainKit, PredicateResult, PredicateSpec
from embodied.types import Condition, Observation
from perception.monitors import TraceEvidence
from perception.screen_monitor import ScreenEvidence
from perception.vlm import VlmEvidence
from planners.kits.gui.actions import ACTIONS

PREDICATES = (
    PredicateSpec("text_visible", 1, "the text a is shown on screen"),
    PredicateSpec("checked", 1, "the checkbox, switch or radio button a is ticked"),
    PredicateSpec("field_value", 2, "the field a holds the value b"),
    PredicateSpec("slider_value", 2, "the slider a is set to the number b"),
    PredicateSpec("element_absent", 1, "no element matches a (a dialog closed)"),
    PredicateSpec("screen_changed", 0, "the screen differs from the one before the step"),
)


def evaluate(condition: Condition, observation: Observation) -> PredicateResult:
    """One condition on the screen's elements. ``screen_changed`` needs the screen before: it is
    undecided here (the screen monitor compares checkpoints)."""
    from perception.screen_predicates import evaluate as judge

    result = judge(condition, observation)
    return PredicateResult(result.holds, result.why)


KIT = DomainKit(
    name="gui",
    summary="a screen operated by tapping, typing, scrolling and keys",
    primitives=("find", "tap", "tap_xy", "long_press", "type_text", "key", "scroll", "scroll_until", "swipe",
                "drag", "back", "home", "launch", "open_target", "foreground", "set_checked", "is_checked",
                "set_slider", "wait_for", "wait_idle", "read_text", "elements", "secret"),
    predicates=PREDICATES,
    evaluate=evaluate,
    actions=ACTIONS,
    planner="planners.gui:GuiRulePlanner",
    writer="planners.gui:GuiTemplateWriter",
    repairer="planners.gui:GuiRepairer",
    monitors=("trace", "screen"),
    evidence={"trace": TraceEvidence, "screen": ScreenEvidence, "vlm": VlmEvidence},
    folder=Path(__file__).resolve().parent,
)
