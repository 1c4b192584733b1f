"""Android devices and emulators over adb (``adbutils``; docs/phone.md): ``screencap`` screenshots, elements from
``uiautomator dump``, ``input`` tap/swipe/keyevent/text.

Text entry: ``input text`` takes one shell word, turns ``%s`` into a space and can only type
characters of the virtual keyboard's map (ASCII). :func:`input_text_commands` quotes the text for
the device shell, encodes spaces as ``%s`` and splits it where a literal ``%s`` would be
misread. Non-ASCII text goes through the ADB Keyboard IME (package ``com.android.adbkeyboard``,
broadcast ``ADB_INPUT_B64``) when it is installed; the previous keyboard is restored afterwards.
Without it, non-ASCII text raises :class:`~sim.gui.errors.TextEntryError` saying so (a clipboard
paste is not attempted: ``cmd clipboard`` is not available to the shell on stock Android).
"""

from __future__ import annotations

import base64
import logging
import re
import shlex
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from embodied.config import StrictModel
from embodied.types import FailureCategory, UIElement
from perception.screen import reading_order
from sim.gui.base import GuiEnv
from sim.gui.errors import BackendUnavailable, DeviceDisconnected, GuiActionError, GuiError, TextEntryError
from sim.gui.secrets import SecretBook

log = logging.getLogger(__name__)

ADB_KEYBOARD = "com.android.adbkeyboard/.AdbIME"
DUMP_PATH = "/sdcard/embodied_window_dump.xml"
KEYCODES = {"back": 4, "home": 3, "enter": 66, "tab": 61, "escape": 111, "backspace": 67, "delete": 112,
            "space": 62, "up": 19, "down": 20, "left": 21, "right": 22, "end": 123, "page_up": 92,
            "page_down": 93, "menu": 82, "app_switch": 187, "search": 84}
KEYCODE_MOVE_END, KEYCODE_DEL = 123, 67

# Widget class (last dotted part) -> role. Subclasses in apps usually end with one of these names.
_CLASS_ROLES = (("EditText", "textbox"), ("AutoCompleteTextView", "textbox"), ("SearchView", "search"),
                ("CheckBox", "checkbox"), ("CheckedTextView", "checkbox"), ("Switch", "switch"),
                ("ToggleButton", "switch"), ("RadioButton", "radio"), ("ImageButton", "image_button"),
                ("Button", "button"), ("Spinner", "select"), ("SeekBar", "slider"), ("RatingBar", "slider"),
                ("TabView", "tab"), ("ImageView", "image"), ("TextView", "text"), ("WebView", "web"))
_BOUNDS = re.compile(r"\[(-?\d+),(-?\d+)\]\[(-?\d+),(-?\d+)\]")


@dataclass(frozen=True)
class AndroidNode:
    """One node of a uiautomator dump with the attributes an agent may need."""

    index_path: str
    class_name: str
    package: str
    text: str
    content_desc: str
    resource_id: str
    bounds: tuple[int, int, int, int]
    clickable: bool
    long_clickable: bool
    checkable: bool
    checked: bool
    enabled: bool
    focusable: bool
    focused: bool
    scrollable: bool
    selected: bool
    password: bool

    @property
    def role(self) -> str:
        short = self.class_name.rsplit(".", 1)[-1]
        for suffix, role in _CLASS_ROLES:
            if short.endswith(suffix):
                if role == "textbox" and self.password:
                    return "password"
                return role
        if self.checkable:
            return "checkbox"
        return "item" if self.clickable else "group"

    @property
    def id_name(self) -> str:
        """``com.app:id/user_name`` -> ``user name``; empty for the framework's generic ids
        (``android:id/title``, ``android:id/summary``), which name no particular widget."""
        if "/" not in self.resource_id or self.resource_id.startswith("android:"):
            return ""
        return self.resource_id.rsplit("/", 1)[-1].replace("_", " ")


def parse_bounds(text: str) -> tuple[int, int, int, int]:
    """``"[l,t][r,b]"`` -> (l, t, r, b) pixels."""
    m = _BOUNDS.fullmatch(text.strip())
    if not m:
        raise ValueError(f"bad uiautomator bounds {text!r}")
    left, top, right, bottom = (int(v) for v in m.groups())
    return left, top, right, bottom


def parse_nodes(xml: str) -> list[AndroidNode]:
    """All nodes of a ``uiautomator dump`` in document order. Raises ValueError on malformed XML."""
    try:
        root = ET.fromstring(xml.strip())
    except ET.ParseError as exc:
        raise ValueError(f"malformed uiautomator dump: {exc}") from exc
    out: list[AndroidNode] = []

    def flag(node: ET.Element, name: str) -> bool:
        return node.get(name, "false") == "true"

    def walk(node: ET.Element, path: str) -> None:
        for i, child in enumerate(node.findall("node")):
            p = f"{path}.{i}" if path else str(i)
            out.append(AndroidNode(
                index_path=p, class_name=child.get("class", ""), package=child.get("package", ""),
                text=child.get("text", ""), content_desc=child.get("content-desc", ""),
                resource_id=child.get("resource-id", ""), bounds=parse_bounds(child.get("bounds", "[0,0][0,0]")),
                clickable=flag(child, "clickable"), long_clickable=flag(child, "long-clickable"),
                checkable=flag(child, "checkable"), checked=flag(child, "checked"), enabled=flag(child, "enabled"),
                focusable=flag(child, "focusable"), focused=flag(child, "focused"),
                scrollable=flag(child, "scrollable"), selected=flag(child, "selected"),
                password=flag(child, "password")))
            walk(child, p)

    walk(root, "")
    return out


def parse_elements(xml: str, screen: tuple[int, int] | None = None) -> list[UIElement]:
    """UI elements of a uiautomator dump: nodes with text or a content description, and
    interactive nodes (clickable, checkable, editable, scrollable), in reading order.

    A checkable or editable node without text of its own takes the text of the nearest
    sibling TextView inside its row (the Settings pattern: title + switch). A clickable row is
    listed only when it has no text-bearing descendant (tapping that text taps the row).
    Password values never reach ``text``.
    """
    nodes = parse_nodes(xml)
    by_path = {n.index_path: n for n in nodes}
    width, height = screen or (10**6, 10**6)

    def children(path: str) -> list[AndroidNode]:
        depth = path.count(".") + 1
        return [n for n in nodes if n.index_path.startswith(path + ".") and n.index_path.count(".") == depth]

    def descendants(path: str) -> list[AndroidNode]:
        return [n for n in nodes if n.index_path.startswith(path + ".")]

    def ancestors(path: str) -> list[AndroidNode]:
        parts = path.split(".")
        return [by_path[".".join(parts[:i])] for i in range(len(parts) - 1, 0, -1)]

    def row_label(node: AndroidNode) -> str:
        for anc in ancestors(node.index_path):
            texts = [d.text for d in descendants(anc.index_path) if d.text and d.role == "text"]
            if texts:
                return texts[0]
            if anc.clickable:
                break
        return ""

    out: list[UIElement] = []
    for n in nodes:
        left, top, right, bottom = n.bounds
        if right <= left or bottom <= top or right <= 0 or bottom <= 0 or left >= width or top >= height:
            continue
        role = n.role
        has_text = bool(n.text or n.content_desc)
        interactive = n.clickable or n.checkable or role in ("textbox", "password", "search") or n.scrollable
        if not has_text and not interactive:
            continue
        if role in ("item", "group") and not has_text and (
                n.scrollable or any(d.text or d.content_desc for d in descendants(n.index_path))):
            continue  # a row whose text is listed, or a scrolling container
        text = "" if role == "password" else n.text
        if not text and (n.checkable or role in ("switch", "checkbox", "radio")):
            text = row_label(n)
        if not text and role == "item":
            text = " ".join(d.content_desc for d in children(n.index_path) if d.content_desc)
        description = "; ".join(t for t in (n.content_desc, n.id_name) if t)
        clickable = n.enabled and (n.clickable or any(a.clickable and a.enabled for a in ancestors(n.index_path)))
        out.append(UIElement(
            id="", role=role, text=text, bounds=n.bounds, clickable=clickable,
            editable=role in ("textbox", "password", "search") and n.enabled,
            checked=n.checked if (n.checkable or role in ("switch", "checkbox", "radio")) else None,
            selected=n.selected if n.selected else None, description=description, resource_id=n.resource_id,
            enabled=n.enabled, focused=n.focused, scrollable=n.scrollable))
    out.sort(key=reading_order)
    return [replace(e, id=f"e{i}") for i, e in enumerate(out)]


def input_text_commands(text: str) -> list[str]:
    """Device shell commands that type ``text`` (ASCII) with ``input text``.

    Spaces become ``%s`` (what ``input text`` turns back into a space); a literal ``%s`` in the
    text is split across two commands (``...%`` then ``s...``) so it is not read as a space; the
    argument is single-quoted for the device shell, so quotes, ``$``, ``&``, ``;``, ``|``, ``\\``,
    ``*`` and backticks arrive literally. Raises TextEntryError for non-ASCII or control characters.
    """
    bad = [c for c in text if not 0x20 <= ord(c) < 0x7F]
    if bad:
        raise TextEntryError(f"`input text` cannot type {bad[0]!r}: only printable ASCII")
    chunks: list[str] = []
    rest = text
    while "%s" in rest:
        i = rest.index("%s")
        chunks.append(rest[:i + 1])
        rest = rest[i + 1:]
    chunks.append(rest)
    return [f"input text {shlex.quote(chunk.replace(' ', '%s'))}" for chunk in chunks if chunk]


_DUMP_CMD = f"uiautomator dump {DUMP_PATH} >/dev/null && cat {DUMP_PATH}"
_FOCUS_CMD = "dumpsys window windows | grep -E 'mCurrentFocus|mFocusedApp'"
_PACKAGE = re.compile(r"[A-Za-z][\w]*(\.[A-Za-z_][\w]*)+")
_FOCUS = re.compile(r"mCurrentFocus=Window\{[^}]*?\s(?P<package>[\w.]+)/(?P<activity>[\w.$]+)\}")
_RESUMED = re.compile(r"mResumedActivity: ActivityRecord\{[^}]*?\s(?P<package>[\w.]+)/(?P<activity>[\w.$]+)[\s}]")


def package_words(package: str) -> set[str]:
    """The words of a package name a person might call the app by (``com.android.settings`` ->
    ``{"android", "settings"}``); the reverse-domain prefixes (com, org, ...) are left out."""
    words = {w.lower() for part in package.split(".") for w in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", part) if w}
    return words - {"com", "org", "net", "io", "app", "apps", "android", "google", "www"}


def label_package(label: str, packages: list[str]) -> str | None:
    """The package whose name carries every word of ``label`` as one of its words, when exactly
    one does (``"Settings"`` -> ``com.android.settings``); None when none or several do, and
    the launcher's icons have to decide."""
    want = {w.lower() for w in re.findall(r"\w+", label)}
    if not want:
        return None
    hits = [p for p in packages if want <= package_words(p)]
    if len(hits) > 1:  # prefer the name that says nothing else ("com.x.messages" over "com.x.messages.backup")
        fewest = min(len(package_words(p)) for p in hits)
        hits = [p for p in hits if len(package_words(p)) == fewest]
    return hits[0] if len(hits) == 1 else None


def parse_foreground(text: str) -> tuple[str, str] | None:
    """(package, activity) from ``dumpsys window`` or ``dumpsys activity activities`` output."""
    m = _FOCUS.search(text) or _RESUMED.search(text)
    if not m:
        return None
    package, activity = m.group("package"), m.group("activity")
    if activity.startswith(package + "."):
        activity = activity[len(package):]
    return package, activity


class AppNotFound(GuiActionError):
    """``launch`` named an app the device does not have (or whose label no launcher icon shows).
    Category ``missing``: retrying, scrolling or waiting cannot install an app, so repairers
    leave it alone and the planner stops with this message (it lists what is installed)."""

    category = FailureCategory.MISSING


class AndroidOptions(StrictModel):
    serial: str | None = Field(default=None, description="adb serial; default: the only device attached")
    connect: str | None = Field(default=None, description="HOST:PORT to `adb connect` first (a network device, "
                                                          "the phone twin); disconnected again on close")
    adb_host: str = "127.0.0.1"
    adb_port: int = Field(default=5037, ge=1, le=65535)
    adb_path: str = Field(default="adb", description="the adb program, to start a server when none runs")
    start_server: bool = Field(default=True, description="start an adb server when none runs (stopped on close)")
    settle_s: float = Field(default=0.3, ge=0, le=10, description="wait after each input before observing")
    dump_retries: int = Field(default=3, ge=0, le=10, description="uiautomator dump retries (busy UI)")


class AndroidEnv(GuiEnv):
    """A phone or emulator. ``launch("Settings")`` (a label), ``launch("com.android.settings")``
    or ``launch("pkg/.Activity")``.

    The adb server: when none listens at ``adb_host:adb_port`` the env starts one (``adb -P PORT
    start-server``) and stops it on :meth:`close`; a server that was already running is left
    alone. ``connect`` attaches a network device first and detaches it on close.
    """

    backend = "android"
    launches_by_name = True

    def __init__(self, options: AndroidOptions | None = None, secrets: SecretBook | None = None) -> None:
        self.options = options or AndroidOptions()
        super().__init__(settle_s=self.options.settle_s, retries=self.options.dump_retries, secrets=secrets)
        self.device: Any = None
        self._client: Any = None
        self._size: tuple[int, int] = (0, 0)
        self._foreground: tuple[str, str] = ("", "")
        self._launched: list[str] = []
        self._server_started = False
        self._connected = ""
        self._packages: list[str] | None = None
        self._pending: tuple[np.ndarray, str] | None = None
        try:
            from adbutils import AdbError
        except ImportError:
            self.library_errors = (OSError,)
        else:
            self.library_errors = (AdbError, OSError, _DumpError)

    # ------------------------------------------------------------------ lifecycle

    @property
    def server_started(self) -> bool:
        """Whether this env started the adb server it talks to (and so stops it on close)."""
        return self._server_started

    def _server_running(self) -> bool:
        try:
            with socket.create_connection((self.options.adb_host, self.options.adb_port), timeout=1):
                return True
        except OSError:
            return False

    def _ensure_server(self) -> None:
        # adbutils would start a server itself on the default port and never stop it: check first.
        if self._server_running():
            return
        o = self.options
        if not o.start_server or o.adb_host not in ("127.0.0.1", "localhost"):
            raise BackendUnavailable(f"no adb server at {o.adb_host}:{o.adb_port} (start one with "
                                     f"`adb -P {o.adb_port} start-server`)")
        program = shutil.which(o.adb_path)
        if program is None:
            raise BackendUnavailable(f"no adb server at {o.adb_host}:{o.adb_port} and no `{o.adb_path}` program to "
                                     "start one: install Debian's `adb` package (make setup does)")
        try:
            done = subprocess.run([program, "-P", str(o.adb_port), "start-server"], capture_output=True, text=True,
                                  timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendUnavailable(f"`adb -P {o.adb_port} start-server` failed: {exc}") from exc
        if done.returncode != 0 or not self._server_running():
            raise BackendUnavailable(f"`adb -P {o.adb_port} start-server` failed: {done.stderr.strip()[-300:]}")
        self._server_started = True
        log.info("started an adb server on port %d (stopped again on close)", o.adb_port)

    def _start_impl(self) -> None:
        try:
            import adbutils
        except ImportError as exc:
            raise BackendUnavailable("adbutils is missing: pip install adbutils (or the `gui` extra)") from exc
        self._ensure_server()
        try:
            self._attach(adbutils)
        except BaseException:
            self._release()
            raise

    def _attach(self, adbutils: Any) -> None:
        o = self.options
        client = adbutils.AdbClient(host=o.adb_host, port=o.adb_port)
        self._client = client
        try:
            if o.connect:
                answer = client.connect(o.connect, timeout=10)
                if "connected" not in answer:
                    raise BackendUnavailable(f"`adb connect {o.connect}` failed: {answer.strip()}")
                self._connected = o.connect
            serials = [d.serial for d in client.device_list()]
        except (adbutils.AdbError, OSError) as exc:
            raise BackendUnavailable(f"adb server at {o.adb_host}:{o.adb_port} did not answer: {exc}") from exc
        serial = o.serial or (o.connect if o.connect else None)
        if serial is None:
            if len(serials) != 1:
                raise BackendUnavailable(f"{len(serials)} adb devices attached ({', '.join(serials) or 'none'}): "
                                         "attach one, or set options.serial")
            serial = serials[0]
        elif serial not in serials:
            raise BackendUnavailable(f"adb device {serial!r} not attached (attached: {', '.join(serials) or 'none'})")
        self.device = client.device(serial)
        try:
            self._size = tuple(self.device.window_size())  # type: ignore[assignment]
        except (adbutils.AdbError, OSError) as exc:
            raise BackendUnavailable(f"adb device {serial} does not answer `wm size`: {exc}") from exc

    def _close_impl(self) -> None:
        self.device = None
        self._release()

    def _release(self) -> None:
        """Undo what start did to the machine: the network connection, then the server."""
        client, self._client = self._client, None
        if client is not None and self._connected:
            try:
                client.disconnect(self._connected)
            except Exception as exc:  # the server may be gone already; closing must not fail
                log.warning("adb disconnect %s: %s", self._connected, exc)
            self._connected = ""
        if self._server_started:
            self._server_started = False
            program = shutil.which(self.options.adb_path) or self.options.adb_path
            try:
                subprocess.run([program, "-P", str(self.options.adb_port), "kill-server"], capture_output=True,
                               timeout=15)
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.warning("could not stop the adb server on port %d: %s", self.options.adb_port, exc)

    def _shell(self, cmd: str) -> str:
        if self.device is None:
            raise GuiError("android env used before start()")
        return str(self.device.shell(cmd))

    # ------------------------------------------------------------------ perception

    def _screenshot_impl(self) -> np.ndarray:
        # One round trip for what an observation needs: the tree, the focused window, then the
        # PNG; the tree waits in _pending for the _elements_impl call of the same observation.
        out = self.device.shell(f"{_DUMP_CMD}; {_FOCUS_CMD}; screencap -p", encoding=None)
        cut = out.find(b"\x89PNG\r\n\x1a\n")
        if cut < 0:
            raise _DumpError(f"screencap returned no PNG: {out[-200:]!r}")
        image = cv2.imdecode(np.frombuffer(out[cut:], np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise _DumpError(f"screencap returned a broken PNG ({len(out) - cut} bytes)")
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        self._pending = (rgb, out[:cut].decode("utf-8", "replace"))
        return rgb

    def _screen_size_impl(self) -> tuple[int, int]:
        return self._size

    def _elements_impl(self, image: np.ndarray) -> list[UIElement]:
        pending, self._pending = self._pending, None
        out = pending[1] if pending is not None and pending[0] is image else self._shell(f"{_DUMP_CMD}; {_FOCUS_CMD}")
        start, end = out.find("<?xml"), out.rfind("</hierarchy>")
        if start < 0 or end < 0:
            raise _DumpError(f"uiautomator dump failed: {out.strip()[:200]}")
        xml = out[start:end + len("</hierarchy>")]
        h, w = image.shape[:2]
        focus = parse_foreground(out[end:])
        if focus is None:
            m = re.search(r'package="([^"]*)"', xml)
            focus = (m.group(1) if m else "", "")
        self._foreground = focus
        return parse_elements(xml, (w, h))

    def _context_impl(self) -> str:
        package, activity = self._foreground
        return f"{package}/{activity}" if activity else package

    def _foreground_impl(self) -> tuple[str, str]:
        """(package, activity) of the app in front, asked of the device now."""
        found = parse_foreground(self._shell("dumpsys window windows")) or parse_foreground(
            self._shell("dumpsys activity activities"))
        if found is None:
            raise GuiActionError("the device names no focused activity (dumpsys window / activity)")
        self._foreground = found
        return found

    def _is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, _DumpError)  # "could not get idle state": the UI was animating

    # ------------------------------------------------------------------ input

    def _tap_impl(self, x: int, y: int) -> None:
        self._shell(f"input tap {x} {y}")

    def _long_press_impl(self, x: int, y: int, duration_s: float) -> None:
        self._shell(f"input swipe {x} {y} {x} {y} {int(duration_s * 1000)}")

    def _swipe_impl(self, x1: int, y1: int, x2: int, y2: int, duration_s: float) -> None:
        self._shell(f"input swipe {x1} {y1} {x2} {y2} {max(1, int(duration_s * 1000))}")

    def _drag_impl(self, x1: int, y1: int, x2: int, y2: int, duration_s: float) -> None:
        """``input draganddrop`` (Android 12+): down, held past the long-press timeout, moved,
        released, which is what starts a drag in lists and launchers; ``input swipe`` moves at
        once and only scrolls. Older devices do not know the command: they get the swipe."""
        out = self._shell(f"input draganddrop {x1} {y1} {x2} {y2} {max(1, int(duration_s * 1000))}")
        if "Unknown command" in out or "Error: " in out or "usage:" in out.lower():
            log.info("this device has no `input draganddrop`; dragging with a swipe")
            self._swipe_impl(x1, y1, x2, y2, duration_s)

    def _scroll_impl(self, direction: str, amount: float, x: int, y: int) -> None:
        # Scrolling down means the finger moves up. Keep the swipe inside 80% of the screen.
        w, h = self._size
        span = min(amount, 0.8) * (h if direction in ("up", "down") else w)
        dx = {"left": span / 2, "right": -span / 2}.get(direction, 0.0)
        dy = {"up": span / 2, "down": -span / 2}.get(direction, 0.0)
        x = min(max(int(x), int(abs(dx)) + 1), w - int(abs(dx)) - 1)
        y = min(max(int(y), int(abs(dy)) + 1), h - int(abs(dy)) - 1)
        self._swipe_impl(int(x - dx), int(y - dy), int(x + dx), int(y + dy), 0.3)

    def _key_names(self) -> tuple[str, ...]:
        return tuple(KEYCODES)

    def _key_impl(self, key: str) -> None:
        self._shell(f"input keyevent {KEYCODES[key]}")

    def _home_impl(self) -> None:
        self._key_impl("home")

    def _clear_impl(self, element: UIElement) -> None:
        count = min(len(element.text) + 8, 300)
        self._shell(f"input keyevent {KEYCODE_MOVE_END} " + " ".join([str(KEYCODE_DEL)] * count))

    def _type_impl(self, text: str) -> None:
        if all(0x20 <= ord(c) < 0x7F for c in text):
            for cmd in input_text_commands(text):
                self._shell(cmd)
            return
        self._type_with_adb_keyboard(text)

    def _type_with_adb_keyboard(self, text: str) -> None:
        if ADB_KEYBOARD not in self._shell("ime list -a -s"):
            raise TextEntryError("typing non-ASCII text on Android needs the ADB Keyboard IME "
                                 f"({ADB_KEYBOARD}) installed on the device (see docs/phone.md)")
        previous = self._shell("settings get secure default_input_method").strip()
        self._shell(f"ime enable {ADB_KEYBOARD} >/dev/null; ime set {ADB_KEYBOARD} >/dev/null")
        try:
            time.sleep(0.3)  # the IME must be bound to the focused field before the broadcast
            payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
            self._shell(f"am broadcast -a ADB_INPUT_B64 --es msg {payload}")
        finally:
            if previous and previous != ADB_KEYBOARD and previous != "null":
                self._shell(f"ime set {shlex.quote(previous)} >/dev/null")

    # ------------------------------------------------------------------ apps

    def packages(self) -> list[str]:
        """Installed packages (``pm list packages``), asked once per env."""
        if self._packages is None:
            out = self._run("packages", self._shell, "pm list packages")
            self._packages = sorted(line.split(":", 1)[1].strip() for line in out.splitlines()
                                    if line.startswith("package:"))
        return list(self._packages)

    def has_app(self, name: str) -> bool:
        name = name.strip()
        if "/" in name:
            return name.split("/", 1)[0] in self.packages()
        return name in self.packages() or label_package(name, self.packages()) is not None

    def _launch_impl(self, app: str) -> None:
        app = app.strip()
        if "/" in app:
            out = self._shell(f"am start -W -n {shlex.quote(app)}")
            if "Error" in out or "does not exist" in out:
                raise AppNotFound(f"no activity {app!r} on the device: {out.strip()[-300:]}")
            self._launched.append(app.split("/", 1)[0])
            return
        package = app if _PACKAGE.fullmatch(app) and app in self.packages() else None
        if package is None and _PACKAGE.fullmatch(app) and app.count(".") >= 2:
            raise AppNotFound(f"no app named {app!r} on the device; installed packages: "
                              f"{_listed(self.packages())}")
        if package is None:
            package = label_package(app, self.packages())
        if package is None:
            self._launch_from_home_screen(app)
            return
        out = self._shell(f"monkey -p {shlex.quote(package)} -c android.intent.category.LAUNCHER 1")
        if "No activities found" in out or "monkey aborted" in out or "Error" in out:
            raise AppNotFound(f"could not launch {app!r} ({package}): {out.strip()[-300:]}")
        self._launched.append(package)

    def _launch_from_home_screen(self, label: str) -> None:
        """Tap the launcher icon whose label (text or content description) is ``label``: the
        name a person sees, for apps whose package name does not say it."""
        self._key_impl("home")
        want = " ".join(label.lower().split())
        icons: dict[str, None] = {}  # labels of the icons seen, for the error
        for attempt in range(2):
            image = self._screenshot_impl()
            for el in self._elements_impl(image):
                names = {" ".join(el.text.lower().split()), " ".join(el.description.lower().split("; ")[0].split())}
                if want in names and el.clickable:
                    self._tap_impl(*el.center)
                    return
                if el.clickable and el.text.strip():
                    icons[el.text.strip()] = None
            if attempt == 0:  # the app drawer: swipe up from the lower part of the home screen
                w, h = self._size
                self._swipe_impl(w // 2, int(h * 0.85), w // 2, int(h * 0.3), 0.3)
                time.sleep(self.settle_s)
        shown = f"{_listed(sorted(icons))} (launcher icons); " if icons else ""
        raise AppNotFound(f"no app named {label!r} on the device; installed: {shown}"
                          f"packages {_listed(self.packages())}")

    def _stop_apps_impl(self) -> None:
        for package in dict.fromkeys(self._launched):
            self._shell(f"am force-stop {shlex.quote(package)}")
        self._launched.clear()

    def _translate(self, what: str, exc: BaseException) -> Exception:
        try:
            attached = {d.serial for d in self._client.device_list()} if self._client is not None else set()
        except Exception:  # the adb server itself is gone: that is a disconnection too
            attached = set()
        if self.device is not None and self.device.serial not in attached:
            return DeviceDisconnected(f"adb device {self.device.serial} disconnected during {what}: {exc}")
        return super()._translate(what, exc)


def _listed(names: list[str], most: int = 20) -> str:
    """``names`` joined for an error message, cut after ``most`` with the number left out."""
    more = len(names) - most
    return ", ".join(names[:most]) + (f" and {more} more" if more > 0 else "")


class _DumpError(GuiError):
    """``uiautomator dump`` printed no XML (usually: the UI never became idle). Retried."""
