"""Camera rendering and back-projection against a scene with known geometry."""

from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest

from sim.tabletop.camera import backproject, camera_info, decode_segmentation, linearize_depth, look_at, render
from sim.tabletop.config import CameraConfig


@pytest.fixture()
def scene():
    """Plane at z = 0 and two boxes in their own DIRECT client."""
    client = p.connect(p.DIRECT)
    plane = p.createMultiBody(0, -1, p.createVisualShape(p.GEOM_BOX, halfExtents=[2, 2, 0.05],
                                                         rgbaColor=[0.6, 0.6, 0.6, 1], physicsClientId=client),
                              [0, 0, -0.05], physicsClientId=client)
    boxes = {}
    for name, xy, yaw, rgba in (("red", (0.50, 0.10), 0.3, [0.85, 0.1, 0.1, 1]),
                                ("blue", (0.60, -0.12), 0.0, [0.1, 0.25, 0.9, 1])):
        vs = p.createVisualShape(p.GEOM_BOX, halfExtents=[0.02] * 3, rgbaColor=rgba, physicsClientId=client)
        boxes[name] = (p.createMultiBody(0, -1, vs, [xy[0], xy[1], 0.02], p.getQuaternionFromEuler([0, 0, yaw]),
                                         physicsClientId=client), xy)
    yield client, plane, boxes
    p.disconnect(client)


def test_render_shapes_types_and_intrinsics(scene):
    client, _, _ = scene
    cam = CameraConfig()
    images, info = render(client, cam)
    assert images["rgb"].shape == (240, 320, 3) and images["rgb"].dtype == np.uint8
    assert images["depth"].shape == (240, 320) and images["depth"].dtype == np.float32
    assert images["seg"].dtype == np.int32
    assert info.fx == pytest.approx(120 / math.tan(math.radians(30)))
    assert (info.width, info.height) == (320, 240)
    assert cam.near <= images["depth"].min() and images["depth"].max() <= cam.far
    no_seg, _ = render(client, cam, seg=False)
    assert "seg" not in no_seg
    np.testing.assert_array_equal(no_seg["rgb"], images["rgb"])


def test_top_faces_backproject_to_known_positions(scene):
    client, plane, boxes = scene
    images, info = render(client, CameraConfig())
    v, u = np.mgrid[0:info.height, 0:info.width]
    world = backproject(u, v, images["depth"], info)
    floor = world[images["seg"] == plane]
    assert np.abs(floor[:, 2]).max() < 1e-3  # the table plane comes back at z = 0
    for body, (x, y) in boxes.values():
        pts = world[images["seg"] == body]
        top = pts[pts[:, 2] > 0.038]
        assert len(top) > 10
        assert np.abs(top[:, 2] - 0.04).max() < 2e-3
        # the top face's pixels lie inside the face: centre within a few mm, extent within the cube
        assert math.hypot(top[:, 0].mean() - x, top[:, 1].mean() - y) < 0.005
        assert np.hypot(top[:, 0] - x, top[:, 1] - y).max() < 0.02 * math.sqrt(2) + 0.002


def test_image_orientation_follows_frame_convention(scene):
    """+y (robot's left) appears on the image right for the default camera facing the robot."""
    client, _, boxes = scene
    images, _ = render(client, CameraConfig())
    cols = {name: np.nonzero(images["seg"] == body)[1].mean() for name, (body, _) in boxes.items()}
    assert cols["red"] > cols["blue"]  # red at y = +0.10, blue at y = -0.12


def test_backproject_scalar_and_camera_pose():
    info = camera_info(CameraConfig())
    pose = np.asarray(info.cam_to_world)
    np.testing.assert_allclose(pose[:3, 3], (1.15, 0.0, 0.75))
    # the optical axis looks at the target
    axis = backproject(info.cx, info.cy, 1.0, info) - pose[:3, 3]
    want = np.array([0.52 - 1.15, 0.0, -0.75])
    np.testing.assert_allclose(axis, want / np.linalg.norm(want), atol=1e-9)
    assert backproject(np.zeros((2, 3)), np.zeros((2, 3)), np.ones((2, 3)), info).shape == (2, 3, 3)


def test_look_at_rejects_degenerate_up():
    with pytest.raises(ValueError):
        look_at((0, 0, 1), (0, 0, 0), (0, 0, 1))


def test_depth_and_segmentation_decoding():
    z = np.array([0.0, 1.0], dtype=np.float32)
    np.testing.assert_allclose(linearize_depth(z, 0.1, 2.0), [0.1, 2.0], rtol=1e-6)
    packed = np.array([-1, 5, 5 + (3 << 24)])
    np.testing.assert_array_equal(decode_segmentation(packed), [-1, 5, 5])
