"""A submit that changes nothing on screen is a failed step (category ``no_effect``), not a
success: the agent looks for a changed page or dialog after pressing a submit-like button.
One Chromium, pages of these tests: a form whose Save button is dead, and one whose works."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied.gui import GuiSession
from sim.gui.config import GuiConfig
from sim.gui.env import GuiAgentEnv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromedriver") is None or not (shutil.which("chromium") or
                                                                     shutil.which("chromium-browser")),
                       reason="needs Debian chromium and chromium-driver"),
]

FORM = """<!doctype html><html><head><title>Profile</title></head><body style="font: 16px sans-serif">
<label for="city">City</label> <input id="city">
<button id="save" onclick="{on_save}">Save</button>
</body></html>"""
DEAD = FORM.replace("{on_save}", "window.pressed = (window.pressed || 0) + 1")  # heard, but shows nothing
LIVE = FORM.replace("{on_save}", "document.body.insertAdjacentHTML('beforeend', '<p>Saved ' + "
                                 "document.getElementById('city').value + '</p>')")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("submit")
    out = {}
    for name, html in (("dead", DEAD), ("live", LIVE)):
        (folder / f"{name}.html").write_text(html, encoding="utf-8")
        out[name] = (folder / f"{name}.html").as_uri()
    return out


@pytest.fixture(scope="module")
def env(pages: dict[str, str]) -> Iterator[GuiAgentEnv]:
    env = GuiAgentEnv(GuiConfig(backend="browser", app=pages["dead"], semantic=False,
                                options={"screenshot": False, "width": 500, "height": 300}))
    yield env
    env.close()


def test_a_submit_that_changes_nothing_fails_with_no_effect(env: GuiAgentEnv, tmp_path: Path) -> None:
    env.reset(0)
    result = GuiSession(env, run_dir=tmp_path).do("type Lyon into City and click Save")
    assert env.gui.run_js("return window.pressed;") >= 1  # the button was pressed: the click was not lost
    assert not result.claimed_success
    assert "no_effect" in result.failure and "did not change" in result.failure


def test_a_submit_that_shows_its_result_passes(env: GuiAgentEnv, pages: dict[str, str], tmp_path: Path) -> None:
    env.gui.launch(pages["live"])
    result = GuiSession(env, run_dir=tmp_path).do("type Lyon into City and click Save")
    assert result.claimed_success, result.failure
    assert env.gui.run_js("return document.body.innerText;").strip().endswith("Saved Lyon")
