"""Web pages in headless Chromium through Selenium, optionally as a phone (mobile viewport, touch).

Elements come from the DOM in one JavaScript call per observation (``dom.js``): visible,
unoccluded interactive elements (links, buttons, inputs, checkboxes, radios, selects, ARIA
widgets, anything with a click handler) plus text blocks, with ids stable for the life of the
page and bounds from ``getBoundingClientRect``. Input goes through the DevTools protocol (mouse
or touch events at pixels) and WebDriver actions (keys and text), so pages see real events.

The viewport is set exactly with ``Emulation.setDeviceMetricsOverride``; ``mobile: true`` adds
touch emulation and a phone user agent, which is the smartphone emulator of this package.
Chromium runs with a fresh profile and no background networking (the machine may be offline).
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from embodied.config import StrictModel
from embodied.types import UIElement
from perception.screen import reading_order
from sim.gui.base import GuiEnv
from sim.gui.cdp import KEY_EVENTS, CdpSession, Command, key_commands, text_commands
from sim.gui.errors import BackendUnavailable, DeviceDisconnected, GuiActionError, GuiError
from sim.gui.secrets import SecretBook

log = logging.getLogger(__name__)

_DOM_JS = (Path(__file__).with_name("dom.js")).read_text(encoding="utf-8")
PHONE_USER_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/120.0.0.0 Mobile Safari/537.36")
_CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                 "--disable-features=Translate,MediaRouter,OptimizationHints", "--password-store=basic")


class BrowserOptions(StrictModel):
    url: str | None = Field(default=None, description="page opened at start (also: launch(url))")
    width: int = Field(default=1024, ge=100, le=4096, description="viewport width, CSS pixels")
    height: int = Field(default=768, ge=100, le=4096, description="viewport height, CSS pixels")
    mobile: bool = Field(default=False, description="phone emulation: touch events, mobile user agent")
    device_scale: float = Field(default=1.0, gt=0, le=4, description="device pixels per CSS pixel")
    user_agent: str | None = None
    headless: bool = True
    chromium: str | None = Field(default=None, description="browser binary; default: chromium on PATH")
    chromedriver: str | None = Field(default=None, description="driver binary; default: chromedriver on PATH")
    page_load_timeout_s: float = Field(default=30.0, gt=0)
    max_elements: int = Field(default=400, ge=1, le=5000)
    root: str | None = Field(default=None, description="CSS selector: report only elements inside it")
    exclude: str | None = Field(default=None, description="CSS selector of regions never reported (a task's "
                                                          "own instruction, a score panel)")
    settle_s: float = Field(default=0.0, ge=0, le=5, description="wait after each input before observing")
    quiet_ms: float = Field(default=16.0, ge=0, le=2000,
                            description="observe once the page has had no DOM change, input or animation this long "
                                        "(a frame at 60 Hz; work that input set off is waited for on its own)")
    timer_horizon_ms: float = Field(default=100.0, ge=0, le=10000,
                                    description="an observation also waits for timers of at most this delay that "
                                                "the page set in reaction to input (script-driven animation steps)")
    idle_timer_horizon_ms: float = Field(default=1000.0, ge=0, le=10000,
                                         description="wait_idle also waits for such timers up to this delay (a "
                                                     "debounced search, a menu's opening delay)")
    max_settle_ms: float = Field(default=1500.0, ge=0, le=10000,
                                 description="observe anyway after waiting this long for the page to settle")
    reduce_motion: bool = Field(default=False, description="switch page animations off (jQuery effects, CSS "
                                                           "transitions), as UI tests do: the page settles at once")
    screenshot: bool = Field(default=True, description="capture a screenshot with every observation; false: the "
                                                       "DOM alone is the screen (faster; no images in traces)")


def _find(explicit: str | None, names: tuple[str, ...], what: str, package: str) -> str:
    if explicit:
        if Path(explicit).exists() or shutil.which(explicit):
            return shutil.which(explicit) or explicit
        raise BackendUnavailable(f"{what} {explicit!r} not found")
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise BackendUnavailable(f"{what} not found on PATH (looked for {', '.join(names)}): "
                             f"run `apt-get install -y {package}`")


class BrowserEnv(GuiEnv):
    """A Chromium tab. ``launch(url)`` navigates; ``key("back")`` goes back in history."""

    backend = "browser"
    supports_combos = True

    def __init__(self, options: BrowserOptions | None = None, secrets: SecretBook | None = None) -> None:
        self.options = options or BrowserOptions()
        super().__init__(settle_s=self.options.settle_s, secrets=secrets)
        self.driver: Any = None
        self._page: CdpSession | None = None  # input and DOM reads, straight to the page (see sim.gui.cdp)
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._dpr = self.options.device_scale
        self._dragging = False
        self._first_launched = ""
        self.settle_waits_ms: list[float] = []  # how long each observation waited for the page to settle
        try:
            from selenium.common import exceptions as sel_exc
        except ImportError:
            self.library_errors = ()
        else:
            self.library_errors = (sel_exc.WebDriverException,)

    # ------------------------------------------------------------------ lifecycle

    def _start_impl(self) -> None:
        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
        except ImportError as exc:
            raise BackendUnavailable("selenium is missing: pip install selenium (or the `gui` extra)") from exc
        o = self.options
        binary = _find(o.chromium, ("chromium", "chromium-browser", "google-chrome"), "Chromium", "chromium")
        driver_path = _find(o.chromedriver, ("chromedriver",), "chromedriver", "chromium-driver")
        self._profile = tempfile.TemporaryDirectory(prefix="embodied-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = binary
        for flag in _CHROME_FLAGS:
            if flag.startswith("--headless") and not o.headless:
                continue
            opts.add_argument(flag)
        opts.add_argument(f"--user-data-dir={self._profile.name}")
        opts.add_argument(f"--window-size={o.width},{o.height}")
        try:
            self.driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
        except Exception as exc:  # selenium raises several unrelated types when the browser cannot start
            self._profile.cleanup()
            raise BackendUnavailable(f"Chromium did not start ({binary}, {driver_path}): {exc}") from exc
        self.driver.set_page_load_timeout(o.page_load_timeout_s)
        self.driver.set_script_timeout(max(5.0, 2 * o.max_settle_ms / 1000))
        self._emulate()
        try:
            address = self.driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        except (KeyError, TypeError) as exc:
            self._close_impl()
            raise BackendUnavailable("chromedriver did not report the browser's DevTools address") from exc
        try:
            self._page = CdpSession.attach(address, self.driver.current_window_handle,
                                           timeout_s=max(5.0, 2 * o.max_settle_ms / 1000, o.page_load_timeout_s))
        except BackendUnavailable:
            self._close_impl()
            raise
        if o.url:
            self.driver.get(o.url)

    def _emulate(self) -> None:
        o = self.options
        self._cdp("Emulation.setDeviceMetricsOverride", width=o.width, height=o.height,
                  deviceScaleFactor=o.device_scale, mobile=o.mobile)
        self._cdp("Emulation.setTouchEmulationEnabled", enabled=o.mobile, maxTouchPoints=5 if o.mobile else 1)
        agent = o.user_agent or (PHONE_USER_AGENT if o.mobile else None)
        if agent:
            self._cdp("Emulation.setUserAgentOverride", userAgent=agent)

    def _close_impl(self) -> None:
        page, self._page = self._page, None
        if page is not None:
            page.close()
        driver, self.driver = self.driver, None
        if driver is not None:
            try:
                driver.quit()
            except Exception as exc:  # the browser may already be gone; closing must not fail
                log.warning("closing Chromium: %s", exc)
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None

    # ------------------------------------------------------------------ perception

    def _cdp(self, cmd: str, **params: Any) -> dict[str, Any]:
        """A DevTools command on chromedriver's own session: for settings that must last as long
        as the browser (emulation), not for input."""
        if self.driver is None:
            raise GuiError("browser env used before start()")
        return self.driver.execute_cdp_cmd(cmd, params)

    @property
    def page(self) -> CdpSession:
        if self._page is None:
            raise GuiError("browser env used before start()")
        return self._page

    def _send(self, commands: list[Command]) -> None:
        """Input events, pipelined (see :meth:`CdpSession.batch`)."""
        if commands:
            self.page.batch(commands)

    def _screenshot_impl(self) -> np.ndarray:
        self._settle()  # the picture of a settled page, consistent with the elements read after it
        data = self.page.call("Page.captureScreenshot", format="png")["data"]
        img = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def _screen_size_impl(self) -> tuple[int, int]:
        scale = self.options.device_scale
        return round(self.options.width * scale), round(self.options.height * scale)

    def _wants_image(self) -> bool:
        return self.options.screenshot

    def _elements_impl(self, image: np.ndarray | None) -> list[UIElement]:
        """The DOM's elements once the page has settled (no DOM mutation, input event or running
        animation for ``quiet_ms``, no timer pending that input set off), so positions are not
        read mid-animation; one asynchronous script call, whose wait costs only the time the
        page was still changing."""
        rows, _ = self._settle(self.options.max_elements)
        return sorted((self._element(row) for row in rows), key=reading_order)

    def _wait_settled_impl(self, timeout_s: float) -> bool | None:
        return self._settle(0, max_wait_ms=1000 * timeout_s, timer_horizon_ms=self.options.idle_timer_horizon_ms)[1]

    def _settle(self, max_elements: int = 0, max_wait_ms: float | None = None,
                timer_horizon_ms: float | None = None) -> tuple[list[list[Any]], bool]:
        """Wait until the page is quiet (at most ``max_wait_ms``, default ``max_settle_ms``), then
        read up to ``max_elements`` elements (0: just wait); the rows and whether it settled."""
        o = self.options
        wait_ms = o.max_settle_ms if max_wait_ms is None else max_wait_ms
        horizon = o.timer_horizon_ms if timer_horizon_ms is None else timer_horizon_ms
        args = json.dumps([max_elements, o.root, o.exclude, o.quiet_ms, wait_ms, o.reduce_motion, horizon])
        script = f"new Promise((done) => (function () {{\n{_DOM_JS}\n}}).apply(null, [...{args}, done]))"
        rows, dpr, settled, waited_ms = self.page.evaluate(script, timeout_s=max(5.0, 2 * wait_ms / 1000))
        self._dpr = float(dpr)
        self.settle_waits_ms.append(float(waited_ms))
        if not settled:
            log.info("the page did not settle within %.0f ms; reading it as it is", wait_ms)
        return rows, bool(settled)

    def _element(self, row: list[Any]) -> UIElement:
        eid, role, text, left, top, right, bottom, clickable, editable, checked, selected, description, span = row
        s = self._dpr
        return UIElement(id=eid, role=role, text=text,
                         bounds=(int(left * s), int(top * s), round(right * s), round(bottom * s)),
                         clickable=bool(clickable), editable=bool(editable), checked=checked, selected=selected,
                         description=description,
                         value_range=(float(span[0]), float(span[1]), float(span[2])) if span else None)

    def _context_impl(self) -> str:
        return str(self.driver.title or "")

    # ------------------------------------------------------------------ input

    def _css(self, x: int, y: int) -> tuple[float, float]:
        return x / self._dpr, y / self._dpr

    def _pointer(self, kind: str, x: int, y: int) -> Command:
        """The event of one pointer action at screenshot pixel (x, y): touch on a phone, mouse otherwise."""
        cx, cy = self._css(x, y)
        if self.options.mobile:
            if kind == "up":
                return "Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []}
            return "Input.dispatchTouchEvent", {"type": "touchStart" if kind == "down" else "touchMove",
                                                "touchPoints": [{"x": cx, "y": cy}]}
        if kind == "move":
            button = {"button": "left", "buttons": 1} if self._dragging else {"button": "none"}
            return "Input.dispatchMouseEvent", {"type": "mouseMoved", "x": cx, "y": cy, **button}
        event = "mousePressed" if kind == "down" else "mouseReleased"
        return "Input.dispatchMouseEvent", {"type": event, "x": cx, "y": cy, "button": "left", "clickCount": 1}

    def _tap_impl(self, x: int, y: int) -> None:
        # The pointer moves there first (hover handlers run), then presses and releases: sent
        # together, handled by the page one after the other.
        events = [] if self.options.mobile else [self._pointer("move", x, y)]
        self._send([*events, self._pointer("down", x, y), self._pointer("up", x, y)])

    def _long_press_impl(self, x: int, y: int, duration_s: float) -> None:
        self._send([self._pointer("down", x, y)])
        time.sleep(duration_s)
        self._send([self._pointer("up", x, y)])

    def _swipe_impl(self, x1: int, y1: int, x2: int, y2: int, duration_s: float) -> None:
        steps = max(2, int(duration_s / 0.02))
        self._send([self._pointer("down", x1, y1)])
        self._dragging = True
        try:
            for i in range(1, steps + 1):
                self._send([self._pointer("move", round(x1 + (x2 - x1) * i / steps),
                                          round(y1 + (y2 - y1) * i / steps))])
                time.sleep(duration_s / steps)
        finally:
            self._dragging = False
        self._send([self._pointer("up", x2, y2)])

    def _scroll_impl(self, direction: str, amount: float, x: int, y: int) -> None:
        cx, cy = self._css(x, y)
        dist = amount * (self.options.height if direction in ("up", "down") else self.options.width)
        dx = {"left": -dist, "right": dist}.get(direction, 0.0)
        dy = {"up": -dist, "down": dist}.get(direction, 0.0)
        self._send([("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": cx, "y": cy, "deltaX": dx,
                                                  "deltaY": dy})])
        time.sleep(0.05)  # wheel scrolling is applied asynchronously by the compositor

    def _key_names(self) -> tuple[str, ...]:
        return (*_SELENIUM_KEYS, "back")

    def _key_impl(self, key: str) -> None:
        if key == "back":
            self.driver.back()
            return
        *mods, main = key.split("+")
        if not mods:  # one key: its events straight to the page
            self._send(key_commands(main) if main in KEY_EVENTS else text_commands(main))
            return
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        # Combinations go through WebDriver, which holds modifiers as the platform's keyboard does.
        chain = ActionChains(self.driver)
        held = [getattr(Keys, _SELENIUM_MODS[m]) for m in mods]
        for k in held:
            chain.key_down(k)
        chain.send_keys(getattr(Keys, _SELENIUM_KEYS[main]) if main in _SELENIUM_KEYS else main)
        for k in reversed(held):
            chain.key_up(k)
        chain.perform()

    def _clear_impl(self, element: UIElement) -> None:
        # Select the focused field's content, then delete it with a real key press so the page's
        # input handlers run.
        self.page.evaluate(
            "(() => { const el = document.activeElement; if (!el) return;"
            "if (typeof el.select === 'function') el.select();"
            "else if (el.isContentEditable) document.execCommand('selectAll'); })()")
        self._send(key_commands("backspace"))

    def _type_impl(self, text: str) -> None:
        self._send(text_commands(text))

    def _launch_impl(self, app: str) -> None:
        self.driver.get(app)
        self._first_launched = self._first_launched or app

    def _home_impl(self) -> None:
        """The start page: ``options.url``, else the first page launched (``app=`` of a config or
        a session)."""
        home = self.options.url or self._first_launched
        if not home:
            raise GuiActionError("the browser has no start page (options.url) and launched no page to go home to")
        self.driver.get(home)

    def _translate(self, what: str, exc: BaseException) -> Exception:
        from selenium.common import exceptions as sel_exc

        if isinstance(exc, sel_exc.InvalidSessionIdException | sel_exc.NoSuchWindowException):
            return DeviceDisconnected(f"the browser went away during {what}: {exc.msg}")
        if isinstance(exc, sel_exc.JavascriptException | sel_exc.TimeoutException):
            return GuiActionError(f"browser {what} failed: {exc.msg}")
        return super()._translate(what, exc)

    def run_js(self, script: str, *args: Any) -> Any:
        """Evaluate JavaScript in the page (for tasks and success checks, not for agents)."""
        self.start()
        return self._run("run_js", self.driver.execute_script, script, *args)


_SELENIUM_KEYS = {"enter": "ENTER", "tab": "TAB", "escape": "ESCAPE", "backspace": "BACKSPACE", "delete": "DELETE",
                  "space": "SPACE", "up": "ARROW_UP", "down": "ARROW_DOWN", "left": "ARROW_LEFT",
                  "right": "ARROW_RIGHT", "home": "HOME", "end": "END", "page_up": "PAGE_UP", "page_down": "PAGE_DOWN"}
_SELENIUM_MODS = {"ctrl": "CONTROL", "alt": "ALT", "shift": "SHIFT", "meta": "META"}
