"""The closed loop: plan -> write -> run -> check -> repair -> replan, with dynamic plan revision.

Domain-agnostic on purpose: this module talks to the world only through the protocols in
``embodied.protocols`` and imports no simulator, robot or GUI code, so the same loop drives a
tabletop and a phone screen.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from embodied.errors import EmbodiedError
from embodied.protocols import Environment, Monitor, PlanAwareWriter, Planner, Repairer, Writer
from embodied.sandbox import Sandbox
from embodied.types import (
    Attempt,
    Condition,
    Evidence,
    Execution,
    ExecutionStatus,
    FailureCategory,
    Observation,
    Plan,
    PlanView,
    Policy,
    Subgoal,
    SubgoalOutcome,
    Verdict,
)


class EpisodeLog(Protocol):
    """Where the loop reports what happens (the trace file, the console, or both)."""

    def event(self, kind: str, **data: Any) -> None: ...

    def images(self, observation: Observation | None, label: str) -> dict[str, str]: ...


class NullLog:
    def event(self, kind: str, **data: Any) -> None:
        pass

    def images(self, observation: Observation | None, label: str) -> dict[str, str]:
        return {}


@dataclass
class HybridMonitor:
    """Runs monitors in order; the first decisive failure wins. A failure is not decisive when its
    monitor is listed in ``advisory`` or says so itself with ``evidence.decisive = False`` (e.g.
    a VLM whose answer could not be parsed); such failures are kept as notes and the checkpoint
    passes if nothing decisive failed."""

    monitors: Sequence[Monitor]
    advisory: frozenset[str] = frozenset()
    name: str = "hybrid"

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        notes: list[dict[str, Any]] = []
        for monitor in self.monitors:
            verdict = monitor.check(subgoal, execution, observation)
            notes.append({"monitor": verdict.monitor, "ok": verdict.ok, "why": verdict.why})
            if verdict.ok:
                continue
            if verdict.evidence.decisive and monitor.name not in self.advisory:
                verdict.evidence.notes = verdict.evidence.notes or notes
                return verdict
        names = ", ".join(m.name for m in self.monitors) or "no monitor"
        return Verdict(ok=True, monitor=self.name, why=f"passed: {names}", evidence=Evidence(notes=notes))


def execution_verdict(execution: Execution) -> Verdict:
    """Open loop: the only judgement is whether the code ran to the end."""
    if execution.ok:
        return Verdict(ok=True, monitor="none", why="policy ran to the end (not checked)")
    return Verdict(ok=False, monitor="none", category=execution.category, why=execution.error or execution.status,
                   failed_line=execution.line)


def _same_goal(a: Condition, b: Condition) -> bool:
    """Whether a checked condition stands for a goal condition: equal, or equal but for the
    description of its subject (a repair may have found the same element under another name)."""
    return a == b or (a.predicate == b.predicate and a.negated == b.negated and a.params == b.params
                      and a.args[1:] == b.args[1:] and len(a.args) == len(b.args) > 1)


def final_check(monitor: HybridMonitor, run: AgentRun, observation: Observation) -> Verdict:
    """Hold the run to its first plan, from the last observation: every goal condition the planner
    stated holds now (or held at a passing checkpoint and its subject has since left the screen,
    e.g. a form that was submitted), and every other step of the first plan was
    achieved (a step whose conditions are not all goal conditions, e.g. a tap, counts when an
    outcome with its description passed). A subgoal dropped or merged by a revision cannot make the episode pass."""
    plan = run.first_plan or run.plan
    if plan is None:
        return Verdict(False, "final", FailureCategory.UNKNOWN, why="no plan")
    achieved = [o.subgoal for o in run.outcomes if o.ok]
    verified = [c for s in achieved for c in s.conditions]
    results: list[dict[str, Any]] = []
    for cond in plan.goal:
        verdict = monitor.check(Subgoal(f"goal: {cond}", "final_check", {}, [cond]),
                                Execution(ExecutionStatus.OK), observation)
        earlier = any(_same_goal(c, cond) for c in verified)
        ok = verdict.ok or (verdict.category is FailureCategory.NOT_FOUND and earlier)
        note = verdict.why if verdict.ok else (f"not on the last screen; held when achieved ({verdict.why})"
                                               if ok else verdict.why)
        results.append({"condition": str(cond), "ok": ok, "why": note, "category": verdict.category})
    results += [{"condition": "the plan covers the instruction", "ok": False, "why": doubt,
                 "category": FailureCategory.WRONG_STATE} for doubt in plan.doubts]
    done = {s.description for s in achieved}
    for s in plan.subgoals:
        covered = bool(s.conditions) and all(c in plan.goal for c in s.conditions)
        if not covered and not s.args.get("inserted"):
            ok = s.description in done
            results.append({"condition": f"step {s.description!r}", "ok": ok,
                            "why": "achieved" if ok else "never achieved", "category": FailureCategory.UNKNOWN})
    failed = [r for r in results if not r["ok"]]
    if not failed:
        why = f"{len(results)} goal condition(s) and step(s) of the first plan hold" if results else \
            "the first plan stated nothing to check"
        return Verdict(True, "final", why=why, evidence={"checks": results})
    first = failed[0]
    return Verdict(False, "final", first["category"] if first["category"] is not FailureCategory.NONE
                   else FailureCategory.WRONG_STATE, why=f"{first['condition']}: {first['why']}",
                   evidence={"checks": results})


def policy_diff(old: Policy, new: Policy) -> str:
    return "".join(difflib.unified_diff(
        old.source.splitlines(keepends=True), new.source.splitlines(keepends=True),
        fromfile=f"policy v{old.version}", tofile=f"policy v{new.version}"))


@dataclass
class LoopBudgets:
    repair: int = 3
    replan: int = 2
    max_subgoals: int = 30  # subgoal runs in total, revisions included: the loop always ends
    max_wall_s: float | None = None  # episode wall time, seconds; checked between subgoals and replans


@dataclass
class AgentRun:
    """What the loop did; the ground-truth result is added by the caller."""

    plan: Plan | None = None
    outcomes: list[SubgoalOutcome] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    repairs: int = 0
    replans: int = 0
    revisions: int = 0
    policies_written: int = 0
    failure: str = ""
    finished: bool = False  # the plan ran out of subgoals (as opposed to budgets or errors)
    final: Verdict | None = None  # the final check of the whole instruction (None: not made)
    first_plan: Plan | None = None  # the plan as first stated: what the final check holds the run to

    @property
    def claimed_success(self) -> bool:
        """What the agent concludes from its own checks (never ground truth): the plan ran out,
        nothing failed, the final check of the whole instruction passed (or, open loop, ran), and
        the planner had no doubt that its first plan covers the instruction."""
        doubted = bool(self.first_plan and self.first_plan.doubts)
        return self.finished and not self.failure and (self.final is None or self.final.ok) and not doubted


class Agent:
    def __init__(
        self,
        planner: Planner,
        writer: Writer,
        repairer: Repairer,
        monitor: HybridMonitor | None,
        sandbox: Sandbox,
        budgets: LoopBudgets | None = None,
        log: EpisodeLog | None = None,
    ) -> None:
        self.planner, self.writer, self.repairer = planner, writer, repairer
        self.monitor = monitor  # None = open loop: no checks, no repairs, no revisions
        self.sandbox = sandbox
        self.budgets = budgets or LoopBudgets()
        self.log = log or NullLog()

    @property
    def closed_loop(self) -> bool:
        return self.monitor is not None

    def _out_of_time(self, run: AgentRun, t0: float) -> bool:
        """True (with the failure set and logged) once ``budgets.max_wall_s`` has passed."""
        limit = self.budgets.max_wall_s
        elapsed = time.perf_counter() - t0
        if limit is None or elapsed < limit:
            return False
        run.failure = (f"stopped after {elapsed:.0f} s: the episode wall-time budget agent.max_wall_s={limit:g} s "
                       "is used up")
        self.log.event("budget_exhausted", budget="max_wall_s", value=round(elapsed, 1))
        return True

    def run(self, instruction: str, env: Environment) -> AgentRun:
        t0 = time.perf_counter()
        run = AgentRun()
        api = env.primitives()
        observation = env.observe("start")
        self.log.event("observation", label="start", objects=observation.objects, elements=observation.elements,
                       images=self.log.images(observation, "start"))
        try:
            plan = self.planner.decompose(instruction, observation)
        except EmbodiedError as exc:
            run.failure = f"planning failed: {exc}"
            self.log.event("plan_failed", error=str(exc), error_type=type(exc).__name__)
            return run
        run.plan = run.first_plan = plan
        self.log.event("plan", revision=plan.revision, note=plan.note, subgoals=plan.subgoals, doubts=plan.doubts)
        queue = list(plan.subgoals)
        index = 0
        while queue:
            if self._out_of_time(run, t0):
                return run
            if index >= self.budgets.max_subgoals:
                run.failure = f"stopped after {index} subgoal runs (agent.max_subgoals)"
                self.log.event("budget_exhausted", budget="max_subgoals", value=index)
                return run
            subgoal = queue.pop(0)
            if isinstance(self.writer, PlanAwareWriter):  # e.g. a model writer shows the whole plan
                self.writer.see_plan(PlanView(instruction, [o.subgoal for o in run.outcomes if o.ok], subgoal,
                                              list(queue)))
            outcome, observation = self._achieve(index, subgoal, api, env, observation, run)
            run.outcomes.append(outcome)
            index += 1
            if not outcome.ok and not self.closed_loop and not run.failure:
                # Open loop goes on to the next step, but a step that did not run cannot be claimed.
                run.failure = f"subgoal {outcome.subgoal.description!r} failed ({outcome.category}: {outcome.why})"
            if outcome.ok or not self.closed_loop:
                if self.closed_loop:
                    queue = self._revise(Plan(instruction, queue, plan.revision, plan.note), run, observation)
                continue
            if self._out_of_time(run, t0):
                return run
            if run.replans >= self.budgets.replan:
                run.failure = (f"subgoal {outcome.subgoal.description!r} failed after {outcome.attempts} attempt(s) "
                               f"({outcome.category}: {outcome.why}); replan budget {self.budgets.replan} used up")
                self.log.event("budget_exhausted", budget="replan", value=run.replans)
                return run
            plan = self._replan(Plan(instruction, [subgoal, *queue], plan.revision, plan.note), run, observation)
            queue = list(plan.subgoals)
            if not queue:
                run.failure = (f"subgoal {outcome.subgoal.description!r} failed ({outcome.category}: {outcome.why}) "
                               f"and the planner found no other way: {plan.note}")
                return run
        run.finished = True
        if self.monitor is not None:
            run.final = final_check(self.monitor, run, observation)
            self.log.event("final_check", verdict=run.final)
            if not run.final.ok:
                run.failure = f"final check of the whole instruction failed: {run.final.why}"
        return run

    # -----------------------------------------------------------------------------------------

    def _achieve(self, index: int, subgoal: Subgoal, api: Any, env: Environment, observation: Observation,
                 run: AgentRun) -> tuple[SubgoalOutcome, Observation]:
        self.log.event("subgoal_start", index=index, subgoal=subgoal)
        try:
            policy = self.writer.write(subgoal, api, observation)
        except EmbodiedError as exc:  # no usable code (a model's garbage, a template that does not fit)
            why = f"no policy could be written: {type(exc).__name__}: {exc}"
            self.log.event("write_failed", index=index, error=str(exc), error_type=type(exc).__name__)
            outcome = SubgoalOutcome(subgoal=subgoal, ok=False, attempts=0, category=FailureCategory.EXCEPTION,
                                     why=why)
            self.log.event("subgoal_end", index=index, ok=False, attempts=0, category=outcome.category, why=why)
            return outcome, observation
        policy.subgoal_index = index
        run.policies_written += 1
        self.log.event("policy", index=index, version=policy.version, origin=policy.origin, source=policy.source)
        tries = 0
        while True:
            execution = self.sandbox.run(policy.source, api, checkpoint=env.observe)
            execution.start = observation  # the view this attempt started from (a repairer's "before")
            self._record_checkpoints(index, execution)
            self.log.event("execution", index=index, version=policy.version, status=execution.status,
                           calls=execution.calls, stdout=execution.stdout, error=execution.error,
                           error_type=execution.error_type, line=execution.line, category=execution.category,
                           steps=execution.steps, wall_time_s=execution.wall_time_s)
            last = execution.checkpoints[-1].observation if execution.checkpoints else None
            observation = last if last is not None else env.observe("after")
            verdict = self.monitor.check(subgoal, execution, observation) if self.monitor else \
                execution_verdict(execution)
            run.attempts.append(Attempt(policy, execution, verdict))
            self.log.event("verdict", index=index, version=policy.version, verdict=verdict)
            if verdict.ok or not self.closed_loop:
                break
            if tries >= self.budgets.repair:
                self.log.event("budget_exhausted", budget="repair", index=index, value=tries)
                break
            try:
                new = self.repairer.repair(subgoal, policy, execution, verdict, observation, api)
            except EmbodiedError as exc:
                self.log.event("repair_failed", index=index, error=str(exc), error_type=type(exc).__name__)
                break
            if new is None:
                self.log.event("repair_declined", index=index, category=verdict.category)
                break
            new.subgoal_index = index
            tries += 1
            run.repairs += 1
            run.policies_written += 1
            self.log.event("repair", index=index, version=new.version, origin=new.origin, category=verdict.category,
                           source=new.source, diff=policy_diff(policy, new))
            policy = new
        outcome = SubgoalOutcome(subgoal=subgoal, ok=verdict.ok, attempts=tries + 1, category=verdict.category,
                                 why=verdict.why)
        self.log.event("subgoal_end", index=index, ok=outcome.ok, attempts=outcome.attempts,
                       category=outcome.category, why=outcome.why)
        return outcome, observation

    def _record_checkpoints(self, index: int, execution: Execution) -> None:
        for cp in execution.checkpoints:
            cp.image_paths = self.log.images(cp.observation, f"s{index}-{cp.label}")
            obs = cp.observation
            self.log.event("checkpoint", index=index, label=cp.label, after_call=cp.after_call, line=cp.line,
                           images=cp.image_paths, objects=obs.objects if obs else [],
                           elements=obs.elements if obs else [], gripper=obs.gripper if obs else {})

    def _revise(self, remaining: Plan, run: AgentRun, observation: Observation) -> list[Subgoal]:
        before = [s.description for s in remaining.subgoals]
        try:
            revised = self.planner.revise(remaining, run.outcomes, observation)
        except EmbodiedError as exc:
            self.log.event("revise_failed", error=str(exc))
            return remaining.subgoals
        after = [s.description for s in revised.subgoals]
        if after != before:
            run.revisions += 1
            self.log.event("plan_revised", revision=revised.revision, note=revised.note, before=before,
                           subgoals=revised.subgoals)
        return list(revised.subgoals)

    def _replan(self, plan: Plan, run: AgentRun, observation: Observation) -> Plan:
        run.replans += 1
        try:
            new = self.planner.replan(plan, run.outcomes, observation)
        except EmbodiedError as exc:
            self.log.event("replan_failed", error=str(exc))
            return Plan(plan.instruction, [], plan.revision + 1, f"replanning failed: {exc}")
        self.log.event("replan", revision=new.revision, note=new.note, subgoals=new.subgoals)
        return new
