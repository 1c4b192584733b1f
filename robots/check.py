"""The robot contract checker (see :mod:`embodied.checks`), next to the protocol it checks."""

from __future__ import annotations

import math
from typing import Any

from embodied.checks import require
from robots.base import Motion, Robot


def check_robot(robot: Any, name: str) -> None:
    """A robot: joint and pose readings are finite; a reachable move ends near its target and is
    reported as a ``Motion``; the gripper opens wider than it closes on nothing; ``home`` returns."""
    who = f"robot {name!r}"
    require(isinstance(robot, Robot), who, "does not implement robots.base.Robot")
    joints = robot.joint_positions()
    require(bool(joints) and all(math.isfinite(j) for j in joints), who, f"joint positions {joints}")
    (x, y, z), yaw = robot.ee_pose()
    require(all(math.isfinite(v) for v in (x, y, z, yaw)), who, "ee_pose is not finite")
    target = (x, y, z - 0.05)
    require(robot.reachable(target) < 0.01, who, f"cannot reach 5 cm below its own pose {target}")
    motion = robot.move_ee(target)
    require(isinstance(motion, Motion) and motion.reached and motion.error_m < 0.01, who,
             f"move_ee to {target} ended {motion}")
    opened = robot.open_gripper()
    closed = robot.close_gripper()
    require(opened > closed >= 0.0 and not robot.holding(), who,
             f"gripper opened to {opened} m, closed on nothing to {closed} m, holding={robot.holding()}")
    robot.home()
