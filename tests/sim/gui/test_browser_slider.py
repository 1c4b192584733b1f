"""Sliders are set on the widget itself (dragged, then nudged with its arrow keys) and checked
by the value they read; tapping a tick label beside one is not setting it. One Chromium, a page
of these tests: a range input and a scripted ARIA slider with inert tick labels."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied.gui import GuiSession
from embodied.types import Condition
from perception.screen_predicates import evaluate
from sim.gui.browser import BrowserEnv
from sim.gui.config import GuiConfig
from sim.gui.env import GuiAgentEnv
from sim.gui.skills import GuiSkills, NotASlider

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromedriver") is None or not (shutil.which("chromium") or
                                                                     shutil.which("chromium-browser")),
                       reason="needs Debian chromium and chromium-driver"),
]

PAGE = """<!doctype html><html><head><title>Mixer</title><style>
body { font: 16px sans-serif; } .row { margin: 24px 10px; }
#shade { position: relative; display: inline-block; width: 220px; height: 14px; background: #ccc; }
#knob { position: absolute; top: -3px; width: 20px; height: 20px; background: #36c; border-radius: 10px; }
.ticks span { display: inline-block; width: 40px; }
</style></head><body>
<div class="row"><label for="vol">Volume</label> <input id="vol" type="range" min="0" max="50" step="5" value="10"
  style="width: 220px"></div>
<div class="row ticks"><span>0</span><span>10</span><span>20</span><span>30</span><span>40</span><span>50</span></div>
<div class="row"><span id="bl">Brightness</span>
  <div id="shade" role="slider" tabindex="0" aria-labelledby="bl" aria-valuemin="0" aria-valuemax="100"
       aria-valuenow="20"><div id="knob"></div></div></div>
<button onclick="document.getElementById('note').textContent = 'noted'">Note</button> <span id="note"></span>
<script>
const shade = document.getElementById('shade'), knob = document.getElementById('knob');
const show = (v) => { v = Math.max(0, Math.min(100, Math.round(v))); shade.setAttribute('aria-valuenow', v);
                      knob.style.left = (v * 2) + 'px'; };
const fromX = (x) => show((x - shade.getBoundingClientRect().left - 10) / 2);
let held = false;
shade.addEventListener('pointerdown', (e) => { held = true; shade.focus(); fromX(e.clientX); });
window.addEventListener('pointermove', (e) => { if (held) fromX(e.clientX); });
window.addEventListener('pointerup', () => { held = false; });
shade.addEventListener('keydown', (e) => {
  const v = Number(shade.getAttribute('aria-valuenow'));
  if (e.key === 'ArrowRight' || e.key === 'ArrowUp') show(v + 1);
  if (e.key === 'ArrowLeft' || e.key === 'ArrowDown') show(v - 1);
});
show(20);
</script></body></html>"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("slider") / "mixer.html"
    path.write_text(PAGE, encoding="utf-8")
    return path.as_uri()


@pytest.fixture(scope="module")
def env(page: str) -> Iterator[GuiAgentEnv]:
    env = GuiAgentEnv(GuiConfig(backend="browser", app=page, semantic=False,
                                options={"screenshot": False, "width": 500, "height": 400}))
    yield env
    env.close()


def _page_values(browser: BrowserEnv) -> tuple[str, str]:
    return browser.run_js("return [document.getElementById('vol').value, "
                          "document.getElementById('shade').getAttribute('aria-valuenow')];")


def test_set_slider_drags_the_widget_and_reads_it_back(env: GuiAgentEnv) -> None:
    env.reset(0)
    skills = env.skills
    assert skills.set_slider("Volume", 35) == 35
    assert skills.set_slider("Brightness", 73) == 73
    assert _page_values(env.gui) == ["35", "73"]
    volume = next(e for e in skills.observation(fresh=True).elements if e.role == "slider" and e.text == "35")
    assert volume.value_range == (0.0, 50.0, 5.0)
    with pytest.raises(NotASlider):
        skills.set_slider("Note", 3)


def test_a_tapped_tick_label_does_not_pass_the_slider_check(env: GuiAgentEnv) -> None:
    env.reset(0)
    GuiSkills(env.gui).tap("30")  # the label under the track, not the slider
    result = evaluate(Condition("slider_value", ("Volume", "30")), env.gui.observe())
    assert result.holds is False and "reads 10" in result.why


@pytest.mark.parametrize("instruction, want", [
    ("drag the volume slider to 35", ["35", "20"]),
    ("set Brightness to 64, then move the Volume all the way to 50", ["50", "64"]),
])
def test_the_agent_reads_slider_instructions(env: GuiAgentEnv, tmp_path: Path, instruction: str,
                                             want: list[str]) -> None:
    env.reset(0)
    result = GuiSession(env, run_dir=tmp_path).do(instruction)
    assert result.claimed_success, result.failure
    assert _page_values(env.gui) == want  # the page's own state, not the agent's verdict
