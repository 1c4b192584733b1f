"""One interface for every GUI backend: a screen you can look at and act on.

Public methods do the cross-cutting work (start on demand, retries of transient failures, error
translation, timing, redaction of secrets) and call a private ``_..._impl`` that each backend
implements; a backend never re-implements the public method. Coordinates are pixels of the
screenshot returned by :meth:`GuiEnv.screenshot` (origin top-left), durations are seconds.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from embodied.errors import PrimitiveError
from embodied.types import Observation, UIElement
from sim.gui.errors import GuiActionError, GuiError
from sim.gui.secrets import SecretBook, mask_elements, reveal

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Canonical key names every backend understands where the platform has the key. Aliases map to them.
KEYS = ("enter", "tab", "escape", "backspace", "delete", "space", "up", "down", "left", "right",
        "home", "end", "page_up", "page_down", "back", "menu", "app_switch", "search")
KEY_ALIASES = {"control": "ctrl", "cmd": "meta", "super": "meta", "win": "meta", "return": "enter", "esc": "escape",
               "del": "delete", "pgup": "page_up", "pageup": "page_up",
               "pgdn": "page_down", "pagedown": "page_down", "recents": "app_switch", "recent_apps": "app_switch",
               "arrow_up": "up", "arrow_down": "down", "arrow_left": "left", "arrow_right": "right",
               "spacebar": "space", "bksp": "backspace"}
DIRECTIONS = ("up", "down", "left", "right")
MODIFIERS = ("ctrl", "alt", "shift", "meta")


def canonical_key(name: str) -> str:
    """The canonical name of a key (``"Return"`` -> ``"enter"``); unknown names pass through."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return KEY_ALIASES.get(key, key)


class GuiEnv(abc.ABC):
    """A screen with input. Backends: desktop (X11), browser (Chromium), Android (adb).

    ``settle_s`` is how long to wait after an input action before the next screenshot, so that the
    UI has redrawn. ``retries`` is how many times a transient backend failure is retried.
    """

    backend = "gui"
    #: Whether ``key("ctrl+a")``-style combinations work (a physical or emulated keyboard).
    supports_combos = False
    #: Whether ``launch`` takes an app's name as a person says it (Android: "Settings").
    launches_by_name = False
    #: Library exceptions the backend's ``_impl`` methods may raise; translated by ``_translate``.
    library_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, *, settle_s: float = 0.0, retries: int = 1, secrets: SecretBook | None = None) -> None:
        if settle_s < 0 or retries < 0:
            raise ValueError("settle_s and retries must be >= 0")
        self.settle_s = settle_s
        self.retries = retries
        self.secrets = secrets if secrets is not None else SecretBook()
        self._started = False
        self._closed = False
        self._last: Observation | None = None
        self._counters: dict[str, float] = {"observations": 0, "actions": 0, "observe_s": 0.0, "act_s": 0.0}
        self._generation = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the backend (display, browser, device connection). Idempotent."""
        if self._closed:
            raise GuiError(f"{self.backend} env was closed; make a new one")
        if not self._started:
            self._run("start", self._start_impl)
            self._started = True

    def close(self) -> None:
        """Release everything the backend started. Safe to call twice."""
        if self._started and not self._closed:
            self._close_impl()
        self._closed = True

    def __enter__(self) -> GuiEnv:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ perception

    def screenshot(self) -> np.ndarray:
        """The screen as an HxWx3 uint8 RGB array."""
        self.start()
        return self._run("screenshot", self._screenshot_impl)

    def observe(self) -> Observation:
        """Screenshot plus UI elements; password values and known secrets are masked."""
        self.start()
        t0 = time.perf_counter()
        image = self._run("screenshot", self._screenshot_impl) if self._wants_image() else None
        elements = self._run("elements", self._elements_impl, image)
        context = self.secrets.redact(self._run("context", self._context_impl))
        obs = Observation(elements=mask_elements(elements, self.secrets),
                          images={"screen": image} if image is not None else {}, task=context)
        self._last = obs
        self._counters["observations"] += 1
        self._counters["observe_s"] += time.perf_counter() - t0
        return obs

    @property
    def generation(self) -> int:
        """Counts everything that may have changed the screen (actions, launches, new episodes):
        an observation taken at an older generation is stale."""
        return self._generation

    def _changed(self) -> None:
        self._generation += 1

    @property
    def last_observation(self) -> Observation | None:
        """The most recent :meth:`observe` result (None before the first)."""
        return self._last

    def foreground(self) -> tuple[str, str]:
        """(application, screen) in front: Android's package and activity; elsewhere the page
        or window title and ""."""
        self.start()
        return self._run("foreground", self._foreground_impl)

    def screen_size(self) -> tuple[int, int]:
        """(width, height) of the screenshot in pixels."""
        self.start()
        return self._run("screen_size", self._screen_size_impl)

    # ------------------------------------------------------------------ actions

    def tap(self, target: UIElement | int, y: int | None = None) -> None:
        """Tap (left click) an element's centre, or the pixel ``(target, y)``."""
        x, y = self._point(target, y)
        self._act("tap", self._tap_impl, x, y)

    def long_press(self, target: UIElement | int, y: int | None = None, duration_s: float = 0.8) -> None:
        """Press and hold for ``duration_s`` seconds (a long tap on touch screens)."""
        x, y = self._point(target, y)
        self._act("long_press", self._long_press_impl, x, y, duration_s)

    def type_text(self, text: str, into: UIElement | None = None, clear: bool = True) -> None:
        """Type ``text`` at the focus, or into ``into`` (tapped first, and cleared when ``clear``).

        Text typed into a password field is added to the env's secrets so that it is masked in
        later observations and records.
        """
        if into is not None and into.role == "password":
            self.secrets.add(text)
        self._act("type_text", self._type_into, reveal(text), into, clear)

    def _type_into(self, text: str, into: UIElement | None, clear: bool) -> None:
        if into is not None:
            self._tap_impl(*into.center)
            if clear:
                self._clear_impl(into)
        self._type_impl(text)

    def key(self, name: str) -> None:
        """Press a key by canonical name (see ``KEYS``: enter, tab, escape, back, home, ...), or a
        combination such as ``"ctrl+a"`` on backends with a keyboard (``supports_combos``)."""
        parts = [canonical_key(p) for p in name.split("+")] if "+" in name.strip("+") else [canonical_key(name)]
        *mods, main = parts
        supported = self.supported_keys()
        if mods and not self.supports_combos:
            raise GuiActionError(f"key combinations like {name!r} are not available on {self.backend}")
        bad_mods = [m for m in mods if m not in MODIFIERS]
        if bad_mods:
            raise GuiActionError(f"{bad_mods[0]!r} in {name!r} is not a modifier ({', '.join(MODIFIERS)})")
        if main not in supported and not (mods and len(main) == 1):
            raise GuiActionError(f"key {name!r} is not available on {self.backend}; known: {', '.join(supported)}")
        self._act("key", self._key_impl, "+".join(parts))

    def scroll(self, direction: str = "down", amount: float = 0.5, at: UIElement | None = None) -> None:
        """Scroll the content so that more of it in ``direction`` comes into view, by ``amount``
        screen heights (or widths), at ``at`` or the screen centre."""
        direction = direction.strip().lower()
        if direction not in DIRECTIONS:
            raise GuiActionError(f"scroll direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
        if not 0 < amount <= 5:
            raise GuiActionError(f"scroll amount {amount} must be in (0, 5] screens")
        w, h = self.screen_size()
        x, y = at.center if at is not None else (w // 2, h // 2)
        self._act("scroll", self._scroll_impl, direction, amount, x, y)

    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_s: float = 0.3) -> None:
        """Drag from one pixel to another (a finger swipe on touch screens, a mouse drag otherwise)."""
        self._act("swipe", self._swipe_impl, int(x1), int(y1), int(x2), int(y2), duration_s)

    def drag(self, x1: int, y1: int, x2: int, y2: int, duration_s: float = 1.0) -> None:
        """Press at one pixel, hold, move to another and let go: what moves a list row or an
        icon. A backend whose swipe is already a press-move-release (a mouse drag) uses it."""
        self._act("drag", self._drag_impl, int(x1), int(y1), int(x2), int(y2), duration_s)

    def has_app(self, name: str) -> bool:
        """Whether an installed app answers to ``name`` without looking at the screen (its package,
        or a package name that says it). Backends without named apps: False."""
        return False

    def launch(self, app: str) -> None:
        """Start an application: a command line (desktop), a URL (browser), a package (Android)."""
        self._act("launch", self._launch_impl, app)

    def go_home(self) -> None:
        """Go to the home screen (Android) or the start page (browser)."""
        self._act("go_home", self._home_impl)

    def relaunch(self, app: str) -> None:
        """Stop what :meth:`launch` started before (where the backend can) and launch ``app`` afresh."""
        self.start()
        self._run("stop_apps", self._stop_apps_impl)
        self.launch(app)

    def wait_settled(self, timeout_s: float = 2.0) -> bool | None:
        """Wait, at most ``timeout_s`` seconds, until the screen has settled by the backend's own
        signals (a web page: no DOM change, animation or input-triggered timer pending); whether
        it did. None when the backend has no such signals: compare observations instead."""
        self.start()
        return self._run("wait_settled", self._wait_settled_impl, timeout_s)

    def wait_for(self, text: str, timeout_s: float = 5.0, poll_s: float = 0.1) -> bool:
        """Observe until an element's text contains ``text`` (case-insensitive); False on timeout."""
        want = " ".join(text.lower().split())
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            obs = self.observe()
            if any(want in " ".join(f"{e.text} {e.description}".lower().split()) for e in obs.elements):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)

    def supported_keys(self) -> tuple[str, ...]:
        return tuple(k for k in KEYS if k in self._key_names())

    def stats(self) -> dict[str, Any]:
        """Counters: observations, actions and the seconds spent in each."""
        return dict(self._counters)

    # ------------------------------------------------------------------ plumbing

    def _point(self, target: UIElement | int, y: int | None) -> tuple[int, int]:
        if isinstance(target, UIElement):
            return target.center
        if y is None:
            raise GuiActionError("tap/long_press need an element or both x and y pixels")
        return int(target), int(y)

    def _act(self, what: str, fn: Callable[..., Any], *args: Any) -> None:
        self.start()
        t0 = time.perf_counter()
        self._changed()
        self._run(what, fn, *args)
        if self.settle_s:
            time.sleep(self.settle_s)
        self._counters["actions"] += 1
        self._counters["act_s"] += time.perf_counter() - t0

    def _run(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """Call a backend ``_impl``: retry transient failures, translate library errors."""
        attempt = 0
        while True:
            try:
                return fn(*args)
            except (GuiError, PrimitiveError):
                raise
            except self.library_errors as exc:
                if attempt < self.retries and self._is_transient(exc):
                    attempt += 1
                    log.warning("%s %s failed (%s); retry %d/%d", self.backend, what, exc, attempt, self.retries)
                    continue
                raise self._translate(what, exc) from exc

    def _is_transient(self, exc: BaseException) -> bool:
        """Whether a library error is worth retrying (a timeout, a busy device)."""
        return False

    def _translate(self, what: str, exc: BaseException) -> Exception:
        """The typed error for a library error; backends refine it (e.g. DeviceDisconnected)."""
        return GuiActionError(f"{self.backend} {what} failed: {exc}")

    # ------------------------------------------------------------------ backend hooks

    @abc.abstractmethod
    def _start_impl(self) -> None: ...

    @abc.abstractmethod
    def _close_impl(self) -> None: ...

    @abc.abstractmethod
    def _screenshot_impl(self) -> np.ndarray: ...

    @abc.abstractmethod
    def _elements_impl(self, image: np.ndarray) -> list[UIElement]:
        """UI elements on screen, bounds in screenshot pixels; ``image`` is the current screenshot
        (None when :meth:`_wants_image` says the backend reads its elements without one)."""

    def _wants_image(self) -> bool:
        """Whether observations carry a screenshot (backends that read elements from pixels must)."""
        return True

    def _wait_settled_impl(self, timeout_s: float) -> bool | None:
        """Backends that can tell when their screen has settled override this."""
        return None

    def _context_impl(self) -> str:
        """Short text about the screen for ``Observation.task`` (page title, task instruction)."""
        return ""

    def _foreground_impl(self) -> tuple[str, str]:
        return self._context_impl(), ""

    def _screen_size_impl(self) -> tuple[int, int]:
        h, w = self._screenshot_impl().shape[:2]
        return w, h

    @abc.abstractmethod
    def _tap_impl(self, x: int, y: int) -> None: ...

    @abc.abstractmethod
    def _long_press_impl(self, x: int, y: int, duration_s: float) -> None: ...

    @abc.abstractmethod
    def _clear_impl(self, element: UIElement) -> None:
        """Empty the focused text field (which is ``element``)."""

    @abc.abstractmethod
    def _type_impl(self, text: str) -> None: ...

    @abc.abstractmethod
    def _key_names(self) -> tuple[str, ...]:
        """The canonical key names this backend can press."""

    @abc.abstractmethod
    def _key_impl(self, key: str) -> None: ...

    @abc.abstractmethod
    def _scroll_impl(self, direction: str, amount: float, x: int, y: int) -> None: ...

    @abc.abstractmethod
    def _swipe_impl(self, x1: int, y1: int, x2: int, y2: int, duration_s: float) -> None: ...

    def _drag_impl(self, x1: int, y1: int, x2: int, y2: int, duration_s: float) -> None:
        self._swipe_impl(x1, y1, x2, y2, duration_s)

    @abc.abstractmethod
    def _launch_impl(self, app: str) -> None: ...

    def _home_impl(self) -> None:
        raise GuiActionError(f"{self.backend} has no home screen")

    def _stop_apps_impl(self) -> None:  # noqa: B027  (optional hook, deliberately empty)
        """Stop launched apps before a relaunch; backends without that notion do nothing."""
