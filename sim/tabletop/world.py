"""The PyBullet tabletop scene: table and objects built from a :class:`TabletopConfig`, with the
robot and cameras of a :class:`~sim.tabletop.rig.Rig` (by default the simulated ones).

Each world owns its own physics client (never pybullet's global default) and one numpy
``Generator`` seeded from the episode seed, so several worlds can live in one process and the same
seed gives the same scene and, for the same actions, bit-identical final poses.

Frame (see ``sim/tabletop/config.py``): the table top is z = 0, the robot base sits at the origin,
+x away from the robot, +y to its left. Units: metres, radians, kilograms, seconds.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import pybullet as p
import pybullet_data

from embodied.errors import ConfigError, EpisodeAborted
from embodied.geometry import CONTAINERS
from sim.tabletop.config import PALETTE, ObjectConfig, TabletopConfig
from sim.tabletop.rig import Rig, SimulatedRig

TABLE_HEIGHT = 0.625  # top of pybullet_data's table.urdf above its base, metres
TABLE_CENTER = (0.5, 0.0)  # the 1.5 x 1.0 m table spans x in [-0.25, 1.25], y in [-0.5, 0.5]
TABLE_SIZE = (1.5, 1.0)
CLEARANCE = 0.02  # free gap kept between sampled objects' footprints, metres
ROBOT_KEEPOUT = 0.18  # nothing is sampled within this radius of the robot base, metres
FREE_SPOT_AREA = ((0.25, 0.8), (-0.35, 0.35))  # x, y ranges (metres) where perturbations put objects: reachable
SAMPLE_TRIES = 200  # draws per object per attempt
PLACEMENT_RESTARTS = 20
SETTLE_MAX_S = 1.0
SETTLE_SPEED = 0.005  # m/s: a scene is settled when every object is slower than this
WALL = 0.008  # container wall and floor thickness, metres


class RegionFullError(ConfigError):
    """An object cannot be placed in its region without overlapping the others."""


@dataclass
class SpawnedObject:
    """One object in the world: its config name, body and full size (dx, dy, dz) in metres."""

    name: str
    shape: str
    color: str
    dims: tuple[float, float, float]
    body: int
    fixed: bool
    distractor: bool = False
    com: tuple[float, float, float] = (0.0, 0.0, 0.0)  # centre of mass in the body frame (pybullet's base frame)


def _footprint_radius(dims: tuple[float, float, float]) -> float:
    """Radius of the circle covering the object's footprint at any yaw, metres."""
    return math.hypot(dims[0], dims[1]) / 2


@dataclass(frozen=True)
class _Footprint:
    """An object's rectangle on the table grown by half the clearance on every side."""

    x: float
    y: float
    yaw: float
    hx: float
    hy: float

    @classmethod
    def of(cls, x: float, y: float, yaw: float, dims: tuple[float, float, float]) -> _Footprint:
        return cls(x, y, yaw, dims[0] / 2 + CLEARANCE / 2, dims[1] / 2 + CLEARANCE / 2)

    def _axes(self) -> list[tuple[float, float]]:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return [(c, s), (-s, c)]

    def _radius_along(self, ax: tuple[float, float]) -> float:
        (cx, cy), (sx, sy) = self._axes()
        return self.hx * abs(ax[0] * cx + ax[1] * cy) + self.hy * abs(ax[0] * sx + ax[1] * sy)

    def overlaps(self, other: _Footprint) -> bool:
        """Separating-axis test of two oriented rectangles."""
        dx, dy = other.x - self.x, other.y - self.y
        for ax in self._axes() + other._axes():
            if abs(dx * ax[0] + dy * ax[1]) > self._radius_along(ax) + other._radius_along(ax):
                return False
        return True


class TabletopWorld:
    """A built scene. ``step`` is the only way time advances, so counters stay exact."""

    def __init__(self, config: TabletopConfig, seed: int | None = None, rig: Rig | None = None) -> None:
        self.config = config
        self.rig: Rig = rig or SimulatedRig(config)
        self.seed = config.seed if seed is None else int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.dt = 1.0 / config.physics_hz
        self.sim_steps = 0
        self.version = 0  # bumped by every change that does not step physics (teleports, spawns)
        self.objects: dict[str, SpawnedObject] = {}
        self._by_body: dict[int, str] = {}
        self.client = p.connect(p.GUI if config.gui else p.DIRECT)
        if self.client < 0:
            raise EpisodeAborted("pybullet could not start a physics client")
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    # -- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        c = self.client
        p.resetSimulation(physicsClientId=c)
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        p.setTimeStep(self.dt, physicsClientId=c)
        if self.config.gui:
            p.configureDebugVisualizer(p.COV_ENABLE_GUI, 0, physicsClientId=c)
        data = pybullet_data.getDataPath()
        self.plane = p.loadURDF(os.path.join(data, "plane.urdf"), [0, 0, -TABLE_HEIGHT], physicsClientId=c)
        self.table = p.loadURDF(os.path.join(data, "table/table.urdf"),
                                [TABLE_CENTER[0], TABLE_CENTER[1], -TABLE_HEIGHT], useFixedBase=True,
                                physicsClientId=c)
        # The robot and cameras come from the rig (the simulated arm adds itself to this client
        # here, before the objects, so body ids stay the same from build to build).
        self.robot, self.cameras = self.rig.attach(self)
        self._place_objects()
        self.settle()

    def _place_objects(self) -> None:
        """Fixed positions first, then sampled ones, largest first, each somewhere its oriented
        footprint (plus ``CLEARANCE``) overlaps nothing placed so far. A dead end restarts the
        sampling (the stream of draws goes on, so it stays deterministic)."""
        fixed = [i for i, o in enumerate(self.config.objects) if o.position is not None]
        sampled = sorted((i for i, o in enumerate(self.config.objects) if o.position is None and o.on is None),
                         key=lambda i: -_footprint_radius(self.config.objects[i].dims()))
        poses: dict[int, tuple[float, float, float]] = {}
        base: list[_Footprint] = []
        for i in fixed:
            obj = self.config.objects[i]
            yaw = obj.yaw if obj.yaw is not None else float(self.rng.uniform(-math.pi, math.pi))
            x, y = obj.position  # type: ignore[misc]  # fixed objects have one
            poses[i] = (x, y, yaw)
            base.append(_Footprint.of(x, y, yaw, obj.dims()))
        failed = -1
        for _ in range(PLACEMENT_RESTARTS):
            placed = list(base)
            failed = -1
            for i in sampled:
                pose = self._sample_pose(self.config.objects[i], placed)
                if pose is None:
                    failed = i
                    break
                poses[i] = pose
                placed.append(_Footprint.of(*pose, self.config.objects[i].dims()))
            if failed < 0:
                break
        if failed >= 0:
            obj = self.config.objects[failed]
            region_name = obj.region or "table"
            region = self.config.all_regions()[region_name]
            raise RegionFullError(
                f"cannot place {obj.name!r} in region {region_name!r} (x {region.x[0]:.2f}..{region.x[1]:.2f}, "
                f"y {region.y[0]:.2f}..{region.y[1]:.2f} m) without overlapping other objects "
                f"({PLACEMENT_RESTARTS} attempts)",
                field=f"env.objects.{failed}.region",
                hint="use a larger region, fewer or smaller objects, or fixed positions")
        for i, obj in enumerate(self.config.objects):  # spawn in config order: stable body ids
            if obj.on is None:
                self.spawn(obj, *poses[i])
        for i in _stacking_order(self.config.objects):  # then each object on its support, lowest first
            obj = self.config.objects[i]
            x, y, yaw = self._pose_of_support(obj.on or "")
            self.spawn(obj, x, y, yaw if obj.yaw is None else obj.yaw)

    def _pose_of_support(self, name: str) -> tuple[float, float, float]:
        """(x, y, yaw) of a spawned object named ``name`` (case-insensitive)."""
        key = next(n for n in self.objects if n.strip().lower() == name.strip().lower())
        (x, y, _), orn = self.pose(key)
        return x, y, p.getEulerFromQuaternion(orn)[2]

    def _sample_pose(self, obj: ObjectConfig, placed: list[_Footprint]) -> tuple[float, float, float] | None:
        """A collision-free (x, y, yaw) with the centre in the object's region, or None."""
        region = self.config.all_regions()[obj.region or "table"]
        dims = obj.dims()
        for _ in range(SAMPLE_TRIES):
            x = float(self.rng.uniform(*region.x))
            y = float(self.rng.uniform(*region.y))
            yaw = obj.yaw if obj.yaw is not None else float(self.rng.uniform(-math.pi, math.pi))
            if math.hypot(x, y) < ROBOT_KEEPOUT + _footprint_radius(dims):
                continue
            candidate = _Footprint.of(x, y, yaw, dims)
            if not any(candidate.overlaps(other) for other in placed):
                return x, y, yaw
        return None

    def spawn(self, obj: ObjectConfig, x: float, y: float, yaw: float = 0.0, distractor: bool = False) -> int:
        """Create ``obj`` resting at (x, y) (on top of whatever is already below it) and return its
        body id. Used while building and by perturbations that drop distractors."""
        c = self.client
        dims = obj.dims()
        rgba = [*PALETTE[obj.color], 1.0]
        fixed = obj.is_fixed()
        mass = 0.0 if fixed else obj.body_mass()
        if obj.shape in CONTAINERS:
            col, vis, com = self._container_shapes(obj.shape, dims, rgba)
        elif obj.shape == "cylinder":
            radius = min(dims[0], dims[1]) / 2
            col = p.createCollisionShape(p.GEOM_CYLINDER, radius=radius, height=dims[2], physicsClientId=c)
            vis = p.createVisualShape(p.GEOM_CYLINDER, radius=radius, length=dims[2], rgbaColor=rgba,
                                      physicsClientId=c)
            com = (0.0, 0.0, 0.0)
        else:  # cube, plate
            half = [d / 2 for d in dims]
            col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
            vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=rgba, physicsClientId=c)
            com = (0.0, 0.0, 0.0)
        z = self.support_height(x, y, _footprint_radius(dims)) + dims[2] / 2 + 0.0005
        body = p.createMultiBody(baseMass=mass, baseCollisionShapeIndex=col, baseVisualShapeIndex=vis,
                                 basePosition=[x, y, z], baseOrientation=p.getQuaternionFromEuler([0, 0, yaw]),
                                 baseInertialFramePosition=list(com), physicsClientId=c)
        p.changeDynamics(body, -1, lateralFriction=obj.friction, spinningFriction=0.001, rollingFriction=0.0001,
                         physicsClientId=c)
        self.objects[obj.name] = SpawnedObject(obj.name, obj.shape, obj.color, dims, body, fixed, distractor, com)
        self._by_body[body] = obj.name
        self.version += 1
        return body

    def _container_shapes(self, shape: str, dims: tuple[float, float, float],
                          rgba: list[float]) -> tuple[int, int, tuple[float, float, float]]:
        """An open box: floor plus four walls as one compound shape, origin at the box centre."""
        c = self.client
        dx, dy, dz = dims
        hx, hy, hz = dx / 2, dy / 2, dz / 2
        t = WALL / 2
        halves = [[hx, hy, t], [t, hy, hz], [t, hy, hz], [hx - WALL, t, hz], [hx - WALL, t, hz]]
        frames = [[0, 0, -hz + t], [hx - t, 0, 0], [-hx + t, 0, 0], [0, hy - t, 0], [0, -hy + t, 0]]
        n = len(halves)
        col = p.createCollisionShapeArray([p.GEOM_BOX] * n, halfExtents=halves, collisionFramePositions=frames,
                                          physicsClientId=c)
        vis = p.createVisualShapeArray([p.GEOM_BOX] * n, halfExtents=halves, visualFramePositions=frames,
                                       rgbaColors=[rgba] * n, physicsClientId=c)
        volumes = [8 * a * b * d for a, b, d in halves]
        com_z = sum(v * f[2] for v, f in zip(volumes, frames)) / sum(volumes)
        return col, vis, (0.0, 0.0, com_z)

    def support_height(self, x: float, y: float, radius: float) -> float:
        """Top z of the highest object whose footprint overlaps the disc at (x, y), else the table."""
        top = 0.0
        for obj in self.objects.values():
            (ox, oy, oz), _ = self.pose(obj.name)
            if math.hypot(x - ox, y - oy) < radius + _footprint_radius(obj.dims) * 0.7:
                top = max(top, oz + obj.dims[2] / 2)
        return top

    # -- time -------------------------------------------------------------------------------

    def step(self, n: int = 1) -> None:
        """Advance physics by ``n`` steps of ``dt`` seconds."""
        c = self.client
        for _ in range(n):
            p.stepSimulation(physicsClientId=c)
        self.sim_steps += n

    @property
    def sim_time(self) -> float:
        """Simulated seconds since the world was built."""
        return self.sim_steps * self.dt

    def settle(self, max_s: float = SETTLE_MAX_S) -> None:
        """Step until every object rests (or ``max_s`` simulated seconds pass)."""
        chunk = max(1, round(0.05 / self.dt))
        for _ in range(max(1, math.ceil(max_s / (chunk * self.dt)))):
            self.step(chunk)
            if all(self.speed(o.name) < SETTLE_SPEED for o in self.objects.values() if not o.fixed):
                return

    # -- state ------------------------------------------------------------------------------

    def pose(self, name: str) -> tuple[tuple[float, float, float], tuple[float, float, float, float]]:
        """(position of the box centre, orientation quaternion xyzw) of a named object. PyBullet
        reports the centre of mass; containers have theirs below the centre."""
        obj = self.objects[name]
        pos, orn = p.getBasePositionAndOrientation(obj.body, physicsClientId=self.client)
        if obj.com != (0.0, 0.0, 0.0):
            rot = np.reshape(p.getMatrixFromQuaternion(orn), (3, 3))
            pos = np.subtract(pos, rot @ np.asarray(obj.com))
        return (float(pos[0]), float(pos[1]), float(pos[2])), tuple(orn)  # type: ignore[return-value]

    def speed(self, name: str) -> float:
        lin, _ = p.getBaseVelocity(self.objects[name].body, physicsClientId=self.client)
        return float(np.linalg.norm(lin))

    def name_of(self, body: int) -> str | None:
        """The config name of a body id, or None for the robot, the table or an unknown body."""
        return self._by_body.get(body)

    def move_object(self, name: str, x: float, y: float, yaw: float | None = None) -> None:
        """Put an object down at (x, y) on whatever supports it there; used by perturbations only
        (the robot never teleports objects)."""
        obj = self.objects[name]
        _, orn = self.pose(name)
        if yaw is not None:
            orn = p.getQuaternionFromEuler([0, 0, yaw])
        self.objects.pop(name)  # do not support itself
        try:
            z = self.support_height(x, y, _footprint_radius(obj.dims)) + obj.dims[2] / 2 + 0.0005
        finally:
            self.objects[name] = obj
        rot = np.reshape(p.getMatrixFromQuaternion(orn), (3, 3))
        com = np.add([x, y, z], rot @ np.asarray(obj.com))
        p.resetBasePositionAndOrientation(obj.body, com.tolist(), orn, physicsClientId=self.client)
        p.resetBaseVelocity(obj.body, [0, 0, 0], [0, 0, 0], physicsClientId=self.client)
        self.version += 1

    def free_spot(self, near: tuple[float, float], radius: float, distance: tuple[float, float],
                  rng: np.random.Generator, exclude: tuple[str, ...] = ()) -> tuple[float, float] | None:
        """A point ``distance`` (min, max metres) from ``near`` on the table and reachable area whose
        disc of ``radius`` overlaps no object; None when there is none."""
        for _ in range(64):
            angle = float(rng.uniform(-math.pi, math.pi))
            d = float(rng.uniform(*distance))
            x, y = near[0] + d * math.cos(angle), near[1] + d * math.sin(angle)
            (x0, x1), (y0, y1) = FREE_SPOT_AREA
            if not (x0 <= x <= x1 and y0 <= y <= y1 and math.hypot(x, y) >= ROBOT_KEEPOUT + radius):
                continue
            clear = True
            for obj in self.objects.values():
                if obj.name in exclude:
                    continue
                (ox, oy, _), _ = self.pose(obj.name)
                if math.hypot(x - ox, y - oy) < radius + _footprint_radius(obj.dims) + CLEARANCE / 2:
                    clear = False
                    break
            if clear:
                return x, y
        return None

    def close(self) -> None:
        if self.client >= 0:
            robot = getattr(self, "robot", None)
            if robot is not None:
                robot.close()
            p.disconnect(physicsClientId=self.client)
            self.client = -1


def _stacking_order(objects: list[ObjectConfig]) -> list[int]:
    """Indices of the objects placed ``on`` another, each after its support (config validation
    has ruled out cycles)."""
    pending = [i for i, o in enumerate(objects) if o.on is not None]
    placed = {o.name.strip().lower() for o in objects if o.on is None}
    order: list[int] = []
    while pending:
        ready = [i for i in pending if (objects[i].on or "").strip().lower() in placed]
        order += ready
        placed |= {objects[i].name.strip().lower() for i in ready}
        pending = [i for i in pending if i not in ready]
    return order
