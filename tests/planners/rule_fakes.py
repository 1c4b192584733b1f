"""Test helpers for the rule planner/writer/repairer: fixed scenes and a small kinematic table.

The table is a stand-in for the PyBullet world in unit tests of the *planner, writer and
repairer* only: objects move exactly where the primitives say (no physics, no perception), so a
test can check that plans, policies and revisions do the right thing, fast and deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from embodied import naming
from embodied.errors import ObjectNotFound, PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.types import FailureCategory, Observation, SceneObject


class GraspMissed(PrimitiveError):
    category = FailureCategory.GRASP_MISSED


class ObjectDropped(PrimitiveError):
    category = FailureCategory.DROPPED


def obj(name: str, color: str, shape: str, x: float, y: float, size: float | tuple[float, float, float],
        z: float | None = None) -> SceneObject:
    dims = (size, size, size) if isinstance(size, float) else size
    return SceneObject(name, color, shape, (x, y, dims[2] / 2 if z is None else z), dims)


def main_scene() -> Observation:
    """Four blocks of different sizes, two plates, a bowl and a tray."""
    return Observation(objects=[
        obj("red block", "red", "cube", 0.45, 0.12, 0.04),
        obj("green block", "green", "cube", 0.50, 0.00, 0.035),
        obj("blue block", "blue", "cube", 0.55, -0.12, 0.045),
        obj("yellow block", "yellow", "cube", 0.42, -0.05, 0.05),
        obj("red plate", "red", "plate", 0.65, 0.18, (0.12, 0.12, 0.005)),
        obj("green plate", "green", "plate", 0.65, -0.18, (0.12, 0.12, 0.005)),
        obj("blue bowl", "blue", "bowl", 0.36, 0.20, (0.14, 0.14, 0.05)),
        obj("gray tray", "gray", "tray", 0.37, -0.20, (0.16, 0.16, 0.03)),
    ])


def dupes_scene() -> Observation:
    """Two red blocks (named left to right), containers of several colours."""
    return Observation(objects=[
        obj("red block 1", "red", "cube", 0.45, 0.15, 0.04),
        obj("red block 2", "red", "cube", 0.45, 0.02, 0.04),
        obj("blue block", "blue", "cube", 0.55, -0.05, 0.04),
        obj("green block", "green", "cube", 0.40, -0.12, 0.04),
        obj("red plate", "red", "plate", 0.65, 0.15, (0.12, 0.12, 0.005)),
        obj("blue plate", "blue", "plate", 0.65, 0.0, (0.12, 0.12, 0.005)),
        obj("green bowl", "green", "bowl", 0.62, -0.17, (0.14, 0.14, 0.05)),
    ])


@dataclass
class Call:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass
class KinematicTable:
    """Objects go exactly where the primitives put them. ``fail`` maps a primitive name to a
    list of exceptions raised by its next calls (one per call), to script failures."""

    objects: dict[str, SceneObject]
    held: str | None = None
    calls: list[Call] = field(default_factory=list)
    fail: dict[str, list[Exception]] = field(default_factory=dict)

    @classmethod
    def from_observation(cls, observation: Observation) -> KinematicTable:
        return cls({o.name: SceneObject(o.name, o.color, o.shape, o.position, o.size) for o in observation.objects})

    def observe(self, label: str = "") -> Observation:
        objs = [SceneObject(o.name, o.color, o.shape, o.position, o.size) for o in self.objects.values()]
        return Observation(objects=objs, gripper={"holding": self.held})

    def _find(self, name: str) -> SceneObject:
        key = naming.resolve(name, list(self.objects))
        if key is None:
            raise ObjectNotFound(f"no {name!r}; visible: {', '.join(self.objects)}")
        return self.objects[key]

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append(Call(name, args, kwargs))
        queue = self.fail.get(name)
        if queue:
            raise queue.pop(0)

    def _move(self, name: str, x: float, y: float, z: float) -> None:
        o = self.objects[name]
        self.objects[name] = SceneObject(o.name, o.color, o.shape, (x, y, z), o.size)

    def _top_at(self, x: float, y: float, skip: str) -> float:
        """Height of the highest top under (x, y), table = 0."""
        top = 0.0
        for o in self.objects.values():
            if o.name == skip or o.shape in ("bowl", "tray"):
                continue
            if abs(o.position[0] - x) <= o.size[0] / 2 and abs(o.position[1] - y) <= o.size[1] / 2:
                top = max(top, o.position[2] + o.size[2] / 2)
        return top

    def primitives(self) -> PrimitiveSet:
        table = self
        api = PrimitiveSet("tabletop")

        def get_objects() -> list[dict]:
            """Every visible object."""
            table._record("get_objects")
            return [{"name": o.name, "color": o.color, "shape": o.shape, "position": list(o.position),
                     "size": list(o.size)} for o in table.objects.values()]

        def get_pose(name: str) -> list[float]:
            """Centre [x, y, z] of the named object, metres."""
            table._record("get_pose", name)
            return list(table._find(name).position)

        def pick(name: str, dx: float = 0.0, dy: float = 0.0, speed: float = 1.0) -> bool:
            """Grasp the object from above and lift it."""
            table._record("pick", name, dx=dx, dy=dy, speed=speed)
            o = table._find(name)
            table.held = o.name
            table._move(o.name, o.position[0], o.position[1], o.position[2] + 0.15)
            return True

        def place_on(name: str, dx: float = 0.0, dy: float = 0.0, speed: float = 1.0) -> bool:
            """Put the held object on (or into) the named object."""
            table._record("place_on", name, dx=dx, dy=dy, speed=speed)
            if table.held is None:
                raise ObjectDropped("nothing is held")
            t = table._find(name)
            h = table.objects[table.held]
            x, y = t.position[0] + dx, t.position[1] + dy
            base = t.position[2] - t.size[2] / 2 + 0.004 if t.shape in ("bowl", "tray") else \
                t.position[2] + t.size[2] / 2
            table._move(h.name, x, y, base + h.size[2] / 2)
            table.held = None
            return True

        def place_at(x: float, y: float, speed: float = 1.0) -> bool:
            """Put the held object on the table at (x, y)."""
            table._record("place_at", x, y, speed=speed)
            if table.held is None:
                raise ObjectDropped("nothing is held")
            h = table.objects[table.held]
            table._move(h.name, x, y, table._top_at(x, y, h.name) + h.size[2] / 2)
            table.held = None
            return True

        def push(name: str, dx: float, dy: float, speed: float = 1.0) -> list[float]:
            """Push the object along the table by (dx, dy) metres."""
            table._record("push", name, dx, dy, speed=speed)
            o = table._find(name)
            table._move(o.name, o.position[0] + dx, o.position[1] + dy, o.position[2])
            return list(table.objects[o.name].position)

        def holding() -> str | None:
            """Name of the held object, or None."""
            table._record("holding")
            return table.held

        def home() -> None:
            """Back to the home pose."""
            table._record("home")

        for fn in (get_objects, get_pose, pick, place_on, place_at, push, holding, home):
            api.add(fn)
        return api
