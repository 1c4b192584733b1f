"""Render a PyBullet camera into RGB, metric depth and a segmentation mask, with its pinhole model.

The camera model follows OpenCV: pixel (u, v) has its centre at integer coordinates, u to the
right and v down; camera axes x right, y down, z forward. ``render`` returns the intrinsics and
the camera-to-world pose in those axes, so perception can back-project pixels to world points in
metres without knowing anything about PyBullet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pybullet as p

from embodied.types import CameraInfo
from sim.tabletop.config import CameraConfig

_OBJECT_ID_BITS = (1 << 24) - 1  # pybullet packs (link index + 1) above bit 24 when asked to


def camera_info(cam: CameraConfig) -> CameraInfo:
    """The pinhole model of ``cam`` as rendered by :func:`render`: square pixels, vertical field
    of view ``cam.fov_deg``.

    The principal point is (W/2, H/2 - 1), not the textbook ((W-1)/2, (H-1)/2): the TinyRenderer
    samples each pixel at its corner rather than its centre, and PyBullet flips the rows. Measured
    on a flat floor at z = 0 and a box top at z = 0.1 m: this choice back-projects both exactly,
    the textbook one is off by half a pixel in each direction (1-3 mm at 320x240).
    """
    fy = (cam.height / 2.0) / math.tan(math.radians(cam.fov_deg) / 2.0)
    return CameraInfo(
        name=cam.name,
        width=cam.width,
        height=cam.height,
        fx=fy,
        fy=fy,
        cx=cam.width / 2.0,
        cy=cam.height / 2.0 - 1.0,
        cam_to_world=look_at(cam.eye, cam.target, cam.up).tolist(),
    )


def look_at(eye: Sequence[float], target: Sequence[float], up: Sequence[float]) -> np.ndarray:
    """4x4 camera-to-world pose in OpenCV axes for a camera at ``eye`` looking at ``target``.

    Same construction as gluLookAt (and ``p.computeViewMatrix``), re-expressed with y down and
    z forward. Raises ValueError when ``up`` is parallel to the viewing direction.
    """
    eye_v = np.asarray(eye, dtype=float)
    forward = np.asarray(target, dtype=float) - eye_v
    norm = np.linalg.norm(forward)
    if norm < 1e-9:
        raise ValueError("camera eye and target coincide")
    forward /= norm
    right = np.cross(forward, np.asarray(up, dtype=float))
    rnorm = np.linalg.norm(right)
    if rnorm < 1e-9:
        raise ValueError("camera up vector is parallel to the viewing direction")
    right /= rnorm
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye_v
    return pose


def render(
    client: int,
    cam: CameraConfig,
    seg: bool = True,
    light_direction: Sequence[float] | None = None,
) -> tuple[dict[str, np.ndarray], CameraInfo]:
    """Render ``cam`` on physics client ``client`` with the TinyRenderer (works headless).

    Returns ``{"rgb": HxWx3 uint8, "depth": HxW float32 metres along the optical axis,
    "seg": HxW int32 body unique id or -1}`` (no ``"seg"`` when ``seg`` is False) and the
    :class:`CameraInfo`. ``light_direction`` is a world-frame vector towards the light
    (PyBullet's default when None).
    """
    view = p.computeViewMatrix(list(cam.eye), list(cam.target), list(cam.up))
    proj = p.computeProjectionMatrixFOV(cam.fov_deg, cam.width / cam.height, cam.near, cam.far)
    flags = 0 if seg else p.ER_NO_SEGMENTATION_MASK
    extra = {} if light_direction is None else {"lightDirection": list(light_direction)}
    _, _, rgba, zbuf, mask = p.getCameraImage(
        cam.width, cam.height, viewMatrix=view, projectionMatrix=proj,
        renderer=p.ER_TINY_RENDERER, flags=flags, physicsClientId=client, **extra)
    shape = (cam.height, cam.width)
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(*shape, 4)[:, :, :3].copy()
    images = {"rgb": rgb, "depth": linearize_depth(np.asarray(zbuf, dtype=np.float32).reshape(shape),
                                                   cam.near, cam.far)}
    if seg:
        images["seg"] = decode_segmentation(np.asarray(mask).reshape(shape))
    return images, camera_info(cam)


def linearize_depth(zbuf: np.ndarray, near: float, far: float) -> np.ndarray:
    """OpenGL z-buffer values in [0, 1] -> metric depth along the optical axis (float32, metres)."""
    z = zbuf.astype(np.float64)
    return (far * near / (far - (far - near) * z)).astype(np.float32)


def decode_segmentation(mask: np.ndarray) -> np.ndarray:
    """PyBullet segmentation values -> body unique ids (int32), -1 for background.

    Accepts both the plain object id and the ``ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX``
    packing (``id + ((link + 1) << 24)``), keeping only the object id.
    """
    m = mask.astype(np.int64)
    return np.where(m < 0, -1, m & _OBJECT_ID_BITS).astype(np.int32)


def backproject(u: np.ndarray | float, v: np.ndarray | float, depth: np.ndarray | float,
                info: CameraInfo) -> np.ndarray:
    """World xyz (metres) of pixel (u, v) at optical-axis ``depth``. Vectorised: arrays of any
    matching shape give an array of shape ``shape + (3,)``; scalars give shape (3,)."""
    u_a, v_a, d_a = np.broadcast_arrays(np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64),
                                        np.asarray(depth, dtype=np.float64))
    cam = np.stack([(u_a - info.cx) * d_a / info.fx, (v_a - info.cy) * d_a / info.fy, d_a], axis=-1)
    pose = np.asarray(info.cam_to_world, dtype=np.float64)
    return cam @ pose[:3, :3].T + pose[:3, 3]
