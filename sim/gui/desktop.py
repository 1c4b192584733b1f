"""Desktop GUIs on an X11 display: input through ``xdotool``, screenshots through Pillow's XCB
grab, elements from OCR plus OpenCV shapes (there is no accessibility tree to read).

When neither ``display`` nor ``$DISPLAY`` is given the env starts its own Xvfb and stops it on
close. Input runs ``xdotool`` with *this* env's display in its environment (one short process a call).
pyautogui was the first choice but it connects to ``$DISPLAY`` once, at import, for the whole
process, so a second env (or an env whose Xvfb started after the import) would drive the wrong
screen; and python-xlib, its X backend, refuses to connect when ``~/.Xauthority`` is missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

import cv2
import numpy as np
from pydantic import Field

from embodied.config import StrictModel
from embodied.types import UIElement
from perception.ocr import IncrementalOcr, OcrUnavailable, Tesseract
from perception.screen import (
    blank_outlines,
    detect_shapes,
    icon_elements,
    parse_screen,
    to_gray,
)
from sim.gui.base import GuiEnv
from sim.gui.errors import BackendUnavailable, DeviceDisconnected, GuiActionError, GuiError
from sim.gui.secrets import SecretBook
from sim.gui.xvfb import Xvfb

log = logging.getLogger(__name__)

# canonical key -> X keysym name
_KEYSYMS = {"enter": "Return", "tab": "Tab", "escape": "Escape", "backspace": "BackSpace", "delete": "Delete",
            "space": "space", "up": "Up", "down": "Down", "left": "Left", "right": "Right", "home": "Home",
            "end": "End", "page_up": "Prior", "page_down": "Next", "menu": "Menu",
            "back": "Escape"}  # a desktop has no back button; Escape closes/cancels the way "back" does
_MODIFIERS = {"ctrl": "ctrl", "alt": "alt", "shift": "shift", "meta": "super"}
_WHEEL = {"up": 4, "down": 5, "left": 6, "right": 7}  # X11 pointer buttons
_WHEEL_STEP_PX = 60  # roughly what one wheel click scrolls in common toolkits


class DesktopOptions(StrictModel):
    display: str | None = Field(default=None, description="X display, e.g. ':1'; default $DISPLAY, else own Xvfb")
    xvfb: bool = Field(default=False, description="always start a private Xvfb, even when $DISPLAY is set")
    width: int = Field(default=1024, ge=64, le=8192, description="Xvfb screen width, pixels")
    height: int = Field(default=768, ge=64, le=8192, description="Xvfb screen height, pixels")
    ocr_lang: str = "eng"
    ocr_min_conf: float = Field(default=30.0, ge=0, le=100)
    icons: dict[str, str] = Field(default_factory=dict, description="icon name -> template image file")
    icon_threshold: float = Field(default=0.85, gt=0, le=1)
    type_delay_ms: int = Field(default=2, ge=0, le=500, description="pause between typed characters")
    settle_s: float = Field(default=0.05, ge=0, le=5, description="wait after each input before observing")
    launch_timeout_s: float = Field(default=10.0, gt=0, description="wait for a launched app to draw")


class DesktopEnv(GuiEnv):
    """An X11 desktop. ``launch(command)`` starts a program on it; programs are killed on close."""

    backend = "desktop"
    supports_combos = True

    def __init__(self, options: DesktopOptions | None = None, secrets: SecretBook | None = None) -> None:
        self.options = options or DesktopOptions()
        super().__init__(settle_s=self.options.settle_s, secrets=secrets)
        self._xvfb: Xvfb | None = None
        self.display_name: str = ""
        self._xdotool_exe = ""
        self._x_env: dict[str, str] = {}
        self._size: tuple[int, int] | None = None
        self._ocr: IncrementalOcr | None = None
        self._icons: dict[str, np.ndarray] = {}
        self._procs: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []
        self.library_errors = (OSError, subprocess.TimeoutExpired)

    # ------------------------------------------------------------------ lifecycle

    def _start_impl(self) -> None:
        exe = shutil.which("xdotool")
        if exe is None:
            raise BackendUnavailable("xdotool is not installed: run `apt-get install -y xdotool`")
        self._xdotool_exe = exe
        name = self.options.display or (None if self.options.xvfb else os.environ.get("DISPLAY"))
        if not name:
            self._xvfb = Xvfb(self.options.width, self.options.height)
            name = self._xvfb.start()
        self.display_name = name
        self._x_env = {**os.environ, "DISPLAY": name}
        try:
            h, w = self._screenshot_impl().shape[:2]
        except OSError as exc:
            self._stop_xvfb()
            raise BackendUnavailable(f"cannot read the screen of X display {name}: {exc}") from exc
        self._size = (w, h)
        try:
            self._ocr = IncrementalOcr(Tesseract(self.options.ocr_lang, min_conf=self.options.ocr_min_conf))
        except OcrUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc
        for icon, path in self.options.icons.items():
            img = cv2.imread(str(Path(path).expanduser()), cv2.IMREAD_COLOR)
            if img is None:
                raise BackendUnavailable(f"icon template {icon!r}: cannot read image {path}")
            self._icons[icon] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def _close_impl(self) -> None:
        self.stop_apps()
        self._stop_xvfb()

    def _stop_xvfb(self) -> None:
        if self._xvfb is not None:
            self._xvfb.stop()
            self._xvfb = None

    def stop_apps(self) -> None:
        """Terminate every program started by :meth:`launch`, with the processes it started
        (each runs in its own session, so its process group is exactly its own)."""
        procs, self._procs = self._procs, []
        for proc, _ in procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        for proc, log_file in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=5)
            log_file.close()
        if self._ocr is not None:
            self._ocr.reset()

    # ------------------------------------------------------------------ perception

    def _screenshot_impl(self) -> np.ndarray:
        from PIL import ImageGrab

        return np.asarray(ImageGrab.grab(xdisplay=self.display_name).convert("RGB"))

    def _elements_impl(self, image: np.ndarray) -> list[UIElement]:
        if self._ocr is None:
            raise GuiError("desktop env used before start()")
        gray = to_gray(image)
        shapes = detect_shapes(gray)
        words = self._ocr.words(blank_outlines(gray, shapes))
        icons = icon_elements(image, self._icons, self.options.icon_threshold) if self._icons else []
        return parse_screen(image, words, shapes, icons)

    def _screen_size_impl(self) -> tuple[int, int]:
        if self._size is None:
            raise GuiError("desktop env used before start()")
        return self._size

    # ------------------------------------------------------------------ input

    def _xdotool(self, *args: str) -> None:
        """Run one xdotool command chain against this env's display."""
        proc = subprocess.run([self._xdotool_exe, *args], env=self._x_env, capture_output=True, timeout=30,
                              check=False)
        if proc.returncode != 0:
            message = proc.stderr.decode(errors="replace").strip()[-300:]
            if not self._display_alive():
                raise DeviceDisconnected(f"X display {self.display_name} is gone: {message}")
            raise GuiActionError(f"xdotool {args[0]} failed: {message}")

    def _display_alive(self) -> bool:
        if self._xvfb is not None and not self._xvfb.running:
            return False
        try:
            self._screenshot_impl()
        except OSError:
            return False
        return True

    def _tap_impl(self, x: int, y: int) -> None:
        self._xdotool("mousemove", str(x), str(y), "click", "--delay", "0", "1")  # default delay: 100 ms

    def _long_press_impl(self, x: int, y: int, duration_s: float) -> None:
        self._xdotool("mousemove", str(x), str(y), "mousedown", "1", "sleep", f"{duration_s:.3f}", "mouseup", "1")

    def _swipe_impl(self, x1: int, y1: int, x2: int, y2: int, duration_s: float) -> None:
        steps = max(2, int(duration_s / 0.02))
        chain = ["mousemove", str(x1), str(y1), "mousedown", "1"]
        for i in range(1, steps + 1):
            chain += ["sleep", f"{duration_s / steps:.3f}", "mousemove",
                      str(round(x1 + (x2 - x1) * i / steps)), str(round(y1 + (y2 - y1) * i / steps))]
        self._xdotool(*chain, "mouseup", "1")

    def _scroll_impl(self, direction: str, amount: float, x: int, y: int) -> None:
        w, h = self._screen_size_impl()
        span = h if direction in ("up", "down") else w
        clicks = max(1, round(amount * span / _WHEEL_STEP_PX))
        self._xdotool("mousemove", str(x), str(y), "click", "--repeat", str(clicks), "--delay", "5",
                      str(_WHEEL[direction]))

    def _key_names(self) -> tuple[str, ...]:
        return tuple(_KEYSYMS)

    def _key_impl(self, key: str) -> None:
        *mods, main = key.split("+")
        self._xdotool("key", "--clearmodifiers", "+".join([*(_MODIFIERS[m] for m in mods), _KEYSYMS.get(main, main)]))

    def _clear_impl(self, element: UIElement) -> None:
        # End, Shift+Home, BackSpace empties a one-line field in Tk, GTK and Qt alike (Ctrl+A is
        # "line start" in Tk's Emacs-style bindings).
        self._xdotool("key", "--clearmodifiers", "End", "shift+Home", "BackSpace")

    def _type_impl(self, text: str) -> None:
        # xdotool maps characters missing from the keyboard map (non-ASCII) to spare keycodes itself.
        if text:
            # xdotool types a character missing from the keymap by remapping a spare keycode for it;
            # with too short a pause the client reads that key after it was remapped back
            delay = self.options.type_delay_ms if text.isascii() else max(self.options.type_delay_ms, 15)
            self._xdotool("type", "--clearmodifiers", "--delay", str(delay), "--", text)

    # ------------------------------------------------------------------ apps

    def _launch_impl(self, app: str) -> None:
        before = self._screenshot_impl()
        # stderr goes to a file, not a pipe: a chatty app must never block on a full pipe.
        log_file = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the app; closed in stop_apps)
        try:
            proc = subprocess.Popen(shlex.split(app), env=self._x_env, start_new_session=True,
                                    stdout=subprocess.DEVNULL, stderr=log_file)
        except FileNotFoundError as exc:
            log_file.close()
            raise GuiActionError(f"cannot launch {app!r}: {exc.strerror}: {exc.filename}") from exc
        self._procs.append((proc, log_file))
        deadline = time.monotonic() + self.options.launch_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log_file.seek(0)
                err = log_file.read().decode(errors="replace")[-500:]
                raise GuiActionError(f"{app!r} exited with code {proc.returncode} before showing a window: {err}")
            time.sleep(0.05)
            if np.any(self._screenshot_impl() != before):
                time.sleep(0.1)  # let the first frame finish drawing
                return
        raise GuiActionError(f"{app!r} drew nothing within {self.options.launch_timeout_s} s")

    def _stop_apps_impl(self) -> None:
        self.stop_apps()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, sig)
