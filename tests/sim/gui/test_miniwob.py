"""MiniWoB++ tasks through GuiAgentEnv and the GUI primitives (no planner: the test reads the
utterance itself). One Chromium for the module."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from embodied.sandbox import Sandbox
from sim.gui.config import GuiConfig
from sim.gui.env import GuiAgentEnv
from sim.gui.miniwob import MiniWobEnv, MiniWobOptions, task_names

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromedriver") is None, reason="needs Debian chromium and chromium-driver"),
]


@pytest.fixture(scope="module")
def env() -> Iterator[GuiAgentEnv]:
    e = GuiAgentEnv(GuiConfig(backend="miniwob", task="click-button", semantic=False))
    yield e
    e.close()


def test_task_list_and_validation() -> None:
    names = task_names()
    assert len(names) > 100 and {"click-test", "click-button", "enter-text"} <= set(names)
    with pytest.raises(ValidationError, match="did you mean 'click-button'"):
        MiniWobOptions(task="click-buton")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_click_button_by_primitives(env: GuiAgentEnv, seed: int) -> None:
    obs = env.reset(seed)
    utterance = obs.task
    m = re.fullmatch(r'Click on the "(.+)" button\.', utterance)
    assert m, utterance
    assert env.success([])[0] is False  # nothing done yet
    api = env.primitives()
    api["tap"].fn(f'the "{m.group(1)}" button')
    ok, info = env.success([])
    assert ok and info["raw_reward"] > 0, info


def test_same_seed_same_episode(env: GuiAgentEnv) -> None:
    a = env.reset(7)
    b = env.reset(7)
    assert a.task == b.task
    assert [(e.id, e.role, e.text, e.bounds) for e in a.elements] == [(e.id, e.role, e.text, e.bounds)
                                                                        for e in b.elements]
    c = env.reset(8)
    assert (c.task, [e.text for e in c.elements]) != (a.task, [e.text for e in a.elements])


def test_wrong_button_gets_negative_reward(env: GuiAgentEnv) -> None:
    for seed in range(3, 20):  # an episode with a button of another label
        obs = env.reset(seed)
        want = re.search(r'"(.+)"', obs.task).group(1)  # type: ignore[union-attr]
        wrong = next((e for e in obs.elements if e.role == "button" and e.text != want), None)
        if wrong is not None:
            break
    assert wrong is not None
    env.gui.tap(wrong)
    ok, info = env.success([])
    assert not ok and info["done"] and info["raw_reward"] < 0


def test_click_test_through_the_sandbox(env: GuiAgentEnv) -> None:
    gui = env.gui
    assert isinstance(gui, MiniWobEnv)
    for seed in (0, 1):
        utterance, obs = gui.reset("click-test", seed)
        assert utterance == obs.task == "Click the button."
        execution = Sandbox().run('tap("the button")\n', env.primitives())
        assert execution.ok, execution.error
        assert gui.status().success
