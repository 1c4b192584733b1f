"""Desktop backend under a private Xvfb: the Tk form app filled in through the GUI primitives
(elements found by OCR + OpenCV), scored on the JSON file the app writes; per-step latency."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied.config import load_config
from embodied.sandbox import Sandbox
from sim.gui.desktop import DesktopEnv, DesktopOptions
from sim.gui.env import GuiAgentEnv
from sim.gui.errors import ElementNotFound
from sim.gui.skills import GuiSkills
from sim.gui.xvfb import Xvfb

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not all(shutil.which(p) for p in ("Xvfb", "xdotool", "tesseract")),
                       reason="needs Debian xvfb, xdotool, tesseract-ocr and tesseract-ocr-eng"),
]
FORM = f"{sys.executable} -m sim.gui.apps.form_app --out {{out}}"


def test_xvfb_picks_free_displays_and_stops() -> None:
    with Xvfb(320, 240) as a, Xvfb(320, 240) as b:
        assert a.display and b.display and a.display != b.display
        assert a.running and Path(f"/tmp/.X11-unix/X{a.display[1:]}").exists()
        proc = a._proc
    assert not a.running and proc is not None and proc.poll() is not None


@pytest.fixture(scope="module")
def desktop() -> Iterator[DesktopEnv]:
    env = DesktopEnv(DesktopOptions(xvfb=True, width=800, height=600))
    env.start()
    yield env
    env.close()


def test_form_through_primitives(desktop: DesktopEnv, tmp_path: Path) -> None:
    out = tmp_path / "form.json"
    desktop.relaunch(FORM.format(out=out))
    skills = GuiSkills(desktop)
    assert skills.find("the name field")["role"] == "textbox"
    skills.type_text("Ada Lövelace", into="Name")  # non-ASCII goes through xdotool's keymap remapping
    skills.type_text("ada@example.com", into="the Email field")
    assert skills.find("checkbox next to I agree")["checked"] is False
    skills.tap("I agree checkbox")
    assert skills.find("I agree checkbox")["checked"] is True
    assert skills.read_text("Email").startswith("ada@example.co")  # OCR of the typed value
    skills.tap("the Submit button")
    assert skills.wait_for("Submitted", timeout_s=3)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data == {"name": "Ada Lövelace", "email": "ada@example.com", "agree": True, "submitted": True}
    with pytest.raises(ElementNotFound) as info:
        skills.tap("the Cancel button")
    assert info.value.closest


@pytest.mark.parametrize("value", ["Grace Hopper", "Bob Loblaw"])
def test_typed_value_with_round_letters_is_read_as_the_fields_text(desktop: DesktopEnv, tmp_path: Path,
                                                                     value: str) -> None:
    """Regression: a round letter ("o") of a word OCR missed next to the text cursor was taken for
    a radio button, which hid the Name field (a frame around a widget is not a widget)."""
    desktop.relaunch(FORM.format(out=tmp_path / "f.json"))
    name = next(e for e in desktop.observe().elements if e.role == "textbox" and e.description == "Name")
    desktop.type_text(value, into=name)
    for _ in range(3):  # the cursor blinks: read the field with it shown and hidden
        elements = desktop.observe().elements
        fields = [e for e in elements if e.role == "textbox" and e.description == "Name"]
        assert [f.text for f in fields] == [value], elements
        left, top, right, bottom = fields[0].bounds
        inside = [e for e in elements if e.role in ("radio", "checkbox")
                  and left <= e.bounds[0] and e.bounds[2] <= right and top <= e.bounds[1] and e.bounds[3] <= bottom]
        assert not inside, inside
        time.sleep(0.35)


def test_tap_then_observe_sees_the_change(desktop: DesktopEnv, tmp_path: Path) -> None:
    """One step = an action plus the next observation; its time is measured by
    benchmarks/miniwob.py --desktop, not here. Here: each observation shows the tap's effect."""
    desktop.relaunch(FORM.format(out=tmp_path / "f.json"))
    skills = GuiSkills(desktop)
    box = skills.find("I agree checkbox")
    states = []
    for _ in range(2):
        desktop.tap(*box["center"])
        states.append(skills.find("I agree checkbox").get("checked"))
    assert states[0] != states[1]


def test_config_env_success_from_the_apps_file() -> None:
    cfg = load_config(ROOT / "configs" / "gui" / "form.yaml")
    with GuiAgentEnv.from_config(cfg.env) as env:
        obs = env.reset(0)
        assert any(e.role == "button" and e.text == "Submit" for e in obs.elements)
        assert env.success([])[0] is False  # nothing submitted yet
        policy = ('type_text("Ada Lovelace", into="Name")\n'
                  'type_text("ada@example.com", into="Email")\n'
                  'tap("checkbox next to I agree")\n'
                  'checkpoint("filled")\n'
                  'tap("Submit")\n'
                  'wait_for("Submitted")\n')
        execution = Sandbox().run(policy, env.primitives())
        assert execution.ok, execution.error
        ok, info = env.success([])
        assert ok, info
        assert env.stats()["sim_steps"] >= 4
        env.reset(1)  # relaunch: a fresh app, the old result removed
        assert env.success([])[0] is False


def test_own_xvfb_is_used_without_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with DesktopEnv(DesktopOptions(width=320, height=240)) as env:
        assert env.display_name.startswith(":")
        assert env.screenshot().shape == (240, 320, 3)
        shown = subprocess.run(["xdotool", "getmouselocation"], env={**os.environ, "DISPLAY": env.display_name},
                               capture_output=True, text=True, timeout=10, check=False)
        assert shown.returncode == 0
