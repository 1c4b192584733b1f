"""Honest results: what the agent concludes (``claimed_success``) is kept apart from what is true
(``success``), the whole instruction is checked at the end, and every benchmark can count the
agent's false successes. The world here is a tiny board of lamps, written for these tests."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from embodied.agent import Agent, HybridMonitor, LoopBudgets
from embodied.console import ConsoleLog
from embodied.primitives import PrimitiveSet
from embodied.results import DONE, EpisodeRow, aggregate, confusion, format_confusion, row_confusion
from embodied.sandbox import Sandbox
from embodied.types import (
    Condition,
    Execution,
    FailureCategory,
    Observation,
    Plan,
    Policy,
    SceneObject,
    Subgoal,
    SubgoalOutcome,
    Verdict,
)


class LampBoard:
    """Lamps by colour; ``switch(colour)`` lights one. The observation lists the lit lamps."""

    domain = "test"

    def __init__(self) -> None:
        self.lit: set[str] = set()

    def observe(self, label: str = "") -> Observation:
        return Observation(objects=[SceneObject(f"{c} lamp", color=c) for c in sorted(self.lit)], label=label)

    def primitives(self) -> PrimitiveSet:
        api = PrimitiveSet("test")

        def switch(colour: str) -> None:
            """Light a lamp."""
            self.lit.add(colour)

        api.add(switch)
        return api


def lamp(colour: str) -> Subgoal:
    return Subgoal(f"light the {colour} lamp", "switch", {"colour": colour}, [Condition("lit", (colour,))])


class MergingPlanner:
    """States the whole goal, then (like a revision that merges two steps into one) drops the
    remaining steps after the first one succeeds."""

    def __init__(self, colours: list[str], merge: bool) -> None:
        self.colours, self.merge = colours, merge

    def decompose(self, instruction: str, observation: Observation) -> Plan:
        steps = [lamp(c) for c in self.colours]
        return Plan(instruction, steps, goal=[c for s in steps for c in s.conditions])

    def revise(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        return Plan(plan.instruction, [] if self.merge else plan.subgoals, plan.revision + 1, "", plan.goal)

    def replan(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        return plan


class SwitchWriter:
    def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy:
        return Policy(f'switch("{subgoal.args["colour"]}")\n', origin="test")


class NoRepair:
    def repair(self, *args: Any) -> Policy | None:
        return None


class LampMonitor:
    """Judges ``lit(colour)`` from the observation only."""

    name = "lamps"

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        lit = {o.color for o in observation.objects}
        for cond in subgoal.conditions:
            if cond.args[0] not in lit:
                return Verdict(False, self.name, FailureCategory.WRONG_STATE, why=f"{cond.args[0]} is dark")
        return Verdict(True, self.name, why="lit")


def run(colours: list[str], merge: bool, closed: bool = True) -> Any:
    monitor = HybridMonitor([LampMonitor()]) if closed else None
    agent = Agent(MergingPlanner(colours, merge), SwitchWriter(), NoRepair(), monitor,
                  Sandbox(max_steps=1000, timeout_s=5), LoopBudgets(1, 1, 10))
    board = LampBoard()
    return agent.run("light the amber and the teal lamps", board), board  # type: ignore[arg-type]


def test_a_step_dropped_by_a_revision_cannot_make_the_episode_pass() -> None:
    result, board = run(["amber", "teal"], merge=True)
    assert board.lit == {"amber"}  # the merged-away step never ran
    assert result.finished and not result.claimed_success
    assert result.final is not None and not result.final.ok and "teal" in result.final.why


def test_the_final_check_passes_when_the_whole_goal_holds() -> None:
    result, board = run(["amber", "teal"], merge=False)
    assert board.lit == {"amber", "teal"}
    assert result.claimed_success and result.final is not None and result.final.ok


def test_open_loop_claims_nothing_for_a_step_that_failed() -> None:
    class Broken(SwitchWriter):
        def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy:
            return Policy("no_such_primitive()\n", origin="test")

    agent = Agent(MergingPlanner(["amber"], False), Broken(), NoRepair(), None, Sandbox(max_steps=100, timeout_s=5))
    result = agent.run("light the amber lamp", LampBoard())  # type: ignore[arg-type]
    assert result.finished and not result.claimed_success and "failed" in result.failure


def test_confusion_counts_false_successes_apart_and_never_counts_missing_truth() -> None:
    matrix = confusion([(True, True), (True, False), (True, False), (False, True), (False, False), (True, None)])
    assert (matrix.true_success, matrix.false_success, matrix.false_failure, matrix.true_failure) == (1, 2, 1, 1)
    assert matrix.unverified == 1 and matrix.scored == 5 and abs(matrix.false_success_rate - 0.4) < 1e-9
    text = format_confusion(matrix)
    assert "false-success rate: 40.0% (2 of 5 episodes)" in text and "1 without ground truth" in text


def test_sweep_rows_keep_claim_and_truth_apart() -> None:
    rows = [EpisodeRow("v", "t", 0, DONE, success=False, claimed_success=True),
            EpisodeRow("v", "t", 1, DONE, success=None, claimed_success=True),
            EpisodeRow("v", "t", 2, DONE, success=True, claimed_success=True)]
    (cell,) = aggregate(rows)
    assert (cell.n, cell.successes, cell.false_successes, cell.unverified) == (2, 1, 1, 1)
    assert row_confusion(rows).false_success == 1


def test_console_headline_never_shows_an_unverified_claim_as_success() -> None:
    out = io.StringIO()
    log = ConsoleLog(out)
    log.event("result", result={"success": None, "claimed_success": True, "subgoals": 1})
    log.event("result", result={"success": False, "claimed_success": True, "subgoals": 1})
    first, second = [line for line in out.getvalue().splitlines() if not line.startswith(" ")]
    assert "unverified" in first and "✔ SUCCESS" not in first
    assert "FALSE SUCCESS" in second


@pytest.mark.slow
def test_a_tabletop_run_without_goal_has_no_ground_truth(tmp_path: Path) -> None:
    from embodied.config import load_config
    from embodied.experiment import run_episode

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "configs/tabletop/pick_place.yaml",
                      ["task.goal=[]", "task.instruction=pick up the red block", f"run.out_dir={tmp_path}",
                       "run.save_images=false"])
    result = run_episode(cfg, tmp_path / "ep", console=False)
    summary = json.loads((tmp_path / "ep" / "summary.json").read_text(encoding="utf-8"))
    # The agent's own plan never stands in for ground truth: it would grade itself.
    assert result.success is None and summary["success"] is None and summary["truth"] == "none"
    assert summary["claimed_success"] is result.claimed_success


def test_order_free_stack_and_thresholded_moves() -> None:
    from embodied.conditions import parse_condition
    from embodied.geometry import Box, Tolerances, evaluate

    tol = Tolerances()
    boxes = {"mug": Box("mug", (0.5, 0.0, 0.08), (0.04, 0.04, 0.04)),
             "crate": Box("crate", (0.5, 0.0, 0.03), (0.06, 0.06, 0.06)),
             "puck": Box("puck", (0.5, 0.0, 0.11), (0.03, 0.03, 0.02))}
    resolve = {k: k for k in boxes}.get
    assert evaluate(parse_condition("stacked(puck, crate, mug)"), boxes, resolve, tol)[0]
    moved = {"puck": Box("puck", (0.44, 0.02, 0.01), (0.03, 0.03, 0.02))}
    start = {"puck": Box("puck", (0.50, 0.00, 0.01), (0.03, 0.03, 0.02))}
    far = parse_condition("moved(puck, min=0.05)")
    assert evaluate(far, moved, resolve, tol, start)[0]
    toward = parse_condition("moved(puck, min=0.05, direction=toward)")  # toward the robot: -x
    assert evaluate(toward, moved, resolve, tol, start)[0]
    assert not evaluate(parse_condition("moved(puck, min=0.05, direction=left)"), moved, resolve, tol, start)[0]


@pytest.mark.slow
def test_a_scene_can_start_with_one_object_on_another_and_containers_are_neutral() -> None:
    from embodied.config import validate
    from sim.tabletop.ground_truth import evaluate_goal
    from sim.tabletop.world import TabletopWorld

    env = validate({"task": {"instruction": "x"}, "env": {"kind": "tabletop", "objects": [
        {"name": "lime cube", "shape": "cube", "color": "green", "on": "navy crate"},
        {"name": "navy crate", "shape": "cube", "color": "blue", "size": 0.06, "region": "center"},
        {"name": "bowl", "shape": "bowl"}]}}).env
    assert env.objects[2].color == "gray"  # no colour given: neutral, never red beside red blocks
    world = TabletopWorld(env, seed=3)
    try:
        ok, details = evaluate_goal(world, ["on(lime cube, navy crate)"])
        assert ok, details
        (x, y, _), _ = world.pose("navy crate")
        # explanations give world positions, not positions in the support's frame
        assert f"({x:.3f}, {y:.3f}" in details["conditions"][0]["why"]
    finally:
        world.close()
