"""The PyBullet Panda as a stand-in for a real arm: a :class:`robots.base.Robot` driver whose world
runs in real time on its own thread, commanded like hardware.

It behaves like the streaming drivers described in :mod:`robots.drivers`: ``move_ee`` sets a
Cartesian setpoint (checked for reachability along the way) and returns at once; a physics thread
steps the world at wall-clock rate and drives the arm towards the latest setpoint, so the arm keeps
moving between commands and stops only when told (``stop``, from any thread) or when it arrives.
``home`` and the gripper block until done, also in real time. A guarded setpoint
(``stop_on_contact``) holds the arm at the first contact and reports it on the next ``move_ee``.

Like most real arms it cannot tell what it holds: ``grasped_id`` is None unless ``identify`` is
set; ``gripper_state`` reports width, the last command and the finger motors' force.

Beyond :class:`Robot` it offers what only a simulated cell can: ``scene_reset(seed)`` and
``scene_truth(goal)`` (ground truth for scoring, never for the agent), and ``camera_frame(name)``
rendering the scene's cameras. Units: metres, radians, seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embodied.config import load_config
from embodied.errors import ConfigError
from robots.base import GripperState, Motion
from robots.errors import InvalidArgument
from robots.panda import IK_EVERY, PandaArm, Waypoint
from robots.wire import MotionHalted
from sim.tabletop import camera
from sim.tabletop.config import TabletopConfig
from sim.tabletop.ground_truth import evaluate_goal, object_boxes
from sim.tabletop.perturbations import Perturbations
from sim.tabletop.world import TabletopWorld

REACHED_TOLERANCE = 0.01  # metres
MAX_LAG_S = 0.1  # behind the wall clock by more than this: do not burst, start pacing afresh


class _Pacer:
    """Keeps simulated time level with the wall clock. ``check`` raises :class:`MotionHalted` when a
    stop is pending and a blocking operation is stepping."""

    def __init__(self, dt: float, rate: float) -> None:
        self.dt = dt
        self.rate = rate  # simulated seconds per wall second
        self.blocking = False  # a blocking operation steps: pace inside its steps
        self.stop_pending = threading.Event()
        self._anchor_wall = time.monotonic()
        self._anchor_steps = 0
        self.steps = 0

    def restart(self, steps: int) -> None:
        self._anchor_wall, self._anchor_steps, self.steps = time.monotonic(), steps, steps

    def delay(self) -> float:
        """Seconds to sleep before the next step; re-anchors when far behind."""
        due = self._anchor_wall + (self.steps - self._anchor_steps) * self.dt / self.rate
        lag = time.monotonic() - due
        if lag > MAX_LAG_S:
            self.restart(self.steps)
            return 0.0
        return max(0.0, -lag)


class _PacedWorld(TabletopWorld):
    """A tabletop world whose every step is counted by the pacer (and, inside blocking operations,
    paced and interruptible)."""

    def __init__(self, config: TabletopConfig, seed: int | None, pacer: _Pacer) -> None:
        self._pacer: _Pacer | None = None  # not while building and settling
        super().__init__(config, seed)
        self._pacer = pacer
        pacer.restart(self.sim_steps)

    def step(self, n: int = 1) -> None:
        pacer = self._pacer
        if pacer is not None and pacer.blocking and pacer.stop_pending.is_set():
            raise MotionHalted("stopped while moving")
        super().step(n)
        if pacer is not None:
            pacer.steps = self.sim_steps
            if pacer.blocking:
                time.sleep(pacer.delay())


def load_scene(scene: str, base_dir: str | Path, overrides: Sequence[str] = ()) -> TabletopConfig:
    """The ``env`` section of a tabletop experiment config (objects, cameras, physics rate), with
    dotted ``overrides`` (e.g. ``env.perturbations.slip=0.25``)."""
    path = Path(base_dir) / scene
    cfg = load_config(path, overrides)
    if not isinstance(cfg.env, TabletopConfig):
        raise ConfigError("the scene of a simulated arm must be a tabletop config", file=str(path), field="env.kind")
    return cfg.env


class RealtimeSimPanda:
    """A Panda in a tabletop scene, stepping in real time (``realtime`` x wall clock) on a thread.

    ``scene``: path of a tabletop experiment config (relative to ``base_dir``) whose ``env`` section
    builds the world, with dotted ``overrides``; ``seed`` overrides its seed. ``identify``: report
    ``grasped_id`` like a simulator (False: like hardware, None).

    Faults: the scene's ``perturbations`` strike here, at the server, from what the arm is doing (the
    client's skills have no hooks into this world): a nudge when the open gripper descends near an
    object, a slip or a moved target when a held object is carried up high, a distractor when a
    held object is lowered onto something. ``scene_events`` lists those that fired."""

    def __init__(self, scene: str, seed: int | None = None, base_dir: str = ".", identify: bool = False,
                 realtime: float = 1.0, max_speed: float | None = None, overrides: Sequence[str] = ()) -> None:
        self.config = load_scene(scene, base_dir, overrides)
        if max_speed is not None:
            self.config = self.config.model_copy(update={"robot": self.config.robot.model_copy(
                update={"max_speed": max_speed})})
        self.identify = identify
        self._lock = threading.RLock()
        self._pacer = _Pacer(1.0 / self.config.physics_hz, realtime)
        self._path: list[Waypoint] = []
        self._last: Waypoint | None = None  # last waypoint commanded while streaming
        self._guarded = False
        self._contact = False
        self._closed = False
        self._world = self._build(self.config.seed if seed is None else seed)
        self._thread = threading.Thread(target=self._physics, name="sim-arm-physics", daemon=True)
        self._thread.start()

    def _build(self, seed: int) -> _PacedWorld:
        world = _PacedWorld(self.config, seed, self._pacer)
        self._faults = Perturbations(self.config.perturbations, world, world.rng.spawn(2)[1])
        self._armed: set[str] = {"pick"}  # fault hooks that may fire at the next opportunity
        self._start = object_boxes(world)
        self._reported_steps = world.sim_steps
        return world

    @property
    def arm(self) -> PandaArm:
        return self._world.robot  # type: ignore[no-any-return]

    @property
    def max_speed(self) -> float:
        return float(self.arm.max_speed)

    # -- the physics thread -----------------------------------------------------------------

    def _physics(self) -> None:
        while not self._closed:
            with self._lock:
                if self._closed:
                    return
                if self._pacer.stop_pending.is_set():
                    self._hold()
                if self._path:
                    self._last = self._path.pop(0)
                    contact, _ = self.arm.execute([self._last], stop_on_contact=self._guarded)
                    if contact:
                        self._path = []
                        self._last = None
                        self._contact = True
                else:
                    self._world.step(IK_EVERY)
                delay = self._pacer.delay()
            time.sleep(delay if delay > 0 else 0.0005)  # always let a command in

    def _hold(self) -> None:
        self._path = []
        self._last = None
        self.arm.stop()
        self._pacer.stop_pending.clear()

    def _blocking(self, fn: Any) -> Any:
        """Run a blocking arm operation under the lock, paced in real time, stoppable."""
        with self._lock:
            self._path = []
            self._last = None
            self._pacer.stop_pending.clear()
            self._pacer.restart(self._world.sim_steps)
            self._pacer.blocking = True
            try:
                return fn()
            except MotionHalted:
                self._hold()
                raise
            finally:
                self._pacer.blocking = False

    # -- state ------------------------------------------------------------------------------

    def joint_positions(self) -> list[float]:
        with self._lock:
            return self.arm.joint_positions()

    def ee_pose(self) -> tuple[tuple[float, float, float], float]:
        with self._lock:
            return self.arm.ee_pose()

    def gripper_width(self) -> float:
        with self._lock:
            return self.arm.gripper_width()

    def gripper_state(self) -> GripperState:
        with self._lock:
            return self.arm.gripper_state()

    def holding(self) -> bool:
        with self._lock:
            state = self.arm.gripper_state()
        return state.closed and state.width_m > 0.005

    def grasped_id(self) -> int | None:
        if not self.identify:
            return None
        with self._lock:
            return self.arm.grasped_id()

    def at_home(self) -> bool:
        with self._lock:
            return self.arm.at_home()

    def moving(self) -> bool:
        """Whether a setpoint is still being followed."""
        with self._lock:
            return bool(self._path)

    # -- commands ---------------------------------------------------------------------------

    def reachable(self, position: tuple[float, float, float], yaw: float | None = None) -> float:
        with self._lock:
            return self.arm.reachable(position, yaw)

    def move_ee(self, position: tuple[float, float, float], yaw: float | None = None, speed: float | None = None,
                stop_on_contact: bool = False) -> Motion:
        """Set a new setpoint and return at once (see the module docstring)."""
        target = (float(position[0]), float(position[1]), float(position[2]))
        with self._lock:
            steps = self._world.sim_steps - self._reported_steps
            self._reported_steps = self._world.sim_steps
            here, _ = self.arm.ee_pose()
            error = math.dist(here, target)
            if self._contact and self._guarded:
                self._contact = False
                return Motion(reached=error <= REACHED_TOLERANCE, contact=True, error_m=error, steps=steps)
            self._contact = False
            self._fault_hooks(target, stop_on_contact)
            v = self.max_speed if speed is None else min(float(speed), self.max_speed)
            if not v > 0:
                raise InvalidArgument(f"speed must be > 0 m/s, got {speed}")
            # Continue from the waypoint last commanded, at constant speed: a stream of short
            # segments then flows without stopping between them.
            self._path = self.arm.plan_line(target, yaw, v, start_at=self._last, smooth=self._last is None)
            self._guarded = stop_on_contact
            self._pacer.stop_pending.clear()
            return Motion(reached=error <= REACHED_TOLERANCE, contact=False, error_m=error, steps=steps)

    def _fault_hooks(self, target: tuple[float, float, float], guarded: bool) -> None:
        """Let the scene's perturbations strike at the moment the arm's setpoint says it is
        approaching, carrying or placing an object (each once per grasp)."""
        held = self.arm.grasped_id() is not None
        if not held and "pick" in self._armed and target[2] < 0.1 and not self.arm.gripper_state().closed:
            self._armed.discard("pick")
            self._faults.before_pick("", target)
        elif held and "transport" in self._armed and target[2] > 0.12:
            self._armed.discard("transport")
            self._faults.during_transport(target)
        elif held and "place" in self._armed and guarded:
            self._armed.discard("place")
            self._faults.before_place(None, target)

    def open_gripper(self, width: float | None = None) -> float:
        self._armed = {"pick"}
        return float(self._blocking(lambda: self.arm.open_gripper(width)))

    def close_gripper(self, force: float | None = None) -> float:
        self._armed = {"transport", "place"}
        return float(self._blocking(lambda: self.arm.close_gripper(force)))

    def home(self) -> None:
        self._blocking(self.arm.home)

    def stop(self) -> None:
        """Hold position at the next physics chunk (or cut a blocking operation short). Only sets a
        flag: safe from any thread, at any time."""
        self._pacer.stop_pending.set()

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=2.0)
        with self._lock:
            self._world.close()

    # -- what only a simulated cell offers --------------------------------------------------

    def scene_reset(self, seed: int) -> None:
        """Rebuild the scene from the config with ``seed`` (the arm back home, gripper open)."""
        with self._lock:
            self._path = []
            self._last = None
            self._world.close()
            self._world = self._build(int(seed))

    def scene_truth(self, goal: list[str]) -> dict[str, Any]:
        """Ground-truth check of goal conditions (for scoring only): ``{"success", "details"}``."""
        with self._lock:
            ok, details = evaluate_goal(self._world, goal, self._start)
        return {"success": bool(ok), "details": details}

    def scene_events(self) -> list[dict[str, Any]]:
        """Faults that fired since the scene was built, in order."""
        with self._lock:
            return [dict(e) for e in self._faults.events]

    def camera_names(self) -> list[str]:
        return [c.name for c in self.config.cameras]

    def camera_frame(self, name: str) -> dict[str, Any]:
        """One rendered frame: ``{"rgb", "depth", "info"}`` (metres; OpenCV camera axes)."""
        cam = next((c for c in self.config.cameras if c.name == name), None)
        if cam is None:
            raise ConfigError(f"no camera {name!r}; cameras: {', '.join(self.camera_names())}")
        with self._lock:
            images, info = camera.render(self._world.client, cam, seg=False)
        return {"rgb": images["rgb"], "depth": images["depth"], "info": info}
