"""Camera backends feed the same perception as the simulator; calibration files apply."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

from embodied import backends
from perception.detection import RGBDDetector
from robots.cameras import Calibration, CameraError, OpenCVCamera, PyBulletCamera, RealSenseCamera, load_calibration
from sim.tabletop.config import TabletopConfig
from sim.tabletop.world import TabletopWorld


def test_every_camera_kind_is_registered() -> None:
    assert {"remote", "opencv", "realsense", "pybullet"} <= {e.name for e in backends.registry("camera")}


def test_a_pybullet_camera_frame_feeds_the_rgbd_detector() -> None:
    world = TabletopWorld(TabletopConfig(objects=[{"name": "red block", "color": "red", "position": [0.5, 0.1]}]))
    try:
        frame = PyBulletCamera("front", world.client).read()
        found = RGBDDetector().detect({"front/rgb": frame.rgb, "front/depth": frame.depth}, {"front": frame.info})
    finally:
        world.close()
    red = next(o for o in found if o.color == "red")
    assert np.hypot(red.position[0] - 0.5, red.position[1] - 0.1) < 0.01


def test_an_opencv_source_is_read_as_rgb_with_its_calibration(tmp_path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    bgr = np.zeros((48, 64, 3), np.uint8)
    bgr[:, :, 2] = 200  # red in BGR
    for _ in range(3):
        writer.write(bgr)
    writer.release()
    calibration = Calibration(64, 48, 50.0, 50.0, 32.0, 24.0, np.eye(4).tolist(), reprojection_px=0.2)
    calibration.save(tmp_path / "cal.yaml")
    camera = OpenCVCamera("usb", str(video), calibration=load_calibration(tmp_path / "cal.yaml"))
    try:
        frame = camera.read()
    finally:
        camera.close()
    assert frame.depth is None
    assert frame.rgb[..., 0].mean() > 150 and frame.rgb[..., 2].mean() < 50  # channels in RGB order
    assert (frame.info.fx, frame.info.cx) == (50.0, 32.0)
    wrong = Calibration(640, 480, 500.0, 500.0, 320.0, 240.0, np.eye(4).tolist())
    camera = OpenCVCamera("usb", str(video), calibration=wrong)
    try:
        with pytest.raises(CameraError, match="64x48"):
            camera.read()
    finally:
        camera.close()


def test_a_missing_device_is_a_typed_error() -> None:
    with pytest.raises(CameraError):
        OpenCVCamera("usb", "/nonexistent/device.avi")


@pytest.mark.skipif(importlib.util.find_spec("pyrealsense2") is not None, reason="pyrealsense2 installed")
def test_realsense_without_its_package_says_how_to_install_it() -> None:
    with pytest.raises(CameraError, match="pyrealsense2"):
        RealSenseCamera("d435")
