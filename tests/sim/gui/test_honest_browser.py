"""The browser acts on a settled page, never on the task's own instruction, goes home to the page
it launched, and a session keeps a password stated in the instruction out of its records. One
Chromium for the module, on a page written for these tests."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied.gui import GuiSession
from sim.gui.browser import BrowserEnv, BrowserOptions
from sim.gui.config import GuiConfig
from sim.gui.env import GuiAgentEnv
from sim.gui.errors import ElementNotFound
from sim.gui.skills import GuiSkills

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromedriver") is None or not (shutil.which("chromium") or
                                                                     shutil.which("chromium-browser")),
                       reason="needs Debian chromium and chromium-driver"),
]

# "Show details" grows a panel over ~0.5 s with script-driven steps (as jQuery animations do),
# pushing "Confirm order" down; a click at its old place hits the panel, not the button.
PAGE = """<!doctype html><html><head><title>Order desk</title></head><body style="font: 16px sans-serif">
<div id="task">Press the Launch button to start, then confirm the order</div>
<button id="grow" onclick="grow()">Show details</button>
<div id="panel" style="height: 0; overflow: hidden; background: #eee">Delivery on Tuesday</div>
<button id="confirm" onclick="document.getElementById('state').textContent = 'confirmed'">Confirm order</button>
<p id="state">open</p>
<form><label for="pw">Passphrase</label> <input id="pw" type="password"></form>
<script>
function grow() {
  let h = 0;
  const step = () => { h += 12; document.getElementById('panel').style.height = h + 'px';
                       if (h < 240) setTimeout(step, 20); };
  setTimeout(step, 20);
}
</script></body></html>"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("honest") / "order.html"
    path.write_text(PAGE, encoding="utf-8")
    return path.as_uri()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserEnv]:
    # a generous quiet window: on a loaded machine the page's own 20 ms timer steps arrive late
    env = BrowserEnv(BrowserOptions(width=600, height=500, exclude="#task", screenshot=False, quiet_ms=150))
    env.start()
    yield env
    env.close()


def test_acts_on_the_settled_page_never_on_the_instruction_and_goes_home(browser: BrowserEnv, page: str) -> None:
    browser.launch(page)
    skills = GuiSkills(browser)
    with pytest.raises(ElementNotFound):
        skills.tap("Launch")  # only the task's own instruction says "Launch"
    skills.tap("Show details")
    skills.tap("Confirm order")  # located once the panel stopped growing
    assert skills.read_text("confirmed") == "confirmed"
    assert max(browser.settle_waits_ms) > 100  # it did wait for the animation
    assert skills.observation(fresh=True).images == {}  # no screenshot asked for
    browser.launch("about:blank")
    skills.home()  # the first page launched is home when no start url was configured
    assert skills.read_text("open") == "open"


def test_a_password_stated_in_the_instruction_never_reaches_the_records(tmp_path: Path, page: str) -> None:
    env = GuiAgentEnv(GuiConfig(backend="browser", app=page, semantic=False, options={"screenshot": False}))
    try:
        env.reset(0)
        session = GuiSession(env, run_dir=tmp_path)
        result = session.do("type tangerine-42 into Passphrase")
    finally:
        env.close()
    assert result.claimed_success and result.success is None  # nothing to check it against: no truth
    written = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "do-1").iterdir() if p.is_file())
    assert "tangerine-42" not in written and "***" in written
    summary = json.loads((tmp_path / "do-1" / "summary.json").read_text(encoding="utf-8"))
    assert summary["instruction"].count("***") == 1


def test_embodied_run_keeps_a_literal_password_out_of_files_and_the_console(tmp_path: Path) -> None:
    import io

    from embodied.config import load_config
    from embodied.console import ConsoleLog
    from embodied.experiment import run_episode

    root = Path(__file__).resolve().parents[3]
    cfg = load_config(root / "configs/gui/browser_login.yaml",
                      ["task.instruction=sign in as alice using the password quince-77", "env.secrets={}",
                       "env.options={screenshot: false}", f"run.out_dir={tmp_path}"])
    out = io.StringIO()
    result = run_episode(cfg, tmp_path / "ep", console=ConsoleLog(out))
    assert result.success and result.claimed_success  # the page says "Welcome alice": ground truth
    records = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "ep").iterdir() if p.is_file())
    assert "quince-77" not in records + out.getvalue()
    assert "***" in (tmp_path / "ep" / "config.yaml").read_text(encoding="utf-8")
