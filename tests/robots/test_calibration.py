"""ChArUco calibration end to end on a board rendered in PyBullet from known poses."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from robots.calibration import (
    CalibrationError,
    calibrate_command,
    hand_eye,
    load_calibrate_config,
    pose_error,
)
from robots.cameras import load_calibration
from sim.tabletop.camera import look_at

ROOT = Path(__file__).resolve().parents[2]


def _random_pose(rng: np.random.Generator, tilt: float = 0.6) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = cv2.Rodrigues(rng.normal(size=3) * tilt)[0]
    pose[:3, 3] = rng.uniform(-0.3, 0.3, 3)
    return pose


def test_hand_eye_recovers_an_exact_transform_from_noise_free_motions() -> None:
    rng = np.random.default_rng(1)
    cam_to_gripper = _random_pose(rng)
    target_to_base = _random_pose(rng)
    grips = [_random_pose(rng) for _ in range(8)]
    targets = [np.linalg.inv(cam_to_gripper) @ np.linalg.inv(g) @ target_to_base for g in grips]
    solved = hand_eye([g[:3, :3] for g in grips], [g[:3, 3] for g in grips], [t[:3, :3] for t in targets],
                      [t[:3, 3] for t in targets])
    dt, dr = pose_error(solved, cam_to_gripper)
    assert dt < 1e-6 and dr < 1e-4


def test_turns_about_one_axis_only_are_refused(monkeypatch) -> None:
    monkeypatch.delattr(cv2, "calibrateHandEye", raising=False)
    rng = np.random.default_rng(2)
    grips = []
    for _ in range(6):
        g = np.eye(4)
        g[:3, :3] = cv2.Rodrigues(np.array([0.0, 0.0, rng.uniform(-1, 1)]))[0]
        g[:3, 3] = rng.uniform(-0.2, 0.2, 3)
        grips.append(g)
    with pytest.raises(CalibrationError, match="one axis"):
        hand_eye([g[:3, :3] for g in grips], [g[:3, 3] for g in grips], [g[:3, :3] for g in grips],
                 [g[:3, 3] for g in grips])


@pytest.mark.slow
def test_calibrate_recovers_the_rendered_camera_within_5_mm_and_1_degree(tmp_path, capsys) -> None:
    config = tmp_path / "calibrate.yaml"
    data = yaml.safe_load((ROOT / "configs/robot/calibrate_sim.yaml").read_text())
    data["output"] = "calibration/front.yaml"
    data["robot_config"] = "stack.yaml"
    config.write_text(yaml.safe_dump(data))
    shutil.copy(ROOT / "configs/robot/stack.yaml", tmp_path / "stack.yaml")
    assert calibrate_command(config) == 0
    printed = capsys.readouterr().out
    assert "RMS reprojection error" in printed

    calibration = load_calibration(tmp_path / "calibration/front.yaml")
    render = load_calibrate_config(config).samples.render
    truth = look_at(render.eye, render.target, (0.0, 0.0, 1.0))
    dt, dr = pose_error(np.asarray(calibration.cam_to_world), truth)
    assert dt <= 0.005, f"{dt * 1000:.2f} mm"
    assert dr <= 1.0, f"{dr:.3f} deg"
    f_true = (render.height / 2) / math.tan(math.radians(render.fov_deg) / 2)
    assert calibration.fy == pytest.approx(f_true, rel=0.01)
    assert calibration.reprojection_px is not None and calibration.reprojection_px < 1.0
    robot = yaml.safe_load((tmp_path / "stack.yaml").read_text())
    assert robot["env"]["cameras"][0]["calibration"] == "calibration/front.yaml"
