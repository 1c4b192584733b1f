"""SafeRobot refuses non-finite numbers before anything reaches the driver, and its workspace and
per-tick step limits hold on every command, whatever the targets, rates, speeds and modes
(property-based: hypothesis generates them; issue 12)."""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import robots.control
from embodied.errors import EmbodiedError
from robots.base import Motion
from robots.control import ControlConfig, DriverFault, OutsideWorkspace, SafeRobot, Workspace
from robots.errors import InvalidArgument

BOX = Workspace(low=(0.2, -0.3, 0.05), high=(0.7, 0.3, 0.5))
NAN, INF = float("nan"), float("inf")


class VirtualClock:
    """Stands in for the ``time`` module inside robots.control: sleeping advances the clock at
    once, so a few hundred control ticks cost microseconds of wall time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.lock = threading.Lock()

    def monotonic(self) -> float:
        with self.lock:
            return self.now

    perf_counter = monotonic

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += max(seconds, 0.0)


@contextmanager
def virtual_time():
    clock = VirtualClock()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(robots.control, "time", SimpleNamespace(monotonic=clock.monotonic, sleep=clock.sleep,
                                                              perf_counter=clock.perf_counter))
        yield clock


class Driver:
    """A driver that moves instantly and records every command it receives, numbers as sent."""

    def __init__(self, start=(0.4, 0.0, 0.3), max_speed: float = 2.0) -> None:
        self.max_speed = max_speed
        self.position, self.yaw = tuple(start), 0.0
        self.moves: list[tuple[tuple[float, float, float], float | None, float | None]] = []
        self.gripper: list[float | None] = []
        self.reach_queries: list[tuple] = []

    def joint_positions(self):
        return [0.0] * 7

    def ee_pose(self):
        return self.position, self.yaw

    def reachable(self, position, yaw=None):
        self.reach_queries.append((tuple(position), yaw))
        return 0.0

    def move_ee(self, position, yaw=None, speed=None, stop_on_contact=False):
        self.moves.append((tuple(position), yaw, speed))
        self.position = tuple(position)
        if yaw is not None:
            self.yaw = yaw
        return Motion(reached=True, contact=False, error_m=0.0, steps=1)

    def open_gripper(self, width=None):
        self.gripper.append(width)
        return 0.08

    def close_gripper(self, force=None):
        self.gripper.append(force)
        return 0.0

    def gripper_width(self):
        return 0.08

    def holding(self):
        return False

    def grasped_id(self):
        return None

    def home(self):
        pass

    def at_home(self):
        return True

    def stop(self):
        pass

    def close(self):
        pass


def robot(driver: Driver, **overrides) -> SafeRobot:
    settings_ = {"workspace": BOX, "rate_hz": 100.0, "max_speed": 0.5, "settle_s": 0.05} | overrides
    r = SafeRobot(driver, ControlConfig(**settings_))
    r.connect()
    return r


# -- the cases of the issue -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["clip", "refuse"])
def test_stream_never_forwards_nan_and_keeps_the_step_limit(mode: str) -> None:
    with virtual_time():
        driver = Driver()
        r = robot(driver, on_outside=mode, max_speed=0.25, rate_hz=50.0)  # 5 mm per tick
        with pytest.raises(InvalidArgument):
            r.stream([(0.41, 0.0, 0.3), (NAN, 0.0, 0.3), (0.65, 0.25, 0.45)])
        sent = [m[0] for m in driver.moves]
        assert all(math.isfinite(v) for p in sent for v in p)
        assert len(sent) == 1  # the NaN target stopped the stream: nothing after it was sent
        steps = [math.dist(a, b) for a, b in zip([(0.4, 0.0, 0.3), *sent], sent)]
        assert max(steps) <= 0.005 + 1e-12


@pytest.mark.parametrize("mode", ["clip", "refuse"])
@pytest.mark.parametrize("yaw", [NAN, INF, -INF])
def test_non_finite_yaw_never_reaches_the_driver(mode: str, yaw: float) -> None:
    with virtual_time():
        driver = Driver()
        r = robot(driver, on_outside=mode)
        with pytest.raises(InvalidArgument):
            r.move_ee((0.45, 0.0, 0.3), yaw=yaw)
        with pytest.raises(InvalidArgument):
            r.stream([(0.45, 0.0, 0.3)], yaw=yaw)
        with pytest.raises(InvalidArgument):
            r.reachable((0.45, 0.0, 0.3), yaw)
        assert driver.moves == [] and driver.reach_queries == []


@pytest.mark.parametrize("mode", ["clip", "refuse"])
def test_non_finite_targets_speeds_and_gripper_values_are_refused(mode: str) -> None:
    with virtual_time():
        driver = Driver()
        r = robot(driver, on_outside=mode)
        for target in [(NAN, 0.0, 0.3), (0.4, INF, 0.3), (0.4, 0.0, -INF)]:
            with pytest.raises(InvalidArgument):
                r.move_ee(target)
            with pytest.raises(InvalidArgument):
                r.reachable(target)
        for speed in (NAN, INF, -1.0, 0.0, 1e-6):
            with pytest.raises(InvalidArgument):
                r.move_ee((0.45, 0.0, 0.3), speed=speed)
        with pytest.raises(InvalidArgument):
            r.open_gripper(NAN)
        with pytest.raises(InvalidArgument):
            r.close_gripper(INF)
        assert driver.moves == [] and driver.reach_queries == [] and driver.gripper == []


def test_a_driver_reporting_a_nan_pose_is_a_fault_not_a_motion() -> None:
    with virtual_time():
        driver = Driver()
        r = robot(driver)
        driver.position = (NAN, 0.0, 0.3)
        with pytest.raises(DriverFault):
            r.move_ee((0.45, 0.0, 0.3))
        assert driver.moves == []


# -- property-based -----------------------------------------------------------------------------

any_float = st.floats(allow_nan=True, allow_infinity=True)
coordinate = st.one_of(st.floats(-0.2, 1.2), any_float)
point = st.tuples(coordinate, coordinate, coordinate)
inside = st.tuples(st.floats(BOX.low[0], BOX.high[0]), st.floats(BOX.low[1], BOX.high[1]),
                   st.floats(BOX.low[2], BOX.high[2]))
speed = st.one_of(st.none(), st.floats(0.5, 2.0), any_float)
yaw = st.one_of(st.none(), st.floats(-4.0, 4.0), any_float)


def _finite(values) -> bool:
    return all(math.isfinite(v) for v in values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mode=st.sampled_from(["clip", "refuse"]), rate=st.floats(20.0, 100.0), max_speed=st.floats(0.5, 2.0),
       start=inside, calls=st.lists(st.tuples(st.sampled_from(["move", "stream"]), st.lists(point, min_size=1,
                                                                                           max_size=4),
                                              yaw, speed), min_size=1, max_size=4))
def test_no_command_leaves_the_workspace_or_the_step_limit(mode, rate, max_speed, start, calls) -> None:
    with virtual_time():
        driver = Driver(start=start)
        r = robot(driver, on_outside=mode, rate_hz=rate, max_speed=max_speed)
        for kind, targets, yaw_, speed_ in calls:
            before = len(driver.moves)
            here = driver.position
            try:
                if kind == "move":
                    r.move_ee(targets[0], yaw=yaw_, speed=speed_)
                else:
                    r.stream(targets, yaw=yaw_, speed=speed_)
            except (InvalidArgument, OutsideWorkspace):
                pass  # typed refusals are allowed; anything else fails the test
            except EmbodiedError as exc:
                pytest.fail(f"unexpected {type(exc).__name__}: {exc}")
            sent = driver.moves[before:]
            bad_inputs = (yaw_ is not None and not math.isfinite(yaw_)) or \
                         (speed_ is not None and not (math.isfinite(speed_) and speed_ > 0))
            if bad_inputs:
                assert sent == []
            v = min(max_speed, driver.max_speed) if speed_ is None or not math.isfinite(speed_) else \
                min(speed_, max_speed, driver.max_speed)
            cap = v / rate
            for (position, cmd_yaw, cmd_speed), previous in zip(sent, [here, *(m[0] for m in sent)]):
                assert _finite(position) and BOX.contains(position), position
                assert cmd_yaw is None or math.isfinite(cmd_yaw)
                assert cmd_speed is not None and math.isfinite(cmd_speed) and 0 < cmd_speed <= v + 1e-12
                assert math.dist(previous, position) <= cap * (1 + 1e-9) + 1e-12, (previous, position, cap)
