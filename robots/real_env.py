"""A real robot cell as an :class:`embodied.protocols.Environment` (env kind ``robot``): a
:class:`Robot` (a driver in this process, or a :class:`RemoteRobot` at a server's address) behind
:class:`SafeRobot`, cameras, and the same detector and skills as the simulated tabletop.

Before the first motion of an episode a gate asks ``confirm`` (the operator, once the plan has been
shown); ``dry_run`` stops the episode there instead, so everything but motion runs (connection,
perception, planning, the first policy, workspace checks up to the first command).

Scoring: a cell that can report ground truth (the simulated stand-in's ``scene_truth``) is scored
by it; a real cell is judged from its cameras, and the details say which (``source``).
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from embodied import backends
from embodied.conditions import parse_condition
from embodied.config import StrictModel, backend_name
from embodied.errors import EpisodeAborted
from embodied.geometry import Tolerances, evaluate
from embodied.primitives import PrimitiveSet
from embodied.protocols import ObjectDetector
from embodied.sandbox import Sandbox
from embodied.types import CameraInfo, Condition, Observation, SceneObject
from perception.predicates import observation_boxes, resolver
from robots.base import GripperState, Motion, Robot, gripper_state
from robots.cameras import Camera, load_calibration
from robots.control import ControlConfig, SafeRobot
from robots.rehearsal import RehearsingSandbox
from robots.remote import RemoteRobot
from robots.server import DriverSpec, build_driver
from robots.skills import CachedSource, TabletopSkills
from robots.wire import ServerLost, SessionLost

Vec3 = tuple[float, float, float]


class OperatorDeclined(EpisodeAborted):
    """The operator did not confirm the first motion: nothing moved."""


class DryRunStop(EpisodeAborted):
    """A dry run reached its first motion command and stopped there: nothing moved."""


class CameraSpec(StrictModel):
    name: str = "front"
    kind: str = "remote"
    options: dict[str, Any] = Field(default_factory=dict)
    calibration: str | None = Field(default=None, description="file from `embodied robot calibrate`")

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return backend_name("camera", v)


class RobotEnvConfig(StrictModel):
    """A robot cell: where the arm is (``connect`` a server address, or ``driver`` in this
    process), its safety limits (``control``: workspace box, speed, control rate, watchdog), its
    cameras and the detector. ``seed`` only reaches a cell that can reset its scene (a simulated
    stand-in)."""

    kind: Literal["robot"] = "robot"
    connect: str | None = Field(default=None, description="robot server address, e.g. tcp://127.0.0.1:5557")
    driver: DriverSpec | None = None
    heartbeat_s: float = Field(default=0.05, gt=0, le=5)
    watchdog_s: float = Field(default=0.5, gt=0, le=60, description="server silence that faults the client")
    call_timeout_s: float = Field(default=30.0, gt=0)
    control: ControlConfig
    cameras: list[CameraSpec] = Field(default_factory=lambda: [CameraSpec()])
    detector: str = "rgbd"
    seed: int | None = None
    rehearse: Literal["off", "advise", "gate"] = Field(
        default="off", description="run each policy in a PyBullet twin of the perceived scene first")

    @field_validator("detector")
    @classmethod
    def _detector(cls, v: str) -> str:
        return backend_name("detector", v)

    @field_validator("rehearse", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        return "off" if v is False else v  # YAML reads a bare `off` as false

    @model_validator(mode="after")
    def _one_arm(self) -> RobotEnvConfig:
        if (self.connect is None) == (self.driver is None):
            raise ValueError("give exactly one of connect (a robot server address) or driver (kind and options)")
        return self


class GatedRobot:
    """A :class:`Robot` that calls ``before_motion()`` before the first motion command, and counts
    motion commands (the scene may have changed after each). ``connect()`` gives the arm on first
    use, so building the skills does not reach for the hardware."""

    def __init__(self, connect: Callable[[], SafeRobot], before_motion: Callable[[str], None]) -> None:
        self._connect = connect
        self._before = before_motion
        self.opened = False
        self.commands = 0

    @property
    def robot(self) -> SafeRobot:
        return self._connect()

    def _gate(self, what: str) -> None:
        if not self.opened:
            self._before(what)
            self.opened = True
        self.commands += 1

    @property
    def max_speed(self) -> float:
        return self.robot.max_speed

    def joint_positions(self) -> list[float]:
        return self.robot.joint_positions()

    def ee_pose(self) -> tuple[Vec3, float]:
        return self.robot.ee_pose()

    def reachable(self, position: Vec3, yaw: float | None = None) -> float:
        return self.robot.reachable(position, yaw)

    def move_ee(self, position: Vec3, yaw: float | None = None, speed: float | None = None,
                stop_on_contact: bool = False) -> Motion:
        self._gate(f"move the gripper to ({position[0]:.3f}, {position[1]:.3f}, {position[2]:.3f}) m")
        return self.robot.move_ee(position, yaw, speed, stop_on_contact)

    def open_gripper(self, width: float | None = None) -> float:
        self._gate("open the gripper")
        return self.robot.open_gripper(width)

    def close_gripper(self, force: float | None = None) -> float:
        self._gate("close the gripper")
        return self.robot.close_gripper(force)

    def gripper_width(self) -> float:
        return self.robot.gripper_width()

    def gripper_state(self) -> GripperState:
        return self.robot.gripper_state()

    def holding(self) -> bool:
        return self.robot.holding()

    def grasped_id(self) -> int | None:
        return self.robot.grasped_id()

    def home(self) -> None:
        self._gate("move the arm home")
        self.robot.home()

    def at_home(self) -> bool:
        return self.robot.at_home()

    def stop(self) -> None:
        self.robot.stop()

    def close(self) -> None:
        self.robot.close()


def build_camera(spec: CameraSpec, robot: Robot) -> Camera:
    cls = backends.registry("camera").get(spec.kind)
    params = inspect.signature(cls).parameters
    kwargs: dict[str, Any] = {"name": spec.name, **spec.options}
    if "robot" in params:
        kwargs["robot"] = robot
    if spec.calibration is not None:
        kwargs["calibration"] = load_calibration(spec.calibration)
    return cls(**kwargs)  # type: ignore[no-any-return]


class RobotEnv:
    """A real (or stand-in) tabletop cell. ``confirm(first_motion) -> bool`` asks the operator;
    None means confirmed. ``dry_run`` stops before the first motion."""

    domain = "tabletop"

    deterministic = False  # a physical cell: a reset cannot put the world back exactly

    def __init__(self, config: RobotEnvConfig, detector: ObjectDetector | None = None,
                 confirm: Callable[[str], bool] | None = None, dry_run: bool = False,
                 base_dir: Path | None = None) -> None:
        self.config = config
        self.detector = detector
        self.confirm = confirm
        self.dry_run = dry_run
        self.dry_run_reached = False  # a dry run got as far as its first motion
        self.base_dir = base_dir or Path.cwd()
        self._remote: RemoteRobot | None = None
        self._safe: SafeRobot | None = None
        self._gated = GatedRobot(self._connect, self._before_first_motion)
        self._cameras: list[Camera] = []
        self._skills: TabletopSkills | None = None
        self._source = CachedSource(self._perceive, lambda: self._gated.commands)
        self._t0 = time.monotonic()
        self._render_s = 0.0
        self._renders = 0
        self.rehearse = config.rehearse
        self.rehearsals: list[dict[str, Any]] = []

    @classmethod
    def from_config(cls, config: RobotEnvConfig) -> RobotEnv:
        return cls(config, backends.registry("detector").get(config.detector)())

    # -- connection -------------------------------------------------------------------------

    def _connect(self) -> SafeRobot:
        if self._safe is not None:
            return self._safe
        c = self.config
        if c.connect is not None:
            self._remote = RemoteRobot(c.connect, heartbeat_s=c.heartbeat_s, watchdog_s=c.watchdog_s,
                                       call_timeout_s=c.call_timeout_s)
            driver: Robot = self._remote
        else:
            driver = build_driver(c.driver, self.base_dir)  # type: ignore[arg-type]  # validated: one of two
        safe = SafeRobot(driver, c.control)
        safe.connect()
        self._cameras = [build_camera(spec, driver) for spec in c.cameras]
        self._safe = safe
        return safe

    def _before_first_motion(self, what: str) -> None:
        if self.dry_run:
            self.dry_run_reached = True
            raise DryRunStop(f"dry run: stopped before the first motion ({what}); nothing moved")
        if self.confirm is not None and not self.confirm(what):
            raise OperatorDeclined(f"the operator declined the first motion ({what}); nothing moved")

    @property
    def robot(self) -> SafeRobot:
        return self._connect()

    @property
    def remote(self) -> RemoteRobot | None:
        return self._remote

    def reset(self, seed: int | None = None) -> Observation:
        """Connect (first time), reset a simulated cell's scene to ``seed``; a real cell is taken as
        it is. Nothing moves."""
        self._connect()
        gated = self._gated
        seed = self.config.seed if seed is None else seed
        if self._remote is not None and "scene_reset" in self._remote.capabilities and seed is not None:
            self._remote.scene_reset(int(seed))
        if self._skills is None:
            self._skills = TabletopSkills(gated, self._source)
        else:
            self._skills.bind(gated, self._source)
        self._source.forget()
        self.rehearsals = []
        self._t0 = time.monotonic()
        return self.observe("reset")

    def close(self) -> None:
        for cam in self._cameras:
            cam.close()
        self._cameras = []
        try:
            if self._safe is not None:
                self._safe.close()
        except (ServerLost, SessionLost) as exc:  # nothing left to stop there; say so and finish closing
            print(f"robot env: the final stop did not reach the arm: {exc}", file=sys.stderr)
        finally:
            self._safe = self._remote = None

    # -- perception -------------------------------------------------------------------------

    def render(self) -> tuple[dict[str, Any], dict[str, CameraInfo]]:
        images: dict[str, Any] = {}
        cameras: dict[str, CameraInfo] = {}
        for cam in self._cameras:
            t0 = time.perf_counter()
            frame = cam.read()
            self._render_s += time.perf_counter() - t0
            self._renders += 1
            images[f"{cam.name}/rgb"] = frame.rgb
            if frame.depth is not None:
                images[f"{cam.name}/depth"] = frame.depth
            cameras[cam.name] = frame.info
        return images, cameras

    def _perceive(self) -> list[SceneObject]:
        images, cameras = self.render()
        return self._detect(images, cameras)

    def _detect(self, images: dict[str, Any], cameras: dict[str, CameraInfo]) -> list[SceneObject]:
        if self.detector is None:
            raise EpisodeAborted("a robot cell needs a detector: no object source without one")
        return self.detector.detect(images, cameras)

    def observe(self, label: str = "") -> Observation:
        robot = self._connect()
        images, cameras = self.render()
        objects = self._detect(images, cameras)
        self._source.remember(objects)
        (x, y, z), yaw = robot.ee_pose()
        gripper = {"position": [round(x, 4), round(y, 4), round(z, 4)], "yaw": round(yaw, 4),
                   "width": round(robot.gripper_width(), 4), "holding": self.skills.holding()}
        return Observation(objects=objects, images=images, cameras=cameras, label=label, gripper=gripper)

    # -- agent API --------------------------------------------------------------------------

    @property
    def skills(self) -> TabletopSkills:
        if self._skills is None:
            self._skills = TabletopSkills(self._gated, self._source)
        return self._skills

    def primitives(self) -> PrimitiveSet:
        return self.skills.primitives

    # -- rehearsal --------------------------------------------------------------------------

    def wrap_sandbox(self, sandbox: Sandbox) -> Sandbox | RehearsingSandbox:
        """The sandbox the agent should run policies in: rehearsing first unless ``rehearse`` is off."""
        return sandbox if self.rehearse == "off" else RehearsingSandbox(sandbox, self)

    def perceived(self) -> list[SceneObject]:
        return self._source()

    def holding_something(self) -> bool:
        return self.skills.holding() is not None

    # -- scoring ----------------------------------------------------------------------------

    def success(self, goal: Sequence[Condition | str]) -> tuple[bool, dict[str, Any]]:
        texts = [str(g) for g in goal]
        if self._remote is not None and "scene_truth" in self._remote.capabilities:
            truth = self._remote.scene_truth(texts)
            return bool(truth["success"]), {**truth["details"], "source": "simulated cell behind the robot server"}
        observation = self.observe("score")
        boxes = observation_boxes(observation)
        resolve = resolver(list(boxes))
        results = []
        for item in goal:
            cond = parse_condition(item) if isinstance(item, str) else item
            ok, why = evaluate(cond, boxes, resolve, Tolerances(), None)
            results.append({"condition": str(cond), "ok": bool(ok), "why": why})
        success = bool(results) and all(r["ok"] for r in results)
        return success, {"conditions": results, "source": "cameras (a real cell has no ground truth)"}

    def events(self) -> list[dict[str, Any]]:
        """Faults a simulated cell injected this episode (none on a real one)."""
        if self._remote is not None and "scene_events" in self._remote.capabilities:
            return self._remote.scene_events()
        return []

    def gripper(self) -> GripperState:
        return gripper_state(self.robot, False)

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = {"sim_steps": 0, "sim_time_s": round(time.monotonic() - self._t0, 3),
                                 "render_time_s": round(self._render_s, 4), "renders": self._renders,
                                 "motion_commands": self._gated.commands}
        if self.rehearsals:
            stats["rehearsals"] = self.rehearsals
        if self._safe is not None and self._safe.last_stats is not None:
            s = self._safe.last_stats
            stats["last_loop"] = {"ticks": s.ticks, "overruns": s.overruns, "max_jitter_s": round(s.max_jitter_s, 5)}
        return stats
