"""The planner's view of the table: what it sees (an Observation), never simulator state.

Turns detected SceneObjects into typed things (colour, shape class, box), checks conditions with
the shared predicates of :mod:`embodied.geometry` (with loose tolerances: detections are noisy),
and finds free spots on the table. Units: metres; frame: +x away from the robot, +y to its left.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from embodied import naming
from embodied.geometry import Box, Tolerances, evaluate, turned_size
from embodied.types import Condition, Observation, SceneObject
from planners.rule.lexicon import COLORS, shape_of, split_words

RECEPTACLES = ("plate", "bowl", "tray")
CONTAINERS = ("bowl", "tray")
# Two readings of the same predicates: "clearly fails" uses LOOSE tolerances (detections are
# noisy: do not redo work over a centimetre), "clearly holds" uses STRICT ones (do not skip work
# because a block merely touches a thin plate).
LOOSE = Tolerances(contact_z=0.03, xy_margin=0.02, relation=0.02, near=0.15, at=0.06, aligned=0.035)
STRICT = Tolerances(contact_z=0.012, xy_margin=-0.005, relation=0.03, near=0.12, at=0.03, aligned=0.02)
GRIPPER_OPENING = 0.08  # metres: wider objects cannot be grasped from above


@dataclass(frozen=True)
class Workspace:
    """Where the arm can put things: an axis-aligned rectangle on the table top, metres."""

    x: tuple[float, float] = (0.35, 0.70)
    y: tuple[float, float] = (-0.25, 0.25)

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        return self.x[0] + margin <= x <= self.x[1] - margin and self.y[0] + margin <= y <= self.y[1] - margin

    def region(self, name: str) -> Workspace:
        """A named part of the workspace: left, right, front, back, center (or middle)."""
        (x0, x1), (y0, y1) = self.x, self.y
        wx, wy = x1 - x0, y1 - y0
        parts = {
            "left": ((x0, x1), (y1 - 0.4 * wy, y1)),
            "right": ((x0, x1), (y0, y0 + 0.4 * wy)),
            "front": ((x0, x0 + 0.4 * wx), (y0, y1)),
            "back": ((x1 - 0.4 * wx, x1), (y0, y1)),
            "center": ((x0 + 0.3 * wx, x1 - 0.3 * wx), (y0 + 0.3 * wy, y1 - 0.3 * wy)),
        }
        parts["middle"] = parts["center"]
        xs, ys = parts.get(name, parts["center"])
        return Workspace(xs, ys)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x[0] + self.x[1]) / 2, (self.y[0] + self.y[1]) / 2)


@dataclass(frozen=True)
class Thing:
    """A visible object with its colour and shape class read from the detection."""

    name: str
    color: str
    shape: str  # block | cylinder | plate | bowl | tray | object
    position: tuple[float, float, float]
    size: tuple[float, float, float]  # axis-aligned extent, metres
    own_size: tuple[float, float, float] = (0.0, 0.0, 0.0)  # along its own axes (yaw undone), metres

    @property
    def receptacle(self) -> bool:
        return self.shape in RECEPTACLES

    @property
    def container(self) -> bool:
        return self.shape in CONTAINERS

    @property
    def graspable(self) -> bool:
        return not self.receptacle and self.grip_width <= GRIPPER_OPENING

    @property
    def grip_width(self) -> float:
        """The narrower side of its own footprint, metres."""
        dims = self.own_size if any(self.own_size) else self.size
        return min(dims[0], dims[1])

    @property
    def volume(self) -> float:
        """Cubic metres, from its own size (a turned block is no bigger)."""
        dims = self.own_size if any(self.own_size) else self.size
        return dims[0] * dims[1] * dims[2]

    @property
    def radius(self) -> float:
        """Half the footprint diagonal: a circle that covers the object from above, metres."""
        dims = self.own_size if any(self.own_size) else self.size
        return math.hypot(dims[0], dims[1]) / 2

    @property
    def xy(self) -> tuple[float, float]:
        return (self.position[0], self.position[1])

    def box(self, grasped: bool = False) -> Box:
        return Box(self.name, self.position, self.size, shape=self.shape, grasped=grasped)


def _shape_class(obj: SceneObject) -> str:
    for word in [*split_words(obj.shape), *split_words(obj.name)]:
        found = shape_of(word)
        if found is not None and found[0] != "object":
            return "bowl" if found[0] == "container" else found[0]
    return "object"


def _color(obj: SceneObject) -> str:
    for word in [*split_words(obj.color), *split_words(obj.name)]:
        if word in COLORS:
            return COLORS[word]
    return obj.color.lower()


def thing(obj: SceneObject) -> Thing:
    """A detection as a Thing. ``size`` becomes the axis-aligned extent of the yawed object (for a
    plate/bowl/tray: the square that surely lies inside it), as the monitors compute it."""
    shape = _shape_class(obj)
    size = turned_size(obj.size, obj.yaw, shape in RECEPTACLES)
    own = (float(obj.size[0]), float(obj.size[1]), float(obj.size[2]))
    return Thing(obj.name, _color(obj), shape, tuple(obj.position), size, own)  # type: ignore[arg-type]


class Scene:
    """Things on the table at one moment, with predicates and free-space queries."""

    def __init__(self, observation: Observation, workspace: Workspace | None = None,
                 tolerances: Tolerances = LOOSE) -> None:
        self.things = [thing(o) for o in observation.objects]
        self.workspace = workspace or Workspace()
        self.tol = tolerances
        self._found: dict[str, Thing | None] = {}
        held = observation.gripper.get("holding") if observation.gripper else None
        self.holding = self.find(str(held)) if held else None
        self._boxes = {t.name: t.box(grasped=self.holding is not None and t.name == self.holding.name)
                       for t in self.things}

    def names(self) -> list[str]:
        return [t.name for t in self.things]

    def find(self, name: str) -> Thing | None:
        """The visible thing ``name`` refers to (tolerant: "the red cube" finds "red block"), or
        None. A colour or shape word in ``name`` must agree: fuzzy matching alone would let
        "red block" find "blue block" once the red one is gone."""
        if name in self._found:
            return self._found[name]
        found = self._find(name)
        self._found[name] = found
        return found

    def _find(self, name: str) -> Thing | None:
        exact = next((t for t in self.things if t.name == name), None)
        if exact is not None:
            return exact
        key = naming.resolve(name, self.names())
        found = next((t for t in self.things if t.name == key), None)
        if found is None:
            return None
        for word in split_words(name):
            if word in COLORS and COLORS[word] != found.color:
                return None
            shape = shape_of(word)
            if shape is not None and shape[0] not in ("object", "container") and shape[0] != found.shape \
                    and found.shape != "object":
                return None
        return found

    def _key(self, name: str) -> str | None:
        found = self.find(name)
        return found.name if found is not None else None

    def movables(self) -> list[Thing]:
        return [t for t in self.things if not t.receptacle]

    def holds(self, cond: Condition, start: Mapping[str, Box] | None = None,
              tolerances: Tolerances | None = None) -> bool | None:
        """Whether the condition holds now; None when an object it names is not visible (the
        planner cannot tell, so it should not act on it)."""
        for arg in cond.args:
            if cond.predicate == "on" and arg.strip().lower() in ("table", "the table"):
                continue
            if self.find(arg) is None:
                return None
        if cond.predicate == "moved" and start is None:
            return None
        ok, _ = evaluate(cond, self._boxes, self._key, tolerances or self.tol, start)
        return ok

    def resting_on(self, below: Thing) -> list[Thing]:
        """Things resting on ``below`` (for a container: inside it)."""
        out = []
        for t in self.things:
            if t.name == below.name or t.receptacle:
                continue
            if self.holds(Condition("on", (t.name, below.name))):
                out.append(t)
        return out

    def support(self, above: Thing) -> Thing | None:
        """What ``above`` rests on, or None for the table."""
        for t in self.things:
            if t.name != above.name and self.holds(Condition("on", (above.name, t.name))):
                return t
        return None

    def on_table(self, t: Thing) -> bool:
        return bool(self.holds(Condition("on", (t.name, "table")))) and self.support(t) is None

    def pile_above(self, below: Thing, limit: int = 10) -> list[Thing]:
        """Everything stacked on ``below``, top first (the order to take them off)."""
        pile: list[Thing] = []
        current = below
        for _ in range(limit):
            above = [t for t in self.resting_on(current) if t not in pile]
            if not above or current.container:
                break
            current = above[0]
            pile.append(current)
        return list(reversed(pile))

    # ------------------------------------------------------------------------------- space

    def free_spot(self, radius: float, near: tuple[float, float] | None = None, exclude: Iterable[str] = (),
                  reserved: Sequence[tuple[float, float, float]] = (), region: Workspace | None = None,
                  gap: float = 0.02, step: float = 0.02) -> tuple[float, float] | None:
        """A point of the table where a circle of ``radius`` fits ``gap`` away from everything
        (but the excluded things) and from ``reserved`` circles (x, y, r): the one nearest to
        ``near`` if given, else the most open one. None when the table is full."""
        area = region or self.workspace
        skip = set(exclude)
        obstacles = [(t.position[0], t.position[1], t.radius) for t in self.things if t.name not in skip]
        obstacles += list(reserved)
        best: tuple[float, tuple[float, float]] | None = None
        nx = max(1, int((area.x[1] - area.x[0]) / step))
        ny = max(1, int((area.y[1] - area.y[0]) / step))
        for i in range(nx + 1):
            for j in range(ny + 1):
                x = area.x[0] + i * (area.x[1] - area.x[0]) / nx
                y = area.y[0] + j * (area.y[1] - area.y[0]) / ny
                if not self.workspace.contains(x, y, margin=radius * 0.5):
                    continue
                clearance = min((math.hypot(x - ox, y - oy) - r for ox, oy, r in obstacles), default=1.0)
                if clearance < radius + gap:
                    continue
                score = math.hypot(x - near[0], y - near[1]) if near is not None else -clearance
                if best is None or score < best[0] - 1e-9:
                    best = (score, (round(x, 3), round(y, 3)))
        return None if best is None else best[1]

    def clearance(self, x: float, y: float, exclude: Iterable[str] = (),
                  reserved: Sequence[tuple[float, float, float]] = ()) -> float:
        """Distance from (x, y) to the nearest edge of anything but ``exclude``, metres."""
        skip = set(exclude)
        circles = [(t.position[0], t.position[1], t.radius) for t in self.things if t.name not in skip]
        circles += list(reserved)
        return min((math.hypot(x - ox, y - oy) - r for ox, oy, r in circles), default=1.0)

    def slot(self, target: Thing, item: Thing, taken: Sequence[tuple[float, float]] = ()) -> tuple[float, float]:
        """An offset (dx, dy) from ``target``'s centre where ``item`` fits on/in it, away from
        what already lies there and from ``taken`` absolute points. (0, 0) for blocks."""
        if not target.receptacle:
            return (0.0, 0.0)
        wall = 0.012 if target.container else 0.0
        half = [max(0.0, target.size[k] / 2 - item.radius * 0.8 - wall) for k in (0, 1)]
        occupants = [t.xy for t in self.resting_on(target) if t.name != item.name] + list(taken)
        need = item.radius * 1.6
        candidates = [(0.0, 0.0)]
        for frac in (0.5, 1.0):  # two rings of eight, at half and full usable radius
            for sx, sy in ((1, 1), (-1, -1), (1, -1), (-1, 1), (1, 0), (-1, 0), (0, 1), (0, -1)):
                norm = math.hypot(sx, sy)
                candidates.append((sx / norm * half[0] * frac, sy / norm * half[1] * frac))
        best, best_clear = (0.0, 0.0), -1.0
        for dx, dy in candidates:
            x, y = target.position[0] + dx, target.position[1] + dy
            clear = min((math.hypot(x - ox, y - oy) for ox, oy in occupants), default=1.0)
            if clear >= need:
                return (round(dx, 3), round(dy, 3))
            if clear > best_clear:
                best, best_clear = (round(dx, 3), round(dy, 3)), clear
        return best
