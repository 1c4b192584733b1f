"""The tabletop primitive API a code policy calls: pick, place, push, ... built on a :class:`Robot`.

Skills see the world only through an *object source* (a callable returning ``SceneObject`` s:
camera detections, or simulator state when the config says oracle) and the robot's own senses
(joint state, finger contacts, width). They never read simulator state themselves, so the same
skills drive a real arm. Every failure is a typed :class:`PrimitiveError`.

Units: metres, radians, seconds; ``speed`` arguments are fractions [0.05, 1] of the robot's speed
limit.

Every primitive checks its arguments before anything moves: numbers must be finite and within
sane bounds (NaN passes every comparison of a reach check, so it is refused first), names must be
plausibly a name (:func:`embodied.naming.implausible`). While a policy runs, a motion that cannot
end within the policy's remaining wall-clock budget (:meth:`PrimitiveSet.time_left`) is refused
with :class:`~embodied.errors.DeadlineExceeded`: the sandbox checks its budget only between policy
statements, and an arm motion cannot be interrupted halfway. The estimate is the robot's own time
(distance / speed), exact on a real arm and conservative in simulation, which runs faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

from embodied import naming
from embodied.errors import DeadlineExceeded
from embodied.primitives import PrimitiveSet
from embodied.types import SceneObject
from robots.base import GripperState, Robot, gripper_state
from robots.errors import (
    PRIMITIVE_ERRORS,
    GraspMissed,
    InvalidArgument,
    MotionBlocked,
    NothingHeld,
    ObjectDropped,
    ObjectNotFound,
    Unreachable,
)

ObjectSource = Callable[[], list[SceneObject]]

MAX_GRASP_WIDTH = 0.075  # metres: the Panda opens to 0.08
MAX_OPEN = 0.08  # metres
LIFT = 0.12  # metres a picked object is raised, at least
APPROACH = 0.06  # metres above the tallest object for moves across the table
MIN_SAFE_Z = 0.15  # metres: lowest height of the grasp point for moves across the table
GRASP_BELOW_TOP = 0.015  # grasp this far below an object's top at least
MIN_GRASP_Z = 0.012  # the fingertips must stay clear of the table
DESCEND_SPEED = 0.5  # fraction of the move speed for the last approach to a grasp
PLACE_SPEED = 0.05  # m/s while lowering until contact
PLACE_SLACK = 0.03  # metres below the expected contact height a guarded descent may go
PUSH_GAP = 0.035  # metres between the object's side and the grasp point when a push starts
PUSH_SPREAD = 0.6  # finger gap while pushing, as a fraction of the object's width across the push
PUSH_MAX_SPREAD = 0.05  # metres
PUSH_SPEED = 0.1  # m/s along a push
HAND_RADIUS = 0.06  # metres: a detection this close to the grasp point is the held object
UNSURE = 0.5  # detection confidence below which the skills look again with the arm out of view
OPEN_MARGIN = 0.025  # metres of gap beyond the object's width when opening to grasp or release
FINGER_WIDTH = 0.02  # metres: outer extent of a finger beyond the gap, for clearance checks
SQUARE = 0.005  # metres: a footprint this close to square may be grasped across either side
MIN_SPEED = 0.05  # slowest speed fraction accepted: slower moves would outlive any policy budget
MAX_COORDINATE = 2.0  # metres: |x|, |y|, |z| of a target; the arm reaches less than 1 m
MAX_OFFSET = 0.3  # metres: |dx|, |dy| of a grasp or placement offset from an object's centre
MAX_PUSH = 1.0  # metres: |dx|, |dy| of a push
MIN_CLOSED_GAP = 0.005  # metres: closed fingers nearer than this hold nothing
HELD_WIDTH_SHARE = 0.5  # closed on less than this share of the object's expected width: it is not between them
MIN_GRIP_FORCE = 2.0  # newtons per finger: a measured squeeze below this holds nothing


@dataclass(frozen=True)
class HeldObject:
    """What the skills picked: the agent's name for it, the grasp height above its bottom (m), the
    gap it was grasped with (m) and its width across the fingers (m)."""

    name: str
    hang: float
    gap: float
    width: float


def grip_holds(state: GripperState, expected_width: float | None = None, grasped_id: int | None = None) -> bool:
    """Whether a gripper holds something, from what it reports: closed fingers stopped apart
    (about the object's width when it is known), a squeeze when the gripper measures force, its own
    grasp flag when it has one. ``grasped_id`` (a simulator's or a smart gripper's identification)
    is extra evidence only: it can confirm a grasp, never stands in for the gripper's report."""
    if not state.closed:
        return False
    floor = MIN_CLOSED_GAP if expected_width is None else max(MIN_CLOSED_GAP, HELD_WIDTH_SHARE * expected_width)
    evidence = state.width_m >= floor
    if state.force_n is not None:
        evidence = evidence and state.force_n >= MIN_GRIP_FORCE
    if state.object_detected is not None:
        evidence = evidence and state.object_detected
    return evidence or (grasped_id is not None and state.width_m >= MIN_CLOSED_GAP)


class PerturbationHooks(Protocol):
    """Where injected faults may strike; a real cell has none (see :class:`NoPerturbations`).
    Positions are the agent's beliefs in metres; names are the agent's names."""

    def before_pick(self, name: str, position: tuple[float, float, float]) -> None: ...

    def during_transport(self, destination: tuple[float, float, float]) -> None: ...

    def before_place(self, target: str | None, destination: tuple[float, float, float]) -> None: ...


class NoPerturbations:
    def before_pick(self, name: str, position: tuple[float, float, float]) -> None:
        return None

    def during_transport(self, destination: tuple[float, float, float]) -> None:
        return None

    def before_place(self, target: str | None, destination: tuple[float, float, float]) -> None:
        return None


class CachedSource:
    """Calls ``source`` again only when ``version()`` changed (e.g. physics stepped or an object was
    moved), so a pick right after an observation does not render the cameras again."""

    def __init__(self, source: ObjectSource, version: Callable[[], Hashable]) -> None:
        self._source = source
        self._version = version
        self._key: Hashable | None = None
        self._objects: list[SceneObject] = []

    def __call__(self) -> list[SceneObject]:
        key = self._version()
        if key != self._key:
            self._objects = list(self._source())
            self._key = key
        return list(self._objects)

    def remember(self, objects: list[SceneObject]) -> None:
        """Store detections made elsewhere (e.g. by ``observe``) for the current state."""
        self._objects = list(objects)
        self._key = self._version()

    def forget(self) -> None:
        self._key = None


def _is_container(obj: SceneObject) -> bool:
    return "bowl" in naming.words(f"{obj.shape} {obj.name}")  # "bowl" is canonical for tray/bin/basket


def _footprint_distance(obj: SceneObject, x: float, y: float) -> float:
    """Distance in metres from (x, y) to the object's footprint rectangle (0 inside)."""
    c, s = math.cos(obj.yaw), math.sin(obj.yaw)
    dx, dy = x - obj.position[0], y - obj.position[1]
    u, v = abs(c * dx + s * dy) - obj.size[0] / 2, abs(-s * dx + c * dy) - obj.size[1] / 2
    return math.hypot(max(u, 0.0), max(v, 0.0))


def _number(name: str, value: object, limit: float) -> float:
    """``value`` as a float when it is a finite number with ``|value| <= limit``, else InvalidArgument."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{name} must be a number of metres, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or abs(value) > limit:
        raise InvalidArgument(f"{name} must be a finite number of metres within +-{limit:g}, got {value!r}")
    return float(value)


def _xyz(values: tuple[float, ...] | list[float]) -> list[float]:
    return [round(float(v), 4) for v in values]


class TabletopSkills:
    """Pick-and-place skills for a top-down parallel gripper, exposed as a :class:`PrimitiveSet`.

    ``objects`` is the agent's view of the scene; ``perturb`` receives the fault hooks;
    ``name_of`` maps a held body id to a name when the skills did not pick it themselves;
    ``sim_time`` reports simulated seconds for the trace.
    """

    def __init__(self, robot: Robot, objects: ObjectSource, *, perturb: PerturbationHooks | None = None,
                 name_of: Callable[[int], str | None] | None = None,
                 sim_time: Callable[[], float] | None = None) -> None:
        self._sim_time = sim_time or (lambda: 0.0)
        self._primitives = self._build_primitives()
        self.bind(robot, objects, perturb=perturb, name_of=name_of)

    def bind(self, robot: Robot, objects: ObjectSource, *, perturb: PerturbationHooks | None = None,
             name_of: Callable[[int], str | None] | None = None) -> None:
        """Point the skills at a (new) robot and scene, e.g. after an environment reset. The
        :class:`PrimitiveSet` stays the same object."""
        self.robot = robot
        self._objects = objects
        self._perturb = perturb or NoPerturbations()
        self._name_of = name_of or (lambda _body: None)
        self._held: HeldObject | None = None
        self._closed = False  # last gripper command the skills sent was a close

    @property
    def primitives(self) -> PrimitiveSet:
        return self._primitives

    def _build_primitives(self) -> PrimitiveSet:
        api = PrimitiveSet("tabletop", sim_time=lambda: self._sim_time(), errors=PRIMITIVE_ERRORS)
        for fn in (self.get_objects, self.get_pose, self.pick, self.place_on, self.place_at, self.move_to,
                   self.push, self.open_gripper, self.close_gripper, self.holding, self.home):
            api.add(fn)
        return api

    # -- perception helpers -----------------------------------------------------------------

    def _scene(self) -> list[SceneObject]:
        return self._objects()

    def _find(self, name: str, exclude: str | None = None, look_again: bool = True) -> SceneObject:
        """The visible object ``name`` describes. When nothing matches, or the match is unsure
        (partly hidden), and the arm is away from home, the arm may be hiding it from the camera:
        go home and look once more."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgument(f"an object name must be a non-empty string, got {name!r:.80}")
        scene = [o for o in self._scene() if o.name != exclude]
        problem = naming.implausible(name)
        if problem is not None:
            visible = ", ".join(sorted(o.name for o in scene)) or "nothing"
            raise ObjectNotFound(f"{name!r:.80} is not an object name ({problem}). Visible: {visible}")
        key = naming.resolve(name, [o.name for o in scene])
        found = next((o for o in scene if o.name == key), None)
        unsure = found is None or found.confidence < UNSURE
        if unsure and look_again and not self.robot.at_home():
            self.home()
            return self._find(name, exclude, look_again=False)
        if found is None:
            names = [o.name for o in scene]
            visible = ", ".join(sorted(names)) or "nothing"
            close = naming.closest(name, names)
            hint = f"; closest: {', '.join(close)}" if close else ""
            raise ObjectNotFound(f"no visible object matches {name!r}{hint}. Visible: {visible}")
        return found

    def _safe_z(self, scene: list[SceneObject], hang: float = 0.0) -> float:
        """Height for moves across the table: clear of the tallest object with ``hang`` metres of
        held object below the grasp point. Whatever is in the hand (near the grasp point) is ignored."""
        (ex, ey, ez), _ = self.robot.ee_pose()
        tallest = max((o.position[2] + o.size[2] / 2 for o in scene
                       if math.dist(o.position, (ex, ey, ez)) > HAND_RADIUS), default=0.0)
        return max(MIN_SAFE_Z, tallest + APPROACH + hang)

    def _speed(self, speed: float) -> float:
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not MIN_SPEED <= speed <= 1.0:
            raise InvalidArgument(f"speed is a fraction of the robot's limit in [{MIN_SPEED:g}, 1], got {speed!r}")
        return float(speed) * self.robot.max_speed

    def _require_time(self, seconds: float, what: str) -> None:
        """Refuse ``what`` (taking about ``seconds`` of robot time) when the running policy's budget
        is spent or would be before it ends."""
        left = self._primitives.time_left()
        if left is None:
            return
        if left <= 0.0 or seconds > left:
            raise DeadlineExceeded(f"{what} takes about {seconds:.1f} s but the policy has {left:.1f} s of its "
                                   f"time budget left: nothing was moved")

    def _check_reach(self, *points: tuple[float, float, float], yaw: float | None = None) -> None:
        for point in points:
            residual = self.robot.reachable(point, yaw)
            if not math.isfinite(residual) or residual > 0.005:  # NaN is no evidence of reach
                raise Unreachable(f"the gripper cannot reach ({point[0]:.3f}, {point[1]:.3f}, {point[2]:.3f}) "
                                  f"pointing down (IK residual {residual * 1000:.0f} mm)",
                                  target=point, residual_m=residual)

    def _transit(self, x: float, y: float, safe_z: float, yaw: float | None, v: float,
                 midway: Callable[[], None] | None = None) -> None:
        """Up to ``safe_z``, across to above (x, y), calling ``midway`` halfway across."""
        (cx, cy, cz), _ = self.robot.ee_pose()
        if cz < safe_z - 0.005:
            self._move((cx, cy, safe_z), None, v)
        if midway is not None:
            self._move(((cx + x) / 2, (cy + y) / 2, safe_z), yaw, v)
            midway()
        self._move((x, y, safe_z), yaw, v)

    def _move(self, target: tuple[float, float, float], yaw: float | None, v: float,
              stop_on_contact: bool = False) -> bool:
        """One straight move; returns whether it stopped on contact. Raises MotionBlocked when the
        arm ends short of the target without a contact stop."""
        here, _ = self.robot.ee_pose()
        self._require_time(math.dist(here, target) / v, f"moving to ({target[0]:.3f}, {target[1]:.3f}, "
                                                          f"{target[2]:.3f}) at {v:.3f} m/s")
        motion = self.robot.move_ee(target, yaw=yaw, speed=v, stop_on_contact=stop_on_contact)
        if motion.contact:
            return True
        if not motion.reached:
            raise MotionBlocked(f"the arm stopped {motion.error_m * 100:.1f} cm short of "
                                f"({target[0]:.3f}, {target[1]:.3f}, {target[2]:.3f}): something is in the way")
        return False

    @staticmethod
    def _grasp_options(obj: SceneObject) -> list[tuple[float, float]]:
        """(gripper yaw, width across the fingers) candidates. Fingers close along the gripper's
        y axis: across the narrower side of a box (either side of a square), any way round a
        cylinder."""
        if "cylinder" in naming.words(obj.shape) or obj.size[0] <= 0 or obj.size[1] <= 0:
            return [(k * math.pi / 4, min(obj.size[0], obj.size[1])) for k in (0, 2, 1, 3)]
        narrow = obj.yaw if obj.size[1] <= obj.size[0] else obj.yaw + math.pi / 2
        width = min(obj.size[0], obj.size[1])
        options = [(narrow, width)]
        if abs(obj.size[0] - obj.size[1]) < SQUARE:
            options.append((narrow + math.pi / 2, width))
        return [((yaw + math.pi / 2) % math.pi - math.pi / 2, w) for yaw, w in options]

    def _grasp_pose(self, obj: SceneObject, scene: list[SceneObject], x: float, y: float) -> tuple[float, float]:
        """(yaw, gap) for a grasp at (x, y): the candidate whose open fingers stay farthest from
        the neighbours (up to 5 cm counts), then the one turning the wrist least."""
        def clearance(yaw: float, gap: float) -> float:
            reach = gap / 2 + FINGER_WIDTH / 2
            fingers = [(x - s * reach * math.sin(yaw), y + s * reach * math.cos(yaw)) for s in (-1.0, 1.0)]
            others = [o for o in scene if o.name != obj.name]
            return min((_footprint_distance(o, fx, fy) for o in others for fx, fy in fingers), default=1.0)

        best = None
        for yaw, width in self._grasp_options(obj):
            gap = min(width + OPEN_MARGIN, MAX_OPEN)
            rank = (-min(clearance(yaw, gap), 0.05), abs(yaw))
            if best is None or rank < best[0]:
                best = (rank, yaw, gap)
        return best[1], best[2]  # type: ignore[index]  # there is always at least one option

    # -- primitives -------------------------------------------------------------------------

    def get_objects(self) -> list[dict]:
        """Every visible object, detected afresh: a list of {"name", "color", "shape",
        "position": [x, y, z] centre in metres, "size": [dx, dy, dz] in metres}. Frame: +x away from
        the robot, +y to its left, z up from the table top (z = 0)."""
        return [{"name": o.name, "color": o.color, "shape": o.shape, "position": _xyz(o.position),
                 "size": _xyz(o.size)} for o in self._scene()]

    def get_pose(self, name: str) -> list[float]:
        """[x, y, z] centre of the named object in metres. Names are matched tolerantly ("red block",
        "the red cube"); raises ObjectNotFound listing what is visible when nothing matches."""
        return _xyz(self._find(name).position)

    def pick(self, name: str, dx: float = 0.0, dy: float = 0.0, speed: float = 1.0) -> bool:
        """Grasp the named object from above and lift it by at least 10 cm. dx, dy: grasp offset from
        its centre in metres; speed: fraction [0.05, 1] of the default speed. Raises GraspMissed when the
        gripper closes on nothing, Unreachable when the object is out of reach."""
        v = self._speed(speed)
        dx, dy = _number("dx", dx, MAX_OFFSET), _number("dy", dy, MAX_OFFSET)
        if self._gripping():
            if self._names_held(name):
                return True  # already in the gripper: a program re-run after a failed place starts so
            raise InvalidArgument(f"already holding {self.holding()!r}: place it before picking {name!r}")
        obj = self._find(name)
        scene = self._scene()  # after _find: it may have gone home to look again
        width = min(obj.size[0], obj.size[1])
        if width > MAX_GRASP_WIDTH:
            raise GraspMissed(f"{obj.name} is {width * 100:.1f} cm wide; the gripper opens to "
                              f"{MAX_GRASP_WIDTH * 100:.1f} cm")
        x, y = obj.position[0] + dx, obj.position[1] + dy
        bottom = obj.position[2] - obj.size[2] / 2
        top = obj.position[2] + obj.size[2] / 2
        grasp_z = max(min(obj.position[2], top - GRASP_BELOW_TOP), MIN_GRASP_Z)
        yaw, gap = self._grasp_pose(obj, scene, x, y)
        safe_z = self._safe_z(scene)
        lift_z = max(safe_z, grasp_z + LIFT)
        self._check_reach((x, y, safe_z), (x, y, grasp_z), yaw=yaw)
        if self._closed or abs(self.robot.gripper_width() - gap) > 0.003:
            self._open(gap)
        self._transit(x, y, safe_z, yaw, v)
        self._perturb.before_pick(obj.name, (x, y, obj.position[2]))
        self._move((x, y, grasp_z), yaw, v * DESCEND_SPEED, stop_on_contact=False)
        self._close()
        if not self._gripping(width):
            self._open()
            self._move((x, y, safe_z), None, v)
            raise GraspMissed(f"the gripper closed on nothing at ({x:.3f}, {y:.3f}, {grasp_z:.3f}) while picking "
                              f"{obj.name}: it may have moved; detect it again")
        self._move((x, y, lift_z), None, v * DESCEND_SPEED)
        if not self._gripping(width):
            self._open()
            raise GraspMissed(f"{obj.name} slipped out of the gripper while lifting")
        self._held = HeldObject(obj.name, grasp_z - bottom, gap, width)
        return True

    def place_on(self, name: str, dx: float = 0.0, dy: float = 0.0, speed: float = 1.0) -> bool:
        """Put the held object on top of the named object, or into it when it is a bowl or tray:
        lower slowly until contact, open, retreat up. dx, dy: offset from the target's centre in
        metres. Raises ObjectDropped when nothing is held or it was lost on the way."""
        v = self._speed(speed)
        dx, dy = _number("dx", dx, MAX_OFFSET), _number("dy", dy, MAX_OFFSET)
        held_name = self._require_held()
        target = self._find(name, exclude=held_name)
        x, y = target.position[0] + dx, target.position[1] + dy
        if _is_container(target):
            support = target.position[2] - target.size[2] / 2 + 0.008  # the floor
        else:
            support = target.position[2] + target.size[2] / 2
        return self._place(x, y, support, target.name, v)

    def place_at(self, x: float, y: float, speed: float = 1.0) -> bool:
        """Put the held object down on the table with its centre at (x, y) metres. Raises
        ObjectDropped when nothing is held or it was lost on the way."""
        v = self._speed(speed)
        x, y = _number("x", x, MAX_COORDINATE), _number("y", y, MAX_COORDINATE)
        self._require_held()
        return self._place(x, y, 0.0, None, v)

    def _gripping(self, expected_width: float | None = None) -> bool:
        """Whether the gripper holds something, judged by :func:`grip_holds` against the width of
        what the skills picked (``expected_width``, else the held object's)."""
        if expected_width is None and self._held is not None:
            expected_width = self._held.width
        state = gripper_state(self.robot, self._closed)
        if not state.closed:
            return False
        return grip_holds(state, expected_width, self.robot.grasped_id())

    def _close(self) -> None:
        self._closed = True
        self.robot.close_gripper()

    def _open(self, width: float | None = None) -> None:
        self._closed = False
        self.robot.open_gripper(width)

    def _require_held(self) -> str | None:
        if not self._gripping():
            if self._held is None:  # nothing was picked since the last place or open
                raise NothingHeld("nothing is held: no object was picked up before this call; "
                                  "call pick(<object>) first")
            lost, self._held = self._held.name, None
            raise ObjectDropped(f"the {lost} is no longer held: it was dropped; pick it again")
        return self.holding()

    def _hang(self) -> float:
        if self._held is not None:
            return self._held.hang
        return 0.04  # unknown object: assume a typical block

    def _release_gap(self) -> float:
        """Open just wide enough to let go, so the fingers do not sweep neighbours (or bowl walls)."""
        if self._held is not None:
            return self._held.gap
        return MAX_OPEN

    def _place(self, x: float, y: float, support: float, target: str | None, v: float) -> bool:
        hang = self._hang()
        scene = self._scene()
        safe_z = self._safe_z(scene, hang)
        contact_z = support + hang
        self._check_reach((x, y, safe_z), (x, y, contact_z))
        self._transit(x, y, safe_z, None, v, midway=lambda: self._perturb.during_transport((x, y, support)))
        if not self._gripping():
            self._held = None
            raise ObjectDropped(f"the object was lost in transport before reaching ({x:.3f}, {y:.3f})")
        self._perturb.before_place(target, (x, y, support))
        if not self._move((x, y, contact_z + 0.02), None, v, stop_on_contact=True):
            self._move((x, y, max(contact_z - PLACE_SLACK, 0.0)), None, min(PLACE_SPEED, v), stop_on_contact=True)
        self._open(self._release_gap())
        self._held = None
        (cx, cy, cz), _ = self.robot.ee_pose()
        self._move((cx, cy, max(safe_z, cz + 0.05)), None, v)
        return True

    def move_to(self, x: float, y: float, z: float, speed: float = 1.0) -> list[float]:
        """Move the grasp point (between the fingertips) in a straight line to (x, y, z) metres with
        the gripper pointing down; returns where it ended. Raises Unreachable outside the
        workspace, MotionBlocked when something is in the way."""
        v = self._speed(speed)
        target = tuple(_number(n, value, MAX_COORDINATE) for n, value in (("x", x), ("y", y), ("z", z)))
        self._move(target, None, v)  # type: ignore[arg-type]  # three floats
        return _xyz(self.robot.ee_pose()[0])

    def push(self, name: str, dx: float, dy: float, speed: float = 1.0) -> list[float]:
        """Push the named object along the table by (dx, dy) metres with the fingertips, from the
        opposite side; returns its new [x, y, z] centre (expect about 1 cm of error)."""
        v = self._speed(speed)
        dx, dy = _number("dx", dx, MAX_PUSH), _number("dy", dy, MAX_PUSH)
        if self._gripping():
            raise InvalidArgument(f"holding {self.holding()!r}: place it before pushing")
        obj = self._find(name)
        scene = self._scene()
        length = math.hypot(dx, dy)
        if length < 1e-3:
            return _xyz(obj.position)
        ux, uy = dx / length, dy / length
        c, s = math.cos(obj.yaw), math.sin(obj.yaw)
        if "cylinder" in naming.words(obj.shape):
            extent = obj.size[0] / 2
        else:  # half-length of the footprint along the push direction
            extent = abs(ux * c + uy * s) * obj.size[0] / 2 + abs(-ux * s + uy * c) * obj.size[1] / 2
        start = (obj.position[0] - ux * (extent + PUSH_GAP), obj.position[1] - uy * (extent + PUSH_GAP))
        # The fingers' faces are level with the grasp point along the push (measured), so contact
        # starts after PUSH_GAP of travel.
        travel = length + PUSH_GAP
        end = (start[0] + ux * travel, start[1] + uy * travel)
        bottom = obj.position[2] - obj.size[2] / 2
        z = max(bottom + min(obj.size[2] / 2, 0.02), MIN_GRASP_Z)
        # Fingers spread across the push direction: two contacts square the object up against them
        # instead of spinning it about a single point.
        yaw = math.atan2(uy, ux)
        across = abs(ux * s - uy * c) * obj.size[0] + abs(ux * c + uy * s) * obj.size[1]  # width across the push
        safe_z = self._safe_z(scene)
        self._check_reach((start[0], start[1], safe_z), (start[0], start[1], z), (end[0], end[1], z), yaw=yaw)
        self._open(min(PUSH_SPREAD * across, PUSH_MAX_SPREAD))
        self._transit(start[0], start[1], safe_z, yaw, v)
        if self._move((start[0], start[1], z), None, v * DESCEND_SPEED, stop_on_contact=True):
            raise MotionBlocked(f"something is in the way at ({start[0]:.3f}, {start[1]:.3f}) behind {obj.name}")
        self._move((end[0], end[1], z), None, min(PUSH_SPEED, v))
        back = (end[0] - ux * 0.02, end[1] - uy * 0.02)
        self._move((back[0], back[1], z), None, min(PUSH_SPEED, v))
        self._move((back[0], back[1], safe_z), None, v)
        return _xyz(self._find(obj.name).position)

    def open_gripper(self) -> None:
        """Open the gripper fully (drops whatever is held)."""
        self._require_time(0.0, "opening the gripper")
        self._open()
        self._held = None

    def close_gripper(self) -> bool:
        """Close the gripper where it is; returns True if it holds something."""
        self._require_time(0.0, "closing the gripper")
        self._close()
        return self._gripping()

    def _names_held(self, name: str) -> bool:
        """Whether ``name`` refers to the held object (matched as tolerantly as any name)."""
        if self._held is None or not isinstance(name, str):
            return False
        return naming.resolve(name, [o.name for o in self._scene()]) == self._held.name

    def holding(self) -> str | None:
        """Name of the object between the fingers (from finger contacts), or None."""
        if not self._gripping():
            return None
        if self._held is not None:
            return self._held.name
        body = self.robot.grasped_id()
        return (self._name_of(body) if body is not None else None) or "unknown object"

    def home(self) -> None:
        """Raise the gripper and return to the home pose, out of the camera's view of the table."""
        self._require_time(0.0, "going home")
        (x, y, z), _ = self.robot.ee_pose()
        safe_z = MIN_SAFE_Z + (self._hang() if self._gripping() else 0.0)
        if z < safe_z - 0.005:
            self._move((x, y, safe_z), None, self.robot.max_speed)
        self.robot.home()
