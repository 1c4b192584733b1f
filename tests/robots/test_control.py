"""The real-robot control loop: workspace, speed limit, fixed rate, e-stop, watchdog, guarding.

Most tests drive a recording test double of a hardware driver (instant, deterministic, and able to
hang on demand); the integration tests drive the PyBullet Panda through the same wrapper."""

from __future__ import annotations

import itertools
import math
import os
import signal
import threading
import time

import pytest

from embodied.errors import EpisodeAborted, PrimitiveError
from embodied.types import FailureCategory
from robots.base import Motion, Robot
from robots.control import (
    AlreadyConnected,
    ControlConfig,
    ControlledMotion,
    DriverFault,
    EmergencyStop,
    NotConnected,
    OutsideWorkspace,
    SafeRobot,
    WatchdogTimeout,
    Workspace,
)
from robots.errors import InvalidArgument, Unreachable
from sim.tabletop.config import TabletopConfig
from sim.tabletop.world import TabletopWorld

BOX = Workspace(low=(0.2, -0.3, 0.05), high=(0.7, 0.3, 0.5))
EPS = 1e-9


class RecordingDriver:
    """A hardware driver stand-in: moves instantly to each commanded point and records it.
    ``segment_s`` makes every move_ee take that long (a blocking arm); ``hang`` makes state reads
    block until released (an arm that stopped answering)."""

    def __init__(self, start: tuple[float, float, float] = (0.3, 0.0, 0.3), segment_s: float = 0.0,
                 max_speed: float = 1.0) -> None:
        self.max_speed = max_speed
        self.position = start
        self.yaw = 0.0
        self.segment_s = segment_s
        self.commands: list[tuple[float, float, float]] = []
        self.speeds: list[float | None] = []
        self.calls: list[str] = []
        self.hang = threading.Event()
        self.release = threading.Event()
        self.fail_with: Exception | None = None
        self.connected = False

    def connect(self) -> None:
        self.calls.append("connect")
        self.connected = True

    def disconnect(self) -> None:
        self.calls.append("disconnect")
        self.connected = False

    def joint_positions(self) -> list[float]:
        return [0.0] * 7

    def ee_pose(self) -> tuple[tuple[float, float, float], float]:
        if self.hang.is_set():
            self.release.wait(10.0)
        return self.position, self.yaw

    def reachable(self, position: tuple[float, float, float], yaw: float | None = None) -> float:
        return 0.0

    def move_ee(self, position, yaw=None, speed=None, stop_on_contact=False) -> Motion:
        if self.fail_with is not None:
            raise self.fail_with
        if self.segment_s:
            time.sleep(self.segment_s)
        self.commands.append(tuple(position))
        self.speeds.append(speed)
        self.position = tuple(position)
        return Motion(reached=True, contact=False, error_m=0.0, steps=1)

    def open_gripper(self, width: float | None = None) -> float:
        self.calls.append("open_gripper")
        return 0.08

    def close_gripper(self, force: float | None = None) -> float:
        self.calls.append("close_gripper")
        return 0.0

    def gripper_width(self) -> float:
        return 0.08

    def holding(self) -> bool:
        return False

    def grasped_id(self) -> int | None:
        return None

    def home(self) -> None:
        self.calls.append("home")

    def at_home(self) -> bool:
        return True

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


def safe(driver: RecordingDriver, **overrides) -> SafeRobot:
    settings = {"workspace": BOX, "rate_hz": 500.0, "max_speed": 0.5, "watchdog_s": 0.2} | overrides
    robot = SafeRobot(driver, ControlConfig(**settings))
    robot.connect()
    return robot


def spacings(start, points) -> list[float]:
    return [math.dist(a, b) for a, b in zip([start, *points], points)]


# -- protocol and guarding --------------------------------------------------------------------


def test_the_wrapper_implements_the_robot_protocol() -> None:
    assert isinstance(SafeRobot(RecordingDriver(), ControlConfig(workspace=BOX)), Robot)


def test_calls_before_connect_and_after_disconnect_raise_not_connected() -> None:
    driver = RecordingDriver()
    robot = SafeRobot(driver, ControlConfig(workspace=BOX))
    for call in (robot.ee_pose, robot.home, robot.stop, lambda: robot.move_ee((0.4, 0.0, 0.3))):
        with pytest.raises(NotConnected):
            call()
    assert driver.commands == []
    robot.connect()
    assert driver.connected and robot.is_connected
    with pytest.raises(AlreadyConnected):
        robot.connect()
    robot.move_ee((0.35, 0.0, 0.3))
    robot.disconnect()
    assert not driver.connected and driver.calls[-2:] == ["stop", "disconnect"]
    with pytest.raises(NotConnected):
        robot.move_ee((0.4, 0.0, 0.3))
    with pytest.raises(NotConnected):
        robot.disconnect()
    robot.close()
    assert driver.calls[-1] == "close"
    with pytest.raises(NotConnected):
        robot.connect()
    assert issubclass(NotConnected, EpisodeAborted)


def test_invalid_config_and_speed_are_refused() -> None:
    with pytest.raises(ValueError, match="below high"):
        Workspace(low=(0.5, 0.0, 0.0), high=(0.4, 1.0, 1.0))
    with pytest.raises(ValueError):
        ControlConfig(workspace=BOX, rate_hz=0)
    robot = safe(RecordingDriver())
    with pytest.raises(InvalidArgument):
        robot.move_ee((0.4, 0.0, 0.3), speed=0.0)


# -- workspace --------------------------------------------------------------------------------


def test_a_target_outside_the_workspace_is_refused_before_anything_moves() -> None:
    driver = RecordingDriver()
    robot = safe(driver)
    with pytest.raises(OutsideWorkspace) as info:
        robot.move_ee((0.9, 0.0, 0.3))
    assert isinstance(info.value, Unreachable) and isinstance(info.value, PrimitiveError)
    assert info.value.category is FailureCategory.UNREACHABLE
    assert info.value.target == (0.9, 0.0, 0.3)
    assert driver.commands == []
    with pytest.raises(OutsideWorkspace):
        robot.reachable((0.4, 0.0, 0.01))


def test_a_clipped_target_is_reported_as_sent_and_not_reached() -> None:
    driver = RecordingDriver(start=(0.6, 0.2, 0.1))
    robot = safe(driver, on_outside="clip")
    motion = robot.move_ee((0.9, 0.5, 0.01))
    assert isinstance(motion, ControlledMotion)
    assert motion.clipped and motion.requested == (0.9, 0.5, 0.01)
    assert motion.sent == (0.7, 0.3, 0.05)
    assert driver.commands[-1] == pytest.approx(motion.sent)
    assert all(BOX.contains(c) for c in driver.commands)
    assert not motion.reached and motion.error_m == pytest.approx(math.dist(motion.sent, motion.requested))
    inside = robot.move_ee((0.65, 0.25, 0.1))
    assert not inside.clipped and inside.reached and inside.sent == inside.requested
    assert robot.reachable((0.8, 0.1, 0.2)) == pytest.approx(0.1)


# -- speed and rate ---------------------------------------------------------------------------


def test_long_moves_are_split_into_waypoints_no_farther_apart_than_the_speed_allows() -> None:
    driver = RecordingDriver()
    robot = safe(driver, rate_hz=500.0, max_speed=0.5)
    start = driver.position
    end = (0.33, 0.02, 0.26)
    motion = robot.move_ee(end, speed=0.2)
    step = 0.2 / 500.0
    gaps = spacings(start, driver.commands)
    assert max(gaps) <= step + EPS
    assert motion.waypoints == len(driver.commands) == math.ceil(math.dist(start, end) / step)
    assert set(driver.speeds) == {0.2}
    driver.commands.clear()
    robot.move_ee((0.3, 0.0, 0.3), speed=5.0)  # capped at the config's 0.5 m/s
    assert max(spacings(end, driver.commands)) <= 0.5 / 500.0 + EPS
    assert robot.max_speed == 0.5 and SafeRobot(RecordingDriver(max_speed=0.1), robot.config).max_speed == 0.1


def test_the_loop_runs_at_its_rate_and_counts_overruns() -> None:
    driver = RecordingDriver()
    robot = safe(driver, rate_hz=100.0, max_speed=0.1)
    t0 = time.monotonic()
    motion = robot.move_ee((0.3, 0.0, 0.32))  # 2 cm at 1 mm per tick: 20 ticks
    elapsed = time.monotonic() - t0
    assert motion.waypoints == 20 and motion.stats.ticks == 20 and motion.stats.period_s == 0.01
    assert elapsed >= 19 * 0.01  # the loop paces itself; jitter is measured in benchmarks/robot_loop.py
    slow = RecordingDriver(segment_s=0.012)
    robot = safe(slow, rate_hz=200.0, max_speed=0.1)
    motion = robot.move_ee((0.3, 0.0, 0.305))
    assert motion.stats.overruns == motion.stats.ticks == 10


def test_a_stream_is_clipped_and_speed_limited_per_tick() -> None:
    driver = RecordingDriver()
    robot = safe(driver, on_outside="clip", rate_hz=500.0, max_speed=0.5)
    targets = [(0.3, 0.0, 0.3)] * 2 + [(1.5, 0.0, 0.3)] * 30 + [(0.45, 0.0, 0.3)] * 10
    result = robot.stream(targets, speed=0.25)
    assert len(result.sent) == len(targets) == result.stats.ticks
    assert result.clipped == 30
    assert all(BOX.contains(s) for s in result.sent)
    assert max(spacings((0.3, 0.0, 0.3), result.sent)) <= 0.25 / 500.0 + EPS
    assert list(result.sent) == driver.commands
    refusing = safe(RecordingDriver())
    with pytest.raises(OutsideWorkspace):
        refusing.stream([(0.31, 0.0, 0.3), (1.5, 0.0, 0.3)])
    assert refusing.driver.calls[-1] == "stop"


# -- e-stop -----------------------------------------------------------------------------------


def test_estop_from_another_thread_stops_a_move_and_latches_until_reset() -> None:
    driver = RecordingDriver(segment_s=0.001)
    robot = safe(driver, rate_hz=200.0, max_speed=0.1)
    threading.Timer(0.1, robot.estop, kwargs={"reason": "operator"}).start()
    t0 = time.monotonic()
    with pytest.raises(EmergencyStop) as info:
        robot.move_ee((0.6, 0.0, 0.3))  # 0.3 m at 0.1 m/s: 3 s if nothing stopped it
    assert time.monotonic() - t0 < 0.5
    assert info.value.reason == "operator" and isinstance(info.value, EpisodeAborted)
    assert driver.calls[-1] == "stop"
    sent = len(driver.commands)
    assert 0 < sent < 600
    for motion in (lambda: robot.move_ee((0.4, 0.0, 0.3)), robot.home, robot.open_gripper, robot.close_gripper,
                   lambda: robot.stream([(0.4, 0.0, 0.3)])):
        with pytest.raises(EmergencyStop):
            motion()
    assert len(driver.commands) == sent and "home" not in driver.calls and "open_gripper" not in driver.calls
    robot.stop()  # always allowed
    assert robot.ee_pose()[0] == driver.position  # reading state too
    robot.reset_estop()
    assert robot.move_ee((0.32, 0.0, 0.3)).reached


def test_a_signal_presses_the_estop() -> None:
    robot = safe(RecordingDriver())
    previous = robot.estop_on_signal(signal.SIGUSR1)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.01)
        assert robot.estopped
        with pytest.raises(EmergencyStop, match="SIGUSR1"):
            robot.move_ee((0.4, 0.0, 0.3))
    finally:
        signal.signal(signal.SIGUSR1, previous)


# -- watchdog and driver faults ---------------------------------------------------------------


def test_the_watchdog_stops_the_arm_when_the_driver_stops_answering() -> None:
    driver = RecordingDriver(segment_s=0.001)
    robot = safe(driver, rate_hz=200.0, max_speed=0.1, watchdog_s=0.1)
    threading.Timer(0.05, driver.hang.set).start()
    t0 = time.monotonic()
    try:
        with pytest.raises(WatchdogTimeout) as info:
            robot.move_ee((0.6, 0.0, 0.3))
        assert time.monotonic() - t0 < 0.5
        assert info.value.call == "ee_pose" and info.value.timeout_s == 0.1 and info.value.stop_sent
        assert "stop" in driver.calls
        with pytest.raises(WatchdogTimeout):  # faulted until reconnected
            robot.move_ee((0.4, 0.0, 0.3))
        with pytest.raises(WatchdogTimeout):
            robot.ee_pose()
    finally:
        driver.hang.clear()
        driver.release.set()
    robot.disconnect()
    robot.connect()
    assert robot.move_ee((0.32, 0.0, 0.3)).reached


def test_a_driver_that_never_answers_fails_at_connect() -> None:
    driver = RecordingDriver()
    driver.hang.set()
    robot = SafeRobot(driver, ControlConfig(workspace=BOX, watchdog_s=0.05))
    try:
        with pytest.raises(WatchdogTimeout):
            robot.connect()
        assert not robot.is_connected
    finally:
        driver.release.set()


def test_unknown_driver_exceptions_are_translated_and_the_arm_stopped() -> None:
    driver = RecordingDriver()
    robot = safe(driver)
    driver.fail_with = RuntimeError("CAN bus error")
    with pytest.raises(DriverFault) as info:
        robot.move_ee((0.4, 0.0, 0.3))
    assert isinstance(info.value.__cause__, RuntimeError)
    assert driver.calls[-1] == "stop"
    driver.fail_with = Unreachable("joint limit", target=(0.4, 0.0, 0.3))
    with pytest.raises(Unreachable):  # typed errors pass through unchanged
        robot.move_ee((0.4, 0.0, 0.3))


# -- the PyBullet Panda as the driver ---------------------------------------------------------

PANDA_BOX = Workspace(low=(0.25, -0.3, 0.1), high=(0.6, 0.3, 0.5))


@pytest.fixture(scope="module")
def world():
    w = TabletopWorld(TabletopConfig(objects=[{"name": "red block", "color": "red", "position": [0.45, 0.25]}]), 0)
    yield w
    w.close()


@pytest.fixture
def panda(world, monkeypatch):
    """The world's Panda under a SafeRobot, with its move_ee commands and their outcomes recorded."""
    arm = world.robot
    arm.home()
    record: list[tuple[tuple[float, float, float], Motion]] = []
    inner = arm.move_ee

    def move_ee(position, yaw=None, speed=None, stop_on_contact=False):
        motion = inner(position, yaw, speed, stop_on_contact)
        record.append((tuple(position), motion))
        return motion

    monkeypatch.setattr(arm, "move_ee", move_ee)
    robot = SafeRobot(arm, ControlConfig(workspace=PANDA_BOX, on_outside="clip", rate_hz=500.0, max_speed=0.3,
                                         settle_s=0.5))
    robot.connect()
    yield robot, record
    robot.disconnect()  # not close(): the module's world owns the arm


def test_the_panda_moves_to_the_clipped_target_within_the_speed_limit(world, panda) -> None:
    robot, record = panda
    start = robot.ee_pose()[0]
    motion = robot.move_ee((0.35, 0.05, 0.6), speed=0.3)  # above the box: clipped to z = 0.5
    assert motion.clipped and motion.sent == (0.35, 0.05, 0.5)
    assert math.dist(world.robot.ee_pose()[0], motion.sent) < 0.01
    assert not motion.reached and motion.error_m == pytest.approx(0.1, abs=0.01)
    commanded = [c for c, _ in record]
    assert commanded[-1] == pytest.approx(motion.sent)
    assert max(spacings(start, commanded)) <= 0.3 / 500.0 + EPS
    # The arm itself, not just the commands: travel per segment over the simulated time it took.
    for (a, _), (b, m) in itertools.pairwise(record):
        assert math.dist(a, b) / (m.steps * world.dt) <= 0.3 + EPS


def test_estop_stops_the_panda_mid_move(world, panda) -> None:
    robot, record = panda
    threading.Timer(0.05, robot.estop).start()
    with pytest.raises(EmergencyStop):
        robot.move_ee((0.55, 0.25, 0.15), speed=0.05)
    stopped = world.robot.ee_pose()[0]
    assert math.dist(stopped, (0.55, 0.25, 0.15)) > 0.05
    assert math.dist(record[-1][0], (0.55, 0.25, 0.15)) > 0.05  # the last segment sent was far from the goal
    with pytest.raises(EmergencyStop):
        robot.move_ee((0.4, 0.0, 0.3))
    robot.reset_estop()
    assert robot.move_ee((0.4, 0.0, 0.3)).reached
