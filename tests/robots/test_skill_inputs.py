"""Primitives check their numbers and names before anything moves, and honour the running
policy's time budget (issue 12): through the sandbox, as a code policy calls them."""

from __future__ import annotations

import time

import pytest

from embodied import naming
from embodied.errors import DeadlineExceeded, ObjectNotFound
from embodied.sandbox import Sandbox
from embodied.types import ExecutionStatus, FailureCategory
from robots.errors import InvalidArgument, Unreachable
from sim.tabletop.config import TabletopConfig
from sim.tabletop.env import TabletopEnv

OBJECTS = [
    {"name": "red block", "color": "red", "position": [0.45, 0.15]},
    {"name": "blue block", "color": "blue", "position": [0.55, -0.05]},
]


@pytest.fixture(scope="module")
def env():
    environment = TabletopEnv(TabletopConfig(oracle=True, objects=OBJECTS))
    yield environment
    environment.close()


@pytest.fixture(scope="module")
def api(env):
    """One reset for the module: every refused call leaves the world as it was."""
    env.reset(0)
    return env.primitives()


def arm(env) -> tuple[float, ...]:
    return tuple(round(q, 6) for q in env.world.robot.joint_positions())


def run(api, source: str, timeout_s: float = 60.0):
    return Sandbox(timeout_s=timeout_s).run(source, api)


@pytest.mark.parametrize(("call", "names"), [
    ("pick('red block', dx=nan)", "dx"), ("pick('red block', dy=5.0)", "dy"), ("push('red block', inf, 0)", "dx"),
    ("pick('red block', speed=nan)", "speed"), ("place_at(nan, 0)", "x"), ("place_at(0.5, inf)", "y"),
    ("place_at('0.5', 0)", "x"), ("place_on('blue block', nan, 0)", "dx"), ("move_to(0.5, nan, 0.3)", "y"),
    ("move_to(0.5, 0.1, 1e300)", "z"), ("move_to(0.5, 0.1, 0.3, speed=1e-6)", "speed"),
    ("move_to(0.5, 0.1, 0.3, speed=True)", "speed"),
])
def test_bad_numbers_fail_typed_before_any_motion(env, api, call: str, names: str) -> None:
    holding = api["holding"].fn() is not None
    if call.startswith(("place_at", "place_on")) and not holding:
        assert api["pick"].fn("red block") is True
    if call.startswith(("pick", "push")) and holding:
        env.reset(0)  # the same primitive set, bound to the fresh world
    before = arm(env)
    result = run(api, f"nan = float('nan')\ninf = float('inf')\n{call}")
    assert result.status is ExecutionStatus.ERROR
    assert result.error_type == "InvalidArgument" and result.error.startswith(f"InvalidArgument: {names} "), \
        result.error
    assert result.calls[-1].category is FailureCategory.EXCEPTION
    assert arm(env) == before  # nothing moved


def test_a_nan_reach_residual_is_unreachable(env, api) -> None:
    robot = env.world.robot
    for bad in ((float("nan"), 0.0, 0.3), (0.5, float("inf"), 0.3)):
        with pytest.raises(InvalidArgument):  # the simulated arm refuses it too, not a NaN residual
            robot.reachable(bad)
    with pytest.raises(InvalidArgument):
        robot.reachable((0.5, 0.0, 0.3), float("nan"))
    skills_reach = api["move_to"].fn.__self__._check_reach
    original = robot.reachable
    robot.reachable = lambda position, yaw=None: float("nan")
    try:
        with pytest.raises(Unreachable):
            skills_reach((0.5, 0.0, 0.3))
    finally:
        robot.reachable = original


def test_a_command_disguised_as_a_name_is_not_an_object(env, api) -> None:
    if api["holding"].fn() is not None:
        env.reset(0)  # the same primitive set, bound to the fresh world
    before = arm(env)
    result = run(api, "pick('red block; rm -rf /')")
    assert result.status is ExecutionStatus.ERROR and result.error_type == "ObjectNotFound", result.error
    assert "not an object name" in result.error and "red block" in result.error and "blue block" in result.error
    assert arm(env) == before
    with pytest.raises(ObjectNotFound):
        api["get_pose"].fn("blue block && reboot")


def test_a_giant_name_costs_little_and_names_the_candidates(env, api) -> None:
    giant = "red block " * 100_000
    t0 = time.perf_counter()
    with pytest.raises(ObjectNotFound, match="not an object name") as info:
        api["get_pose"].fn(giant)
    assert time.perf_counter() - t0 < 1.0  # was 6.8 s in one fuzzy lookup
    assert "red block" in str(info.value) and len(str(info.value)) < 400
    assert naming.resolve(giant, ["red block"]) is None and naming.closest(giant, ["red block"]) == []


def test_plausible_names_still_match_tolerantly(api) -> None:
    for name in ("red block", "the Red Cube", "gren block"[0:3] + "en block", "red_block", "block (red)"):
        assert naming.implausible(name) is None, name
    assert api["get_pose"].fn("the red cube") == api["get_pose"].fn("red block")
    assert naming.implausible("x" * (naming.MAX_NAME_CHARS + 1)) is not None
    assert naming.implausible("red;block") is not None and naming.implausible("red block\n rm") is not None
    assert naming.resolve("lid/top", ["lid/top", "red block"]) == "lid/top"  # a configured name, verbatim


def test_a_slow_motion_is_refused_when_it_cannot_end_within_the_policy_budget(env, api) -> None:
    before = arm(env)
    # 0.05 of 0.5 m/s is 2.5 cm/s: about 10 s for this move, with a 2 s budget
    result = run(api, "move_to(0.5, 0.1, 0.15, speed=0.05)", timeout_s=2.0)
    assert result.error_type == "DeadlineExceeded", result.error
    assert result.calls[-1].category is FailureCategory.TIMEOUT
    assert arm(env) == before
    assert run(api, "move_to(0.5, 0.1, 0.3)", timeout_s=30.0).status is ExecutionStatus.OK


def test_no_budget_outside_a_policy_run(api) -> None:
    assert api.time_left() is None
    with api.deadline(5.0):
        left = api.time_left()
        assert left is not None and 4.0 < left <= 5.0
        with api.deadline(60.0):
            assert api.time_left() <= 5.0  # a nested run keeps the earlier deadline
    assert api.time_left() is None
    assert issubclass(DeadlineExceeded, Exception) and DeadlineExceeded.category is FailureCategory.TIMEOUT
    assert issubclass(InvalidArgument, Exception)
