"""A scripted in-memory GUI backend for tests of the shared machinery (no display, no browser)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from embodied.types import UIElement
from sim.gui.base import GuiEnv
from sim.gui.secrets import SecretBook


class FlakyError(Exception):
    """Stands in for a backend library's exception."""


class FakeGui(GuiEnv):
    """Elements are a list; tapping a field focuses it, typing appends to the focused field,
    tapping a checkbox toggles it. ``fail_next`` raises FlakyError that many times. ``shows``:
    the text of an element -> an element that appears once it is tapped (a form's result)."""

    backend = "fake"
    supports_combos = True
    library_errors = (FlakyError,)

    def __init__(self, elements: list[UIElement], secrets: SecretBook | None = None) -> None:
        super().__init__(secrets=secrets, retries=1)
        self.items = list(elements)
        self.log: list[tuple] = []
        self.focus: str | None = None
        self.fail_next = 0
        self.transient = True
        self.frame = 0
        self.shows: dict[str, UIElement] = {}

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise FlakyError("flaky")

    def _start_impl(self) -> None:
        self.log.append(("start",))

    def _close_impl(self) -> None:
        self.log.append(("close",))

    def _screenshot_impl(self) -> np.ndarray:
        self._maybe_fail()
        img = np.zeros((100, 200, 3), np.uint8)
        img[0, 0, 0] = self.frame % 256
        return img

    def _elements_impl(self, image: np.ndarray) -> list[UIElement]:
        return list(self.items)

    def _is_transient(self, exc: BaseException) -> bool:
        return self.transient

    def _at(self, x: int, y: int) -> int | None:
        for i, e in enumerate(self.items):
            left, top, right, bottom = e.bounds
            if left <= x < right and top <= y < bottom:
                return i
        return None

    def _tap_impl(self, x: int, y: int) -> None:
        self._maybe_fail()
        self.log.append(("tap", x, y))
        self.frame += 1
        i = self._at(x, y)
        if i is None:
            return
        el = self.items[i]
        if el.text in self.shows:
            self.items.append(self.shows.pop(el.text))
        if el.editable:
            self.focus = el.id
        elif el.checked is not None:
            self.items[i] = replace(el, checked=not el.checked)

    def _long_press_impl(self, x: int, y: int, duration_s: float) -> None:
        self.log.append(("long_press", x, y, duration_s))

    def _clear_impl(self, element: UIElement) -> None:
        self.log.append(("clear", element.id))
        self._set_focused("")

    def _set_focused(self, text: str, append: bool = False) -> None:
        for i, e in enumerate(self.items):
            if e.id == self.focus:
                self.items[i] = replace(e, text=(e.text + text) if append else text)

    def _type_impl(self, text: str) -> None:
        self.log.append(("type", text))
        self.frame += 1
        self._set_focused(text, append=True)

    def _key_names(self) -> tuple[str, ...]:
        return ("enter", "tab", "back", "home", "up", "down")

    def _key_impl(self, key: str) -> None:
        self.log.append(("key", key))

    def _scroll_impl(self, direction: str, amount: float, x: int, y: int) -> None:
        self.log.append(("scroll", direction, amount))

    def _swipe_impl(self, x1: int, y1: int, x2: int, y2: int, duration_s: float) -> None:
        self.log.append(("swipe", x1, y1, x2, y2))

    def _launch_impl(self, app: str) -> None:
        self.log.append(("launch", app))


def login_screen() -> list[UIElement]:
    """A login form as a DOM would report it."""
    return [
        UIElement("e0", "heading", "Sign in", (20, 10, 200, 40)),
        UIElement("e1", "label", "Username", (20, 50, 100, 70)),
        UIElement("e2", "textbox", "", (110, 50, 300, 72), clickable=True, editable=True, description="Username"),
        UIElement("e3", "label", "Password", (20, 80, 100, 100)),
        UIElement("e4", "password", "", (110, 80, 300, 102), clickable=True, editable=True, description="Password"),
        UIElement("e5", "checkbox", "", (20, 112, 34, 126), clickable=True, checked=False),
        UIElement("e6", "text", "Remember me", (40, 110, 150, 128)),
        UIElement("e7", "button", "Log in", (20, 140, 90, 165), clickable=True),
        UIElement("e8", "link", "Help", (100, 140, 140, 165), clickable=True),
    ]
