"""GUI primitives over a scripted backend, and secrets kept out of recorded calls."""

from __future__ import annotations

import json

import pytest
from gui_fakes import FakeGui, login_screen

from embodied.sandbox import Sandbox
from embodied.types import FailureCategory, UIElement, to_jsonable
from sim.gui.errors import ElementNotFound
from sim.gui.secrets import MASK
from sim.gui.skills import GuiSkills, NotCheckable, StateUnchanged, UnknownSecret


@pytest.fixture
def skills() -> GuiSkills:
    return GuiSkills(FakeGui(login_screen()), secrets={"password": "hunter2"})


def test_find_by_text_role_and_relation(skills: GuiSkills) -> None:
    assert skills.find("Log in")["id"] == "e7"
    assert skills.find("the username field")["id"] == "e2"
    assert skills.find("the password field")["role"] == "password"
    assert skills.find("checkbox next to Remember me")["id"] == "e5"
    assert skills.find("the Help link")["role"] == "link"
    assert skills.find("#e6")["text"] == "Remember me"
    el = skills.find("Log in")
    assert el["center"] == [55, 152] and el["bounds"] == [20, 140, 90, 165]


def test_find_failure_names_closest_texts(skills: GuiSkills) -> None:
    with pytest.raises(ElementNotFound) as info:
        skills.find("Sign up now")
    assert info.value.category is FailureCategory.NOT_FOUND
    assert info.value.closest  # suggestions from the screen
    assert "Sign in" in info.value.closest


def test_type_text_into_field_prefers_fields_over_labels(skills: GuiSkills) -> None:
    skills.type_text("alice", into="Username")
    assert skills.read_text("Username field") == "alice"
    log = skills.env.log  # type: ignore[attr-defined]
    assert ("clear", "e2") in log and ("type", "alice") in log


def test_tap_toggles_and_elements_report_state(skills: GuiSkills) -> None:
    assert skills.tap("the Remember me checkbox")
    box = next(e for e in skills.elements() if e["role"] == "checkbox")
    assert box["checked"] is True


def test_password_never_readable(skills: GuiSkills) -> None:
    skills.type_text(skills.secret("password"), into="Password")
    assert skills.read_text("the password field") == MASK
    assert "hunter2" not in json.dumps(skills.elements())
    assert "hunter2" not in skills.read_text()
    with pytest.raises(UnknownSecret):
        skills.secret("pin")


def test_scroll_until_stops_when_screen_stops_moving(skills: GuiSkills) -> None:
    assert skills.scroll_until("Help")
    assert not skills.scroll_until("Product 99", max_scrolls=3)  # the fake never moves
    assert sum(1 for entry in skills.env.log if entry[0] == "scroll") == 1  # type: ignore[attr-defined]


def test_wait_for_and_keys(skills: GuiSkills) -> None:
    assert skills.wait_for("Sign in", timeout_s=0.1)
    assert not skills.wait_for("Welcome", timeout_s=0.15)
    skills.back()
    skills.key("enter")
    assert skills.env.log[-2:] == [("key", "back"), ("key", "enter")]  # type: ignore[attr-defined]


def test_primitive_set_spec_lists_every_primitive(skills: GuiSkills) -> None:
    api = skills.primitive_set()
    assert api.domain == "gui"
    for name in ("find", "tap", "tap_xy", "long_press", "type_text", "key", "scroll", "scroll_until", "back",
                 "home", "launch", "wait_for", "read_text", "elements", "secret"):
        assert name in api
    assert "type_text(text: str, into: str = '') -> bool" in api.spec()


def test_secrets_never_appear_in_recorded_calls(skills: GuiSkills) -> None:
    api = skills.primitive_set()
    policy = (
        'type_text("alice", into="Username")\n'
        'type_text(secret("password"), into="Password")\n'
        'type_text("hunter2", into="the password field")\n'
        'tap("Log in")\n'
    )
    execution = Sandbox().run(policy, api)
    assert execution.ok, execution.error
    assert [c.name for c in execution.calls] == ["type_text", "secret", "type_text", "type_text", "tap"]
    # Through a Secret the value is masked by to_jsonable itself; a literal is masked by the
    # PrimitiveSet's redact hook, which whoever writes the trace applies.
    recorded = json.dumps(api.redact(to_jsonable(execution.calls)))
    assert "hunter2" not in recorded
    assert MASK in recorded
    via_secret = to_jsonable(execution.calls[2])
    assert "hunter2" not in json.dumps(via_secret)


def _settings_row(switch_enabled: bool = True) -> list[UIElement]:
    """A settings row: a title and summary on the left, the switch on the right (no text of its own
    that differs from the title's), and a second row below."""
    return [UIElement("e0", "text", "Airplane mode", (20, 100, 300, 130), clickable=True),
            UIElement("e1", "text", "Off", (20, 130, 300, 150), clickable=True),
            UIElement("e2", "switch", "Airplane mode", (320, 105, 380, 145), clickable=switch_enabled,
                      checked=False),
            UIElement("e3", "text", "Battery", (20, 200, 300, 230))]


def test_set_checked_taps_the_switch_of_the_title_row_and_reads_it_back() -> None:
    gui = FakeGui(_settings_row())
    skills = GuiSkills(gui)
    assert skills.is_checked("Airplane mode") is False
    assert skills.set_checked("Airplane mode", True) is True
    assert [e for e in gui.log if e[0] == "tap"] == [("tap", 350, 125)]  # the switch, not the title
    assert skills.is_checked("Airplane mode") is True
    assert skills.set_checked("Airplane mode", True) is False  # already on: nothing is tapped
    assert len([e for e in gui.log if e[0] == "tap"]) == 1
    with pytest.raises(NotCheckable):
        skills.set_checked("Battery", False)


def test_set_checked_reports_a_switch_that_did_not_flip() -> None:
    gui = FakeGui(_settings_row())
    gui.items.insert(0, UIElement("e9", "group", "", (310, 95, 390, 155)))  # an overlay catches the tap
    skills = GuiSkills(gui)
    with pytest.raises(StateUnchanged) as info:
        skills.set_checked("the Airplane mode switch", True)
    assert info.value.category is FailureCategory.WRONG_STATE
