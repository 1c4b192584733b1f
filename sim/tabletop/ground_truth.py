"""Ground-truth boxes from simulator state, for scoring only (never shown to the agent).

The predicates themselves live in :mod:`embodied.geometry`, shared with the geometric monitor;
this module only turns bodies into :class:`Box` es: centre, axis-aligned extent, grasped (both
fingers touch it) and upright (its z axis within ``UPRIGHT_DEG`` of vertical). Start boxes for
``moved`` are in the world frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pybullet as p

from embodied import naming
from embodied.conditions import parse_condition
from embodied.geometry import Box, Tolerances, evaluate
from embodied.types import Condition
from sim.tabletop.world import TabletopWorld

UPRIGHT_DEG = 20.0
SUPPORT_PREDICATES = ("on", "inside")


def _yaw(rot: np.ndarray) -> float:
    return math.atan2(rot[1, 0], rot[0, 0])


def object_boxes(world: TabletopWorld, frame: str | None = None) -> dict[str, Box]:
    """A Box per object in the world (distractors included), keyed by config name.

    Boxes are axis-aligned, so a rotated object's box is larger than the object. With ``frame``
    (an object name) every box is expressed in that object's yaw frame, about its centre: its own
    box is then exact, which is what "on" and "inside" need for a rotated plate, bowl or block."""
    held = world.robot.grasped_id()
    turn = np.eye(3)
    pivot = np.zeros(3)
    if frame is not None:
        pos, orn = world.pose(frame)
        yaw = _yaw(np.reshape(p.getMatrixFromQuaternion(orn), (3, 3)))
        c, s = math.cos(-yaw), math.sin(-yaw)
        turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        pivot = np.asarray(pos)
    boxes: dict[str, Box] = {}
    for name, obj in world.objects.items():
        pos, orn = world.pose(name)
        rot = np.reshape(p.getMatrixFromQuaternion(orn), (3, 3))
        centre = turn @ (np.asarray(pos) - pivot) + pivot
        size = np.abs(turn @ rot) @ np.asarray(obj.dims, dtype=float)
        boxes[name] = Box(name=name, position=(float(centre[0]), float(centre[1]), float(centre[2])),
                          size=(float(size[0]), float(size[1]), float(size[2])), shape=obj.shape,
                          grasped=held == obj.body,
                          upright=bool(rot[2, 2] >= math.cos(math.radians(UPRIGHT_DEG))))
    return boxes


def resolver(names: Sequence[str]) -> Any:
    """Map a description ("the red cube") to a config name with the same tolerant matching the
    skills use."""
    names = list(names)
    return lambda query: naming.resolve(query, names)


def evaluate_goal(world: TabletopWorld, goal: Sequence[Condition | str], start: Mapping[str, Box] | None = None,
                  tol: Tolerances | None = None) -> tuple[bool | None, dict[str, Any]]:
    """All conditions hold? Details list each condition with its explanation. "on" and "inside"
    are judged in the frame of their support object (see :func:`object_boxes`). No conditions:
    None (the world has no ground truth to give; an agent's own plan must not stand in for it)."""
    if not goal:
        return None, {"source": "none", "why": "no goal conditions (task.goal): no ground truth", "conditions": []}
    tol = tol or Tolerances()
    boxes = object_boxes(world)
    resolve = resolver([n for n, o in world.objects.items() if not o.distractor])
    results = []
    for item in goal:
        cond = parse_condition(item) if isinstance(item, str) else item
        view = boxes
        if cond.predicate in SUPPORT_PREDICATES and len(cond.args) == 2:
            support = resolve(cond.args[1])
            if support is not None:
                view = object_boxes(world, frame=support)
        ok, why = evaluate(cond, view, resolve, tol, start, world=boxes)
        results.append({"condition": str(cond), "ok": bool(ok), "why": why})
    return all(r["ok"] for r in results), {"source": "world", "conditions": results}
