"""The Gymnasium wrapper of the tabletop: API contract, determinism, action scale, reward."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sim.tabletop.config import TabletopConfig
from sim.tabletop.gym_env import MAX_DELTA, TabletopGymEnv

CONFIG = TabletopConfig(objects=[
    {"name": "red block", "color": "red", "region": "left"},
    {"name": "blue block", "color": "blue", "region": "right"},
], cameras=[{"name": "front", "width": 64, "height": 48}])


@pytest.fixture
def env():
    environment = TabletopGymEnv(CONFIG, ["on(red block, blue block)"], render_mode="rgb_array")
    yield environment
    environment.close()


def test_passes_the_gymnasium_checker(env) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*spec.*")  # only about gymnasium.make registration
        check_env(env, skip_render_check=False)


def test_reset_with_a_seed_is_deterministic(env) -> None:
    a, _ = env.reset(seed=11)
    b, _ = env.reset(seed=11)
    c, _ = env.reset(seed=12)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["objects"], c["objects"])
    assert env.observation_space.contains(a)


def test_action_moves_the_end_effector_by_at_most_two_centimetres(env) -> None:
    obs, _ = env.reset(seed=0)
    new, reward, terminated, truncated, info = env.step(np.array([1.0, -1.0, 5.0, -1.0], dtype=np.float32))
    delta = new["ee"] - obs["ee"]
    assert delta == pytest.approx([MAX_DELTA, -MAX_DELTA, MAX_DELTA], abs=0.004)  # a[2] clipped to 1
    assert reward == 0.0 and not terminated and not truncated and not info["unreachable"]
    new, *_ = env.step(np.array([0, 0, 0, 1.0], dtype=np.float32))
    assert new["gripper_width"][0] < 0.005  # closed on nothing
    assert env.render().shape == (48, 64, 3)


def test_reward_and_termination_follow_the_goal() -> None:
    env = TabletopGymEnv(CONFIG, ["left_of(red block, blue block)", "on(red block, blue block)"])
    try:
        env.reset(seed=0)
        _, reward, terminated, _, info = env.step(np.zeros(4, dtype=np.float32))
        assert reward == 0.5 and not terminated
        assert [c["ok"] for c in info["goal"]["conditions"]] == [True, False]
    finally:
        env.close()
    env = TabletopGymEnv(CONFIG, ["left_of(red block, blue block)"])
    try:
        env.reset(seed=0)
        _, reward, terminated, _, _ = env.step(np.zeros(4, dtype=np.float32))
        assert reward == 1.0 and terminated
    finally:
        env.close()


def test_step_before_reset_is_an_error() -> None:
    env = TabletopGymEnv(CONFIG, ["on(red block, blue block)"])
    with pytest.raises(Exception, match="reset"):
        env.step(np.zeros(4, dtype=np.float32))
    with pytest.raises(ValueError):
        TabletopGymEnv(CONFIG, [])
