"""Camera sources for a real cell, one small protocol: ``read() -> Frame`` (RGB, metric depth when
the device has it, and the pinhole model with the camera's pose in the cell's world frame).

Backends (registered as kind ``camera`` in :mod:`embodied.backends`):

- ``remote``: frames of a camera attached to the robot server (the simulated stand-in renders its
  scene's cameras there).
- ``opencv``: any ``cv2.VideoCapture`` device (USB webcam, video file, stream URL): RGB only.
- ``realsense``: Intel RealSense RGB-D through ``pyrealsense2`` (optional extra ``realsense``,
  imported only when used); depth aligned to colour, intrinsics from the device.
- ``pybullet``: a rendered camera on a PyBullet client (tests, calibration rehearsal).

Intrinsics come from the device when it reports them, else from ``calibration`` (a YAML/JSON file
written by ``embodied robot calibrate``: ``fx, fy, cx, cy, width, height, cam_to_world``), which
also gives the camera's pose; a calibration file overrides the device. Units: metres, pixels.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import yaml

from embodied.errors import ConfigError, EmbodiedError
from embodied.types import CameraInfo


class CameraError(EmbodiedError):
    """A camera could not be opened or delivered no frame."""


@dataclass
class Frame:
    """One capture: ``rgb`` HxWx3 uint8, ``depth`` HxW float32 metres along the optical axis (None
    for a colour-only camera), the camera model, and the capture time (monotonic seconds)."""

    rgb: np.ndarray
    depth: np.ndarray | None
    info: CameraInfo
    time_s: float


@runtime_checkable
class Camera(Protocol):
    name: str

    def read(self) -> Frame: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Calibration:
    """Intrinsics (pixels) and pose (4x4 camera-to-world, OpenCV axes) of one camera, with the
    RMS reprojection error of the calibration that produced them (pixels; None when typed in)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    cam_to_world: list[list[float]]
    dist: list[float] | None = None
    reprojection_px: float | None = None

    def info(self, name: str) -> CameraInfo:
        return CameraInfo(name=name, width=self.width, height=self.height, fx=self.fx, fy=self.fy, cx=self.cx,
                          cy=self.cy, cam_to_world=[list(map(float, row)) for row in self.cam_to_world])

    def save(self, path: Path) -> None:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def load_calibration(path: str | Path) -> Calibration:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return Calibration(**{k: data[k] for k in Calibration.__dataclass_fields__ if k in data})
    except FileNotFoundError as exc:
        raise ConfigError("calibration file not found", file=str(path),
                          hint="run `embodied robot calibrate` or give the camera's intrinsics") from exc
    except (TypeError, KeyError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"not a camera calibration: {exc}", file=str(path)) from exc


def _calibrated(info: CameraInfo, calibration: Calibration | None) -> CameraInfo:
    if calibration is None:
        return info
    if (calibration.width, calibration.height) != (info.width, info.height):
        raise CameraError(f"camera {info.name!r} delivers {info.width}x{info.height} but its calibration is for "
                          f"{calibration.width}x{calibration.height}")
    return calibration.info(info.name)


class RemoteCamera:
    """A camera attached to the robot server, read through ``robot`` (a :class:`RemoteRobot`)."""

    def __init__(self, name: str, robot: Any, calibration: Calibration | None = None) -> None:
        self.name = name
        self._robot = robot
        self._calibration = calibration

    def read(self) -> Frame:
        r = self._robot.camera_frame(self.name)
        return Frame(r["rgb"], r["depth"], _calibrated(r["info"], self._calibration), time.monotonic())

    def close(self) -> None:
        return None


class OpenCVCamera:
    """``cv2.VideoCapture(device)`` at the requested size and rate (the device may pick another:
    the frame's own size is what counts). RGB only; a calibration gives intrinsics and pose."""

    def __init__(self, name: str, device: int | str = 0, width: int = 640, height: int = 480, fps: float = 30.0,
                 calibration: Calibration | None = None) -> None:
        import cv2

        self.name = name
        self._cap = cv2.VideoCapture(device)
        if not self._cap.isOpened():
            raise CameraError(f"camera {name!r}: cannot open video device {device!r}")
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._cap.set(cv2.CAP_PROP_FPS, fps)
        self._calibration = calibration

    def read(self) -> Frame:
        import cv2

        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise CameraError(f"camera {self.name!r} delivered no frame")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        if self._calibration is None:  # no model: a nominal 60 degree camera at the origin
            f = (h / 2) / np.tan(np.radians(30))
            info = CameraInfo(self.name, w, h, f, f, w / 2, h / 2, np.eye(4).tolist())
        else:
            info = _calibrated(CameraInfo(self.name, w, h, 1, 1, 0, 0, np.eye(4).tolist()), self._calibration)
        return Frame(rgb, None, info, time.monotonic())

    def close(self) -> None:
        self._cap.release()


class RealSenseCamera:
    """Intel RealSense colour + depth (aligned to colour) through ``pyrealsense2``; intrinsics from
    the device, pose from ``calibration`` (identity without one). Not tested on hardware here."""

    def __init__(self, name: str, width: int = 640, height: int = 480, fps: int = 30, serial: str | None = None,
                 calibration: Calibration | None = None) -> None:
        try:
            import pyrealsense2 as rs
        except ImportError as exc:
            raise CameraError("the realsense camera needs pyrealsense2: pip install 'embodied[realsense]'") from exc
        self.name = name
        self._rs = rs
        self._pipeline = rs.pipeline()
        config = rs.config()
        if serial:
            config.enable_device(serial)
        config.enable_stream(rs.stream.color, width, height, rs.format.rgb8, fps)
        config.enable_stream(rs.stream.depth, width, height, rs.format.z16, fps)
        try:
            profile = self._pipeline.start(config)
        except RuntimeError as exc:
            raise CameraError(f"camera {name!r}: no RealSense device could stream {width}x{height}@{fps}") from exc
        self._scale = profile.get_device().first_depth_sensor().get_depth_scale()  # metres per unit
        self._align = rs.align(rs.stream.color)
        intr = profile.get_stream(rs.stream.color).as_video_stream_profile().get_intrinsics()
        pose = calibration.cam_to_world if calibration is not None else np.eye(4).tolist()
        self._info = CameraInfo(name, intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy, pose)
        if calibration is not None:
            self._info = _calibrated(self._info, calibration)

    def read(self) -> Frame:
        frames = self._align.process(self._pipeline.wait_for_frames(5000))
        color, depth = frames.get_color_frame(), frames.get_depth_frame()
        if not color or not depth:
            raise CameraError(f"camera {self.name!r} delivered no frame")
        rgb = np.asanyarray(color.get_data()).copy()
        metres = np.asanyarray(depth.get_data()).astype(np.float32) * self._scale
        return Frame(rgb, metres, self._info, time.monotonic())

    def close(self) -> None:
        self._pipeline.stop()


class PyBulletCamera:
    """A rendered camera on PyBullet client ``client`` (see ``sim.tabletop.camera``): exact
    intrinsics and pose, metric depth."""

    def __init__(self, name: str, client: int, width: int = 320, height: int = 240, fov_deg: float = 60.0,
                 eye: tuple[float, float, float] = (1.15, 0.0, 0.75),
                 target: tuple[float, float, float] = (0.52, 0.0, 0.0),
                 up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> None:
        from sim.tabletop.config import CameraConfig

        self.name = name
        self.client = client
        self.config = CameraConfig(name=name, width=width, height=height, fov_deg=fov_deg, eye=eye, target=target,
                                   up=up)

    def read(self) -> Frame:
        from sim.tabletop import camera

        images, info = camera.render(self.client, self.config, seg=False)
        return Frame(images["rgb"], images["depth"], info, time.monotonic())

    def close(self) -> None:
        return None


def with_pose(frame: Frame, cam_to_world: np.ndarray) -> Frame:
    return replace(frame, info=replace(frame.info, cam_to_world=np.asarray(cam_to_world).tolist()))
