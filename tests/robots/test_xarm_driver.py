"""The xArm driver against the vendor SDK's own objects, with the controller link replaced: unit
conversion, frames, limits, commands and error mapping. No hardware involved."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("xarm")
import itertools

from xarm.wrapper import XArmAPI
from xarm.x3.code import APIState

from robots.base import Robot
from robots.control import ControlConfig, SafeRobot
from robots.drivers.xarm import XArmControllerError, XArmDriver, XArmEmergencyStop, XArmError
from robots.errors import InvalidArgument, Unreachable


class FakeController:
    """Stands in for the controller behind the SDK object: answers like the SDK (code, value),
    moves instantly to every commanded pose, and records what was sent."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.pose = [300.0, 0.0, 200.0, math.pi, 0.0, 0.0]
        self.angles = [0.0] * 7
        self.pulses = 850
        self.next_code: dict[str, int] = {}
        self.error_code = 0

    def install(self, arm: XArmAPI, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(XArmAPI, "connected", property(lambda _self: True))
        monkeypatch.setattr(XArmAPI, "error_code", property(lambda _self: self.error_code))
        for name in ("connect", "disconnect", "clean_error", "motion_enable", "set_mode", "set_state",
                     "set_gripper_enable", "get_position", "set_position", "get_servo_angle", "set_servo_angle",
                     "get_inverse_kinematics", "get_gripper_position", "set_gripper_position"):
            monkeypatch.setattr(arm, name, getattr(self, name))

    def _code(self, name: str, **kwargs) -> int:
        self.calls.append((name, kwargs))
        return self.next_code.pop(name, 0)

    def connect(self, *a, **k) -> None:
        self.calls.append(("connect", {}))

    def disconnect(self) -> None:
        self.calls.append(("disconnect", {}))

    def clean_error(self) -> int:
        return self._code("clean_error")

    def motion_enable(self, enable=True, servo_id=None) -> int:
        return self._code("motion_enable", enable=enable)

    def set_mode(self, mode=0, detection_param=0) -> int:
        return self._code("set_mode", mode=mode)

    def set_state(self, state=0) -> int:
        return self._code("set_state", state=state)

    def set_gripper_enable(self, enable, **k) -> int:
        return self._code("set_gripper_enable", enable=enable)

    def get_position(self, is_radian=None):
        return 0, list(self.pose)

    def set_position(self, **kwargs) -> int:
        code = self._code("set_position", **kwargs)
        if code == 0:
            self.pose = [kwargs[k] for k in ("x", "y", "z", "roll", "pitch", "yaw")]
        return code

    def get_servo_angle(self, servo_id=None, is_radian=None, is_real=False):
        return 0, list(self.angles)

    def set_servo_angle(self, **kwargs) -> int:
        code = self._code("set_servo_angle", **kwargs)
        if code == 0:
            self.angles = list(kwargs["angle"])
        return code

    def get_inverse_kinematics(self, pose, input_is_radian=None, return_is_radian=None, **k):
        code = self._code("get_inverse_kinematics", pose=pose)
        return code, [0.0] * 7

    def get_gripper_position(self, **k):
        return 0, self.pulses

    def set_gripper_position(self, pos, wait=False, speed=None, **k) -> int:
        code = self._code("set_gripper_position", pos=pos, wait=wait)
        if code == 0:
            self.pulses = pos if pos > 0 else 312  # closing stops on a ~3 cm object
        return code


@pytest.fixture
def xarm(monkeypatch):
    driver = XArmDriver("192.0.2.1", base_xyz=(0.1, -0.2, 0.05), base_yaw=math.pi / 2, max_speed=0.2)
    controller = FakeController()
    controller.install(driver.arm, monkeypatch)
    return driver, controller


def sent(controller: FakeController, name: str) -> list[dict]:
    return [kw for n, kw in controller.calls if n == name]


def test_the_driver_implements_the_robot_protocol(xarm) -> None:
    assert isinstance(xarm[0], Robot)


def test_cell_metres_become_base_millimetres_and_back(xarm) -> None:
    driver, _ = xarm
    # base turned +90 deg: cell +x is the arm's -y
    assert driver.to_arm((0.6, -0.2, 0.25)) == pytest.approx((0.0, -500.0, 200.0), abs=1e-9)
    assert driver.to_cell(driver.to_arm((0.42, 0.13, 0.3))) == pytest.approx((0.42, 0.13, 0.3))


def test_move_ee_sends_one_streaming_target_in_sdk_units(xarm) -> None:
    driver, controller = xarm
    motion = driver.move_ee((0.6, -0.2, 0.25), yaw=math.pi / 2 + 0.3, speed=0.1)
    (cmd,) = sent(controller, "set_position")
    assert (cmd["x"], cmd["y"], cmd["z"]) == pytest.approx((0.0, -500.0, 200.0), abs=1e-9)
    assert (cmd["roll"], cmd["pitch"]) == (math.pi, 0.0)  # gripper down
    assert cmd["yaw"] == pytest.approx(0.3)  # cell yaw minus the base's turn
    assert cmd["speed"] == pytest.approx(100.0)  # mm/s
    assert cmd["is_radian"] is True and cmd["wait"] is False
    assert motion.reached
    assert driver.ee_pose()[0] == pytest.approx((0.6, -0.2, 0.25))
    assert driver.ee_pose()[1] == pytest.approx(math.pi / 2 + 0.3)


def test_speed_is_capped_at_the_driver_limit_and_must_be_positive(xarm) -> None:
    driver, controller = xarm
    driver.move_ee((0.5, 0.0, 0.3), speed=5.0)
    assert sent(controller, "set_position")[-1]["speed"] == pytest.approx(200.0)
    with pytest.raises(InvalidArgument):
        driver.move_ee((0.5, 0.0, 0.3), speed=0.0)


def test_gripper_widths_are_pulses_and_a_grasp_is_judged_by_width(xarm) -> None:
    driver, controller = xarm
    assert driver.open_gripper(0.04) == pytest.approx(0.04, abs=1e-4)
    assert sent(controller, "set_gripper_position")[-1] == {"pos": 400, "wait": True}
    width = driver.close_gripper()
    assert sent(controller, "set_gripper_position")[-1]["pos"] == 0
    assert width == pytest.approx(312 * 0.085 / 850)
    state = driver.gripper_state()
    assert state.closed and state.force_n is None
    assert driver.holding() and driver.grasped_id() is None
    with pytest.raises(InvalidArgument):
        driver.open_gripper(0.2)


@pytest.mark.parametrize(("code", "error"), [(APIState.TCP_LIMIT, Unreachable), (APIState.JOINT_LIMIT, Unreachable),
                                             (APIState.OUT_OF_RANGE, Unreachable),
                                             (APIState.EMERGENCY_STOP, XArmEmergencyStop),
                                             (APIState.API_EXCEPTION, XArmError)])
def test_sdk_codes_become_typed_errors(xarm, code, error) -> None:
    driver, controller = xarm
    controller.next_code["set_position"] = code
    with pytest.raises(error):
        driver.move_ee((0.5, 0.0, 0.3))


def test_a_controller_error_is_described_by_the_sdk_table(xarm) -> None:
    driver, controller = xarm
    controller.next_code["set_position"] = APIState.HAS_ERROR
    controller.error_code = 31
    with pytest.raises(XArmControllerError, match="C31: Collision") as info:
        driver.move_ee((0.5, 0.0, 0.3))
    assert info.value.controller_code == 31


def test_an_ik_failure_is_unreachable(xarm) -> None:
    driver, controller = xarm
    controller.next_code["get_inverse_kinematics"] = 1
    with pytest.raises(Unreachable, match="no gripper-down solution"):
        driver.reachable((2.0, 0.0, 0.3))
    assert driver.reachable((0.5, 0.0, 0.3)) == 0.0


def test_under_safe_robot_connect_enables_streaming_and_moves_are_split_by_the_speed_limit(xarm) -> None:
    driver, controller = xarm
    safe = SafeRobot(driver, ControlConfig(workspace={"low": [0.0, -0.6, 0.0], "high": [0.9, 0.6, 0.6]},
                                           max_speed=0.1, rate_hz=50, settle_s=0.1))
    safe.connect()
    try:
        assert [n for n, _ in controller.calls[:6]] == ["connect", "clean_error", "motion_enable", "set_mode",
                                                         "set_state", "set_gripper_enable"]
        assert sent(controller, "set_mode")[0] == {"mode": 7}
        start, _ = safe.ee_pose()
        motion = safe.move_ee((start[0] + 0.02, start[1], start[2]))
        steps = sent(controller, "set_position")
        assert motion.reached and len(steps) == math.ceil(0.02 / (0.1 / 50))
        xs = [s["x"] for s in steps]
        assert max(abs(b - a) for a, b in itertools.pairwise(xs)) <= 0.1 / 50 * 1000 + 1e-6
        safe.home()
        assert sent(controller, "set_mode")[-2:] == [{"mode": 0}, {"mode": 7}]
    finally:
        safe.close()
    assert ("set_state", {"state": 4}) in controller.calls  # the stop sent on disconnect
