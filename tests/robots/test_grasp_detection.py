"""Grasp detection from what a gripper reports (width, force), without simulator knowledge."""

from __future__ import annotations

import pytest

from robots.base import GripperState, Motion, Robot
from robots.errors import GraspMissed
from robots.panda import PandaArm
from robots.skills import TabletopSkills, grip_holds
from sim.tabletop.config import TabletopConfig
from sim.tabletop.env import TabletopEnv


class WidthOnlyArm:
    """A driver like most real arms: it cannot tell what it holds (``grasped_id`` is None), its
    own ``holding`` looks at the finger gap only, and it has no force report."""

    def __init__(self, arm: PandaArm) -> None:
        self.arm = arm
        self.max_speed = arm.max_speed

    def joint_positions(self) -> list[float]:
        return self.arm.joint_positions()

    def ee_pose(self) -> tuple[tuple[float, float, float], float]:
        return self.arm.ee_pose()

    def reachable(self, position: tuple[float, float, float], yaw: float | None = None) -> float:
        return self.arm.reachable(position, yaw)

    def move_ee(self, position: tuple[float, float, float], yaw: float | None = None, speed: float | None = None,
                stop_on_contact: bool = False) -> Motion:
        return self.arm.move_ee(position, yaw, speed, stop_on_contact)

    def open_gripper(self, width: float | None = None) -> float:
        return self.arm.open_gripper(width)

    def close_gripper(self, force: float | None = None) -> float:
        return self.arm.close_gripper(force)

    def gripper_width(self) -> float:
        return self.arm.gripper_width()

    def holding(self) -> bool:
        return self.arm.gripper_width() > 0.005

    def grasped_id(self) -> int | None:
        return None

    def home(self) -> None:
        self.arm.home()

    def at_home(self) -> bool:
        return self.arm.at_home()

    def stop(self) -> None:
        self.arm.stop()

    def close(self) -> None:
        return None


class ForceSensingArm(WidthOnlyArm):
    """The same, with a gripper that reports width, command and squeeze (no identification)."""

    def gripper_state(self) -> GripperState:
        return self.arm.gripper_state()


OBJECTS = [{"name": "red block", "color": "red", "position": [0.45, 0.15], "yaw": 0.4},
           {"name": "blue block", "color": "blue", "position": [0.55, -0.05], "yaw": -0.3}]


@pytest.fixture(scope="module")
def env():
    environment = TabletopEnv(TabletopConfig(oracle=True, objects=OBJECTS))
    yield environment
    environment.close()


@pytest.mark.parametrize("driver", [WidthOnlyArm, ForceSensingArm])
def test_a_driver_that_cannot_identify_what_it_holds_still_picks_and_places(env, driver) -> None:
    env.reset(0)
    arm = driver(env.world.robot)
    assert isinstance(arm, Robot)
    skills = TabletopSkills(arm, lambda: env.observe().objects)
    api = skills.primitives
    assert api["pick"].fn("red block") is True
    assert api["holding"].fn() == "red block"
    assert env.success(["grasped(red block)"])[0]
    assert api["place_on"].fn("blue block") is True
    assert api["holding"].fn() is None
    assert env.success(["on(red block, blue block)"])[0]


@pytest.mark.parametrize("driver", [WidthOnlyArm, ForceSensingArm])
def test_closing_on_nothing_is_still_a_missed_grasp(env, driver) -> None:
    env.reset(0)
    arm = driver(env.world.robot)
    phantom = env.observe().objects
    red = next(o for o in phantom if o.name == "red block")
    env.world.move_object("red block", 0.65, 0.25)  # the agent's view is now stale
    skills = TabletopSkills(arm, lambda: phantom)
    with pytest.raises(GraspMissed, match="closed on nothing"):
        skills.primitives["pick"].fn(red.name)
    assert skills.primitives["holding"].fn() is None


def test_grip_evidence_rules() -> None:
    assert not grip_holds(GripperState(width_m=0.04, closed=False))  # open fingers hold nothing
    assert grip_holds(GripperState(width_m=0.04, closed=True), expected_width=0.04)
    assert not grip_holds(GripperState(width_m=0.003, closed=True), expected_width=0.04)
    assert not grip_holds(GripperState(width_m=0.012, closed=True), expected_width=0.04)  # squeezed past it
    assert not grip_holds(GripperState(width_m=0.04, closed=True, force_n=0.1), expected_width=0.04)
    assert not grip_holds(GripperState(width_m=0.04, closed=True, object_detected=False))
    # identification confirms a grasp the width alone would doubt, never one on closed fingers
    assert grip_holds(GripperState(width_m=0.012, closed=True), expected_width=0.04, grasped_id=7)
    assert not grip_holds(GripperState(width_m=0.002, closed=True), grasped_id=7)
