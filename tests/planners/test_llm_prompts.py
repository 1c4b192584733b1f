"""What the LLM writer and repairer put in front of the model: the instruction and the whole
plan (Code-as-Policies prompts), and the before/after checkpoint images for a vision model.
The model side is a recording double (tests/planners/recording_model.py): these tests read
prompts, they judge no model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recording_model import RecordingDouble

from embodied.agent import Agent, HybridMonitor, LoopBudgets
from embodied.primitives import PrimitiveSet
from embodied.protocols import PlanAwareWriter
from embodied.sandbox import Sandbox
from embodied.types import (
    Condition,
    Execution,
    Observation,
    Plan,
    PlanView,
    Subgoal,
    SubgoalOutcome,
    Verdict,
)
from planners.fixed import NoRepair
from planners.kits.tabletop.kit import KIT as TABLETOP
from planners.llm import LLMWriter
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
    assert len(double.requests) == 3
    for k, name in enumerate(("desk", "hall", "porch")):
        prompt = double.prompt(k)
        assert "Instruction: light up the house for the guests" in prompt
        lines = [f"{i}. switch on the {n} lamp" for i, n in enumerate(("desk", "hall", "porch"), 1)]
        shown = [line for line in prompt.splitlines() if line.split(" (done)")[0].split(" <- ")[0] in lines]
        assert len(shown) == 3, prompt  # one line per subgoal, in order
        assert shown[k] == f"{lines[k]} <- this program"
        assert all(s.endswith(" (done)") for s in shown[:k]) and all(s in lines for s in shown[k + 1:])
        assert f"achieves this subgoal:\nswitch on the {name} lamp" in prompt


def test_a_writer_used_on_its_own_or_for_another_subgoal_shows_no_plan() -> None:
    double = RecordingDouble(['```python\nswitch_on("desk")\n```'])
    writer = LLMWriter(double, TABLETOP, max_parse_retries=0)
    api, seen = LampWorld().primitives(), LampWorld().observe()
    writer.write(lamp("desk"), api, seen)
    writer.see_plan(PlanView("light up", [], lamp("hall"), []))
    writer.write(lamp("desk"), api, seen)  # an equal-looking subgoal that is not the one shown
    assert all("The whole plan" not in double.prompt(i) and "Instruction:" not in double.prompt(i) for i in (0, 1))
