"""Typed failures of robots and their skills. Each carries the :class:`FailureCategory` the trace
monitor reports and the repairer keys on; nothing branches on message text."""

from __future__ import annotations

from embodied.errors import DeadlineExceeded, ObjectNotFound, PrimitiveError
from embodied.types import FailureCategory

__all__ = ["GraspMissed", "InvalidArgument", "MotionBlocked", "NothingHeld", "ObjectDropped", "ObjectNotFound",
           "RobotError", "Unreachable"]


class RobotError(PrimitiveError):
    """Base of robot and skill failures the agent can react to."""


class GraspMissed(RobotError):
    """The gripper closed on nothing (or the object slipped out while lifting)."""

    category = FailureCategory.GRASP_MISSED


class ObjectDropped(RobotError):
    """Nothing is held when something should be: never picked, or lost in transport."""

    category = FailureCategory.DROPPED


class NothingHeld(ObjectDropped):
    """A place with nothing picked up in the first place (no pick, or the gripper opened since):
    the program's fault, not the world's, so a repair must change the program. An
    ``ObjectDropped``, so a policy's ``except ObjectDropped`` still catches it."""

    category = FailureCategory.EXCEPTION


class Unreachable(RobotError):
    """A target outside the workspace, or one inverse kinematics cannot reach (residual given)."""

    category = FailureCategory.UNREACHABLE

    def __init__(self, message: str, *, target: tuple[float, float, float] | None = None,
                 residual_m: float | None = None) -> None:
        super().__init__(message)
        self.target = target
        self.residual_m = residual_m


class MotionBlocked(RobotError):
    """The arm stopped short of its target: something is in the way."""

    category = FailureCategory.COLLISION


class InvalidArgument(RobotError):
    """A primitive was called with a value it cannot use (e.g. speed <= 0)."""

    category = FailureCategory.EXCEPTION


#: What the robot skills raise that a policy may catch by name (the sandbox offers exactly these).
PRIMITIVE_ERRORS: tuple[type[PrimitiveError], ...] = (
    ObjectNotFound, RobotError, GraspMissed, ObjectDropped, Unreachable, MotionBlocked, InvalidArgument,
    DeadlineExceeded)
