"""What the LLM writer and repairer put in front of the model: the instruction and the whole
plan (Code-as-Policies prompts), and the before/after checkpoint images for a vision model.
The model side is a recording double (tests/planners/recording_model.py): these tests read
prompts, they judge no model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from recording_model import RecordingDouble

from embodied.agent import Agent, HybridMonitor, LoopBudgets
from embodied.primitives import PrimitiveSet
from embodied.protocols import PlanAwareWriter
from embodied.sandbox import Sandbox
from embodied.types import (
    Checkpoint,
    Condition,
    Execution,
    ExecutionStatus,
    FailureCategory,
    Observation,
    Plan,
    PlanView,
    Policy,
    PrimitiveCall,
    Subgoal,
    SubgoalOutcome,
    Verdict,
)
from planners.fixed import NoRepair
from planners.kits.tabletop.kit import KIT as TABLETOP
from planners.llm import LLMRepairer, LLMWriter
from planners.rule import TemplateWriter


class LampWorld:
    """Lamps switched on by ``switch_on(name)``; the agent sees which are on in ``task``."""

    domain = "tabletop"

    def __init__(self) -> None:
        self.on: set[str] = set()

    def reset(self, seed: int | None = None) -> Observation:
        return self.observe()

    def observe(self, label: str = "") -> Observation:
        return Observation(label=label, task="lamps on: " + (", ".join(sorted(self.on)) or "none"))

    def primitives(self) -> PrimitiveSet:
        api = PrimitiveSet("tabletop")

        def switch_on(name: str) -> None:
            """Switch the named lamp on."""
            self.on.add(name)

        api.add(switch_on)
        return api

    def success(self, goal: Sequence[Condition]) -> tuple[bool, dict[str, Any]]:
        return True, {}

    def stats(self) -> dict[str, Any]:
        return {"sim_steps": 0}

    def close(self) -> None:
        pass


def lamp(name: str) -> Subgoal:
    return Subgoal(f"switch on the {name} lamp")


class LampPlanner:
    def decompose(self, instruction: str, observation: Observation) -> Plan:
        return Plan(instruction, [lamp("desk"), lamp("hall"), lamp("porch")])

    def revise(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        return plan

    def replan(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        return Plan(plan.instruction, [], plan.revision + 1, "no replans in this test")


class RanToTheEnd:
    name = "ran"

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        return Verdict(execution.ok, self.name, why=execution.error or "")


def test_the_writer_sees_the_instruction_and_the_whole_plan_with_its_subgoal_marked() -> None:
    programs = [f'```python\nswitch_on("{n}")\ncheckpoint("on")\n```' for n in ("desk", "hall", "porch")]
    double = RecordingDouble(programs)
    writer = LLMWriter(double, TABLETOP, max_parse_retries=0)
    assert isinstance(writer, PlanAwareWriter) and not isinstance(TemplateWriter(), PlanAwareWriter)
    world = LampWorld()
    agent = Agent(LampPlanner(), writer, NoRepair(), HybridMonitor([RanToTheEnd()]), Sandbox(timeout_s=10),
                  LoopBudgets(repair=0, replan=0))
    run = agent.run("light up the house for the guests", world)
    assert run.finished and world.on == {"desk", "hall", "porch"}
    assert all(a.execution.start is not None for a in run.attempts)  # each run knows where it started
    assert len(double.requests) == 3
    for k, name in enumerate(("desk", "hall", "porch")):
        prompt = double.prompt(k)
        assert "Instruction: light up the house for the guests" in prompt
        lines = [f"{i}. switch on the {n} lamp" for i, n in enumerate(("desk", "hall", "porch"), 1)]
        shown = [line for line in prompt.splitlines() if line.split(" (done)")[0].split(" <- ")[0] in lines]
        assert len(shown) == 3, prompt  # one line per subgoal, in order
        assert shown[k] == f"{lines[k]} <- this program"
        assert all(s.endswith(" (done)") for s in shown[:k]) and all(s in lines for s in shown[k + 1:])
        assert f"Subgoal: switch on the {name} lamp" in prompt


def test_a_writer_used_on_its_own_or_for_another_subgoal_shows_no_plan() -> None:
    double = RecordingDouble(['```python\nswitch_on("desk")\n```'])
    writer = LLMWriter(double, TABLETOP, max_parse_retries=0)
    api, seen = LampWorld().primitives(), LampWorld().observe()
    writer.write(lamp("desk"), api, seen)
    writer.see_plan(PlanView("light up", [], lamp("hall"), []))
    writer.write(lamp("desk"), api, seen)  # an equal-looking subgoal that is not the one shown
    assert all("The whole plan" not in double.prompt(i) and "Instruction:" not in double.prompt(i) for i in (0, 1))


def view(shade: int, label: str) -> Observation:
    return Observation(images={"front/rgb": np.full((24, 32, 3), shade, np.uint8)}, label=label)


def failed_run(start: Observation | None) -> tuple[Execution, Verdict]:
    """switch_on("desk") passed its checkpoint, switch_on("hall") (call #1) raised."""
    calls = [PrimitiveCall(0, "switch_on", ["desk"], {}, line=1),
             PrimitiveCall(1, "switch_on", ["hall"], {}, line=3, error_type="PrimitiveError", error="no power",
                           category=FailureCategory.EXCEPTION)]
    checkpoints = [Checkpoint("desk on", 1, 2, view(60, "desk on")), Checkpoint("error", 2, 3, view(200, "error"))]
    execution = Execution(ExecutionStatus.ERROR, calls, checkpoints, error_type="PrimitiveError", error="no power",
                          line=3, category=FailureCategory.EXCEPTION, start=start)
    return execution, Verdict(False, "trace", FailureCategory.EXCEPTION, "no power", failed_call=1, failed_line=3)


POLICY = Policy('switch_on("desk")\ncheckpoint("desk on")\nswitch_on("hall")\n')
FIXED = '```python\nswitch_on("hall")\nswitch_on("porch")\n```'


@pytest.mark.parametrize("images", [True, False])
def test_a_repair_request_carries_the_views_before_and_after_the_failed_step(images: bool) -> None:
    double = RecordingDouble([FIXED])
    execution, verdict = failed_run(start=view(10, "start"))
    repairer = LLMRepairer(double, TABLETOP, max_parse_retries=0, images=images)
    new = repairer.repair(lamp("hall"), POLICY, execution, verdict, view(200, "now"), LampWorld().primitives())
    assert new is not None and new.version == 1
    parts = double.requests[0].messages[-1].parts
    pictures = [p for p in parts if not isinstance(p, str)]
    if not images:
        assert pictures == [] and sum(len(m.images) for m in double.requests[0].messages) == 0
        return
    assert len(pictures) == 2
    labels = [parts[i - 1] for i, p in enumerate(parts) if not isinstance(p, str)]
    assert labels[0].startswith("BEFORE the failed step (call #1)") and "'desk on'" in labels[0]
    assert labels[1].startswith("AFTER the failed step (call #1)") and "'error'" in labels[1]
    assert all("front/rgb" in label for label in labels)
    # the checkpoint images themselves: before the failed call (shade 60) and after it (shade 200)
    assert [int(p.mean()) for p in pictures] == [60, 200]


def test_with_no_checkpoint_before_the_failure_the_start_view_is_before() -> None:
    double = RecordingDouble([FIXED])
    execution, verdict = failed_run(start=view(10, "start"))
    execution.checkpoints = execution.checkpoints[1:]  # only the closing one
    LLMRepairer(double, TABLETOP, max_parse_retries=0, images=True).repair(
        lamp("hall"), POLICY, execution, verdict, view(200, "now"), LampWorld().primitives())
    parts = double.requests[0].messages[-1].parts
    pictures = [p for p in parts if not isinstance(p, str)]
    assert [int(p.mean()) for p in pictures] == [10, 200]
    assert "the world when the program started" in parts[0]


# ------------------------------------------------------------------------------ hybrid writer and repairer


def gui_api() -> PrimitiveSet:
    api = PrimitiveSet("gui")

    def tap(target: str) -> None:
        """Tap the element described by ``target``."""

    api.add(tap)
    return api


def test_the_hybrid_writer_templates_typed_steps_and_asks_the_model_for_the_rest() -> None:
    from planners.hybrid import RuleOrModelRepairer, TemplateOrModelWriter
    from planners.kits.gui.kit import KIT as GUI

    double = RecordingDouble(['```python\ntap("TWO")\ncheckpoint("tapped")\n```'])
    writer = TemplateOrModelWriter(double, GUI, max_parse_retries=0)
    typed = writer.write(Subgoal('click "ONE"', "tap", {"target": "ONE button", "label": "ONE"}), gui_api(),
                         Observation())
    assert typed.origin == "gui_rule" and 'tap("ONE button")' in typed.source and not double.requests
    worded = Subgoal("press the button that is not ONE")
    view = PlanView("press the other button", [], worded, [])
    writer.see_plan(view)  # passed on to the model writer
    free = writer.write(worded, gui_api(), Observation())
    assert free.origin == "llm" and free.source.startswith('tap("TWO")') and len(double.requests) == 1
    assert "Instruction: press the other button" in double.prompt(0)
    # the repairer: the model for the model's policy (the rule repairer knows no untyped step)
    repairer = RuleOrModelRepairer(double, GUI, max_parse_retries=0)
    double.answers = ['```python\ntap("TWO button")\n```']
    failed = Execution(ExecutionStatus.ERROR, error="not found", error_type="ElementNotFound", line=1)
    new = repairer.repair(worded, free, failed, Verdict(False, "trace", FailureCategory.NOT_FOUND, "not found"),
                          Observation(), gui_api())
    assert new is not None and new.origin == "llm-repair" and len(double.requests) == 2
    # a template policy goes to the rule repairer first; what it declines goes to the model
    typed_sub = Subgoal('click "ONE"', "tap", {"target": "ONE button", "label": "ONE"})
    odd = Verdict(False, "trace", FailureCategory.UNKNOWN, "something odd")
    assert repairer.rule.repair(typed_sub, typed, failed, odd, Observation(), gui_api()) is None
    again = repairer.repair(typed_sub, typed, failed, odd, Observation(), gui_api())
    assert again is not None and again.origin == "llm-repair" and len(double.requests) == 3


# ------------------------------------------------------------------------------ typed plans on a GUI


class SchemaDouble(RecordingDouble):
    """Says it decodes under a schema, so the planner sends one (the double does not enforce it:
    the planner's own check of the answer is what the test drives)."""

    supports_schema = True


def test_a_model_plans_a_gui_in_typed_actions_that_the_templates_act_on() -> None:
    from embodied.types import UIElement
    from planners.hybrid import TemplateOrModelWriter
    from planners.kits.gui.kit import KIT as GUI
    from planners.llm import LLMPlanner

    untyped_args = '{"subgoals": [{"description": "click TWO", "action": "tap", "args": {}, "condition": ""}]}'
    typed = ('{"subgoals": [{"description": "click TWO", "action": "tap", "args": {"target": "TWO", '
             '"label": "TWO"}, "condition": ""}]}')
    double = SchemaDouble([untyped_args, typed])
    screen = Observation(elements=[UIElement("1", "button", "ONE", (0, 0, 40, 20)),
                                   UIElement("2", "button", "TWO", (50, 0, 90, 20))])
    plan = LLMPlanner(double, GUI, max_parse_retries=1).decompose('Click on the "TWO" button.', screen)
    first = double.requests[0]
    assert first.schema == GUI.plan_schema(12) and "- tap(target, label?" in double.prompt(0)
    assert "action 'tap' needs argument 'target'" in double.prompt(1)  # the first answer went back
    (step,) = plan.subgoals
    assert (step.action, step.args) == ("tap", {"target": "TWO", "label": "TWO"})
    policy = TemplateOrModelWriter(double, GUI).write(step, gui_api(), screen)
    assert policy.origin == "gui_rule" and 'tap("TWO")' in policy.source and len(double.requests) == 2


def test_a_model_without_schema_decoding_plans_in_words_as_before() -> None:
    from planners.kits.gui.kit import KIT as GUI
    from planners.llm import LLMPlanner

    double = RecordingDouble(['{"subgoals": [{"description": "click TWO", "condition": ""}]}'])
    LLMPlanner(double, GUI).decompose("Click TWO.", Observation())
    assert double.requests[0].schema is None and '"action"' not in double.prompt(0)
