"""Camera calibration with a ChArUco board: intrinsics (``cv2.calibrateCamera`` on the board's
corners) and the camera-to-robot transform (``cv2.calibrateHandEye``).

Two set-ups, as OpenCV names them: ``eye_to_hand`` (a fixed camera, the board carried by the
gripper: the result is the camera's pose in the robot base frame, ``cam_to_world``) and
``eye_in_hand`` (the camera on the gripper, the board fixed: the result is the camera's pose in
the gripper frame). Each sample is one image and the gripper's full pose in the base frame (4x4,
metres); hand-eye needs rotations about at least two different axes, so the samples must tilt
the board, not only turn it about the vertical.

Samples come from a directory (``NN.png`` + ``poses.yaml`` listing ``gripper_to_base`` per image,
recorded with the arm's own software) or are rendered in PyBullet from known poses (a textured
plane carrying the generated board), which is how the whole procedure is tested. The result
(intrinsics, distortion, pose, RMS reprojection error in pixels) is written as a
:class:`~robots.cameras.Calibration` file, and the robot config's camera entry is pointed at it.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import yaml
from pydantic import Field, ValidationError

from embodied.config import StrictModel, load_config_data, validation_error
from embodied.errors import ConfigError, EmbodiedError
from robots.cameras import Calibration

MIN_CORNERS = 6  # a view with fewer detected ChArUco corners is skipped
MIN_VIEWS = 5


class CalibrationError(EmbodiedError):
    """Too few usable views, or a board the detector cannot find."""


class BoardConfig(StrictModel):
    squares: tuple[int, int] = (7, 5)
    square_m: float = Field(default=0.04, gt=0)
    marker_m: float = Field(default=0.03, gt=0)
    dictionary: str = "DICT_5X5_100"

    def board(self) -> cv2.aruco.CharucoBoard:
        if not hasattr(cv2.aruco, self.dictionary):
            raise ConfigError(f"unknown ArUco dictionary {self.dictionary!r}", field="board.dictionary",
                              hint="e.g. DICT_5X5_100, DICT_4X4_50")
        if self.marker_m >= self.square_m:
            raise ConfigError("markers must be smaller than squares", field="board.marker_m")
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        return cv2.aruco.CharucoBoard(tuple(self.squares), self.square_m, self.marker_m, dictionary)


class RenderSamples(StrictModel):
    """Render the board in PyBullet, carried by a virtual gripper through random tilted poses,
    seen by a fixed camera (eye to hand) whose true pose is known."""

    views: int = Field(default=12, ge=MIN_VIEWS, le=100)
    seed: int = 0
    width: int = 1024
    height: int = 768
    fov_deg: float = 60.0
    eye: tuple[float, float, float] = (1.15, 0.0, 0.75)
    target: tuple[float, float, float] = (0.52, 0.0, 0.0)
    centre: tuple[float, float, float] = (0.75, 0.0, 0.3)  # about 0.55 m from the camera: the board fills the view
    tilt_deg: float = 45.0
    spread_m: float = 0.08
    supersample: int = Field(default=1, ge=1, le=4, description="render this many times larger, then average down")


class SampleSource(StrictModel):
    dir: str | None = None
    render: RenderSamples | None = None


class CalibrateConfig(StrictModel):
    board: BoardConfig = Field(default_factory=BoardConfig)
    mode: Literal["eye_to_hand", "eye_in_hand"] = "eye_to_hand"
    samples: SampleSource
    output: str = Field(description="calibration file to write (relative to this config)")
    robot_config: str | None = Field(default=None, description="robot config whose camera entry gets the file")
    camera: str = "front"


@dataclass
class Sample:
    image: np.ndarray  # HxWx3 uint8 RGB
    gripper_to_base: np.ndarray  # 4x4, metres


@dataclass
class CalibrationResult:
    calibration: Calibration
    camera_pose: np.ndarray  # 4x4: cam_to_base (eye to hand) or cam_to_gripper (eye in hand)
    rms_px: float
    views_used: int
    views_skipped: int


def _transform(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = np.ravel(translation)
    return out


def detect(board: cv2.aruco.CharucoBoard, image: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(object points Nx3 in the board frame, image points Nx2) of the visible ChArUco corners."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    corners, ids, _, _ = cv2.aruco.CharucoDetector(board).detectBoard(gray)
    if ids is None or len(ids) < MIN_CORNERS:
        return None
    objects = board.getChessboardCorners()[ids.ravel()]
    return objects.astype(np.float32), corners.reshape(-1, 2).astype(np.float32)


def calibrate(samples: list[Sample], board: cv2.aruco.CharucoBoard,
              mode: Literal["eye_to_hand", "eye_in_hand"] = "eye_to_hand") -> CalibrationResult:
    """Intrinsics from every view that shows enough of the board, then the hand-eye transform."""
    if not samples:
        raise CalibrationError("no samples")
    height, width = samples[0].image.shape[:2]
    found = [(s, detect(board, s.image)) for s in samples]
    used = [(s, d) for s, d in found if d is not None]
    if len(used) < MIN_VIEWS:
        raise CalibrationError(f"the board was found in {len(used)} of {len(samples)} views; at least "
                               f"{MIN_VIEWS} are needed (is the board in view and the dictionary right?)")
    objects = [d[0] for _, d in used]
    points = [d[1] for _, d in used]
    rms, matrix, dist, rvecs, tvecs = cv2.calibrateCamera(objects, points, (width, height), None, None,
                                                          flags=cv2.CALIB_FIX_K3)
    grip_r, grip_t, target_r, target_t = [], [], [], []
    for (sample, _), rvec, tvec in zip(used, rvecs, tvecs):
        g2b = sample.gripper_to_base
        if mode == "eye_to_hand":  # OpenCV: pass base-to-gripper, get camera-to-base
            g2b = np.linalg.inv(g2b)
        grip_r.append(g2b[:3, :3])
        grip_t.append(g2b[:3, 3])
        target_r.append(cv2.Rodrigues(rvec)[0])
        target_t.append(tvec.ravel())
    pose = hand_eye(grip_r, grip_t, target_r, target_t)
    cam_to_world = pose if mode == "eye_to_hand" else np.eye(4)
    calibration = Calibration(width=width, height=height, fx=float(matrix[0, 0]), fy=float(matrix[1, 1]),
                              cx=float(matrix[0, 2]), cy=float(matrix[1, 2]),
                              cam_to_world=[[float(v) for v in row] for row in cam_to_world],
                              dist=[float(v) for v in np.ravel(dist)], reprojection_px=float(rms))
    return CalibrationResult(calibration, pose, float(rms), len(used), len(samples) - len(used))


def hand_eye(grip_r: list[np.ndarray], grip_t: list[np.ndarray], target_r: list[np.ndarray],
             target_t: list[np.ndarray]) -> np.ndarray:
    """Solve AX = XB for the 4x4 camera-to-gripper pose, with OpenCV's argument convention.

    Uses ``cv2.calibrateHandEye`` (Park-Martin) where the OpenCV build has it; the opencv-python 5.0
    wheels dropped it from the bindings, so the same Park-Martin closed form is computed here
    otherwise: rotation from the axis-angle vectors of every pair of relative motions, translation
    by least squares."""
    if hasattr(cv2, "calibrateHandEye"):
        rotation, translation = cv2.calibrateHandEye(grip_r, grip_t, target_r, target_t,
                                                     method=cv2.CALIB_HAND_EYE_PARK)
        return _transform(rotation, translation)
    grips = [_transform(r, t) for r, t in zip(grip_r, grip_t)]
    targets = [_transform(r, t) for r, t in zip(target_r, target_t)]
    motions = []
    for i in range(len(grips)):
        for j in range(i + 1, len(grips)):
            a = np.linalg.inv(grips[j]) @ grips[i]
            b = targets[j] @ np.linalg.inv(targets[i])
            motions.append((a, b))
    m = np.zeros((3, 3))
    for a, b in motions:
        alpha = cv2.Rodrigues(a[:3, :3])[0].ravel()
        beta = cv2.Rodrigues(b[:3, :3])[0].ravel()
        m += np.outer(beta, alpha)
    values, vectors = np.linalg.eigh(m.T @ m)
    if values.min() <= 1e-12:
        raise CalibrationError("the samples turn the gripper about one axis only: tilt it about another too")
    rotation = vectors @ np.diag(values ** -0.5) @ vectors.T @ m.T
    lhs = np.vstack([a[:3, :3] - np.eye(3) for a, _ in motions])
    rhs = np.concatenate([rotation @ b[:3, 3] - a[:3, 3] for a, b in motions])
    translation = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    return _transform(rotation, translation)


def pose_error(estimate: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(translation error in metres, rotation error in degrees) between two 4x4 poses."""
    delta = np.linalg.inv(truth) @ estimate
    angle = math.degrees(math.acos(max(-1.0, min(1.0, (np.trace(delta[:3, :3]) - 1) / 2))))
    return float(np.linalg.norm(estimate[:3, 3] - truth[:3, 3])), angle


# -- rendered samples ---------------------------------------------------------------------------


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    return cv2.Rodrigues(np.asarray(axis, dtype=float) * angle)[0]


def render_samples(cfg: RenderSamples, board_cfg: BoardConfig) -> tuple[list[Sample], np.ndarray]:
    """Images of the board carried by a virtual gripper, and the camera's true pose (4x4
    camera-to-base, OpenCV axes). The board sits at a fixed, unknown-to-the-solver offset from the
    gripper; gripper poses are random tilts and turns of a board facing the camera."""
    import pybullet as p

    from sim.tabletop import camera
    from sim.tabletop.config import CameraConfig

    board = board_cfg.board()
    cols, rows = board_cfg.squares
    w_m, h_m = cols * board_cfg.square_m, rows * board_cfg.square_m
    rng = np.random.default_rng(cfg.seed)
    # Rendered larger and averaged down, as a sensor integrates light over each pixel (the
    # TinyRenderer samples one point per pixel: jagged edges bias corner positions).
    k = cfg.supersample
    cam = CameraConfig(name="calib", width=cfg.width * k, height=cfg.height * k, fov_deg=cfg.fov_deg, eye=cfg.eye,
                       target=cfg.target, near=0.05, far=3.0)
    truth = camera.look_at(cfg.eye, cfg.target, (0.0, 0.0, 1.0))
    client = p.connect(p.DIRECT)
    with tempfile.TemporaryDirectory() as tmp:
        texture = os.path.join(tmp, "board.png")
        cv2.imwrite(texture, board.generateImage((cols * 200, rows * 200), marginSize=0))
        mesh = os.path.join(tmp, "board.obj")
        # A quad centred on its origin, normal +z, texture upright (no mirror: markers stay readable).
        Path(mesh).write_text(
            f"v {-w_m / 2} {h_m / 2} 0\nv {w_m / 2} {h_m / 2} 0\nv {w_m / 2} {-h_m / 2} 0\nv {-w_m / 2} {-h_m / 2} 0\n"
            "vt 0 1\nvt 1 1\nvt 1 0\nvt 0 0\nvn 0 0 1\nf 1/1/1 4/4/1 3/3/1\nf 1/1/1 3/3/1 2/2/1\n", encoding="utf-8")
        try:
            shape = p.createVisualShape(p.GEOM_MESH, fileName=mesh, physicsClientId=client)
            body = p.createMultiBody(0, -1, shape, physicsClientId=client)
            p.changeVisualShape(body, -1, textureUniqueId=p.loadTexture(texture, physicsClientId=client),
                                rgbaColor=[1, 1, 1, 1], physicsClientId=client)
            # Board frame facing the camera: z towards the eye, x roughly horizontal.
            normal = np.subtract(cfg.eye, cfg.centre)
            normal /= np.linalg.norm(normal)
            x_axis = np.cross((0.0, 0.0, 1.0), normal)
            x_axis /= np.linalg.norm(x_axis)
            facing = np.column_stack([x_axis, np.cross(normal, x_axis), normal])
            board_to_gripper = _transform(_rotation(np.array([0.3, -0.2, 1.0]) / 1.063, 0.4), [0.02, -0.015, 0.09])
            samples = []
            for _ in range(cfg.views):
                tilt_axis = rng.normal(size=3)
                tilt_axis[2] = 0.0
                tilt = _rotation(tilt_axis / np.linalg.norm(tilt_axis), math.radians(rng.uniform(8, cfg.tilt_deg)))
                turn = _rotation(np.array([0.0, 0.0, 1.0]), math.radians(rng.uniform(-30, 30)))
                board_to_base = _transform(facing @ tilt @ turn, np.add(cfg.centre, rng.uniform(-1, 1, 3) *
                                                                       cfg.spread_m))
                quat = _quaternion(board_to_base[:3, :3])
                p.resetBasePositionAndOrientation(body, board_to_base[:3, 3].tolist(), quat, physicsClientId=client)
                images, _ = camera.render(client, cam, seg=False)
                rgb = cv2.resize(images["rgb"], (cfg.width, cfg.height), interpolation=cv2.INTER_AREA)
                samples.append(Sample(rgb, board_to_base @ np.linalg.inv(board_to_gripper)))
        finally:
            p.disconnect(physicsClientId=client)
    return samples, truth


def _quaternion(rotation: np.ndarray) -> list[float]:
    """xyzw quaternion of a rotation matrix (PyBullet's order)."""
    m = rotation
    w = math.sqrt(max(0.0, 1 + m[0, 0] + m[1, 1] + m[2, 2])) / 2
    x = math.copysign(math.sqrt(max(0.0, 1 + m[0, 0] - m[1, 1] - m[2, 2])) / 2, m[2, 1] - m[1, 2])
    y = math.copysign(math.sqrt(max(0.0, 1 - m[0, 0] + m[1, 1] - m[2, 2])) / 2, m[0, 2] - m[2, 0])
    z = math.copysign(math.sqrt(max(0.0, 1 - m[0, 0] - m[1, 1] + m[2, 2])) / 2, m[1, 0] - m[0, 1])
    return [x, y, z, w]


def load_samples(directory: Path) -> list[Sample]:
    """``poses.yaml``: ``{images: [{file: 00.png, gripper_to_base: 4x4}, ...]}`` (metres)."""
    index = directory / "poses.yaml"
    try:
        entries = yaml.safe_load(index.read_text(encoding="utf-8"))["images"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the sample index: {exc}", file=str(index)) from exc
    samples = []
    for i, entry in enumerate(entries):
        image = cv2.imread(str(directory / entry["file"]))
        if image is None:
            raise ConfigError(f"cannot read image {entry['file']!r}", file=str(index), field=f"images.{i}.file")
        samples.append(Sample(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), np.asarray(entry["gripper_to_base"], float)))
    return samples


# -- the command --------------------------------------------------------------------------------


def load_calibrate_config(path: Path) -> CalibrateConfig:
    data, lines = load_config_data(path)
    try:
        return CalibrateConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, CalibrateConfig, (), lines, str(path)) from exc


def point_robot_config(robot_config: Path, camera_name: str, calibration_file: Path) -> None:
    """Set ``calibration:`` of the named camera in a robot config (YAML rewritten: comments go)."""
    data: dict[str, Any] = yaml.safe_load(robot_config.read_text(encoding="utf-8"))
    cameras = (data.get("env") or {}).get("cameras") or []
    entry = next((c for c in cameras if c.get("name") == camera_name), None)
    if entry is None:
        raise ConfigError(f"no camera {camera_name!r} in env.cameras", file=str(robot_config), field="env.cameras")
    entry["calibration"] = os.path.relpath(calibration_file, robot_config.parent)
    robot_config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def calibrate_command(path: Path) -> int:
    cfg = load_calibrate_config(path)
    base = path.resolve().parent
    board = cfg.board.board()
    truth = None
    if cfg.samples.render is not None:
        samples, truth = render_samples(cfg.samples.render, cfg.board)
    elif cfg.samples.dir is not None:
        samples = load_samples(base / cfg.samples.dir)
    else:
        raise ConfigError("give samples.dir or samples.render", file=str(path), field="samples")
    result = calibrate(samples, board, cfg.mode)
    out = base / cfg.output
    out.parent.mkdir(parents=True, exist_ok=True)
    result.calibration.save(out)
    k = result.calibration
    print(f"views used {result.views_used}, skipped {result.views_skipped}; RMS reprojection error "
          f"{result.rms_px:.3f} px")
    print(f"intrinsics fx {k.fx:.1f} fy {k.fy:.1f} cx {k.cx:.1f} cy {k.cy:.1f} px; "
          f"{'camera in base' if cfg.mode == 'eye_to_hand' else 'camera in gripper'}: "
          f"t = {np.round(result.camera_pose[:3, 3], 4).tolist()} m")
    if truth is not None:
        dt, dr = pose_error(result.camera_pose, truth)
        print(f"against the rendered truth: {dt * 1000:.2f} mm, {dr:.3f} deg")
    print(f"wrote {out}")
    if cfg.robot_config is not None:
        point_robot_config(base / cfg.robot_config, cfg.camera, out)
        print(f"{cfg.robot_config}: camera {cfg.camera!r} now uses it")
    return 0
