"""The desktop agent end to end on the real Tk form app under Xvfb (started here): the closed loop
(GUI rule planner, OCR screen, trace + screen monitors) fills two fields, ticks a box and presses
Submit; the app writes its final state to a file and the tests read it. Also: the scripting API on
the same app, and a replay of the recorded episode doing the same actions."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import embodied.gui
from embodied.config import load_config
from embodied.experiment import run_episode
from embodied.replay import replay_episode
from sim.gui.xvfb import Xvfb

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool") and shutil.which("tesseract")),
                       reason="needs Debian xvfb, xdotool and tesseract-ocr"),
]

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "configs" / "gui" / "desktop_form.yaml"
INSTRUCTION = "type Ada Lovelace into Name, type ada@example.com into Email, tick I agree, then click Submit"
EXPECTED = {"name": "Ada Lovelace", "email": "ada@example.com", "agree": True, "submitted": True}


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with Xvfb(800, 600) as server:
        assert server.display
        yield server.display


def overrides(display: str, out: Path, run_dir: Path) -> list[str]:
    app = f"{sys.executable} -m sim.gui.apps.form_app --out {out}"
    return [f"env.options.display={display}", "env.options.xvfb=false", f"env.app={app}",
            f"env.success.file={out}", f"run.out_dir={run_dir}", "run.quiet=true"]


def test_closed_loop_fills_the_tk_form(display: str, tmp_path: Path) -> None:
    out = tmp_path / "form.json"
    cfg = load_config(CONFIG, overrides(display, out, tmp_path))
    result = run_episode(cfg, tmp_path / "episode", config_dir=CONFIG.parent)
    assert result.success, result.failure
    assert json.loads(out.read_text(encoding="utf-8")) == EXPECTED  # what the app itself wrote
    assert result.subgoals == 4 and result.repairs == 0
    actions = [o["subgoal"] for o in result.outcomes]
    assert actions == ['type "Ada Lovelace" into Name', 'type "ada@example.com" into Email', 'tick "I agree"',
                       'click "Submit"']


def test_replay_of_the_recorded_episode_does_the_same_actions(display: str, tmp_path: Path) -> None:
    out = tmp_path / "form.json"
    cfg = load_config(CONFIG, overrides(display, out, tmp_path))
    first = run_episode(cfg, tmp_path / "episode", config_dir=CONFIG.parent)
    assert first.success, first.failure
    out.unlink()
    replay = replay_episode(tmp_path / "episode", out_dir=tmp_path / "replay", config_dir=CONFIG.parent)
    assert replay.matches, replay.summary()
    calls = [s for s in replay.original if s.kind == "call"]
    assert [c.data["name"] for c in calls] == ["type_text", "type_text", "set_checked", "tap"]
    assert json.loads(out.read_text(encoding="utf-8")) == EXPECTED  # the replay filled the form again


def test_scripting_api_on_the_tk_form(display: str, tmp_path: Path) -> None:
    out = tmp_path / "form.json"
    app = f"{sys.executable} -m sim.gui.apps.form_app --out {out}"
    with embodied.gui.connect("desktop", app=app, display=display, run_dir=tmp_path / "session") as screen:
        first = screen.screen()
        assert {"Name", "Email", "Submit"} <= set(first.texts()) and first.image is not None
        result = screen.do("type Ada Lovelace into Name, type ada@example.com into Email")
        # A session has no ground truth of its own (success None); the agent's claim stands apart.
        assert result.claimed_success and result.success is None and result.sim_steps == 2, result.failure
        screen.tap("I agree")  # direct actions use the same primitives as policies
        assert screen.find("I agree checkbox")["checked"] is True
        screen.tap("Submit")
        assert screen.wait_for("Submitted", timeout_s=5)
    assert json.loads(out.read_text(encoding="utf-8")) == EXPECTED
    assert (tmp_path / "session" / "do-1" / "trace.jsonl").is_file()
