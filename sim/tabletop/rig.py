"""The robot and the cameras a tabletop world is acted in and seen through, apart from the world.

:class:`TabletopEnv` and :class:`TabletopWorld` take a :class:`Rig`; the PyBullet arm of the
``robot`` registry and cameras rendered by PyBullet (:class:`SimulatedRig`) are one choice of it.
A rig for a real cell returns a driver behind :class:`robots.base.Robot` (e.g. a remote arm) and
real cameras behind :class:`embodied.protocols.Camera`, and the same skills, perception and
agent run on them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from embodied import backends
from embodied.protocols import Camera
from embodied.types import CameraInfo
from robots.base import Robot
from sim.tabletop import camera
from sim.tabletop.config import CameraConfig, TabletopConfig

if TYPE_CHECKING:
    from sim.tabletop.world import TabletopWorld


class Rig(Protocol):
    """Attaches a robot and cameras to a freshly built scene (called once per scene build, after
    the table and before the objects, so a simulated arm takes the same body ids every time)."""

    def attach(self, world: TabletopWorld) -> tuple[Robot, list[Camera]]: ...


class RenderedCamera:
    """A configured camera rendered by PyBullet's TinyRenderer in the scene's physics client."""

    def __init__(self, client: int, config: CameraConfig) -> None:
        self.client, self.config = client, config
        self.name = config.name

    def capture(self) -> tuple[dict[str, np.ndarray], CameraInfo]:
        return camera.render(self.client, self.config)


class SimulatedRig:
    """The arm named by ``config.robot.kind`` (the ``robot`` registry; built with ``client``,
    ``step``, ``dt``, ``gripper_force`` and ``max_speed``, it adds itself to the scene's client and
    advances time only through ``step``) and the configured cameras, rendered."""

    def __init__(self, config: TabletopConfig) -> None:
        self.config = config

    def attach(self, world: TabletopWorld) -> tuple[Robot, list[Camera]]:
        robot_cls = backends.registry("robot").get(self.config.robot.kind)
        robot = robot_cls(client=world.client, step=world.step, dt=world.dt,
                          gripper_force=self.config.robot.gripper_force, max_speed=self.config.robot.max_speed)
        return robot, [RenderedCamera(world.client, cam) for cam in self.config.cameras]
