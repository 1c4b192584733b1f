"""A scripted screen for fast tests of the GUI planner in the closed loop (no display, no browser).

Elements live on a tall page; only those inside the viewport are visible, and scrolling moves the
page. Tapping a field focuses it, typing appends to it, tapping a checkbox toggles it, and any tap
may run a callback (open a dialog, show a message). A dialog hides every other element until it
is closed, as a modal does in a browser (occluded elements are not reported).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from embodied.types import UIElement
from sim.gui.base import GuiEnv

WIDTH, HEIGHT = 400, 300


def el(eid: str, role: str, text: str, top: int, *, left: int = 20, width: int = 120, height: int = 24,
       **kw: object) -> UIElement:
    clickable = role not in ("text", "label", "heading")
    return UIElement(eid, role, text, (left, top, left + width, top + height), clickable=clickable,
                     editable=role in ("textbox", "password"), **kw)  # type: ignore[arg-type]


class ScriptedScreen(GuiEnv):
    """``page``: every element with its position on the page (pixels). ``on_tap``: element text ->
    callback run after that element is tapped. ``on_type``: callback run after any typing."""

    backend = "scripted"

    def __init__(self, page: list[UIElement], on_tap: dict[str, Callable[[ScriptedScreen], None]] | None = None,
                 on_type: Callable[[ScriptedScreen], None] | None = None) -> None:
        super().__init__()
        self.page = list(page)
        self.on_tap = dict(on_tap or {})
        self.on_type = on_type
        self.offset = 0
        self.dialog: list[UIElement] = []
        self.focus: str | None = None
        self.log: list[tuple] = []

    # ------------------------------------------------------------------ scripting helpers

    def open_dialog(self, text: str, button: str = "Close") -> None:
        self.dialog = [el("d0", "text", text, 100, left=100), el("d1", "button", button, 140, left=100, width=60)]

    def get(self, eid: str) -> UIElement:
        return next(e for e in self.page if e.id == eid)

    def set(self, eid: str, **changes: object) -> None:
        self.page = [replace(e, **changes) if e.id == eid else e for e in self.page]  # type: ignore[arg-type]

    # ------------------------------------------------------------------ GuiEnv hooks

    def _start_impl(self) -> None:
        pass

    def _close_impl(self) -> None:
        pass

    def _screenshot_impl(self) -> np.ndarray:
        return np.zeros((HEIGHT, WIDTH, 3), np.uint8)

    def _visible(self) -> list[UIElement]:
        if self.dialog:
            return list(self.dialog)
        out = []
        for e in self.page:
            left, top, right, bottom = e.bounds
            top, bottom = top - self.offset, bottom - self.offset
            if top >= 0 and bottom <= HEIGHT:
                out.append(replace(e, bounds=(left, top, right, bottom)))
        return out

    def _elements_impl(self, image: np.ndarray) -> list[UIElement]:
        return self._visible()

    def _at(self, x: int, y: int) -> UIElement | None:
        for e in self._visible():
            left, top, right, bottom = e.bounds
            if left <= x < right and top <= y < bottom:
                return e
        return None

    def _tap_impl(self, x: int, y: int) -> None:
        hit = self._at(x, y)
        self.log.append(("tap", hit.text if hit else None))
        if hit is None:
            return
        if hit in self.dialog or any(d.id == hit.id for d in self.dialog):
            if hit.role == "button":
                self.dialog = []
            return
        if hit.editable:
            self.focus = hit.id
        elif hit.checked is not None:
            self.set(hit.id, checked=not hit.checked)
        callback = self.on_tap.get(hit.text)
        if callback is not None:
            callback(self)

    def _long_press_impl(self, x: int, y: int, duration_s: float) -> None:
        self.log.append(("long_press", x, y))

    def _clear_impl(self, element: UIElement) -> None:
        if self.focus:
            self.set(self.focus, text="")

    def _type_impl(self, text: str) -> None:
        self.log.append(("type", text))
        if self.focus:
            self.set(self.focus, text=self.get(self.focus).text + text)
        if self.on_type is not None:
            self.on_type(self)

    def _key_names(self) -> tuple[str, ...]:
        return ("enter", "tab", "escape", "back", "up", "down")

    def _key_impl(self, key: str) -> None:
        self.log.append(("key", key))
        if key in ("escape", "back") and self.dialog:
            self.dialog = []

    def _scroll_impl(self, direction: str, amount: float, x: int, y: int) -> None:
        self.log.append(("scroll", direction))
        page_bottom = max(e.bounds[3] for e in self.page)
        step = int(amount * HEIGHT)
        if direction == "down":
            self.offset = min(self.offset + step, max(0, page_bottom - HEIGHT))
        elif direction == "up":
            self.offset = max(0, self.offset - step)

    def _swipe_impl(self, x1: int, y1: int, x2: int, y2: int, duration_s: float) -> None:
        self.log.append(("swipe",))

    def _launch_impl(self, app: str) -> None:
        self.log.append(("launch", app))
