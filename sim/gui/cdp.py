"""A direct DevTools (CDP) connection to one Chromium page, beside the WebDriver session.

Why: every WebDriver command is an HTTP request to chromedriver, which forwards it to the
browser: ~8-10 ms per command on this machine before the page does anything, and a tap is three
commands, a keystroke two. Over the page's own DevTools websocket the same command costs ~1 ms,
and commands can be pipelined: the events of a tap (move, press, release) or of a typed string
are sent at once and their acknowledgements collected together, in order, so the page still
sees one real input event after the other. Chromedriver stays in charge of the browser's life,
navigation and emulation; this connection sends input and evaluates the DOM reader.

Navigation: with the ``Page`` domain enabled the connection sees a main-frame load start and
stop, so a read that follows a tap on a link waits for the new document (as chromedriver does
before a script) instead of reading the old one as it is torn down.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from sim.gui.errors import BackendUnavailable, DeviceDisconnected, GuiActionError

log = logging.getLogger(__name__)

Command = tuple[str, dict[str, Any]]

#: Messages of a destroyed JavaScript context: the page navigated while a read was running.
_CONTEXT_GONE = ("Execution context was destroyed", "Cannot find context with specified id",
                 "Inspected target navigated or closed", "Cannot find default execution context")


class CdpCommandError(GuiActionError):
    """The browser refused or failed a DevTools command. ``context_gone``: the page navigated
    while the command ran (DevTools says so only in its message: its error code is generic)."""

    def __init__(self, method: str, message: str) -> None:
        super().__init__(f"browser {method} failed: {message}")
        self.method, self.message = method, message
        self.context_gone = any(m in message for m in _CONTEXT_GONE)


class CdpSession:
    """One websocket to one page target. Not thread-safe: one env, one caller.

    ``timeout_s`` bounds the wait for any single reply (seconds).
    """

    def __init__(self, ws_url: str, timeout_s: float = 10.0) -> None:
        try:
            import websocket  # websocket-client, a dependency of selenium
        except ImportError as exc:
            raise BackendUnavailable("websocket-client is missing: pip install websocket-client") from exc
        self._ws_errors: tuple[type[BaseException], ...] = (websocket.WebSocketException, OSError)
        try:
            self._ws = websocket.create_connection(ws_url, timeout=timeout_s, suppress_origin=True,
                                                   enable_multithread=False)
        except self._ws_errors as exc:
            raise BackendUnavailable(f"cannot open the page's DevTools socket {ws_url}: {exc}") from exc
        self._ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout_s = timeout_s
        self._next_id = 0
        self._loading = False
        self._loads_started = 0
        self._main_frame = ""
        self.call("Page.enable")
        tree = self.call("Page.getFrameTree")
        self._main_frame = str(tree.get("frameTree", {}).get("frame", {}).get("id", ""))

    @classmethod
    def attach(cls, debugger_address: str, target_id: str = "", timeout_s: float = 10.0) -> CdpSession:
        """Connect to the page ``target_id`` (a WebDriver window handle is one) of the browser
        whose DevTools listen at ``debugger_address`` ("host:port"); the only page when empty."""
        try:
            with urllib.request.urlopen(f"http://{debugger_address}/json/list", timeout=timeout_s) as reply:
                targets = json.load(reply)
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(f"cannot list DevTools targets at {debugger_address}: {exc}") from exc
        pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
        chosen = [t for t in pages if t.get("id") == target_id] or (pages if len(pages) == 1 else [])
        if not chosen:
            raise BackendUnavailable(f"no DevTools page target {target_id!r} at {debugger_address} "
                                     f"({len(pages)} page(s) open)")
        return cls(chosen[0]["webSocketDebuggerUrl"], timeout_s)

    def close(self) -> None:
        try:
            self._ws.close()
        except self._ws_errors as exc:  # the browser may already be gone; closing must not fail
            log.debug("closing the DevTools socket: %s", exc)

    # ------------------------------------------------------------------ commands

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result."""
        return self.batch([(method, params)])[0]

    def batch(self, commands: Sequence[Command]) -> list[dict[str, Any]]:
        """Send ``commands`` at once and return their results in order. The browser handles them
        one after the other (an input event is acknowledged once the page has handled it), so
        the page sees them in this order; only the waiting for replies is shared."""
        ids = []
        try:
            for method, params in commands:
                self._next_id += 1
                ids.append(self._next_id)
                self._ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
            replies: dict[int, dict[str, Any]] = {}
            while len(replies) < len(ids):
                message = self._receive()
                if message.get("id") in ids:
                    replies[message["id"]] = message
        except self._ws_errors as exc:
            raise DeviceDisconnected(f"the browser's DevTools socket failed during {commands[0][0]}: {exc}") from exc
        results = []
        for (method, _), i in zip(commands, ids, strict=True):
            reply = replies[i]
            if "error" in reply:
                raise CdpCommandError(method, str(reply["error"].get("message", reply["error"])))
            results.append(reply.get("result", {}))
        return results

    def evaluate(self, expression: str, timeout_s: float | None = None) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited), read once
        the main frame has finished loading. A read cut short by a navigation, or one that ended
        as a navigation began (it read the old document), is repeated in the new document, up
        to ``timeout_s`` (default: the session's)."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            self.wait_loaded(max(0.0, deadline - time.monotonic()))
            loads = self._loads_started
            try:
                result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
            except CdpCommandError as exc:
                if not exc.context_gone or time.monotonic() >= deadline:
                    raise
                continue
            details = result.get("exceptionDetails")
            if details is not None:
                text = _exception_text(details)
                if any(m in text for m in _CONTEXT_GONE) and time.monotonic() < deadline:
                    continue
                raise GuiActionError(f"page script failed: {text}")
            self._drain()
            if self._loads_started != loads and time.monotonic() < deadline:
                continue  # a navigation began while the old document was read
            return result.get("result", {}).get("value")

    def wait_loaded(self, timeout_s: float) -> None:
        """Return once no main-frame navigation is under way (events already queued are read
        first), or after ``timeout_s`` seconds: the page is then read as it is."""
        self._drain()
        deadline = time.monotonic() + timeout_s
        while self._loading:
            left = deadline - time.monotonic()
            if left <= 0 or not self._readable(left):
                log.info("the page was still loading after %.1f s; reading it as it is", timeout_s)
                self._loading = False
                return
            self._receive_or_fail("while a page loaded")

    # ------------------------------------------------------------------ plumbing

    def _receive(self) -> dict[str, Any]:
        message = json.loads(self._ws.recv())
        self._note(message)
        return message

    def _readable(self, timeout_s: float) -> bool:
        """Whether a message starts arriving within ``timeout_s``. The client reads a frame only
        as far as its length says, so a readable socket means a whole message follows."""
        ready, _, _ = select.select([self._ws.sock], [], [], timeout_s)
        return bool(ready)

    def _receive_or_fail(self, when: str) -> None:
        try:
            self._receive()
        except self._ws_errors as exc:
            raise DeviceDisconnected(f"the browser's DevTools socket failed {when}: {exc}") from exc

    def _drain(self) -> None:
        """Read the events already waiting on the socket, without blocking."""
        while self._readable(0.0):
            self._receive_or_fail("while reading page events")

    def _note(self, message: dict[str, Any]) -> None:
        """Track main-frame loading from Page events."""
        method = message.get("method")
        if method is None:
            return
        params = message.get("params", {})
        frame = params.get("frameId") or params.get("frame", {}).get("id")
        if frame and self._main_frame and frame != self._main_frame:
            return
        if method == "Page.frameStartedLoading":
            self._loading = True
            self._loads_started += 1
        elif method in ("Page.frameStoppedLoading", "Page.loadEventFired"):
            self._loading = False


def _exception_text(details: dict[str, Any]) -> str:
    exc = details.get("exception") or {}
    return str(exc.get("description") or details.get("text") or details)


#: Key events for the canonical key names: (key, code, Windows virtual key code, text it types).
KEY_EVENTS: dict[str, tuple[str, str, int, str]] = {
    "enter": ("Enter", "Enter", 13, "\r"), "tab": ("Tab", "Tab", 9, ""), "escape": ("Escape", "Escape", 27, ""),
    "backspace": ("Backspace", "Backspace", 8, ""), "delete": ("Delete", "Delete", 46, ""),
    "space": (" ", "Space", 32, " "), "up": ("ArrowUp", "ArrowUp", 38, ""), "down": ("ArrowDown", "ArrowDown", 40, ""),
    "left": ("ArrowLeft", "ArrowLeft", 37, ""), "right": ("ArrowRight", "ArrowRight", 39, ""),
    "home": ("Home", "Home", 36, ""), "end": ("End", "End", 35, ""), "page_up": ("PageUp", "PageUp", 33, ""),
    "page_down": ("PageDown", "PageDown", 34, ""),
}


def key_commands(name: str) -> list[Command]:
    """The key-down/key-up events of one canonical key name (no modifiers)."""
    key, code, vk, text = KEY_EVENTS[name]
    down: dict[str, Any] = {"type": "keyDown" if text else "rawKeyDown", "key": key, "code": code,
                            "windowsVirtualKeyCode": vk}
    if text:
        down.update(text=text, unmodifiedText=text)
    return [("Input.dispatchKeyEvent", down),
            ("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk})]


def text_commands(text: str) -> list[Command]:
    """Key events that type ``text`` character by character, as a keyboard would: keydown (with
    the character: keypress and input follow), keyup. A newline is the Enter key; letters and
    digits carry their virtual key codes, other characters (any Unicode) only their text."""
    commands: list[Command] = []
    for ch in text:
        if ch == "\n":
            commands += key_commands("enter")
            continue
        if ch == "\t":
            commands += key_commands("tab")
            continue
        vk = ord(ch.upper()) if ch.isascii() and ch.isalnum() else 32 if ch == " " else 0
        code = (f"Key{ch.upper()}" if ch.isascii() and ch.isalpha() else f"Digit{ch}" if ch.isascii() and ch.isdigit()
                else "Space" if ch == " " else "")
        base = {"key": ch, "code": code, "windowsVirtualKeyCode": vk}
        commands.append(("Input.dispatchKeyEvent", {"type": "keyDown", "text": ch, "unmodifiedText": ch, **base}))
        commands.append(("Input.dispatchKeyEvent", {"type": "keyUp", **base}))
    return commands
