"""Android backend: uiautomator dumps parsed into elements, `input text` escaping, live device."""

from __future__ import annotations

import shlex
import socket
from pathlib import Path

import pytest

from perception.ui_query import ElementMatcher
from sim.gui.android import AndroidEnv, input_text_commands, parse_bounds, parse_elements, parse_nodes
from sim.gui.errors import TextEntryError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "uiautomator"
SCREEN = (1080, 2400)


def load(name: str) -> str:
    return (FIXTURES / f"{name}.xml").read_text(encoding="utf-8")


def test_bounds() -> None:
    assert parse_bounds("[63,741][1017,888]") == (63, 741, 1017, 888)
    with pytest.raises(ValueError):
        parse_bounds("63,741,1017,888")


def test_settings_main_page() -> None:
    els = parse_elements(load("settings_main"), SCREEN)
    texts = [e.text for e in els]
    assert texts[:3] == ["Settings", "Search settings", "Network & internet"]  # reading order, entities decoded
    assert "Battery" in texts and "" not in texts  # icon-only nodes and layout rows are left out
    battery = next(e for e in els if e.text == "Battery")
    assert battery.clickable  # its row is clickable, so tapping the title works
    assert not next(e for e in els if e.text == "Settings").clickable
    assert [e.id for e in els] == [f"e{i}" for i in range(len(els))]
    best = ElementMatcher().best("Network and internet", els)
    assert best is not None and best.element.text == "Network & internet"


def test_wifi_page_switch_takes_its_row_label() -> None:
    els = parse_elements(load("wifi_page"), SCREEN)
    switches = [e for e in els if e.role == "switch"]
    assert [(s.text, s.checked) for s in switches] == [("Wi\u2011Fi", False), ("Airplane mode", True)]
    best = ElementMatcher().best("the wi-fi switch", els)
    assert best is not None and best.element.role == "switch" and best.element.checked is False
    up = next(e for e in els if e.role == "image_button")
    assert up.description == "Navigate up" and up.clickable
    disabled = next(e for e in els if e.text == "Network preferences")
    assert not disabled.clickable


def test_login_form_fields_and_password() -> None:
    nodes = parse_nodes(load("login_form"))
    assert any(n.focused and n.resource_id.endswith("/email") for n in nodes)
    els = parse_elements(load("login_form"), SCREEN)
    roles = {e.role for e in els}
    assert {"textbox", "password", "checkbox", "button", "image"} <= roles
    pw = next(e for e in els if e.role == "password")
    assert pw.text == "" and pw.editable and pw.description == "password"
    remember = next(e for e in els if e.role == "checkbox")
    assert remember.text == "Remember me" and remember.checked is True
    m = ElementMatcher()
    assert m.best("the password field", els).element is pw  # type: ignore[union-attr]
    assert m.best("Sign in button", els).element.text == "SIGN IN"  # type: ignore[union-attr]
    assert m.best("the email field", els).element.role == "textbox"  # type: ignore[union-attr]


def test_offscreen_and_malformed() -> None:
    xml = load("login_form").replace("[330,1455][750,1518]", "[330,2500][750,2600]")
    assert "Forgot password?" not in [e.text for e in parse_elements(xml, SCREEN)]
    with pytest.raises(ValueError, match="malformed"):
        parse_elements("<hierarchy><node></hierarchy>", SCREEN)


@pytest.mark.parametrize("text", ["hello", "two words", "it's \"quoted\"", "a&b;c|d", "$HOME `id` \\n *",
                                  "100% sure", "literal %s here", "(x) <y> ~z #1 !"])
def test_input_text_escaping_survives_the_device_shell(text: str) -> None:
    commands = input_text_commands(text)
    typed = ""
    for cmd in commands:
        argv = shlex.split(cmd)  # what the device's sh hands to `input`
        assert argv[:2] == ["input", "text"] and len(argv) == 3
        typed += argv[2].replace("%s", " ")  # what `input text` does with the argument
    assert typed == text


def test_input_text_refuses_non_ascii() -> None:
    with pytest.raises(TextEntryError, match="ASCII"):
        input_text_commands("Ada Lövelace")


def _adb_devices() -> list[str]:
    """Serials of attached devices, asking a running adb server only (`adb devices` would start a
    server daemon that outlives the tests)."""
    try:
        with socket.create_connection(("127.0.0.1", 5037), timeout=1):
            pass
    except OSError:
        return []
    import adbutils

    return [d.serial for d in adbutils.AdbClient(host="127.0.0.1", port=5037).device_list()]


@pytest.mark.slow
@pytest.mark.skipif(not _adb_devices(), reason="no Android device: no adb server on :5037 listing a device")
def test_live_device_observe_and_home() -> None:
    with AndroidEnv() as env:
        obs = env.observe()
        assert obs.images["screen"].ndim == 3 and obs.elements
        env.go_home()
        assert env.observe().task  # the package in front


def test_a_settings_title_reads_and_names_its_rows_switch() -> None:
    from embodied.types import Condition, Observation
    from perception.screen_predicates import evaluate, switch_of

    els = parse_elements(load("wifi_page"), SCREEN)
    title = next(e for e in els if e.text == "Airplane mode" and e.role != "switch")
    switch = switch_of(title, els)
    assert switch is not None and switch.role == "switch" and switch.checked is True
    obs = Observation(elements=els)
    assert evaluate(Condition("checked", ("Airplane mode",)), obs).holds is True
    assert evaluate(Condition("checked", ("Airplane mode",), negated=True), obs).holds is False
    # an absent switch is not "off": a negated check on it does not hold
    assert evaluate(Condition("checked", ("Bluetooth switch",), negated=True), obs).holds is False
