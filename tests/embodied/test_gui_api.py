"""The scripting API (embodied.gui): a session runs the closed loop on the live screen, acts
directly through the same (guarded) primitives, reports dry runs, and validates connect()."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "planners"))  # the scripted screen of the planner tests

from gui_screens import ScriptedScreen, el

import embodied.gui
from embodied.errors import ConfigError
from embodied.gui import GuiSession
from embodied.trace import read_trace
from sim.gui.config import GuiConfig
from sim.gui.env import GuiAgentEnv
from sim.gui.errors import ElementNotFound
from sim.gui.safety import SafetyConfig


def page() -> list:
    return [el("e0", "label", "Search", 20, width=60), el("e1", "textbox", "", 20, left=100, description="Search"),
            el("e2", "switch", "Wi-Fi", 60, width=40, checked=False), el("e3", "button", "Go", 100)]


def session(dry_run: bool = False, **kw: object) -> tuple[GuiSession, ScriptedScreen]:
    screen = ScriptedScreen(page())
    env = GuiAgentEnv(GuiConfig(backend="desktop", semantic=False, safety=SafetyConfig(dry_run=dry_run)), gui=screen)
    env.reset(0)
    return GuiSession(env, closed_loop=not dry_run, **kw), screen  # type: ignore[arg-type]


def test_do_runs_the_closed_loop_and_reports_like_an_episode(tmp_path: Path) -> None:
    s, screen = session(run_dir=tmp_path)
    result = s.do("turn on Wi-Fi, then search for cats", goal=["checked(Wi-Fi switch)"])
    assert result.success and result.subgoals == 3 and result.sim_steps == 3, result.failure
    assert screen.get("e2").checked is True and screen.get("e1").text == "cats"
    assert ("key", "enter") in screen.log
    assert (tmp_path / "do-1" / "trace.jsonl").is_file() and (tmp_path / "do-1" / "summary.json").is_file()
    failed = s.do("juggle three balls")
    assert not failed.success and failed.failure.startswith("planning failed")
    s.close()


def test_direct_actions_and_the_screen() -> None:
    s, screen = session()
    with s:
        assert s.find("Go button")["text"] == "Go"
        s.type_text("dogs", into="Search")
        s.tap("Go")
        assert s.read_text("Search") == "dogs"
        shot = s.screen()
        assert shot.image is not None and "Go" in shot.texts()
        with pytest.raises(ElementNotFound):
            s.tap("Checkout")
    assert ("tap", "Go") in screen.log
    with pytest.raises(RuntimeError, match="closed"):
        s.tap("Go")


def test_direct_actions_run_in_the_sandbox_and_are_recorded_redacted(tmp_path: Path) -> None:
    screen = ScriptedScreen(page())
    env = GuiAgentEnv(GuiConfig(backend="desktop", semantic=False, secrets={"pin": "4711"}), gui=screen)
    env.reset(0)
    with GuiSession(env, run_dir=tmp_path) as s:
        s.type_text(s.secret("pin"), into="Search")
        with pytest.raises(ElementNotFound):
            s.tap("Checkout")
    assert screen.get("e1").text == "4711"  # the real value reached the screen
    events = read_trace(tmp_path / "direct" / "trace.jsonl")
    policies = [e["source"] for e in events if e["event"] == "policy"]
    calls = [c for e in events if e["event"] == "execution" for c in e["calls"]]
    assert policies == ["secret('pin')\n", "type_text(***, into='Search')\n", "tap('Checkout')\n"]
    assert [(c["name"], c["error_type"]) for c in calls] == [("secret", None), ("type_text", None),
                                                             ("tap", "ElementNotFound")]
    assert "4711" not in (tmp_path / "direct" / "trace.jsonl").read_text()


def test_dry_run_session_records_intended_actions() -> None:
    s, screen = session(dry_run=True)
    result = s.do("type cats into Search and click Go")
    # Nothing was sent, so nothing is true: the claim is the agent's, the screen gives no ground truth.
    assert result.claimed_success and result.success is None
    assert not [e for e in screen.log if e[0] in ("tap", "type")]
    assert [a.primitive for a in s.intended] == ["type_text", "tap"]
    s.close()


def test_connect_validates_names_and_options() -> None:
    with pytest.raises(ConfigError, match="did you mean 'browser'"):
        embodied.gui.connect("browzer")
    with pytest.raises(ConfigError, match=r"options\.no_such_option: Extra inputs"):
        embodied.gui.connect("desktop", no_such_option=1)


def test_import_is_light() -> None:
    code = ("import sys, embodied.gui; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('sim', 'planners', 'perception', 'selenium', 'torch')]; print(bad); sys.exit(bool(bad))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromedriver") is None, reason="needs Debian chromium and chromium-driver")
def test_connect_to_a_browser_and_log_in() -> None:
    with embodied.gui.connect("browser", app="file://{apps}/login.html", secrets={"password": "pw-123456"},
                              viewport={"width": 390, "height": 844, "mobile": True}) as phone:
        result = phone.do("log in as alice with the configured password", goal=["text_visible(Welcome alice)"])
        assert result.success, result.failure
        assert result.outcomes[1]["subgoal"] == "type the configured password into password text field"


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromedriver") is None, reason="needs Debian chromium and chromium-driver")
@pytest.mark.parametrize(("config", "overrides", "ok"), [
    ("browser_form.yaml", [], True),
    ("miniwob.yaml", ["env.task=click-checkboxes", "env.seed=3"], True),
    ("miniwob.yaml", ["env.task=count-shape"], False),  # "How many ... are there?": not an instruction it reads
])
def test_gui_configs_run(config: str, overrides: list[str], ok: bool, tmp_path: Path) -> None:
    from embodied.config import load_config
    from embodied.experiment import run_episode

    cfg = load_config(ROOT / "configs" / "gui" / config, [*overrides, f"run.out_dir={tmp_path}", "run.quiet=true"])
    result = run_episode(cfg, tmp_path / "episode")
    assert result.success is ok, result.failure
    if not ok:
        assert result.failure.startswith("planning failed") and "not understood" in result.failure


def test_a_dry_run_on_a_missing_element_claims_no_success() -> None:
    s, _screen = session(dry_run=True)
    result = s.do("tap Export to spreadsheet")  # nothing on this page says that
    assert not result.claimed_success and result.success is None and "not_found" in result.failure
    assert not s.intended
    s.close()
