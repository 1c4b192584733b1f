"""A private virtual X display (Xvfb) for headless desktop GUIs.

Xvfb picks a free display number itself (``-displayfd``) and writes it to a pipe once the server
accepts connections, so there is neither a race on the number with other Xvfb servers nor a
polling loop to see whether it is up.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import subprocess
import time

from sim.gui.errors import BackendUnavailable

log = logging.getLogger(__name__)


class Xvfb:
    """An Xvfb server of ``width`` x ``height`` pixels at 24-bit colour. Use as a context manager
    or call :meth:`start` / :meth:`stop`. ``display`` (e.g. ``":3"``) is set once started."""

    def __init__(self, width: int = 1024, height: int = 768, start_timeout_s: float = 10.0) -> None:
        if width < 64 or height < 64:
            raise ValueError(f"Xvfb screen {width}x{height} is too small (min 64x64 pixels)")
        self.width, self.height = width, height
        self.start_timeout_s = start_timeout_s
        self.display: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Start the server and return its display name, e.g. ``":3"``."""
        if self._proc is not None:
            return self.display or ""
        exe = shutil.which("Xvfb")
        if exe is None:
            raise BackendUnavailable("Xvfb is not installed: run `apt-get install -y xvfb` (Debian/Ubuntu)")
        read_fd, write_fd = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [exe, "-displayfd", str(write_fd), "-screen", "0", f"{self.width}x{self.height}x24",
                 "-nolisten", "tcp", "-noreset"],
                pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        finally:
            os.close(write_fd)
        try:
            number = self._read_display_number(read_fd)
        finally:
            os.close(read_fd)
        self.display = f":{number}"
        log.info("Xvfb started on %s (%dx%d)", self.display, self.width, self.height)
        return self.display

    def _read_display_number(self, fd: int) -> int:
        deadline = time.monotonic() + self.start_timeout_s
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            chunk = os.read(fd, 32) if ready else b""
            if not chunk:
                err = self._failure_text()
                self.stop()
                why = "timed out" if left <= 0 or not ready else "exited"
                raise BackendUnavailable(f"Xvfb {why} before its display was ready: {err or 'no message'}")
            data += chunk
        return int(data.strip())

    def _failure_text(self) -> str:
        if self._proc is None or self._proc.poll() is None or self._proc.stderr is None:
            return ""
        return self._proc.stderr.read().decode(errors="replace").strip()[-500:]

    def stop(self) -> None:
        """Terminate the server (idempotent)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()
        self.display = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Xvfb:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
