"""Spatial predicates over object boxes, as pure geometry.

One implementation serves both sides of the wall: ground-truth scoring (boxes from simulator
state) and the geometric monitor (boxes estimated from camera images). Units: metres.
Frame: +x away from the robot ("behind"), +y to the robot's left, +z up.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from embodied.types import Condition

CONTAINERS = ("bowl", "tray")
SURFACES = ("plate",)


@dataclass(frozen=True)
class Box:
    """An object's axis-aligned extent: centre ``position`` and full ``size`` (dx, dy, dz)."""

    name: str
    position: tuple[float, float, float]
    size: tuple[float, float, float]
    shape: str = ""
    grasped: bool = False
    upright: bool = True

    @property
    def top(self) -> float:
        return self.position[2] + self.size[2] / 2

    @property
    def bottom(self) -> float:
        return self.position[2] - self.size[2] / 2

    def xy_distance(self, other: Box) -> float:
        return math.hypot(self.position[0] - other.position[0], self.position[1] - other.position[1])

    def contains_xy(self, x: float, y: float, margin: float = 0.0) -> bool:
        return (abs(x - self.position[0]) <= self.size[0] / 2 + margin
                and abs(y - self.position[1]) <= self.size[1] / 2 + margin)


@dataclass(frozen=True)
class Tolerances:
    """How strict the predicates are. Estimated poses get looser defaults than ground truth."""

    contact_z: float = 0.02  # gap allowed between a's bottom and b's top for "on"
    xy_margin: float = 0.01  # a's centre may lie this far outside b's footprint for "on"
    relation: float = 0.03  # minimum offset for left_of / behind / ...
    near: float = 0.12
    at: float = 0.04
    aligned: float = 0.025


TABLE_TOP = 0.0  # the table surface is z = 0 in the world frame


def turned_size(size: Sequence[float], yaw: float, support: bool = False) -> tuple[float, float, float]:
    """Axis-aligned (dx, dy, dz) of an upright box of ``size`` (along its own axes) turned by
    ``yaw`` radians about z, the way ground truth builds boxes from simulator poses. With
    ``support`` (plates, bowls, trays) it is instead the largest axis-aligned square inside the
    footprint, so that a corner of the bounding box never counts as part of the object; judging
    "on"/"inside" in the support's own yaw frame (as ground truth does) avoids needing it."""
    c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
    dx, dy, dz = (float(v) for v in size)
    if support:
        side = min(dx, dy) / (c + s)
        return side, side, dz
    return c * dx + s * dy, s * dx + c * dy, dz


def on(a: Box, b: Box | None, tol: Tolerances) -> bool:
    """a rests on b (b None = the table). On a container counts as inside it."""
    if a.grasped:
        return False
    if b is None:
        return abs(a.bottom - TABLE_TOP) <= tol.contact_z
    if b.shape in CONTAINERS:
        return inside(a, b, tol)
    return (b.contains_xy(a.position[0], a.position[1], tol.xy_margin)
            and abs(a.bottom - b.top) <= tol.contact_z)


def inside(a: Box, b: Box, tol: Tolerances) -> bool:
    if a.grasped:
        return False
    return (b.contains_xy(a.position[0], a.position[1], -min(a.size[0], a.size[1]) / 4)
            and a.bottom <= b.top + tol.contact_z / 2 and a.bottom >= b.bottom - tol.contact_z)


def _offset(a: Box, b: Box, axis: int, sign: float, tol: Tolerances) -> bool:
    other = 1 - axis
    return (sign * (a.position[axis] - b.position[axis]) >= tol.relation
            and abs(a.position[other] - b.position[other]) <= max(0.12, abs(a.position[axis] - b.position[axis])))


def aligned(boxes: Sequence[Box], tol: Tolerances) -> bool:
    """Centres on one straight line (within tol) and not touching each other."""
    if len(boxes) < 2:
        return True
    pts = [(b.position[0], b.position[1]) for b in boxes]
    (x0, y0), (x1, y1) = max(((p, q) for p in pts for q in pts), key=lambda pq: math.dist(*pq))
    length = math.dist((x0, y0), (x1, y1))
    if length < 1e-6:
        return False
    for (x, y), box in zip(pts, boxes, strict=True):
        if abs((x1 - x0) * (y0 - y) - (x0 - x) * (y1 - y0)) / length > tol.aligned:
            return False
        if box.grasped:
            return False
    for i, p in enumerate(boxes):
        for q in boxes[i + 1:]:
            if p.xy_distance(q) < 0.8 * min(p.size[0], q.size[0]):
                return False
    return True


Resolver = Callable[[str], "Box | None"]


def evaluate(cond: Condition, boxes: Mapping[str, Box], resolve: Callable[[str], str | None],
             tol: Tolerances, start: Mapping[str, Box] | None = None,
             world: Mapping[str, Box] | None = None) -> tuple[bool, str]:
    """Check one condition. ``resolve`` maps a description to a key of ``boxes``. Returns
    (holds, explanation); an unresolvable name is a failure that says which name. ``world``: the
    same boxes in the world frame, for the explanation when ``boxes`` are in a support's frame
    (positions a person reads are world positions)."""
    p = cond.predicate
    found: list[Box] = []
    for arg in cond.args:
        if p in ("on",) and arg.strip().lower() in ("table", "the table"):
            found.append(None)  # type: ignore[arg-type]
            continue
        key = resolve(arg)
        if key is None or key not in boxes:
            return cond.negated, f"{arg!r} is not visible"
        found.append(boxes[key])
    holds, why = _evaluate(p, found, cond.params, tol, start, world)
    if cond.negated:
        return not holds, f"not ({why})"
    return holds, why


#: Directions of ``moved(x, min=..., direction=...)`` as unit vectors in the world frame (+x away
#: from the robot, +y to its left).
DIRECTIONS = {"forward": (1.0, 0.0), "away": (1.0, 0.0), "back": (-1.0, 0.0), "backward": (-1.0, 0.0),
              "toward": (-1.0, 0.0), "towards": (-1.0, 0.0), "left": (0.0, 1.0), "right": (0.0, -1.0)}


def _evaluate(p: str, found: list[Any], params: Mapping[str, Any], tol: Tolerances,
              start: Mapping[str, Box] | None, world: Mapping[str, Box] | None = None) -> tuple[bool, str]:
    def pos(b: Box) -> str:
        shown = world.get(b.name, b) if world is not None else b
        return f"{b.name} at ({shown.position[0]:.3f}, {shown.position[1]:.3f}, {shown.position[2]:.3f})"

    if p == "on":
        a, b = found
        ok = on(a, b, tol)
        where = "the table" if b is None else pos(b)
        return ok, f"{pos(a)} {'is' if ok else 'is not'} on {where}"
    if p == "inside":
        a, b = found
        ok = inside(a, b, tol)
        return ok, f"{pos(a)} {'is' if ok else 'is not'} inside {pos(b)}"
    if p == "near":
        a, b = found
        d = a.xy_distance(b)
        limit = float(params.get("distance", tol.near))
        return d <= limit, f"{a.name} is {d:.3f} m from {b.name} (limit {limit:.3f})"
    relations = {"left_of": (1, 1.0), "right_of": (1, -1.0), "behind": (0, 1.0), "in_front_of": (0, -1.0)}
    if p in relations:
        axis, sign = relations[p]
        a, b = found
        ok = _offset(a, b, axis, sign, tol)
        return ok, f"{pos(a)} {'is' if ok else 'is not'} {p.replace('_', ' ')} {pos(b)}"
    if p == "grasped":
        (a,) = found
        return a.grasped, f"{a.name} is {'' if a.grasped else 'not '}held"
    if p == "upright":
        (a,) = found
        return a.upright, f"{a.name} is {'' if a.upright else 'not '}upright"
    if p == "at":
        (a,) = found
        x, y = float(params["x"]), float(params["y"])
        d = math.hypot(a.position[0] - x, a.position[1] - y)
        limit = float(params.get("tolerance", tol.at))
        ok = d <= limit and not a.grasped
        return ok, f"{pos(a)} is {d:.3f} m from ({x:.3f}, {y:.3f}) (limit {limit:.3f})"
    if p == "moved":
        (a,) = found
        if start is None or a.name not in start:
            return False, f"no start pose recorded for {a.name}"
        s = start[a.name]
        dx = a.position[0] - s.position[0]
        dy = a.position[1] - s.position[1]
        if "min" in params and "dx" not in params and "dy" not in params:
            return _moved_at_least(a.name, dx, dy, float(params["min"]), params.get("direction"))
        want_x, want_y = float(params.get("dx", 0.0)), float(params.get("dy", 0.0))
        err = math.hypot(dx - want_x, dy - want_y)
        limit = float(params.get("tolerance", max(tol.at, 0.4 * math.hypot(want_x, want_y))))
        return err <= limit, (f"{a.name} moved ({dx:+.3f}, {dy:+.3f}), wanted ({want_x:+.3f}, {want_y:+.3f}), "
                              f"error {err:.3f} (limit {limit:.3f})")
    if p == "aligned":
        ok = aligned(found, tol)
        return ok, f"{', '.join(b.name for b in found)} {'are' if ok else 'are not'} in a row"
    if p == "stacked":
        # In any order: bottom to top by height, each resting on the one below it.
        order = sorted(found, key=lambda b: b.bottom)
        loose = [(upper, lower) for lower, upper in itertools.pairwise(order) if not on(upper, lower, tol)]
        tower = " on ".join(b.name for b in reversed(order))
        if not loose:
            return True, f"one stack: {tower}"
        upper, lower = loose[0]
        return False, f"not one stack ({tower} by height): {pos(upper)} is not on {pos(lower)}"
    raise ValueError(f"unknown predicate {p!r}; known: {', '.join(PREDICATES)}")


def _moved_at_least(name: str, dx: float, dy: float, least: float, direction: Any) -> tuple[bool, str]:
    """``moved(x, min=d)``: at least ``d`` metres; with ``direction``, along it."""
    if direction is None:
        moved = math.hypot(dx, dy)
        return moved >= least, f"{name} moved {moved:.3f} m (at least {least:.3f} wanted)"
    unit = DIRECTIONS.get(str(direction).strip().lower())
    if unit is None:
        raise ValueError(f"moved(direction={direction!r}): known directions: {', '.join(DIRECTIONS)}")
    along = dx * unit[0] + dy * unit[1]
    return along >= least, f"{name} moved {along:+.3f} m {direction} (at least {least:.3f} wanted)"


PREDICATES = ("on", "inside", "near", "left_of", "right_of", "behind", "in_front_of", "grasped",
              "upright", "at", "moved", "aligned", "stacked")
