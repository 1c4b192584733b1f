"""The tabletop primitive API on the simulated Panda (oracle object source unless stated)."""

from __future__ import annotations

import math

import pytest

from embodied.errors import ObjectNotFound, PrimitiveError
from embodied.types import FailureCategory, SceneObject
from robots.base import Robot
from robots.errors import GraspMissed, InvalidArgument, NothingHeld, ObjectDropped, Unreachable
from robots.skills import CachedSource
from sim.tabletop.config import TabletopConfig
from sim.tabletop.env import TabletopEnv

OBJECTS = [
    {"name": "red block", "color": "red", "position": [0.45, 0.15], "yaw": 0.4},
    {"name": "blue block", "color": "blue", "position": [0.55, -0.05], "yaw": -0.3},
    {"name": "green bowl", "shape": "bowl", "color": "green", "position": [0.62, 0.16], "yaw": 0.6},
    {"name": "yellow cylinder", "shape": "cylinder", "color": "yellow", "position": [0.42, -0.18]},
    {"name": "far block", "color": "orange", "position": [1.2, 0.0]},
]


@pytest.fixture(scope="module")
def env():
    environment = TabletopEnv(TabletopConfig(oracle=True, objects=OBJECTS))
    yield environment
    environment.close()


@pytest.fixture
def api(env):
    env.reset(0)
    return env.primitives()


def call(api, name: str, *args, **kwargs):
    return api[name].fn(*args, **kwargs)


def test_the_panda_implements_the_robot_protocol(env) -> None:
    assert isinstance(env.world.robot, Robot)


def test_pick_lifts_the_object(env, api) -> None:
    z0 = env.world.pose("red block")[0][2]
    assert call(api, "pick", "red block") is True
    assert env.world.pose("red block")[0][2] - z0 > 0.10
    assert call(api, "holding") == "red block"
    assert env.success(["grasped(red block)"])[0]


def test_place_on_leaves_it_resting_on_the_target(env, api) -> None:
    call(api, "pick", "red block")
    assert call(api, "place_on", "blue block") is True
    assert call(api, "holding") is None
    assert env.success(["on(red block, blue block)"])[0]


def test_place_into_a_bowl_puts_it_inside(env, api) -> None:
    call(api, "pick", "yellow cylinder")
    call(api, "place_on", "green bowl")
    assert env.success(["inside(yellow cylinder, green bowl)"])[0]


def test_place_at_puts_it_on_the_table_there(env, api) -> None:
    call(api, "pick", "blue block")
    call(api, "place_at", 0.5, 0.0)
    assert env.success(["at(blue block, x=0.5, y=0.0, tolerance=0.01)", "on(blue block, table)"])[0]


def test_push_moves_the_object_roughly_by_the_offset(env, api) -> None:
    before = call(api, "get_pose", "blue block")
    after = call(api, "push", "blue block", 0.0, 0.10)
    assert after[1] - before[1] == pytest.approx(0.10, abs=0.02)
    assert abs(after[0] - before[0]) < 0.02
    assert env.success(["moved(blue block, dx=0, dy=0.1, tolerance=0.02)", "upright(blue block)"])[0]


def test_unreachable_object_raises_before_moving(env, api) -> None:
    start = env.world.robot.ee_pose()[0]
    with pytest.raises(Unreachable) as info:
        call(api, "pick", "far block")
    assert info.value.category is FailureCategory.UNREACHABLE
    assert math.dist(env.world.robot.ee_pose()[0], start) < 0.005


def test_unknown_name_lists_what_is_visible(api) -> None:
    with pytest.raises(ObjectNotFound) as info:
        call(api, "pick", "purple pyramid")
    message = str(info.value)
    assert "purple pyramid" in message and "red block" in message and "green bowl" in message
    assert info.value.category is FailureCategory.NOT_FOUND


@pytest.mark.parametrize("name", ["red block", "the red cube", "Red Block", "red"])
def test_tolerant_names(api, env, name: str) -> None:
    truth = env.world.pose("red block")[0]
    assert math.dist(call(api, "get_pose", name), truth) < 0.001


def test_get_objects_lists_every_object_with_the_contract_keys(api) -> None:
    objects = call(api, "get_objects")
    assert {o["name"] for o in objects} == {o["name"] for o in OBJECTS}
    for o in objects:
        assert set(o) == {"name", "color", "shape", "position", "size"}
        assert len(o["position"]) == 3 and len(o["size"]) == 3
    bowl = next(o for o in objects if o["name"] == "green bowl")
    assert bowl["shape"] == "bowl" and bowl["size"] == [0.14, 0.14, 0.05]


def test_grasp_on_nothing_raises_grasp_missed(api) -> None:
    with pytest.raises(GraspMissed) as info:
        call(api, "pick", "red block", dy=-0.08)
    assert info.value.category is FailureCategory.GRASP_MISSED
    assert call(api, "holding") is None


def test_place_with_nothing_picked_is_the_programs_fault_not_a_drop(api) -> None:
    """A place that no pick came before is a missing step of the program (a repair must change
    the program), not a slip of the world; it is still an ObjectDropped for a policy's except."""
    with pytest.raises(NothingHeld) as info:
        call(api, "place_on", "blue block")
    assert isinstance(info.value, ObjectDropped)
    assert info.value.category is FailureCategory.EXCEPTION and "pick(" in str(info.value)
    assert call(api, "pick", "red block")
    call(api, "open_gripper")  # opened since: nothing is held again
    with pytest.raises(NothingHeld):
        call(api, "place_at", 0.5, 0.1)


def test_bad_arguments_are_typed_errors(api) -> None:
    with pytest.raises(InvalidArgument):
        call(api, "pick", "red block", speed=0.0)
    with pytest.raises(InvalidArgument):
        call(api, "move_to", 0.5, 0.0, 0.2, speed=3.0)
    with pytest.raises(Unreachable):
        call(api, "move_to", 0.5, 0.0, -0.05)
    assert issubclass(InvalidArgument, PrimitiveError)


def test_move_to_gripper_and_home(env, api) -> None:
    end = call(api, "move_to", 0.5, 0.1, 0.25, speed=0.5)
    assert math.dist(end, (0.5, 0.1, 0.25)) < 0.01
    assert call(api, "close_gripper") is False
    assert env.world.robot.gripper_width() < 0.005
    call(api, "open_gripper")
    assert env.world.robot.gripper_width() > 0.075
    call(api, "home")
    assert env.world.robot.ee_pose()[0][0] < 0.32  # back behind the table area the camera watches


def test_spec_lists_every_primitive_with_its_docstring(api) -> None:
    expected = ["get_objects", "get_pose", "pick", "place_on", "place_at", "move_to", "push", "open_gripper",
                "close_gripper", "holding", "home"]
    assert api.names() == expected
    spec = api.spec()
    for name in expected:
        assert f"{name}(" in spec
        assert api[name].doc.splitlines()[0] in spec
    assert "pick(name: str, dx: float = 0.0, dy: float = 0.0, speed: float = 1.0) -> bool" in spec
    assert api.domain == "tabletop"


def test_primitive_set_survives_reset_and_reports_sim_time(env) -> None:
    env.reset(0)
    api = env.primitives()
    call(api, "pick", "red block")
    t = api.sim_time()
    assert t > 0.5
    env.reset(1)
    assert env.primitives() is api and api.sim_time() < t


class CountingDetector:
    """Stands in for the camera detector: sees what the oracle sees, counts its calls."""

    def __init__(self) -> None:
        self.env: TabletopEnv | None = None
        self.calls = 0

    def detect(self, images, cameras) -> list[SceneObject]:
        assert "front/rgb" in images and "front" in cameras
        self.calls += 1
        return self.env._oracle()  # type: ignore[union-attr]


def test_detections_are_reused_until_something_moves() -> None:
    detector = CountingDetector()
    env = TabletopEnv(TabletopConfig(objects=OBJECTS[:2]), detector=detector)
    detector.env = env
    try:
        env.reset(0)
        renders = env.stats()["renders"]
        calls = detector.calls
        api = env.primitives()
        call(api, "get_pose", "red block")
        call(api, "pick", "red block")  # nothing moved since the observation: no new render
        assert detector.calls == calls and env.stats()["renders"] == renders
        call(api, "place_on", "blue block")  # the arm moved: detect once more
        assert detector.calls == calls + 1
        assert env.success(["on(red block, blue block)"])[0]
    finally:
        env.close()


def test_cached_source_calls_again_only_when_the_version_changes() -> None:
    version = [0]
    calls = []

    def source() -> list[SceneObject]:
        calls.append(1)
        return [SceneObject(name="x")]

    cached = CachedSource(source, lambda: version[0])
    cached()
    cached()
    assert len(calls) == 1
    version[0] += 1
    assert cached()[0].name == "x" and len(calls) == 2
    cached.remember([SceneObject(name="y")])
    assert cached()[0].name == "y" and len(calls) == 2


def test_pick_and_place_from_camera_detections() -> None:
    """The real RGB-D detector as object source: names come from pixels, not from the config."""
    cfg = TabletopConfig(objects=[{"name": "red block", "color": "red", "region": "table"},
                                  {"name": "blue block", "color": "blue", "region": "table"},
                                  {"name": "green block", "color": "green", "region": "table"}])
    env = TabletopEnv.from_config(cfg)
    try:
        obs = env.reset(4)
        assert env.detector is not None and {o.name for o in obs.objects} == {"red block", "blue block", "green block"}
        api = env.primitives()
        call(api, "pick", "the red cube")
        call(api, "place_on", "blue block")
        call(api, "pick", "green block")  # the arm above the stack may hide it: the skill looks again
        call(api, "place_on", "red block")
        assert env.success(["on(red block, blue block)", "on(green block, red block)"])[0]
    finally:
        env.close()


def test_picking_what_is_already_held_is_a_no_op_and_anything_else_is_refused(api) -> None:
    """A program run again after its place failed starts with pick(): the object is already in
    the gripper, so that step is done; picking another object still needs a place first."""
    assert call(api, "pick", "red block")
    assert call(api, "pick", "red block") is True and call(api, "holding") == "red block"
    with pytest.raises(InvalidArgument, match="already holding"):
        call(api, "pick", "blue block")
