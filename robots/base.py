"""The robot interface the skills are written against: a simulated arm and a real one look the same.

Poses are in the world frame of the cell (metres, radians); the gripper always points down and
``yaw`` is its rotation about the vertical axis (0 = fingers closing along world y).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Motion:
    """How a Cartesian move ended.

    ``reached``: the end effector got within tolerance of the target. ``contact``: a guarded move
    stopped because the gripper or the held object touched something. ``error_m``: remaining
    distance to the target in metres. ``steps``: control steps (physics steps in simulation) spent.
    """

    reached: bool
    contact: bool
    error_m: float
    steps: int


@dataclass(frozen=True)
class GripperState:
    """What a parallel gripper reports about itself; the skills decide "holding" from it.

    ``width_m``: finger gap in metres. ``closed``: the last command was a close (grip), not an
    open; a gap is only evidence of an object between closed fingers. ``force_n``: squeezing
    force per finger in newtons as the hardware measures it (motor current or a force sensor);
    None when it cannot. ``object_detected``: the gripper's own grasp flag (many grippers report
    "stopped on an object"); None when it has none.
    """

    width_m: float
    closed: bool
    force_n: float | None = None
    object_detected: bool | None = None


@runtime_checkable
class GripperSensing(Protocol):
    """Optional driver method: a fuller gripper report than :meth:`Robot.gripper_width`."""

    def gripper_state(self) -> GripperState: ...


@runtime_checkable
class Robot(Protocol):
    """An arm with a parallel gripper, commanded in Cartesian space."""

    max_speed: float  # end-effector speed limit, m/s

    def joint_positions(self) -> list[float]:
        """Arm joint angles in radians (gripper excluded)."""
        ...

    def ee_pose(self) -> tuple[tuple[float, float, float], float]:
        """(grasp-point position in metres, gripper yaw in radians)."""
        ...

    def reachable(self, position: tuple[float, float, float], yaw: float | None = None) -> float:
        """Inverse-kinematics residual in metres for a gripper-down pose (0 = exactly reachable).
        Raises ``Unreachable`` when the point is outside the workspace."""
        ...

    def move_ee(self, position: tuple[float, float, float], yaw: float | None = None, speed: float | None = None,
                stop_on_contact: bool = False) -> Motion:
        """Move the grasp point along a straight line to ``position`` at up to ``speed`` m/s
        (default and cap: ``max_speed``). ``yaw`` None keeps the current yaw. With
        ``stop_on_contact`` the move ends as soon as the gripper or the held object touches
        something. Raises ``Unreachable`` before moving when any point of the line is unreachable."""
        ...

    def open_gripper(self, width: float | None = None) -> float:
        """Open to ``width`` metres between the fingers (None: fully); returns the gap reached."""
        ...

    def close_gripper(self, force: float | None = None) -> float:
        """Close with ``force`` newtons per finger and wait until the fingers stop; returns the gap
        in metres (about the object's width when something is grasped)."""
        ...

    def gripper_width(self) -> float:
        """Current finger gap in metres."""
        ...

    def holding(self) -> bool:
        """The driver's own judgement whether an object is held (finger contacts, width). The
        skills do not rely on it: they judge from :class:`GripperState` (see
        :func:`gripper_state`)."""
        ...

    def grasped_id(self) -> int | None:
        """Identifier of the body between the fingers when the robot can tell (a simulator body
        id); None when nothing is held or the hardware cannot say."""
        ...

    def home(self) -> None:
        """Return to the home pose, clear of the cameras' view of the table."""
        ...

    def at_home(self) -> bool:
        """Whether the arm is (within a few millimetres) at its home pose."""
        ...

    def stop(self) -> None:
        """Stop where it is and hold position."""
        ...

    def close(self) -> None:
        """Release resources (connections, helper simulators)."""
        ...


def gripper_state(robot: Robot, closed: bool) -> GripperState:
    """The robot's :class:`GripperState` when it reports one, else one built from its width alone.
    ``closed`` is what the caller last commanded, used when the robot does not report it."""
    if isinstance(robot, GripperSensing):
        return robot.gripper_state()
    return GripperState(width_m=float(robot.gripper_width()), closed=closed)
