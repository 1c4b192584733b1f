"""Tiny PyBullet scenes with known ground truth, for perception tests (no world/env needed).

Each scene runs in its own DIRECT client; the plane is the table top at z = 0. Bodies are static
(mass 0) and placed exactly, so the truth is the configured pose.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import pybullet as p
import pybullet_data

from embodied.types import CameraInfo
from sim.tabletop.camera import render
from sim.tabletop.config import PALETTE, CameraConfig


@dataclass
class Truth:
    name: str
    color: str
    shape: str
    position: tuple[float, float, float]  # centre
    size: tuple[float, float, float]
    yaw: float
    body: int


@dataclass
class Scene:
    client: int
    objects: list[Truth] = field(default_factory=list)
    robot: int | None = None

    @classmethod
    def create(cls, robot: bool = False, robot_joints: list[float] | None = None) -> Scene:
        client = p.connect(p.DIRECT)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
        p.loadURDF("plane.urdf", physicsClientId=client)
        scene = cls(client)
        if robot:
            scene.robot = p.loadURDF("franka_panda/panda.urdf", useFixedBase=True, physicsClientId=client)
            for j, q in enumerate(robot_joints or []):
                p.resetJointState(scene.robot, j if j < 7 else j + 2, q, physicsClientId=client)
        return scene

    def close(self) -> None:
        if p.isConnected(self.client):
            p.disconnect(self.client)

    def __enter__(self) -> Scene:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------
    def _body(self, parts: list[tuple[int, dict]], base: tuple[float, float, float], yaw: float) -> int:
        """One static multibody made of visual+collision primitives given in the object's frame."""
        vis, col, pos = [], [], []
        for geom, kw in parts:
            offset = kw.pop("offset", (0.0, 0.0, 0.0))
            rgba = kw.pop("rgba")
            vis.append(p.createVisualShape(geom, rgbaColor=rgba, visualFramePosition=offset,
                                           physicsClientId=self.client, **kw))
            kw_col = {k: v for k, v in kw.items() if k != "length"}
            if geom == p.GEOM_CYLINDER:
                kw_col["height"] = kw["length"]
            col.append(p.createCollisionShape(geom, collisionFramePosition=offset, physicsClientId=self.client,
                                              **kw_col))
            pos.append(offset)
        if len(parts) == 1:
            return p.createMultiBody(0, col[0], vis[0], base, p.getQuaternionFromEuler([0, 0, yaw]),
                                     physicsClientId=self.client)
        n = len(parts) - 1
        return p.createMultiBody(0, col[0], vis[0], base, p.getQuaternionFromEuler([0, 0, yaw]),
                                 linkMasses=[0] * n, linkCollisionShapeIndices=col[1:], linkVisualShapeIndices=vis[1:],
                                 linkPositions=[(0, 0, 0)] * n, linkOrientations=[(0, 0, 0, 1)] * n,
                                 linkInertialFramePositions=[(0, 0, 0)] * n,
                                 linkInertialFrameOrientations=[(0, 0, 0, 1)] * n, linkParentIndices=[0] * n,
                                 linkJointTypes=[p.JOINT_FIXED] * n, linkJointAxis=[(0, 0, 1)] * n,
                                 physicsClientId=self.client)

    def add(self, shape: str, color: str, xy: tuple[float, float], size: tuple[float, float, float] | None = None,
            yaw: float = 0.0, z_bottom: float = 0.0, name: str | None = None) -> Truth:
        """Place one object with its bottom at ``z_bottom``; returns its ground truth."""
        default = {"cube": (0.04, 0.04, 0.04), "cylinder": (0.04, 0.04, 0.05), "plate": (0.12, 0.12, 0.005),
                   "bowl": (0.14, 0.14, 0.05), "tray": (0.18, 0.18, 0.04)}
        dx, dy, dz = size or default[shape]
        rgba = [*PALETTE[color], 1.0]
        centre = (xy[0], xy[1], z_bottom + dz / 2)
        if shape in ("cube", "plate"):
            parts = [(p.GEOM_BOX, {"halfExtents": [dx / 2, dy / 2, dz / 2], "rgba": rgba})]
        elif shape == "cylinder":
            parts = [(p.GEOM_CYLINDER, {"radius": dx / 2, "length": dz, "rgba": rgba})]
        elif shape == "bowl":  # a disc and a ring of wall slabs, each slab its own static body
            return self._bowl(color, centre, (dx, dy, dz), 0.006, 16, name)
        elif shape == "tray":
            wall = 0.008
            parts = [(p.GEOM_BOX, {"halfExtents": [dx / 2, dy / 2, 0.004], "rgba": rgba,
                                   "offset": (0, 0, -dz / 2 + 0.004)})]
            for sx, sy, hx, hy in ((1, 0, wall / 2, dy / 2), (-1, 0, wall / 2, dy / 2),
                                   (0, 1, dx / 2, wall / 2), (0, -1, dx / 2, wall / 2)):
                parts.append((p.GEOM_BOX, {"halfExtents": [hx, hy, dz / 2], "rgba": rgba,
                                           "offset": (sx * (dx / 2 - wall / 2), sy * (dy / 2 - wall / 2), 0.0)}))
        else:
            raise ValueError(shape)
        body = self._body(parts, centre, yaw)
        truth = Truth(name or f"{color} {shape}", color, shape, centre, (dx, dy, dz), yaw, body)
        self.objects.append(truth)
        return truth

    def _bowl(self, color: str, centre: tuple[float, float, float], size: tuple[float, float, float],
              wall: float, k: int, name: str | None) -> Truth:
        dx, _, dz = size
        rgba = [*PALETTE[color], 1.0]
        base = self._body([(p.GEOM_CYLINDER, {"radius": dx / 2, "length": 0.006, "rgba": rgba})],
                          (centre[0], centre[1], centre[2] - dz / 2 + 0.003), 0.0)
        r = dx / 2 - wall / 2
        seg_len = 2 * r * math.tan(math.pi / k) + wall
        for i in range(k):
            a = 2 * math.pi * i / k
            self._body([(p.GEOM_BOX, {"halfExtents": [wall / 2, seg_len / 2, dz / 2], "rgba": rgba})],
                       (centre[0] + r * math.cos(a), centre[1] + r * math.sin(a), centre[2]), a)
        truth = Truth(name or f"{color} bowl", color, "bowl", centre, size, 0.0, base)
        self.objects.append(truth)
        return truth

    def render(self, cam: CameraConfig | None = None) -> tuple[dict[str, np.ndarray], dict[str, CameraInfo]]:
        """Images keyed "<camera>/rgb|depth|seg" and cameras keyed by name, as observations carry them."""
        cam = cam or CameraConfig()
        images, info = render(self.client, cam)
        return {f"{cam.name}/{k}": v for k, v in images.items()}, {cam.name: info}


def random_scene(seed: int, n: int = 5, shapes: tuple[str, ...] = ("cube", "cylinder", "plate"),
                 colors: tuple[str, ...] | None = None, robot: bool = False) -> Scene:
    """``n`` objects with distinct colours at random non-overlapping poses in the default table
    region (x 0.35-0.70, y -0.25-0.25)."""
    rng = random.Random(seed)
    scene = Scene.create(robot=robot)
    palette = list(colors or PALETTE)
    rng.shuffle(palette)
    placed: list[tuple[float, float, float]] = []
    for i in range(n):
        shape = rng.choice(shapes)
        if shape == "cube":
            s = rng.uniform(0.035, 0.05)
            size = (s, s, s)
        elif shape == "cylinder":
            d = rng.uniform(0.035, 0.05)
            size = (d, d, rng.uniform(0.04, 0.06))
        else:
            s = rng.uniform(0.09, 0.13)
            size = (s, s, 0.005)
        radius = max(size[:2]) * 0.75
        for _ in range(200):
            x, y = rng.uniform(0.35, 0.70), rng.uniform(-0.25, 0.25)
            if all(math.hypot(x - px, y - py) > radius + pr + 0.02 for px, py, pr in placed):
                break
        placed.append((x, y, radius))
        scene.add(shape, palette[i % len(palette)], (x, y), size, yaw=rng.uniform(-math.pi, math.pi))
    return scene
