"""The shared GuiEnv machinery on a scripted backend: retries, error translation, keys, secrets."""

from __future__ import annotations

import pytest
from gui_fakes import FakeGui, login_screen

from embodied.types import FailureCategory, to_jsonable
from sim.gui.base import canonical_key
from sim.gui.errors import ElementNotFound, GuiActionError, GuiError
from sim.gui.secrets import MASK, Secret, SecretBook, mask_elements


def test_observe_starts_backend_and_masks_passwords() -> None:
    gui = FakeGui(login_screen())
    items = gui.items
    items[4] = type(items[4])(**{**items[4].__dict__, "text": "hunter2"})
    obs = gui.observe()
    assert gui.log[0] == ("start",)
    assert obs.images["screen"].shape == (100, 200, 3)
    pw = next(e for e in obs.elements if e.role == "password")
    assert pw.text == MASK
    assert gui.stats()["observations"] == 1


def test_transient_errors_are_retried_then_translated() -> None:
    gui = FakeGui(login_screen())
    gui.fail_next = 1
    gui.tap(5, 5)  # one failure, one retry: succeeds
    assert ("tap", 5, 5) in gui.log
    gui.fail_next = 3
    with pytest.raises(GuiActionError) as info:
        gui.tap(5, 5)
    assert isinstance(info.value.__cause__, Exception) and "flaky" in str(info.value.__cause__)
    gui.transient, gui.fail_next = False, 1
    with pytest.raises(GuiActionError):
        gui.tap(5, 5)  # not transient: no retry
    assert gui.fail_next == 0


def test_keys_are_canonical_and_validated() -> None:
    gui = FakeGui(login_screen())
    gui.key("Return")
    gui.key("ctrl+a")
    assert gui.log[-2:] == [("key", "enter"), ("key", "ctrl+a")]
    assert canonical_key("Page Down") == "page_down"
    with pytest.raises(GuiActionError, match="not available"):
        gui.key("F13")
    with pytest.raises(GuiActionError, match="not a modifier"):
        gui.key("hyper+a")


def test_scroll_direction_and_amount_are_checked() -> None:
    gui = FakeGui(login_screen())
    gui.scroll("down", 0.5)
    assert gui.log[-1] == ("scroll", "down", 0.5)
    with pytest.raises(GuiActionError):
        gui.scroll("sideways")
    with pytest.raises(GuiActionError):
        gui.scroll("up", 0)


def test_type_into_password_learns_the_secret() -> None:
    gui = FakeGui(login_screen())
    pw = gui.items[4]
    gui.type_text("hunter2", into=pw)
    assert ("clear", "e4") in gui.log and ("type", "hunter2") in gui.log
    assert "hunter2" in gui.secrets
    assert gui.secrets.redact({"msg": "typed hunter2 ok"}) == {"msg": f"typed {MASK} ok"}


def test_closed_env_refuses_use() -> None:
    gui = FakeGui(login_screen())
    gui.observe()
    gui.close()
    assert gui.log[-1] == ("close",)
    with pytest.raises(GuiError):
        gui.observe()


def test_wait_for_times_out() -> None:
    gui = FakeGui(login_screen())
    assert gui.wait_for("Remember", timeout_s=0.0)
    assert not gui.wait_for("Welcome", timeout_s=0.05, poll_s=0.01)


def test_secret_renders_masked_everywhere() -> None:
    s = Secret("hunter2")
    assert str(s) == repr(s) == f"{s}" == MASK
    assert s.reveal() == "hunter2" and s == "hunter2"
    assert to_jsonable({"args": [s]}) == {"args": [MASK]}
    book = SecretBook(["pw"])  # too short to redact inside text, still masked when equal
    assert book.redact("pw") == MASK and book.redact("pwned") == "pwned"


def test_mask_elements_redacts_known_secrets_in_text() -> None:
    els = login_screen()
    els[6] = type(els[6])(**{**els[6].__dict__, "text": "Hello hunter2"})
    out = mask_elements(els, SecretBook(["hunter2"]))
    assert out[6].text == f"Hello {MASK}"


def test_element_not_found_carries_category_and_suggestions() -> None:
    err = ElementNotFound("Sbmit", ["Submit", "Name"])
    assert err.category is FailureCategory.NOT_FOUND
    assert "'Submit'" in str(err)
