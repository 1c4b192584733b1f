"""Agent-side boxes for the shared predicates of :mod:`embodied.geometry`.

The geometric monitor checks conditions on :class:`~embodied.geometry.Box` es built here from what
the agent sees (an :class:`Observation`'s detected objects and its gripper proprioception), with
the same predicate code that scores ground truth from simulator state, and the same conventions:
boxes are axis-aligned, and "on"/"inside" are judged in the yaw frame of the support, where the
support's own box is exact. Units: metres, radians.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from embodied import naming
from embodied.geometry import Box, Tolerances, turned_size
from embodied.types import Observation, SceneObject, Subgoal

# Estimated poses are a few millimetres off (see perception.detection), so contact and footprint
# margins are a little wider than ground truth's; offsets, distances and targets keep ground
# truth's values so that the monitor does not pass what scoring would fail.
MONITOR_TOLERANCES = Tolerances(contact_z=0.025, xy_margin=0.015, relation=0.03, near=0.12, at=0.04, aligned=0.03)
HELD_SIZE = (0.04, 0.04, 0.04)  # assumed size of a held object the cameras cannot see
SUPPORT_PREDICATES = ("on", "inside")


def box_of(obj: SceneObject, grasped: bool = False, frame: SceneObject | None = None) -> Box:
    """A detected object as an axis-aligned box, in the world frame or, with ``frame``, in that
    object's yaw frame about its centre (where ``frame``'s own box is exact)."""
    x, y, z = (float(v) for v in obj.position)
    yaw = obj.yaw
    if frame is not None:
        (x, y), yaw = _turn_into(frame, x, y), obj.yaw - frame.yaw
    return Box(name=obj.name, position=(x, y, z), size=turned_size(obj.size, yaw), shape=obj.shape, grasped=grasped)


def _turn_into(frame: SceneObject, x: float, y: float) -> tuple[float, float]:
    c, s = math.cos(-frame.yaw), math.sin(-frame.yaw)
    fx, fy = frame.position[0], frame.position[1]
    return fx + c * (x - fx) - s * (y - fy), fy + s * (x - fx) + c * (y - fy)


def held_name(observation: Observation, names: list[str]) -> str | None:
    """The detected name of what the gripper holds, or the gripper's own name for it when no
    detection matches (it may be hidden in the gripper); None when nothing is held."""
    held = observation.gripper.get("holding") if observation.gripper else None
    if not held:
        return None
    return naming.resolve(str(held), names) or str(held)


def observation_boxes(observation: Observation, min_confidence: float = 0.0,
                      frame: str | None = None) -> dict[str, Box]:
    """Boxes of the detected objects keyed by name, in the world frame or in the yaw frame of the
    detected object named ``frame``. The held object (``gripper["holding"]``) is marked grasped;
    if no detection matches it, a box of ``HELD_SIZE`` is put at the gripper."""
    objects = [o for o in observation.objects if o.confidence >= min_confidence]
    names = [o.name for o in objects]
    pivot = next((o for o in objects if o.name == frame), None)
    held = held_name(observation, names)
    boxes = {o.name: box_of(o, grasped=o.name == held, frame=pivot) for o in objects}
    if held is not None and held not in boxes:
        grip = observation.gripper.get("position")
        if grip is not None and len(grip) == 3:
            x, y, z = (float(v) for v in grip)
            if pivot is not None:
                x, y = _turn_into(pivot, x, y)
            boxes[held] = Box(held, (x, y, z), HELD_SIZE, grasped=True)
    return boxes


def resolver(names: list[str]) -> Callable[[str], str | None]:
    """Description -> detected name, with the same tolerant matching the skills use."""
    return lambda query: naming.resolve(query, names)


def start_boxes(subgoal: Subgoal, boxes: Mapping[str, Box]) -> dict[str, Box]:
    """Start poses for ``moved(...)``, in the world frame: planners put the object's pose when the
    subgoal was made in ``subgoal.args["start"]`` ([x, y] or [x, y, z]) next to ``args["object"]``."""
    args: Mapping[str, Any] = subgoal.args or {}
    start, obj = args.get("start"), args.get("object")
    if not obj or not isinstance(start, list | tuple) or len(start) < 2:
        return {}
    key = naming.resolve(str(obj), list(boxes))
    if key is None:
        return {}
    now = boxes[key]
    z = float(start[2]) if len(start) > 2 else now.position[2]
    return {key: Box(key, (float(start[0]), float(start[1]), z), now.size, shape=now.shape)}
