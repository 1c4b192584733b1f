"""UFACTORY xArm (5/6/7, 850, Lite 6) with the xArm Gripper, through the vendor SDK
``xarm-python-sdk`` (optional extra ``xarm``; driver kind ``xarm``).

Translation (cell frame: metres, radians; SDK: millimetres, radians with ``is_radian=True``):

- The arm's base sits at ``base_xyz`` (metres) turned by ``base_yaw`` (radians) in the cell frame;
  positions are converted both ways, and the grasp point is the controller's TCP (set the TCP
  offset on the controller to the point between the fingertips).
- Gripper down is the SDK pose ``roll = pi, pitch = 0``; the cell's gripper yaw (0 = fingers closing
  along the cell's y axis) is the SDK yaw minus ``base_yaw`` minus ``yaw_offset`` (the gripper's
  mounting angle).
- ``move_ee`` streams: the arm is put in mode 7 (Cartesian online trajectory planning) and every call
  replaces the target (``set_position(..., wait=False)``) and returns at once, so
  :class:`~robots.control.SafeRobot`'s loop sets the pace. ``home`` is a blocking joint move in
  mode 0. ``stop`` is ``set_state(4)`` then ``set_state(0)``.
- The xArm Gripper is commanded in pulses: ``gripper_m_per_pulse`` (metres per pulse, 0.085 / 850
  by default) converts widths. It has no force readout: ``gripper_state`` reports width and the last
  command, so the skills judge a grasp by width (see :mod:`robots.skills`). ``close_gripper``
  cannot set a force.
- There is no contact sensing without a force/torque sensor: guarded moves (``stop_on_contact``)
  end by the controller's own collision detection, which stops the arm with controller error 31
  (raised here as :class:`XArmControllerError`), never by ``Motion.contact``.

Errors go through the SDK's own types: an ``APIState`` code of a call becomes a typed error
(:class:`~robots.errors.Unreachable` for the TCP, joint and range limits; :class:`XArmEmergencyStop`;
:class:`XArmNotConnected`), and a controller error (``APIState.HAS_ERROR``) is described with the
SDK's ``ControllerError`` table.

Tested WITHOUT hardware only: the tests replace the SDK object's methods (``XArmAPI`` built with
``do_not_open=True``) and check unit conversion, frame translation, limits, the commands sent and
the error mapping. Nothing in this module has moved a physical xArm: before the first real run,
check the TCP offset, ``yaw_offset`` and the gripper's pulse scale on the arm, with a low speed and
the hardware e-stop at hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from embodied.errors import EpisodeAborted
from robots.base import GripperState, Motion
from robots.errors import InvalidArgument, Unreachable

MM = 1000.0
GRIPPER_PULSES = 850  # the xArm Gripper's fully open position
REACHED_TOLERANCE = 0.005  # metres
HOME_DEG = (0.0, -30.0, 0.0, 30.0, 0.0, 60.0, 0.0)  # xArm 7-ish: gripper down, clear of the table


class XArmError(EpisodeAborted):
    """An SDK call failed with a code the agent cannot act on; ``code`` is the SDK's APIState."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class XArmNotConnected(XArmError):
    """The SDK says the arm is not connected."""


class XArmEmergencyStop(XArmError):
    """The arm reports an emergency stop (the button on the controller, or the SDK's)."""


class XArmControllerError(XArmError):
    """The controller has an uncleared error (``controller_code``, described by the SDK's table)."""

    def __init__(self, message: str, *, code: int, controller_code: int) -> None:
        super().__init__(message, code=code)
        self.controller_code = controller_code


def _sdk() -> tuple[Any, Any, Any]:
    try:
        from xarm.core.config.x_code import ControllerError
        from xarm.wrapper import XArmAPI
        from xarm.x3.code import APIState
    except ImportError as exc:
        raise EpisodeAborted("the xarm driver needs the vendor SDK: pip install 'embodied[xarm]'") from exc
    return XArmAPI, APIState, ControllerError


class XArmDriver:
    """An xArm at ``ip`` as a :class:`robots.base.Robot`. ``max_speed`` is m/s at the TCP;
    ``joints`` the arm's joint count (5, 6 or 7)."""

    def __init__(self, ip: str, base_xyz: Sequence[float] = (0.0, 0.0, 0.0), base_yaw: float = 0.0,
                 yaw_offset: float = 0.0, max_speed: float = 0.25, acceleration: float = 1.0, joints: int = 7,
                 home_deg: Sequence[float] = HOME_DEG, gripper_m_per_pulse: float = 0.085 / GRIPPER_PULSES,
                 gripper_speed: float = 2000.0) -> None:
        api, self._state_codes, self._controller_error = _sdk()
        self.arm = api(ip, is_radian=True, do_not_open=True)
        self.base_xyz = tuple(float(v) for v in base_xyz)
        self.base_yaw = float(base_yaw)
        self.yaw_offset = float(yaw_offset)
        self.max_speed = float(max_speed)
        self.acceleration = float(acceleration)
        self.joints = int(joints)
        self.home_rad = [math.radians(v) for v in list(home_deg)[:self.joints]]
        self.m_per_pulse = float(gripper_m_per_pulse)
        self.gripper_speed = float(gripper_speed)
        self._gripper_closed = False

    # -- frames and units -------------------------------------------------------------------

    def to_arm(self, position: Sequence[float]) -> tuple[float, float, float]:
        """Cell-frame metres -> arm-base millimetres."""
        dx, dy, dz = (float(position[i]) - self.base_xyz[i] for i in range(3))
        c, s = math.cos(self.base_yaw), math.sin(self.base_yaw)
        return ((c * dx + s * dy) * MM, (-s * dx + c * dy) * MM, dz * MM)

    def to_cell(self, position_mm: Sequence[float]) -> tuple[float, float, float]:
        """Arm-base millimetres -> cell-frame metres."""
        x, y, z = (float(v) / MM for v in position_mm[:3])
        c, s = math.cos(self.base_yaw), math.sin(self.base_yaw)
        return (c * x - s * y + self.base_xyz[0], s * x + c * y + self.base_xyz[1], z + self.base_xyz[2])

    def _sdk_yaw(self, yaw: float) -> float:
        return (yaw + self.yaw_offset + math.pi) % (2 * math.pi) - math.pi

    def _cell_yaw(self, sdk_yaw: float) -> float:
        return ((sdk_yaw + self.base_yaw - self.yaw_offset) + math.pi) % (2 * math.pi) - math.pi

    # -- errors -----------------------------------------------------------------------------

    def _check(self, code: int, what: str, target: tuple[float, float, float] | None = None) -> None:
        """Raise the typed error for an SDK return code (0 is success)."""
        s = self._state_codes
        if code == 0:
            return
        if code in (s.TCP_LIMIT, s.JOINT_LIMIT, s.OUT_OF_RANGE):
            kind = {s.TCP_LIMIT: "Cartesian limit", s.JOINT_LIMIT: "joint limit", s.OUT_OF_RANGE: "range"}[code]
            raise Unreachable(f"xArm {what}: outside the arm's {kind} (SDK code {code})", target=target)
        if code == s.EMERGENCY_STOP:
            raise XArmEmergencyStop(f"xArm {what}: emergency stop is active (SDK code {code})", code=code)
        if code == s.NOT_CONNECTED:
            raise XArmNotConnected(f"xArm {what}: not connected (SDK code {code})", code=code)
        if code == s.HAS_ERROR:
            controller = int(self.arm.error_code)
            title = self._controller_error(controller).title["en"]
            raise XArmControllerError(f"xArm {what}: controller error C{controller}: {title}", code=code,
                                      controller_code=controller)
        raise XArmError(f"xArm {what} failed with SDK code {code}", code=code)

    def _value(self, result: tuple[int, Any], what: str) -> Any:
        code, value = result
        self._check(int(code), what)
        return value

    # -- connection -------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the link, clear old errors, enable the motors, stream mode (7), ready state."""
        self.arm.connect()
        if not self.arm.connected:
            raise XArmNotConnected("xArm connect: no answer from the controller", code=self._state_codes.NOT_CONNECTED)
        self._check(self.arm.clean_error(), "clean_error")
        self._check(self.arm.motion_enable(enable=True), "motion_enable")
        self._check(self.arm.set_mode(7), "set_mode(7)")
        self._check(self.arm.set_state(0), "set_state(0)")
        self._check(self.arm.set_gripper_enable(True), "set_gripper_enable")

    def disconnect(self) -> None:
        self.arm.disconnect()

    def close(self) -> None:
        if self.arm.connected:
            self.arm.disconnect()

    # -- state ------------------------------------------------------------------------------

    def joint_positions(self) -> list[float]:
        angles = self._value(self.arm.get_servo_angle(is_radian=True), "get_servo_angle")
        return [float(a) for a in angles[:self.joints]]

    def ee_pose(self) -> tuple[tuple[float, float, float], float]:
        pose = self._value(self.arm.get_position(is_radian=True), "get_position")
        return self.to_cell(pose[:3]), self._cell_yaw(float(pose[5]))

    def gripper_width(self) -> float:
        pulses = self._value(self.arm.get_gripper_position(), "get_gripper_position")
        return max(0.0, float(pulses) * self.m_per_pulse)

    def gripper_state(self) -> GripperState:
        return GripperState(width_m=self.gripper_width(), closed=self._gripper_closed)

    def holding(self) -> bool:
        return self._gripper_closed and self.gripper_width() > 0.005

    def grasped_id(self) -> int | None:
        return None  # the hardware cannot tell what it holds

    def at_home(self) -> bool:
        return max(abs(a - b) for a, b in zip(self.joint_positions(), self.home_rad)) < 0.02

    # -- commands ---------------------------------------------------------------------------

    def _pose(self, position: Sequence[float], yaw: float | None) -> list[float]:
        x, y, z = self.to_arm(position)
        if yaw is None:
            current = self._value(self.arm.get_position(is_radian=True), "get_position")
            sdk_yaw = float(current[5])
        else:
            sdk_yaw = self._sdk_yaw(float(yaw) - self.base_yaw)
        return [x, y, z, math.pi, 0.0, sdk_yaw]

    def reachable(self, position: tuple[float, float, float], yaw: float | None = None) -> float:
        """0 when the controller's inverse kinematics finds a gripper-down solution; raises
        Unreachable (with the SDK's code) when it does not."""
        pose = self._pose(position, yaw)
        code, _ = self.arm.get_inverse_kinematics(pose, input_is_radian=True, return_is_radian=True)
        if code != 0:
            raise Unreachable(f"xArm has no gripper-down solution at ({position[0]:.3f}, {position[1]:.3f}, "
                              f"{position[2]:.3f}) m (SDK code {code})", target=tuple(position))  # type: ignore[arg-type]
        return 0.0

    def move_ee(self, position: tuple[float, float, float], yaw: float | None = None, speed: float | None = None,
                stop_on_contact: bool = False) -> Motion:
        """Replace the streaming target (mode 7) and return at once."""
        v = self.max_speed if speed is None else float(speed)
        if not v > 0:
            raise InvalidArgument(f"speed must be > 0 m/s, got {speed}")
        v = min(v, self.max_speed)
        target = (float(position[0]), float(position[1]), float(position[2]))
        x, y, z, roll, pitch, sdk_yaw = self._pose(target, yaw)
        code = self.arm.set_position(x=x, y=y, z=z, roll=roll, pitch=pitch, yaw=sdk_yaw, speed=v * MM,
                                     mvacc=self.acceleration * MM, is_radian=True, wait=False)
        self._check(int(code), "set_position", target)
        here, _ = self.ee_pose()
        error = math.dist(here, target)
        return Motion(reached=error <= REACHED_TOLERANCE, contact=False, error_m=error, steps=1)

    def open_gripper(self, width: float | None = None) -> float:
        pulses = GRIPPER_PULSES if width is None else width / self.m_per_pulse
        if not 0 <= pulses <= GRIPPER_PULSES:
            raise InvalidArgument(f"gripper width must be in [0, {GRIPPER_PULSES * self.m_per_pulse:.3f}] m, "
                                  f"got {width}")
        self._gripper_closed = False
        self._check(self.arm.set_gripper_position(round(pulses), wait=True, speed=self.gripper_speed),
                    "set_gripper_position")
        return self.gripper_width()

    def close_gripper(self, force: float | None = None) -> float:
        """Close until the fingers stop (on an object or each other). ``force`` cannot be set on the
        xArm Gripper and is ignored."""
        self._gripper_closed = True
        self._check(self.arm.set_gripper_position(0, wait=True, speed=self.gripper_speed), "set_gripper_position")
        return self.gripper_width()

    def home(self) -> None:
        """A blocking joint move to ``home_deg`` in mode 0, then back to streaming (mode 7)."""
        self._check(self.arm.set_mode(0), "set_mode(0)")
        self._check(self.arm.set_state(0), "set_state(0)")
        try:
            self._check(self.arm.set_servo_angle(angle=self.home_rad, speed=0.5, is_radian=True, wait=True),
                        "set_servo_angle")
        finally:
            self._check(self.arm.set_mode(7), "set_mode(7)")
            self._check(self.arm.set_state(0), "set_state(0)")

    def stop(self) -> None:
        """Stop the motion in progress (state 4), then accept commands again (state 0)."""
        self._check(self.arm.set_state(4), "set_state(4)")
        self._check(self.arm.set_state(0), "set_state(0)")
