"""The phone twin: small HTML apps in headless Chromium behind a real adb transport.

``PhoneTwin(...).start()`` renders the apps at a phone's resolution and density and listens on
``127.0.0.1:PORT``; ``adb connect 127.0.0.1:PORT`` then lists it as a device and every client
(the ``adb`` command line, ``adbutils``, the Android backend) drives it as it would a phone:
``input tap/swipe/text/keyevent`` become touch and key events in the page, ``uiautomator dump``
writes the page's accessibility tree (built from its DOM), ``screencap -p`` returns a PNG,
``am start``/``monkey -p``/``am force-stop`` switch apps, ``dumpsys window`` names the focused
activity, ``pm list packages`` lists the apps.

The apps keep their data (switches, messages, payments) in the twin; :meth:`PhoneTwin.state`
returns it as ground truth for tests and benchmarks, never through adb.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import secrets as token_source
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.gui.phone_twin.apps import APPS, APPS_DIR, LAUNCHER, AppSpec, initial_state
from sim.gui.phone_twin.errors import TwinError
from sim.gui.phone_twin.shell import DeviceShell, FileStore
from sim.gui.phone_twin.transport import AdbDeviceServer, FileStat, ShellResult
from sim.gui.phone_twin.uiautomator import dump_xml

log = logging.getLogger(__name__)
_A11Y_JS = Path(__file__).with_name("a11y.js").read_text(encoding="utf-8")
# A click at a point as a finger's tap delivers it: press (focusing what takes focus), release, click.
_CLICK_JS = """
const [x, y] = arguments; const el = document.elementFromPoint(x, y); if (!el) return;
const opts = {bubbles: true, cancelable: true, clientX: x, clientY: y, view: window};
el.dispatchEvent(new MouseEvent("mousedown", opts));
const focusable = el.closest("input, textarea, button, select, [tabindex]"); if (focusable) focusable.focus();
el.dispatchEvent(new MouseEvent("mouseup", opts));
el.dispatchEvent(new MouseEvent("click", opts));
"""
# After an input: taps the page handled, its requests to the phone, the activity in front.
LONG_PRESS_S = 0.5  # ViewConfiguration's long-press timeout (twin.js holds the same number)
_STATE_JS = "return [window.twinTaps, window.twinRequests.splice(0), window.twinApp.activity()]"
LATIN_IME = "com.android.inputmethod.latin/.LatinIME"
ADB_KEYBOARD_IME = "com.android.adbkeyboard/.AdbIME"
# Android key codes the twin understands -> (DOM key, Windows virtual key code, editing command).
_KEYS: dict[int, tuple[str, int, str]] = {
    61: ("Tab", 9, ""), 62: (" ", 32, ""), 66: ("Enter", 13, ""), 67: ("Backspace", 8, "deleteBackward"),
    112: ("Delete", 46, "deleteForward"), 111: ("Escape", 27, ""), 19: ("ArrowUp", 38, ""),
    20: ("ArrowDown", 40, ""), 21: ("ArrowLeft", 37, ""), 22: ("ArrowRight", 39, ""),
    122: ("Home", 36, "moveToBeginningOfLine"), 123: ("End", 35, "moveToEndOfLine"),
    92: ("PageUp", 33, ""), 93: ("PageDown", 34, ""),
}
_SYSTEM_KEYS = {3: "home", 4: "back", 187: "app_switch", 82: "menu", 84: "search", 26: "power", 24: "volume_up",
                25: "volume_down", 164: "volume_mute"}
_KEY_NAMES = {"HOME": 3, "BACK": 4, "APP_SWITCH": 187, "ENTER": 66, "DEL": 67, "FORWARD_DEL": 112, "TAB": 61,
              "SPACE": 62, "ESCAPE": 111, "DPAD_UP": 19, "DPAD_DOWN": 20, "DPAD_LEFT": 21, "DPAD_RIGHT": 22,
              "MOVE_HOME": 122, "MOVE_END": 123, "PAGE_UP": 92, "PAGE_DOWN": 93, "MENU": 82, "SEARCH": 84,
              "POWER": 26, "VOLUME_UP": 24, "VOLUME_DOWN": 25, "VOLUME_MUTE": 164}


@dataclass
class TwinOptions:
    """Screen in pixels and dots per inch (160 dpi = 1 CSS pixel per screen pixel). The default
    is a budget phone (540x1200, hdpi): the apps lay out as on any 360 dp wide phone, and a
    screenshot costs half of what 720x1600 does."""

    width: int = 540
    height: int = 1200
    density: int = 240
    seed: int = 0
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    bank_user: str = "ada"
    bank_password: str = ""  # empty: a random one, readable as PhoneTwin.bank_password
    adb_keyboard: bool = True  # whether the ADB Keyboard IME (non-ASCII text) is installed
    chromium: str | None = None
    chromedriver: str | None = None
    properties: dict[str, str] = field(default_factory=lambda: {
        "ro.product.name": "phone_twin", "ro.product.model": "Phone_Twin", "ro.product.device": "twin",
        "ro.product.manufacturer": "embodied", "ro.build.version.release": "14", "ro.build.version.sdk": "34"})


class PhoneTwin:
    """A phone for tests and demos. Use as a context manager or call start()/close()."""

    def __init__(self, options: TwinOptions | None = None) -> None:
        self.options = options or TwinOptions()
        if self.options.width < 200 or self.options.height < 200 or not 80 <= self.options.density <= 800:
            raise TwinError(f"phone twin screen {self.options.width}x{self.options.height} @ "
                            f"{self.options.density} dpi is not a phone's")
        self.properties = dict(self.options.properties)
        self.bank_password = self.options.bank_password or token_source.token_urlsafe(9)
        self.dpr = self.options.density / 160
        self.files = FileStore()
        self.shell = DeviceShell(self._commands(), self.files)
        self._apps = {a.package: a for a in APPS}
        self._lock = threading.RLock()
        self._driver: Any = None
        self._server: AdbDeviceServer | None = None
        self._profile: Any = None
        self._ime = LATIN_IME
        self._enabled_imes = {LATIN_IME}
        self.reset(self.options.seed, _render=False)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> PhoneTwin:
        """Start Chromium and the adb listener; the launcher is in front."""
        with self._lock:
            if self._driver is None:
                self._start_browser()
                self._render(LAUNCHER, None)
            if self._server is None:
                self._server = AdbDeviceServer(self, self.options.host, self.options.port)
                self._server.start()
        return self

    def _start_browser(self) -> None:
        import tempfile

        from sim.gui.browser import _CHROME_FLAGS, _find
        from sim.gui.errors import BackendUnavailable

        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
        except ImportError as exc:
            raise TwinError("the phone twin needs selenium (the `gui` extra)") from exc
        try:
            binary = _find(self.options.chromium, ("chromium", "chromium-browser", "google-chrome"), "Chromium",
                           "chromium")
            driver_path = _find(self.options.chromedriver, ("chromedriver",), "chromedriver", "chromium-driver")
        except BackendUnavailable as exc:
            raise TwinError(str(exc)) from exc
        self._profile = tempfile.TemporaryDirectory(prefix="embodied-phone-twin-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = binary
        for flag in _CHROME_FLAGS:
            opts.add_argument(flag)
        opts.add_argument(f"--user-data-dir={self._profile.name}")
        opts.add_argument("--allow-file-access-from-files")
        w, h = self.css_size
        opts.add_argument(f"--window-size={w},{h}")
        try:
            self._driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
        except Exception as exc:  # selenium raises several unrelated types when the browser cannot start
            self._profile.cleanup()
            raise TwinError(f"the phone twin's Chromium did not start: {exc}") from exc
        self._cdp("Emulation.setDeviceMetricsOverride", width=w, height=h, deviceScaleFactor=self.dpr, mobile=True)
        self._cdp("Emulation.setTouchEmulationEnabled", enabled=True, maxTouchPoints=5)

    def close(self) -> None:
        """Stop listening (the adb server sees the device go offline) and quit Chromium."""
        with self._lock:
            server, self._server = self._server, None
            driver, self._driver = self._driver, None
        if server is not None:
            server.close()
        if driver is not None:
            try:
                driver.quit()
            except Exception as exc:  # the browser may already be gone; closing must not fail
                log.warning("closing the phone twin's Chromium: %s", exc)
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None

    def __enter__(self) -> PhoneTwin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise TwinError("the phone twin is not started")
        return self._server.address

    @property
    def serial(self) -> str:
        """What ``adb connect`` takes and ``adb devices`` lists: ``127.0.0.1:PORT``."""
        host, port = self.address
        return f"{host}:{port}"

    @property
    def css_size(self) -> tuple[int, int]:
        return round(self.options.width / self.dpr), round(self.options.height / self.dpr)

    # ------------------------------------------------------------------ ground truth

    def reset(self, seed: int, _render: bool = True) -> None:
        """Fresh app data for ``seed``, no recent tasks, the launcher in front."""
        with self._lock:
            self.seed = seed
            self._data: dict[str, dict[str, Any]] = initial_state(seed, self.options.bank_user)
            self._ui: dict[str, Any] = {}
            self._tasks: list[str] = []
            self._current = ""
            self._activity = ""
            if _render and self._driver is not None:
                self._render(LAUNCHER, None)

    def state(self, package: str) -> dict[str, Any]:
        """The app's data now (a copy): ``switches`` of Settings, ``conversations``/``sent`` of
        Messages, ``contacts`` of Contacts, ``logged_in``/``payments`` of Bank."""
        with self._lock:
            if package not in self._data:
                raise TwinError(f"no app {package!r} on the twin (apps: {', '.join(sorted(self._data))})")
            if package == self._current:
                self._pull()
            return copy.deepcopy(self._data[package])

    def foreground(self) -> tuple[str, str]:
        """(package, activity) in front."""
        with self._lock:
            self._sync_activity()
            return self._current, self._activity

    def screen_texts(self) -> list[str]:
        """Texts shown on the screen now (from the page, not through adb): ground truth for
        "X is visible"."""
        with self._lock:
            return [t for t in self._js(
                "const out = []; const H = window.innerHeight, W = window.innerWidth;"
                "for (const el of document.querySelectorAll('body *')) {"
                "  if (el.children.length) continue; const r = el.getBoundingClientRect();"
                "  const x = Math.min(Math.max((r.left + r.right) / 2, 0), W - 1);"
                "  const y = Math.min(Math.max((r.top + r.bottom) / 2, 0), H - 1);"
                "  const hit = r.width > 0 && r.height > 0 ? document.elementFromPoint(x, y) : null;"
                "  if (hit && (hit === el || el.contains(hit))) out.push(el.innerText.trim()); }"
                "return out;") if t]

    @property
    def recents(self) -> list[str]:
        return list(self._tasks)

    # ------------------------------------------------------------------ the adb Device protocol

    def run_shell(self, command: str) -> ShellResult:
        with self._lock:
            if self._driver is None:
                return ShellResult(b"", b"error: device offline\n", 1)
            log.debug("twin shell: %s", command)
            return self.shell.run(command)

    def stat(self, path: str) -> FileStat | None:
        with self._lock:
            return self.files.stat(path)

    def list_dir(self, path: str) -> list[tuple[str, FileStat]]:
        with self._lock:
            return self.files.list_dir(path)

    def read_file(self, path: str) -> bytes:
        with self._lock:
            return self.files.read(path)

    def write_file(self, path: str, data: bytes, mode: int) -> None:
        with self._lock:
            self.files.write(path, data)

    # ------------------------------------------------------------------ page plumbing

    def _cdp(self, cmd: str, **params: Any) -> dict[str, Any]:
        return self._driver.execute_cdp_cmd(cmd, params)

    def _js(self, script: str, *args: Any) -> Any:
        return self._driver.execute_script(script, *args)

    def _launcher_data(self) -> dict[str, Any]:
        home = [{"package": a.package, "label": a.label, "tint": a.tint} for a in APPS if a.on_home]
        recents = [{"package": p, "label": self._apps[p].label} for p in reversed(self._tasks)]
        return {"apps": home, "recents": recents}

    def _pull(self) -> None:
        """Copy the page's app data and screen stack into the twin."""
        if not self._current or self._current == LAUNCHER:
            return
        saved = self._js("return window.twinApp.save()")
        self._data[self._current] = saved["data"]
        self._ui[self._current] = saved["ui"]

    def _render(self, package: str, activity: str | None, fresh: bool = False) -> None:
        """Bring ``package`` to the front (at ``activity``, or where it was left)."""
        spec = self._apps[package]
        if self._current and self._current != LAUNCHER and self._driver is not None:
            self._pull()
        if fresh:
            self._ui.pop(package, None)
        data = self._launcher_data() if package == LAUNCHER else self._data[package]
        self._driver.get((APPS_DIR / spec.page).as_uri())
        try:
            self._js("window.twinApp.start(arguments[0], arguments[1], arguments[2])", data,
                     self._ui.get(package), activity)
        except Exception as exc:  # a JavaScript error in an app page is a bug of the twin
            raise TwinError(f"app {package} did not start at {activity!r}: {exc}") from exc
        self._current = package
        if package != LAUNCHER:
            if package in self._tasks:
                self._tasks.remove(package)
            self._tasks.append(package)
        self._sync_activity()

    def _sync_activity(self) -> None:
        if self._driver is not None and self._current:
            self._activity = str(self._js("return window.twinApp.activity()"))

    def _handle_requests(self, first: list[dict[str, Any]] | None = None) -> None:
        """Carry out what the page asked for (launch an app, finish, check a login)."""
        for _ in range(10):
            requests = first if first is not None else (self._js("return window.twinRequests.splice(0)") or [])
            first = None
            if not requests:
                return
            for req in requests:
                if "launch" in req:
                    self._render(str(req["launch"]), None)
                elif req.get("finish"):
                    self._finish()
                elif req.get("clear_recents"):
                    self._tasks.clear()
                    self._ui.clear()
                    self._render(LAUNCHER, "Launcher")
                elif "login" in req:
                    ok = (req["login"].get("user") == self._data["com.embodied.bank"]["user"]
                          and req["login"].get("password") == self.bank_password)
                    self._js("window.twinLoginResult(arguments[0])", ok)

    def _finish(self) -> None:
        """The app in front finished its last activity: home, as on a phone."""
        if self._current != LAUNCHER:
            self._pull()
            self._ui.pop(self._current, None)
            self._current = ""
            self._render(LAUNCHER, "Launcher")

    def _after_input(self, state: list[Any] | None = None) -> None:
        """Serve the page's requests and note the activity; ``state`` is what _STATE_JS
        returned right after the input (one round trip instead of two)."""
        if state is None:
            state = self._js(_STATE_JS)
        requests, activity = state[1], state[2]
        if requests:
            self._handle_requests(requests)
            self._sync_activity()
        else:
            self._activity = str(activity)

    # ------------------------------------------------------------------ touch and keys

    def _touch(self, kind: str, x: float, y: float) -> None:
        cx, cy = x / self.dpr, y / self.dpr
        if kind == "end":
            self._cdp("Input.dispatchTouchEvent", type="touchEnd", touchPoints=[])
        else:
            self._cdp("Input.dispatchTouchEvent", type="touchStart" if kind == "start" else "touchMove",
                      touchPoints=[{"x": cx, "y": cy}])

    def tap(self, x: float, y: float) -> None:
        before = self._js("return window.twinTaps")
        self._touch("start", x, y)
        self._touch("end", x, y)
        state = self._js(_STATE_JS)
        if state[0] == before:  # the browser's gesture detector ate the click: deliver it
            self._js(_CLICK_JS, x / self.dpr, y / self.dpr)
            state = None
        self._after_input(state)

    def swipe(self, x1: float, y1: float, x2: float, y2: float, duration_s: float) -> None:
        """A finger from (x1, y1) to (x2, y2) in ``duration_s`` seconds. Scrolls are applied
        to the scrolling container under the finger as a phone does (content follows the finger)."""
        duration_s = min(max(duration_s, 0.0), 3.0)
        if abs(x2 - x1) < 8 and abs(y2 - y1) < 8:  # a press and hold
            self._touch("start", x1, y1)
            time.sleep(duration_s)
            self._touch("end", x2, y2)
            self._after_input()
            return
        steps = max(2, min(4, int(duration_s / 0.05)))  # the page's touch handlers see the path; panning is ours
        self._touch("start", x1, y1)
        for i in range(1, steps + 1):
            self._touch("move", x1 + (x2 - x1) * i / steps, y1 + (y2 - y1) * i / steps)
        self._touch("end", x2, y2)
        self._scroll_under(x1, y1, (x1 - x2) / self.dpr, (y1 - y2) / self.dpr)
        self._after_input()

    def drag_and_drop(self, x1: float, y1: float, x2: float, y2: float, duration_s: float) -> None:
        """Android 12's ``input draganddrop``: touch down, hold past the long-press timeout
        (what starts a drag in a list or on a home screen), move to (x2, y2) in ``duration_s``
        seconds, let go. Nothing is panned: the page's own handlers move what is dragged."""
        duration_s = min(max(duration_s, 0.0), 3.0)
        steps = max(2, min(6, int(duration_s / 0.05)))
        self._touch("start", x1, y1)
        time.sleep(LONG_PRESS_S * 1.5)
        for i in range(1, steps + 1):
            self._touch("move", x1 + (x2 - x1) * i / steps, y1 + (y2 - y1) * i / steps)
            time.sleep(duration_s / steps)
        self._touch("end", x2, y2)
        self._after_input()

    def _scroll_under(self, x: float, y: float, dx: float, dy: float) -> None:
        self._js("""
            const [x, y, dx, dy] = arguments;
            let el = document.elementFromPoint(x, y);
            const scrolls = (e) => { const s = getComputedStyle(e);
              return (/(auto|scroll)/.test(s.overflowY) && e.scrollHeight > e.clientHeight) ||
                     (/(auto|scroll)/.test(s.overflowX) && e.scrollWidth > e.clientWidth); };
            while (el && el !== document.body && !scrolls(el)) el = el.parentElement;
            const target = el && el !== document.body ? el : document.scrollingElement;
            target.scrollBy({left: dx, top: dy, behavior: "instant"});
        """, x / self.dpr, y / self.dpr, dx, dy)

    def key(self, code: int) -> None:
        system = _SYSTEM_KEYS.get(code)
        if system == "home":
            self._render(LAUNCHER, "Launcher")
        elif system == "app_switch":
            self._render(LAUNCHER, "RecentsActivity")
        elif system == "back":
            if self._current == LAUNCHER:
                if self._activity != "Launcher":
                    self._render(LAUNCHER, "Launcher")
            elif not self._js("return window.twinApp.back()"):
                self._finish()
        elif code in _KEYS:
            key, vk, command = _KEYS[code]
            extra = {"commands": [command]} if command else {}
            text = {"Enter": "\r", " ": " "}.get(key, "")
            self._cdp("Input.dispatchKeyEvent", type="keyDown" if text else "rawKeyDown", key=key,
                      code=key if len(key) > 1 else "Space", windowsVirtualKeyCode=vk, text=text, **extra)
            self._cdp("Input.dispatchKeyEvent", type="keyUp", key=key, windowsVirtualKeyCode=vk)
        self._after_input()

    def type_text(self, text: str) -> None:
        self._cdp("Input.insertText", text=text)
        self._after_input()

    def screencap(self) -> bytes:
        return base64.b64decode(self._cdp("Page.captureScreenshot", format="png")["data"])

    def window_dump(self) -> str:
        tree, dpr = self._js(_A11Y_JS)
        return dump_xml(tree, float(dpr), self._current)

    # ------------------------------------------------------------------ shell commands

    def _commands(self) -> dict[str, Any]:
        return {"input": self._cmd_input, "uiautomator": self._cmd_uiautomator, "screencap": self._cmd_screencap,
                "am": self._cmd_am, "monkey": self._cmd_monkey, "pm": self._cmd_pm, "cmd": self._cmd_cmd,
                "dumpsys": self._cmd_dumpsys, "wm": self._cmd_wm, "getprop": self._cmd_getprop,
                "ime": self._cmd_ime, "settings": self._cmd_settings}

    def _cmd_input(self, args: list[str], stdin: bytes) -> ShellResult:
        if args and args[0] in ("touchscreen", "touchpad", "keyboard"):  # an input source before the command
            args = args[1:]
        if not args:
            return _usage("input [<source>] <command> [<arg>...]")
        cmd, rest = args[0], args[1:]
        try:
            if cmd == "tap" and len(rest) == 2:
                self.tap(float(rest[0]), float(rest[1]))
            elif cmd == "swipe" and len(rest) in (4, 5):
                x1, y1, x2, y2 = (float(v) for v in rest[:4])
                ms = float(rest[4]) if len(rest) == 5 else 300.0
                self.swipe(x1, y1, x2, y2, ms / 1000)
            elif cmd == "draganddrop" and len(rest) in (4, 5):
                x1, y1, x2, y2 = (float(v) for v in rest[:4])
                ms = float(rest[4]) if len(rest) == 5 else 300.0
                self.drag_and_drop(x1, y1, x2, y2, ms / 1000)
            elif cmd == "text" and rest:  # like Android's `input`, only the first word is typed
                text = rest[0].replace("%s", " ")
                bad = [c for c in text if ord(c) > 0x7E]
                if bad:  # the virtual key map of a real device has no key for these: nothing is typed
                    return ShellResult(b"", f"Exception occurred while executing 'text': cannot type {bad[0]!r}: "
                                            "no key in the virtual keyboard map\n".encode(), 1)
                self.type_text(text)
            elif cmd == "keyevent" and rest:
                codes = [_keycode(r) for r in rest if not r.startswith("--")]
                if None in codes:
                    return ShellResult(b"", f"Error: unknown key code in {' '.join(rest)}\n".encode(), 1)
                for code in codes:
                    self.key(int(code))  # type: ignore[arg-type]
            else:
                return _usage(f"input {cmd}: unsupported arguments {' '.join(rest)}")
        except ValueError:
            return _usage(f"input {cmd}: numbers expected, got {' '.join(rest)}")
        return ShellResult(b"")

    def _cmd_uiautomator(self, args: list[str], stdin: bytes) -> ShellResult:
        if not args or args[0] != "dump":
            return _usage("uiautomator dump [--compressed] [FILE]")
        paths = [a for a in args[1:] if not a.startswith("--")]
        path = paths[0] if paths else "/sdcard/window_dump.xml"
        xml = self.window_dump().encode()
        if path == "/dev/tty":
            return ShellResult(xml + b"UI hierchary dumped to: /dev/tty\n")
        self.files.write(path, xml)
        return ShellResult(f"UI hierchary dumped to: {path}\n".encode())

    def _cmd_screencap(self, args: list[str], stdin: bytes) -> ShellResult:
        if "-p" not in args and not any(a.endswith(".png") for a in args):
            return ShellResult(b"", b"screencap: the twin writes PNG only (use -p)\n", 1)
        png = self.screencap()
        paths = [a for a in args if not a.startswith("-")]
        if paths:
            self.files.write(paths[0], png)
            return ShellResult(b"")
        return ShellResult(png)

    def _resolve_component(self, component: str) -> tuple[AppSpec, str] | None:
        package, _, activity = component.partition("/")
        spec = self._apps.get(package)
        if spec is None:
            return None
        if not activity:
            return spec, spec.main_activity
        name = activity[1:] if activity.startswith(".") else activity.removeprefix(package + ".")
        return (spec, name) if name in self._activities(spec) else None

    def _activities(self, spec: AppSpec) -> list[str]:
        if spec.package == self._current:
            return list(self._js("return window.twinApp.activities()"))
        if not hasattr(self, "_activity_cache"):
            self._activity_cache: dict[str, list[str]] = {}
        if spec.package not in self._activity_cache:
            current = self._current
            self._render(spec.package, None)
            self._activity_cache[spec.package] = list(self._js("return window.twinApp.activities()"))
            if current:
                self._render(current, None)
        return self._activity_cache[spec.package]

    def _cmd_am(self, args: list[str], stdin: bytes) -> ShellResult:
        if not args:
            return _usage("am start|force-stop|broadcast ...")
        sub, rest = args[0], args[1:]
        if sub in ("start", "start-activity"):
            opts = _options(rest, ("-n", "-a", "-c", "-d", "--es", "--user"))
            component = opts.get("-n") or (opts["_"][0] if opts["_"] else "")
            resolved = self._resolve_component(component) if component else None
            if resolved is None:
                return ShellResult(f"Starting: Intent {{ cmp={component} }}\nError type 3\n"
                                   f"Error: Activity class {{{component}}} does not exist.\n".encode(), b"", 1)
            spec, activity = resolved
            if "-S" in rest:
                self._force_stop(spec.package)
            t0 = time.perf_counter()
            self._render(spec.package, activity)
            out = f"Starting: Intent {{ cmp={spec.package}/.{activity} }}\n"
            if "-W" in rest:
                out += (f"Status: ok\nLaunchState: COLD\nActivity: {spec.package}/.{activity}\n"
                        f"TotalTime: {round((time.perf_counter() - t0) * 1000)}\nWaitTime: 0\nComplete\n")
            return ShellResult(out.encode())
        if sub == "force-stop" and rest:
            self._force_stop(rest[-1])
            return ShellResult(b"")
        if sub == "broadcast":
            opts = _options(rest, ("-a", "--es", "-n", "--user"))
            out = f"Broadcasting: Intent {{ act={opts.get('-a', '')} flg=0x400000 (has extras) }}\n"
            if opts.get("-a") in ("ADB_INPUT_B64", "ADB_INPUT_TEXT") and self._ime == ADB_KEYBOARD_IME:
                msg = opts.get("--es", "")
                text = base64.b64decode(msg).decode("utf-8") if opts["-a"] == "ADB_INPUT_B64" else msg
                self.type_text(text)
            return ShellResult((out + "Broadcast completed: result=0\n").encode())
        return _usage(f"am {sub}: unsupported")

    def _force_stop(self, package: str) -> None:
        if package not in self._apps or package == LAUNCHER:
            return
        if package == self._current:
            self._pull()
            self._ui.pop(package, None)
            self._current = ""
            self._render(LAUNCHER, "Launcher")
        self._ui.pop(package, None)
        if package in self._tasks:
            self._tasks.remove(package)

    def _cmd_monkey(self, args: list[str], stdin: bytes) -> ShellResult:
        opts = _options(args, ("-p", "-c", "--throttle", "-s"))
        package = opts.get("-p", "")
        if package not in self._apps or package == LAUNCHER:
            return ShellResult(b"  bash arg: -p\n** No activities found to run, monkey aborted.\n", b"", 251)
        self._render(package, None)
        return ShellResult(b"  bash arg: -p\n  bash arg: " + package.encode() + b"\nEvents injected: 1\n")

    def _cmd_pm(self, args: list[str], stdin: bytes) -> ShellResult:
        if args[:2] != ["list", "packages"]:
            return _usage("pm list packages [-3] [FILTER]")
        words = [a for a in args[2:] if not a.startswith("-")]
        names = [p for p in self._apps if not words or words[0] in p]
        return ShellResult("".join(f"package:{p}\n" for p in sorted(names)).encode())

    def _cmd_cmd(self, args: list[str], stdin: bytes) -> ShellResult:
        if args[:2] == ["package", "resolve-activity"]:
            package = next((a for a in args[2:] if not a.startswith("-")), "")
            spec = self._apps.get(package)
            if spec is None:
                return ShellResult(b"No activity found\n")
            return ShellResult(f"priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false\n"
                               f"{spec.component}\n".encode())
        if args[:1] == ["package"]:
            return self._cmd_pm(args[1:], stdin)
        return ShellResult(b"", f"cmd: Can't find service: {args[0] if args else ''}\n".encode(), 20)

    def _cmd_dumpsys(self, args: list[str], stdin: bytes) -> ShellResult:
        self._sync_activity()
        package, activity = self._current, self._activity
        full = f"{package}/{package}.{activity}"
        short = f"{package}/.{activity}"
        what = args[0] if args else ""
        if what == "window":
            return ShellResult(f"WINDOW MANAGER WINDOWS (dumpsys window windows)\n"
                               f"  mCurrentFocus=Window{{7f1c2e0 u0 {full}}}\n"
                               f"  mFocusedApp=ActivityRecord{{3a9b1d4 u0 {short} t{len(self._tasks) + 1}}}\n".encode())
        if what == "activity":
            if args[1:2] == ["top"]:
                return ShellResult(f"TASK 1 id=1\n  ACTIVITY {short} 3a9b1d4 pid=4242\n".encode())
            return ShellResult(f"ACTIVITY MANAGER ACTIVITIES (dumpsys activity activities)\n"
                               f"    mResumedActivity: ActivityRecord{{3a9b1d4 u0 {short} t1}}\n"
                               f"  ResumedActivity: ActivityRecord{{3a9b1d4 u0 {short} t1}}\n".encode())
        if what == "display":
            w, h = self.options.width, self.options.height
            return ShellResult(f"DISPLAY MANAGER (dumpsys display)\n  mBaseDisplayInfo=DisplayInfo{{\"Built-in\", "
                               f"real {w} x {h}, rotation 0, density {self.options.density}}}\n"
                               f"  mCurrentOrientation=0\n  orientation=0\n".encode())
        if what == "SurfaceFlinger":
            return ShellResult(b"Display 4619827259835644672 (HWC display 0): port=0 displayName=\"Twin\"\n")
        return ShellResult(b"")

    def _cmd_wm(self, args: list[str], stdin: bytes) -> ShellResult:
        if args[:1] == ["size"]:
            return ShellResult(f"Physical size: {self.options.width}x{self.options.height}\n".encode())
        if args[:1] == ["density"]:
            return ShellResult(f"Physical density: {self.options.density}\n".encode())
        return _usage("wm size|density")

    def _cmd_getprop(self, args: list[str], stdin: bytes) -> ShellResult:
        if args:
            return ShellResult((self.properties.get(args[0], "") + "\n").encode())
        return ShellResult("".join(f"[{k}]: [{v}]\n" for k, v in self.properties.items()).encode())

    def _imes(self) -> list[str]:
        return [LATIN_IME] + ([ADB_KEYBOARD_IME] if self.options.adb_keyboard else [])

    def _cmd_ime(self, args: list[str], stdin: bytes) -> ShellResult:
        if args[:1] == ["list"]:
            shown = self._imes() if "-a" in args else [i for i in self._imes() if i in self._enabled_imes]
            return ShellResult("".join(f"{i}\n" for i in shown).encode())
        if args[:1] in (["enable"], ["set"]) and len(args) == 2:
            ime = args[1]
            if ime not in self._imes():
                return ShellResult(f"Unknown input method {ime} cannot be enabled for user #0\n".encode(), b"", 1)
            self._enabled_imes.add(ime)
            if args[0] == "set":
                self._ime = ime
                return ShellResult(f"Input method {ime} selected for user #0\n".encode())
            return ShellResult(f"Input method {ime}: now enabled for user #0\n".encode())
        return _usage("ime list [-s] | enable ID | set ID")

    def _cmd_settings(self, args: list[str], stdin: bytes) -> ShellResult:
        if args[:3] == ["get", "secure", "default_input_method"]:
            return ShellResult(f"{self._ime}\n".encode())
        if args[:1] == ["get"]:
            return ShellResult(b"null\n")
        return _usage("settings get NAMESPACE KEY")


def _usage(text: str) -> ShellResult:
    return ShellResult(b"", f"usage: {text}\n".encode(), 1)


def _keycode(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    name = text.upper().removeprefix("KEYCODE_")
    return _KEY_NAMES.get(name)


def _options(args: list[str], with_value: tuple[str, ...]) -> dict[str, Any]:
    """``-x value`` options into a dict (``--es KEY VALUE`` keeps VALUE); the rest under ``_``."""
    out: dict[str, Any] = {"_": []}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--es" and i + 2 < len(args):
            out["--es"] = args[i + 2]
            i += 3
        elif a in with_value and i + 1 < len(args):
            out[a] = args[i + 1]
            i += 2
        elif a.startswith("-"):
            i += 1
        else:
            out["_"].append(a)
            i += 1
    return out


def state_json(twin: PhoneTwin, package: str) -> str:
    """One app's state as JSON text (for printing)."""
    return json.dumps(twin.state(package), indent=2, sort_keys=True)
