"""GUI safety: risky actions need confirmation (denied in batch runs, recorded in the trace), dry
runs send nothing, and a typed secret never reaches the run directory, the console or the log."""

from __future__ import annotations

import io
import json
import logging
import shutil
from pathlib import Path

import pytest
from gui_fakes import FakeGui, login_screen

from embodied.agent import Agent, HybridMonitor, LoopBudgets
from embodied.config import load_config
from embodied.experiment import RunLog, run_episode
from embodied.sandbox import Sandbox
from embodied.trace import TraceWriter, read_trace
from embodied.types import FailureCategory, UIElement
from perception.monitors import TraceMonitor
from perception.screen_monitor import ScreenMonitor
from planners.gui import GuiRepairer, GuiRulePlanner, GuiTemplateWriter
from sim.gui.config import GuiConfig
from sim.gui.env import GuiAgentEnv
from sim.gui.errors import ElementNotFound
from sim.gui.safety import ConfirmationDenied, ProposedAction, RiskRules, SafetyConfig, terminal_confirm

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "s3cret-Horse-42"


def shop_screen() -> list[UIElement]:
    return [*login_screen(),
            UIElement("e20", "button", "Pay now", (20, 180, 120, 200), clickable=True),
            UIElement("e21", "button", "Remove filter", (130, 180, 250, 200), clickable=True),
            UIElement("e22", "textbox", "", (20, 210, 200, 230), clickable=True, editable=True,
                      description="Type DELETE to confirm")]


def make_env(safety: dict | None = None, confirm: object = None) -> tuple[GuiAgentEnv, FakeGui]:
    fake = FakeGui(shop_screen())
    config = GuiConfig(backend="desktop", semantic=False, safety=SafetyConfig(**(safety or {})),
                       secrets={"password": PASSWORD})
    return GuiAgentEnv(config, gui=fake, confirm=confirm), fake  # type: ignore[arg-type]


def taps(fake: FakeGui) -> list[tuple]:
    return [entry for entry in fake.log if entry[0] in ("tap", "type", "key")]


def test_risk_rules_match_whole_words_and_phrases() -> None:
    rules = RiskRules(SafetyConfig().risky, never=["Remove filter"])
    assert rules.risk(["Pay now"]) == "pay now"
    assert rules.risk(["Confirm   Payment"]) == "confirm payment"
    assert rules.risk(["Delete account"]) == "delete"
    assert rules.risk(["Payment history", "Reorder list", "Sender"]) == ""  # no whole word
    assert rules.risk(["Remove filter"]) == ""  # configured exception


def test_risky_tap_is_denied_in_batch_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no TTY: nobody to ask
    env, fake = make_env()
    api = env.primitives()
    with pytest.raises(ConfirmationDenied) as info:
        api["tap"].fn("Pay now")
    assert info.value.category is FailureCategory.DENIED
    assert taps(fake) == []  # nothing was sent
    assert [(d.action.shown, d.allowed) for d in env.guard.decisions] == [("Pay now", False)]
    assert env.stats()["risky_denied"] == 1  # lands in summary.json
    api["tap"].fn("Log in")  # ordinary actions are not asked about
    assert len(env.guard.decisions) == 1 and taps(fake) == [("tap", 55, 152)]


def test_confirmed_risky_action_is_sent() -> None:
    asked: list[ProposedAction] = []

    def yes(action: ProposedAction) -> bool:
        asked.append(action)
        return True

    env, fake = make_env(confirm=yes)
    api = env.primitives()
    api["tap"].fn("Pay now")
    api["type_text"].fn("DELETE", into="Type DELETE to confirm")
    assert [a.risk for a in asked] == ["pay now", "delete"]
    assert [e[0] for e in taps(fake)] == ["tap", "tap", "type"]
    assert all(d.allowed for d in env.guard.decisions)


def test_terminal_prompt_asks_and_never_shows_a_secret() -> None:
    out = io.StringIO()
    action = ProposedAction("type_text", "password field", "password field", "***", "transfer")
    assert terminal_confirm(action, io.StringIO("y\n"), out) is True
    assert terminal_confirm(action, io.StringIO("\n"), out) is False
    assert "Allow it? [y/N]" in out.getvalue() and "***" in out.getvalue()
    env, _ = make_env(confirm=lambda a: False)
    proposed = env.guard.propose("type_text", {"text": env.primitives()["secret"].fn("password"), "into": "Password"})
    assert proposed.typed == "***" and PASSWORD not in repr(proposed)


def test_denial_is_recorded_in_the_trace_and_stops_the_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    env, fake = make_env()
    env.reset(0)
    trace = TraceWriter(tmp_path, save_images=False)
    agent = Agent(GuiRulePlanner(semantic=False), GuiTemplateWriter(), GuiRepairer(semantic=False),
                  HybridMonitor([TraceMonitor(), ScreenMonitor()]), Sandbox(), LoopBudgets(), RunLog(trace, None))
    run = agent.run("tick Remember me, then click Pay now", env)
    trace.close()
    assert not run.finished and "not confirmed" in run.failure
    assert run.repairs == 0 and run.outcomes[-1].category is FailureCategory.DENIED
    calls = [c for e in read_trace(tmp_path / "trace.jsonl") if e["event"] == "execution" for c in e["calls"]]
    denied = [c for c in calls if c["error_type"] == "ConfirmationDenied"]
    assert len(denied) == 1 and denied[0]["category"] == "denied" and denied[0]["args"] == ["Pay now"]
    assert ("tap", 27, 119) in fake.log and not any(e == ("tap", 70, 190) for e in fake.log)


def test_dry_run_records_and_sends_nothing() -> None:
    env, fake = make_env({"dry_run": True}, confirm=lambda a: True)
    api = env.primitives()
    assert api["tap"].fn("Log in") is True
    assert api["type_text"].fn("bob", into="Username") is True
    api["key"].fn("enter")
    assert api["scroll_until"].fn("Help") is True  # looked at, not scrolled
    assert api["find"].fn("Help")["text"] == "Help"  # observations still work
    with pytest.raises(ElementNotFound):
        api["tap"].fn("Checkout")  # a description that matches nothing still fails
    assert taps(fake) == [] and not any(e[0] == "scroll" for e in fake.log)
    assert [(a.primitive, a.shown or a.target) for a in env.guard.intended] == [
        ("tap", "Log in"), ("type_text", "Username"), ("key", "enter"), ("scroll_until", "")]


def test_typed_secret_stays_out_of_the_trace(tmp_path: Path) -> None:
    env, fake = make_env()
    fake.shows["Log in"] = UIElement("e99", "text", "Welcome bob", (200, 140, 320, 165))  # the login shows its effect
    env.reset(0)
    trace = TraceWriter(tmp_path, save_images=False)
    agent = Agent(GuiRulePlanner(semantic=False), GuiTemplateWriter(), GuiRepairer(semantic=False),
                  HybridMonitor([TraceMonitor(), ScreenMonitor()]), Sandbox(), LoopBudgets(), RunLog(trace, None))
    run = agent.run("log in as bob with the configured password", env)
    trace.close()
    assert run.finished, run.failure
    text = (tmp_path / "trace.jsonl").read_text(encoding="utf-8")
    assert PASSWORD not in text and 'secret(\\"password\\")' in text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromedriver") is None, reason="needs Debian chromium and chromium-driver")
def test_secret_absent_from_run_dir_console_and_log(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    caplog: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBODIED_TEST_PASSWORD", PASSWORD)
    caplog.set_level(logging.DEBUG)
    cfg = load_config(ROOT / "configs" / "gui" / "browser_form.yaml",
                      ["env.secrets.password=env:EMBODIED_TEST_PASSWORD", f"run.out_dir={tmp_path}"])
    result = run_episode(cfg, tmp_path / "episode")
    assert result.success, result.failure
    summary = json.loads((tmp_path / "episode" / "summary.json").read_text())
    assert summary["goal_details"]["conditions"]["text_visible(Welcome alice)"]["holds"] is True
    files = [p for p in (tmp_path / "episode").rglob("*") if p.is_file()]
    assert any(p.suffix == ".png" for p in files) and any(p.name == "trace.jsonl" for p in files)
    for path in files:
        assert PASSWORD.encode() not in path.read_bytes(), path
    out = capsys.readouterr()
    assert PASSWORD not in out.out and PASSWORD not in out.err and "Welcome" not in out.err
    assert PASSWORD not in caplog.text
