"""The simulated tabletop as an :class:`embodied.protocols.Environment`.

The agent sees the table through the configured cameras: objects come from an injected
:class:`ObjectDetector` run on the rendered images, or, when the config says ``oracle: true`` or no
detector is given, from simulator state with seeded Gaussian pose noise. Ground-truth scoring
(:meth:`success`) reads simulator state directly and is never shown to the agent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pybullet as p

from embodied import backends
from embodied.geometry import Box
from embodied.primitives import PrimitiveSet
from embodied.protocols import ObjectDetector
from embodied.types import CameraInfo, Condition, Observation, SceneObject
from perception.tracking import TrackingDetector
from robots.skills import CachedSource, TabletopSkills
from sim.tabletop.config import TabletopConfig
from sim.tabletop.ground_truth import evaluate_goal, object_boxes
from sim.tabletop.perturbations import Perturbations
from sim.tabletop.rig import Rig, SimulatedRig
from sim.tabletop.world import TabletopWorld

OFF_TABLE_Z = -0.05  # metres: an object below this has fallen off the table and is out of view


class TabletopEnv:
    """PyBullet tabletop. ``reset(seed)`` rebuilds the scene deterministically. ``rig``: the robot
    and cameras (default: the configured simulated arm and rendered cameras, see :mod:`sim.tabletop.rig`)."""

    domain = "tabletop"

    def __init__(self, config: TabletopConfig, detector: ObjectDetector | None = None, rig: Rig | None = None) -> None:
        self.config = config
        self.rig: Rig = rig or SimulatedRig(config)
        # Detections keep their identity across observations (perception.tracking): a relabel
        # after a slip cannot swap which object a name refers to.
        self.detector = None if config.oracle or detector is None else TrackingDetector(detector)
        self._world: TabletopWorld | None = None
        self._source = CachedSource(self._perceive, self._state_key)
        self._skills: TabletopSkills | None = None
        self._start: dict[str, Box] = {}
        self._render_s = 0.0
        self._renders = 0
        self._start_steps = 0
        self._perturb: Perturbations | None = None
        self._noise_rng = np.random.default_rng(config.seed)

    @classmethod
    def from_config(cls, config: TabletopConfig) -> TabletopEnv:
        """Build with the detector the config names (none when ``oracle`` is true)."""
        detector = None if config.oracle else backends.registry("detector").get(config.detector)()
        return cls(config, detector)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def world(self) -> TabletopWorld:
        """The current scene, built from ``config.seed`` on first use."""
        return self._world if self._world is not None else self._build(self.config.seed)

    def _build(self, seed: int) -> TabletopWorld:
        if self._world is not None:
            self._world.close()
            self._world = None
        world = TabletopWorld(self.config, seed, self.rig)
        self._world = world
        noise_rng, perturb_rng = world.rng.spawn(2)
        self._noise_rng = noise_rng
        self._perturb = Perturbations(self.config.perturbations, world, perturb_rng)
        if self._skills is None:
            self._skills = TabletopSkills(world.robot, self._source, perturb=self._perturb, name_of=world.name_of,
                                          sim_time=lambda: self.world.sim_time)
        else:
            self._skills.bind(world.robot, self._source, perturb=self._perturb, name_of=world.name_of)
        self._source.forget()
        if isinstance(self.detector, TrackingDetector):
            self.detector.reset()
        self._start = object_boxes(world)
        self._start_steps = world.sim_steps
        self._render_s = 0.0
        self._renders = 0
        return world

    def reset(self, seed: int | None = None) -> Observation:
        self._build(self.config.seed if seed is None else int(seed))
        return self.observe("reset")

    def close(self) -> None:
        if self._world is not None:
            self._world.close()
            self._world = None

    # -- perception -------------------------------------------------------------------------

    def _state_key(self) -> tuple[int, int, int]:
        world = self.world
        return (id(world), world.sim_steps, world.version)

    def render(self) -> tuple[dict[str, np.ndarray], dict[str, CameraInfo]]:
        """Every camera of the rig: images keyed "<camera>/rgb|depth|seg" and their models."""
        images: dict[str, np.ndarray] = {}
        cameras: dict[str, CameraInfo] = {}
        for cam in self.world.cameras:
            t0 = time.perf_counter()
            out, info = cam.capture()
            self._render_s += time.perf_counter() - t0
            self._renders += 1
            for key, image in out.items():
                images[f"{cam.name}/{key}"] = image
            cameras[cam.name] = info
        return images, cameras

    def _perceive(self) -> list[SceneObject]:
        if self.detector is None:
            return self._oracle()
        images, cameras = self.render()
        return self.detector.detect(images, cameras)

    def _oracle(self) -> list[SceneObject]:
        """Simulator state as the agent would see it: config names, dims in the object's frame,
        yaw, and seeded Gaussian noise of ``pose_noise`` metres on the position."""
        world = self.world
        noise = self.config.perturbations.pose_noise
        out = []
        for name, obj in world.objects.items():
            pos, orn = world.pose(name)
            if pos[2] < OFF_TABLE_Z:
                continue
            jitter = self._noise_rng.normal(0.0, noise, 3) if noise > 0 else np.zeros(3)
            yaw = p.getEulerFromQuaternion(orn)[2]
            out.append(SceneObject(name=name, color=obj.color, shape=obj.shape,
                                   position=tuple(float(a + b) for a, b in zip(pos, jitter)),  # type: ignore[arg-type]
                                   size=obj.dims, yaw=float(yaw)))
        return out

    def observe(self, label: str = "") -> Observation:
        images, cameras = self.render()
        if self.detector is None:
            objects = self._source()
        else:
            objects = self.detector.detect(images, cameras)
            self._source.remember(objects)
        robot = self.world.robot
        (x, y, z), yaw = robot.ee_pose()
        gripper = {"position": [round(x, 4), round(y, 4), round(z, 4)], "yaw": round(yaw, 4),
                   "width": round(robot.gripper_width(), 4), "holding": self.skills.holding()}
        return Observation(objects=objects, images=images, cameras=cameras, label=label, gripper=gripper)

    # -- agent API --------------------------------------------------------------------------

    @property
    def skills(self) -> TabletopSkills:
        """The skills behind :meth:`primitives`; the same object across resets."""
        if self._skills is None:
            self._build(self.config.seed)
        return self._skills  # type: ignore[return-value]  # _build always sets it

    def primitives(self) -> PrimitiveSet:
        return self.skills.primitives

    # -- scoring ----------------------------------------------------------------------------

    def success(self, goal: Sequence[Condition | str]) -> tuple[bool, dict[str, Any]]:
        return evaluate_goal(self.world, goal, self._start)

    def events(self) -> list[dict[str, Any]]:
        """Perturbations that fired this episode, in order."""
        return [] if self._perturb is None else [dict(e) for e in self._perturb.events]

    def stats(self) -> dict[str, Any]:
        world = self.world
        steps = world.sim_steps - self._start_steps
        return {"sim_steps": steps, "sim_time_s": round(steps * world.dt, 4),
                "render_time_s": round(self._render_s, 4), "renders": self._renders}
