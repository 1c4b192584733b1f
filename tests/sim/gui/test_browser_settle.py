"""The browser waits for a page that is still reacting to input: script timers the input set off
count as unfinished work (short ones for every observation, longer ones for ``wait_idle``), while
timers the page runs on its own do not hold anything up. One Chromium, a page of these tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from sim.gui.browser import BrowserEnv, BrowserOptions
from sim.gui.skills import GuiSkills

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromedriver") is None or not (shutil.which("chromium") or
                                                                     shutil.which("chromium-browser")),
                       reason="needs Debian chromium and chromium-driver"),
]

# "Slide" moves a box in 6 steps 70 ms apart (longer than the quiet window): read between two
# steps, the box is half-way; "Glide" moves a kite over 20 animation frames. The search field
# fills its list 400 ms after the last key, as debounced searches do. A clock ticks every 50 ms
# all the time, on its own.
PAGE = """<!doctype html><html><head><title>Settle desk</title></head><body style="font: 16px sans-serif">
<button id="go" onclick="slide()">Slide</button>
<button id="glide" onclick="glide()" style="margin-left: 200px">Glide</button>
<div id="box" style="position: absolute; left: 10px; top: 80px; width: 60px; height: 30px">Box</div>
<div id="kite" style="position: absolute; left: 10px; top: 115px; width: 60px; height: 30px">Kite</div>
<input id="q" aria-label="Search" style="position: absolute; top: 150px">
<ul id="hits" style="position: absolute; top: 190px"></ul>
<span id="clock" style="position: absolute; top: 300px">0</span>
<script>
function slide() {
  let x = 10;
  const step = () => { x += 50; document.getElementById('box').style.left = x + 'px';
                       if (x < 310) setTimeout(step, 70); };
  setTimeout(step, 70);
}
function glide() {  // 20 animation frames, as requestAnimationFrame-driven effects run
  let frames = 0;
  const step = () => { frames += 1; document.getElementById('kite').style.left = (10 + 15 * frames) + 'px';
                       if (frames < 20) requestAnimationFrame(step); };
  requestAnimationFrame(step);
}
let pending = null;
document.getElementById('q').addEventListener('keydown', () => {
  clearTimeout(pending);
  pending = setTimeout(() => {
    document.getElementById('hits').innerHTML = '<li>' + document.getElementById('q').value + ' found</li>';
  }, 400);
});
let ticks = 0;
(function tick() { document.getElementById('clock').textContent = ++ticks; setTimeout(tick, 50); })();
</script></body></html>"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserEnv]:
    path = tmp_path_factory.mktemp("settle") / "settle.html"
    path.write_text(PAGE, encoding="utf-8")
    env = BrowserEnv(BrowserOptions(width=600, height=400, screenshot=False, url=path.as_uri()))
    env.start()
    yield env
    env.close()


def test_an_observation_waits_for_the_steps_a_tap_set_off(browser: BrowserEnv) -> None:
    skills = GuiSkills(browser)
    skills.tap("Slide")
    box = next(e for e in browser.observe().elements if e.text == "Box")
    assert box.bounds[0] == 310  # the last step's place, not a place half-way
    skills.tap("Glide")
    kite = next(e for e in browser.observe().elements if e.text == "Kite")
    assert kite.bounds[0] == 310


def test_wait_idle_waits_for_a_debounced_list_but_a_read_does_not(browser: BrowserEnv) -> None:
    skills = GuiSkills(browser)
    skills.type_text("kiwi", into="Search")
    texts = [e.text for e in browser.observe().elements]
    assert "kiwi found" not in texts  # a 400 ms debounce is beyond an observation's horizon: not waited for
    assert skills.wait_idle(timeout_s=3)
    assert "kiwi found" in [e.text for e in browser.observe().elements]


def test_a_clock_of_the_page_own_does_not_hold_a_read_up(browser: BrowserEnv) -> None:
    assert browser.wait_settled(1.0) is True  # the page's own 50 ms clock is not work the agent set off
