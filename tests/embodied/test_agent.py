"""The loop's control flow: repairs, replans, revisions, budgets, and its independence from any
simulator. The world here is a tiny in-memory counter world; planners and monitors are real
classes of this test with explicit behaviour (they stand in for no model)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from embodied.agent import Agent, HybridMonitor, LoopBudgets
from embodied.errors import PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.sandbox import Sandbox
from embodied.types import (
    Condition,
    Evidence,
    Execution,
    ExecutionStatus,
    FailureCategory,
    Observation,
    Plan,
    Policy,
    Subgoal,
    SubgoalOutcome,
    Verdict,
)


class Jammed(PrimitiveError):
    category = FailureCategory.GRASP_MISSED


class CounterWorld:
    """A world with named counters; ``bump(name)`` fails while the counter is jammed."""

    domain = "test"

    def __init__(self, jam: dict[str, int] | None = None) -> None:
        self.counts: dict[str, int] = {}
        self.jam = dict(jam or {})
        self.observed = 0

    def reset(self, seed: int | None = None) -> Observation:
        return self.observe()

    def observe(self, label: str = "") -> Observation:
        self.observed += 1
        return Observation(label=repr(sorted(self.counts.items())))

    def primitives(self) -> PrimitiveSet:
        api = PrimitiveSet("test")

        def bump(name: str) -> int:
            """Add one to a counter."""
            if self.jam.get(name, 0) > 0:
                self.jam[name] -= 1
                raise Jammed(f"{name} is jammed")
            self.counts[name] = self.counts.get(name, 0) + 1
            return self.counts[name]

        api.add(bump)
        return api

    def success(self, goal: Sequence[Condition]) -> tuple[bool, dict[str, Any]]:
        return all(self.counts.get(c.args[0], 0) >= 1 for c in goal), {}

    def stats(self) -> dict[str, Any]:
        return {"sim_steps": 0}

    def close(self) -> None:
        pass


def sub(name: str) -> Subgoal:
    return Subgoal(f"bump {name}", "bump", {"name": name}, [Condition("counted", (name,))])


class ListPlanner:
    def __init__(self, names: list[str], replan_to: list[str] | None = None) -> None:
        self.names, self.replan_to = names, replan_to
        self.revisions = 0

    def decompose(self, instruction: str, observation: Observation) -> Plan:
        return Plan(instruction, [sub(n) for n in self.names])

    def revise(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        self.revisions += 1
        return plan

    def replan(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        names = self.replan_to if self.replan_to is not None else [s.args["name"] for s in plan.subgoals]
        return Plan(plan.instruction, [sub(n) for n in names], plan.revision + 1, "retry")


class BumpWriter:
    def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy:
        return Policy(f'bump("{subgoal.args["name"]}")\n', origin="test")


class RetryRepairer:
    def repair(self, subgoal: Subgoal, policy: Policy, execution: Execution, verdict: Verdict,
               observation: Observation, api: PrimitiveSet) -> Policy | None:
        return Policy(f"# retry\n{policy.source}", version=policy.version + 1, origin="repair:test",
                      parent_version=policy.version)


class ExecutionMonitor:
    name = "exec"

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        if execution.ok:
            return Verdict(ok=True, monitor=self.name)
        return Verdict(ok=False, monitor=self.name, category=execution.category, why=execution.error or "",
                       failed_line=execution.line)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def event(self, kind: str, **data: Any) -> None:
        self.events.append((kind, data))

    def images(self, observation: Observation | None, label: str) -> dict[str, str]:
        return {}

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


def make_agent(planner: ListPlanner, *, repair: int = 3, replan: int = 2, closed: bool = True,
               log: Recorder | None = None) -> Agent:
    monitor = HybridMonitor([ExecutionMonitor()]) if closed else None
    return Agent(planner, BumpWriter(), RetryRepairer(), monitor, Sandbox(max_steps=10_000, timeout_s=10),
                 LoopBudgets(repair, replan, 20), log)


def test_all_subgoals_succeed_and_plan_is_revised_after_each() -> None:
    world, planner, log = CounterWorld(), ListPlanner(["a", "b", "c"]), Recorder()
    run = make_agent(planner, log=log).run("bump a, b and c", world)
    assert run.finished and not run.failure
    assert world.counts == {"a": 1, "b": 1, "c": 1}
    assert planner.revisions == 3
    assert (run.repairs, run.replans, run.policies_written) == (0, 0, 3)
    assert log.kinds().count("verdict") == 3 and "plan" in log.kinds()


def test_failure_is_repaired_with_a_new_policy_version() -> None:
    world, log = CounterWorld(jam={"b": 2}), Recorder()
    run = make_agent(ListPlanner(["a", "b"]), log=log).run("x", world)
    assert run.finished and world.counts == {"a": 1, "b": 1}
    assert run.repairs == 2
    repairs = [d for k, d in log.events if k == "repair"]
    assert [r["version"] for r in repairs] == [1, 2]
    assert "+# retry" in repairs[0]["diff"]
    assert run.outcomes[1].attempts == 3


def test_repairs_exhausted_lead_to_replan_then_success() -> None:
    world = CounterWorld(jam={"b": 3})  # 1 try + 1 repair fail, replan, then 1 more failure, then ok
    run = make_agent(ListPlanner(["b"]), repair=1, replan=2).run("x", world)
    assert run.finished and world.counts == {"b": 1}
    assert run.replans == 1


def test_impossible_task_ends_with_a_clear_failure_after_budgets() -> None:
    world, log = CounterWorld(jam={"b": 10_000}), Recorder()
    run = make_agent(ListPlanner(["b"]), repair=2, replan=1, log=log).run("x", world)
    assert not run.finished
    assert "replan budget 1 used up" in run.failure and "grasp_missed" in run.failure
    assert run.repairs == 2 * 2  # each of the two plans used its repair budget
    assert ("budget_exhausted", {"budget": "replan", "value": 1}) in log.events


def test_replanner_giving_up_ends_the_episode() -> None:
    run = make_agent(ListPlanner(["b"], replan_to=[]), repair=0).run("x", CounterWorld(jam={"b": 99}))
    assert not run.finished and "no other way" in run.failure


def test_open_loop_neither_checks_nor_repairs() -> None:
    world = CounterWorld(jam={"a": 1})
    run = make_agent(ListPlanner(["a", "b"]), closed=False).run("x", world)
    assert run.repairs == 0 and run.replans == 0
    assert world.counts == {"b": 1}  # a failed silently, b still ran
    assert run.finished


def test_subgoal_cap_stops_endless_replanning() -> None:
    agent = make_agent(ListPlanner(["b"]), repair=0, replan=1000)
    agent.budgets.max_subgoals = 5
    run = agent.run("x", CounterWorld(jam={"b": 10_000}))
    assert not run.finished and "max_subgoals" in run.failure
    assert len(run.outcomes) == 5


def test_agent_module_imports_no_simulator_robot_or_gui_code() -> None:
    code = ("import sys, embodied.agent, embodied.experiment; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('pybullet', 'sim', 'robots', 'perception', 'planners', 'pyautogui', 'selenium', 'adbutils', 'torch')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


class BrokenWriter:
    def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy:
        from embodied.errors import EmbodiedError

        raise EmbodiedError("model answered with prose, no code")


def test_writer_that_cannot_write_fails_the_subgoal_not_the_run() -> None:
    log = Recorder()
    agent = Agent(ListPlanner(["a"], replan_to=[]), BrokenWriter(), RetryRepairer(),
                  HybridMonitor([ExecutionMonitor()]), Sandbox(max_steps=1000, timeout_s=5), LoopBudgets(1, 1, 5), log)
    run = agent.run("x", CounterWorld())
    assert not run.finished and "no policy could be written" in run.outcomes[0].why
    assert "write_failed" in log.kinds()


class UnsureMonitor:
    name = "unsure"

    def __init__(self, decisive: bool | None) -> None:
        self.decisive = decisive

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        evidence = Evidence() if self.decisive is None else Evidence(decisive=self.decisive)
        return Verdict(ok=False, monitor=self.name, category=FailureCategory.UNKNOWN, why="cannot tell",
                       evidence=evidence)


def test_hybrid_monitor_passes_over_undecided_failures_but_honours_decisive_flag() -> None:
    execution = Execution(status=ExecutionStatus.OK)
    sg = sub("a")
    assert HybridMonitor([ExecutionMonitor(), UnsureMonitor(False)]).check(sg, execution, Observation()).ok
    assert not HybridMonitor([UnsureMonitor(None)]).check(sg, execution, Observation()).ok
    assert not HybridMonitor([UnsureMonitor(True)]).check(sg, execution, Observation()).ok
    assert HybridMonitor([UnsureMonitor(True)], advisory=frozenset({"unsure"})).check(
        sg, execution, Observation()).ok
