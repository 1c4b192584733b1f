"""Rehearsal in a twin: before a code policy moves the real arm, it runs in a PyBullet tabletop built
from what the cameras perceive (names, shapes, colours, sizes, poses), with the same skills.

Modes (``env.rehearse`` of a robot config): ``off``; ``advise`` (rehearse, record, always send);
``gate`` (a policy that fails in the twin is not sent: its twin execution comes back as the
attempt's result, marked, and the repairer sees the twin's error). After a sent policy, the twin's
predicted end state is compared with what the cameras see; every rehearsal is recorded (twin
outcome, whether the policy was sent, predicted vs perceived positions and their error in metres)
in the env's stats, hence in the trace's result event and summary.json.

The twin knows only what was perceived: objects hidden from the cameras are missing, sizes and
poses carry the detector's error, and the real arm's faults (a slip, a nudge) are not in it. It
catches what a policy would do wrong in the scene as seen (unreachable targets, wrong names, a grasp
the geometry cannot give), not what the world will do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from embodied.primitives import PrimitiveSet
from embodied.sandbox import Sandbox
from embodied.types import Execution, Observation, SceneObject
from sim.tabletop.config import ObjectConfig, TabletopConfig
from sim.tabletop.env import TabletopEnv

TWIN_SEED = 0
MAX_SIZE = 0.5  # metres: the tabletop config's limit on an object's size


class RehearsalHost(Protocol):
    """What the rehearsal needs from the real cell."""

    rehearse: str
    rehearsals: list[dict[str, Any]]

    def perceived(self) -> list[SceneObject]: ...

    def holding_something(self) -> bool: ...

    def observe(self, label: str = "") -> Observation: ...


def twin_config(objects: Sequence[SceneObject]) -> TabletopConfig:
    """A tabletop config holding what was perceived, lowest first (so stacks rebuild in order)."""
    configs = []
    for obj in sorted(objects, key=lambda o: o.position[2]):
        size = tuple(min(max(float(s), 0.005), MAX_SIZE) for s in obj.size)
        shape = obj.shape if obj.shape in ("cube", "cylinder", "plate", "bowl", "tray") else "cube"
        configs.append(ObjectConfig(name=obj.name, shape=shape, color=obj.color or "gray", size=size,
                                    position=(float(obj.position[0]), float(obj.position[1])), yaw=float(obj.yaw)))
    return TabletopConfig(objects=configs, oracle=True, seed=TWIN_SEED)


def _positions(objects: Sequence[SceneObject]) -> dict[str, list[float]]:
    return {o.name: [round(float(v), 4) for v in o.position] for o in objects}


class RehearsingSandbox:
    """A :class:`Sandbox` that rehearses every policy in a twin of ``host`` first (see the module
    docstring). Same ``run`` signature as the sandbox it wraps."""

    def __init__(self, inner: Sandbox, host: RehearsalHost) -> None:
        self.inner = inner
        self.host = host

    def run(self, source: str, primitives: PrimitiveSet,
            checkpoint: Callable[[str], Observation | None] | None = None) -> Execution:
        mode = self.host.rehearse
        if mode == "off":
            return self.inner.run(source, primitives, checkpoint)
        record: dict[str, Any] = {"policy": source, "mode": mode}
        if self.host.holding_something():
            record.update(rehearsed=False, sent=True, why="the arm holds an object the twin cannot rebuild")
            self.host.rehearsals.append(record)
            return self.inner.run(source, primitives, checkpoint)
        scene = self.host.perceived()
        t0 = time.perf_counter()
        twin = TabletopEnv(twin_config(scene))
        try:
            twin.reset(TWIN_SEED)
            rehearsal = self.inner.run(source, twin.primitives())
            predicted = twin.observe("rehearsed").objects  # the twin is oracle: its own state
        finally:
            twin.close()
        record.update(rehearsed=True, twin_ok=rehearsal.ok, twin_error=rehearsal.error,
                      twin_s=round(time.perf_counter() - t0, 3), predicted=_positions(predicted))
        if not rehearsal.ok and mode == "gate":
            record["sent"] = False
            self.host.rehearsals.append(record)
            return replace(rehearsal, error=f"not sent to the arm: the policy failed in the twin rehearsal: "
                                            f"{rehearsal.error}", checkpoints=[])
        execution = self.inner.run(source, primitives, checkpoint)
        actual = self.host.observe("after").objects
        seen = _positions(actual)
        errors = {name: round(math.dist(pos, seen[name]), 4) for name, pos in record["predicted"].items()
                  if name in seen}
        record.update(sent=True, real_ok=execution.ok, perceived=seen, error_m=errors,
                      max_error_m=max(errors.values(), default=None))
        self.host.rehearsals.append(record)
        return execution
