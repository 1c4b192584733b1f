"""A tiny world for report and replay tests: the real agent loop, sandbox and trace writer paint
stripes on a canvas that serves as the camera image, so traces have plans, policies, repairs,
verdicts and checkpoint images exactly as run_episode writes them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embodied.agent import Agent, HybridMonitor, LoopBudgets
from embodied.assembly import RunLog
from embodied.errors import PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.sandbox import Sandbox
from embodied.trace import TraceWriter, write_json_atomic
from embodied.types import (
    Condition,
    EpisodeResult,
    Execution,
    FailureCategory,
    Observation,
    Plan,
    Policy,
    SceneObject,
    Subgoal,
    SubgoalOutcome,
    Verdict,
    to_jsonable,
)

COLORS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 180, 60)}


class Smudged(PrimitiveError):
    category = FailureCategory.GRASP_MISSED


class PaintWorld:
    """A 60x80 canvas; ``paint(color, x)`` draws a stripe. A colour may be 'smudged' N times."""

    domain = "test"

    def __init__(self, smudge: dict[str, int]) -> None:
        self.canvas = np.full((60, 80, 3), 245, np.uint8)
        self.smudge = dict(smudge)
        self.painted: list[str] = []

    def reset(self, seed: int | None = None) -> Observation:
        return self.observe("start")

    def observe(self, label: str = "") -> Observation:
        depth = np.linspace(0.5, 1.5, 60 * 80, dtype=np.float32).reshape(60, 80)
        return Observation(objects=[SceneObject(c, color=c) for c in self.painted],
                           images={"front/rgb": self.canvas.copy(), "front/depth": depth})

    def primitives(self) -> PrimitiveSet:
        api = PrimitiveSet("test")

        def paint(color: str, x: int) -> int:
            """Paint a 10-pixel stripe of ``color`` starting at column ``x``."""
            if self.smudge.get(color, 0) > 0:
                self.smudge[color] -= 1
                raise Smudged(f"{color} smudged")
            self.canvas[:, x:x + 10] = COLORS[color]
            self.painted.append(color)
            return x + 10

        api.add(paint)
        return api

    def success(self, goal: Sequence[Condition]) -> tuple[bool, dict[str, Any]]:
        return all(c.args[0] in self.painted for c in goal), {"painted": self.painted}

    def stats(self) -> dict[str, Any]:
        return {"sim_steps": 240}

    def close(self) -> None:
        pass


class StripePlanner:
    def decompose(self, instruction: str, observation: Observation) -> Plan:
        return Plan(instruction, [Subgoal(f"paint {c}", "paint", {"color": c, "x": x}, [Condition("painted", (c,))])
                                  for c, x in (("red", 10), ("blue", 40))])

    def revise(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        return plan

    def replan(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        return Plan(plan.instruction, [], plan.revision + 1, "no other way")


class StripeWriter:
    def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy:
        a = subgoal.args
        return Policy(f'# {subgoal.description}\nfor i in range(1):\n    paint("{a["color"]}", {a["x"]} + i)\n'
                      f'checkpoint("{a["color"]} painted")\n', origin="test")


class ShiftRepairer:
    def repair(self, subgoal: Subgoal, policy: Policy, execution: Execution, verdict: Verdict,
               observation: Observation, api: PrimitiveSet) -> Policy | None:
        return Policy(policy.source.replace("+ i", "+ i + 1"), version=policy.version + 1, origin="repair:shift",
                      parent_version=policy.version)


class ExecutionMonitor:
    name = "exec"

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        if execution.ok:
            return Verdict(ok=True, monitor=self.name, why="ran")
        return Verdict(ok=False, monitor=self.name, category=execution.category, why=execution.error or "",
                       failed_line=execution.line)


def make_episode(run_dir: Path, seed: int = 0, smudges: int = 1) -> dict[str, Any]:
    """Run one real loop episode into ``run_dir`` the way run_episode lays it out."""
    trace = TraceWriter(run_dir)
    log = RunLog(trace, None)
    world = PaintWorld({"blue": smudges})
    log.event("episode_start", instruction="paint red then blue", seed=seed, run_dir=str(run_dir))
    agent = Agent(StripePlanner(), StripeWriter(), ShiftRepairer(), HybridMonitor([ExecutionMonitor()]),
                  Sandbox(max_steps=10_000, timeout_s=10), LoopBudgets(2, 0, 10), log)
    run = agent.run("paint red then blue", world)
    success, details = world.success([Condition("painted", ("red",)), Condition("painted", ("blue",))])
    final = world.observe("final")
    log.event("final", images=log.images(final, "final"), objects=final.objects)
    calls = sum(len(a.execution.calls) for a in run.attempts)
    result = EpisodeResult(success=success, instruction="paint red then blue", wall_time_s=0.1, sim_steps=240,
                           primitive_calls=calls, subgoals=len(run.outcomes), repairs=run.repairs,
                           replans=run.replans, failure=run.failure)
    log.event("result", result=result, goal_source="config", goal_details=details)
    summary = {**to_jsonable(result), "seed": seed}
    write_json_atomic(run_dir / "summary.json", summary)
    trace.close()
    return summary
