"""GUI primitives check their numbers and descriptions before any input reaches the screen, and
their waits end at the running policy's deadline (issue 12)."""

from __future__ import annotations

import time

import pytest
from gui_fakes import FakeGui, login_screen

from embodied.sandbox import Sandbox
from embodied.types import ExecutionStatus, FailureCategory
from sim.gui.errors import ElementNotFound, InvalidGuiArgument
from sim.gui.safety import SafetyConfig, SafetyGuard
from sim.gui.skills import GuiSkills


@pytest.fixture
def skills() -> GuiSkills:
    return GuiSkills(FakeGui(login_screen()))


def inputs(skills: GuiSkills) -> list[tuple]:
    return [entry for entry in skills.env.log if entry[0] not in ("start",)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("call", [
    "tap_xy(nan, 10)", "tap_xy(10, inf)", "tap_xy(-1, 10)", "tap_xy(10_000, 10)", "tap_xy('5', 10)",
    "wait_for('Log in', timeout_s=nan)", "wait_for('Log in', timeout_s=-1)", "wait_for('Log in', timeout_s=1e9)",
    "scroll_until('Help', max_scrolls=10**9)", "scroll_until('Help', max_scrolls=2.5)",
    "type_text('a' * 100_000, into='Username')", "type_text(3, into='Username')", "key('enter' * 100)",
])
def test_bad_numbers_and_sizes_are_refused_before_any_input(skills: GuiSkills, call: str) -> None:
    result = Sandbox(timeout_s=30).run(f"nan = float('nan')\ninf = float('inf')\n{call}", skills.primitive_set())
    assert result.status is ExecutionStatus.ERROR and result.error_type == "InvalidGuiArgument", result.error
    assert result.calls[-1].category is FailureCategory.EXCEPTION
    assert inputs(skills) == []


def test_a_giant_description_matches_nothing_quickly(skills: GuiSkills) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ElementNotFound) as info:
        skills.tap("the Log in button " * 50_000)
    assert time.perf_counter() - t0 < 1.0
    assert info.value.closest and len(str(info.value)) < 500
    assert inputs(skills) == []


def test_the_safety_guard_refuses_a_nan_pixel_with_the_typed_error(skills: GuiSkills) -> None:
    guarded = SafetyGuard(skills, SafetyConfig(confirm="deny")).primitive_set()
    with pytest.raises(InvalidGuiArgument):
        guarded["tap_xy"].fn(float("nan"), 10)
    assert inputs(skills) == []


def test_wait_for_ends_at_the_policy_deadline(skills: GuiSkills) -> None:
    guarded = SafetyGuard(skills, SafetyConfig(confirm="deny")).primitive_set()  # the deadline reaches through
    t0 = time.monotonic()
    result = Sandbox(timeout_s=0.6).run("wait_for('a text that never appears', timeout_s=30)", guarded)
    took = time.monotonic() - t0
    assert result.error_type == "DeadlineExceeded", result.error
    assert result.calls[-1].category is FailureCategory.TIMEOUT
    assert took < 3.0  # not the 30 s asked for
    assert skills.wait_for("Log in", timeout_s=0.5) is True  # outside a policy: no deadline
