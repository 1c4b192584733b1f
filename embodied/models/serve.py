"""Start and stop a local ``transformers serve`` process: an OpenAI-compatible endpoint for a
checkpoint directory, for the ``openai`` backend, tests and benchmarks.

The server binds to 127.0.0.1 only. Requests must name the model exactly as the directory path
given here (:attr:`TransformersServer.model`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

from embodied.errors import ModelError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _cli() -> list[str]:
    """The ``transformers`` CLI of this interpreter's environment."""
    beside = Path(sys.executable).parent / "transformers"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("transformers")
    if found:
        return [found]
    raise ModelError("the `transformers` command is not installed: pip install 'transformers[serving]'")


class TransformersServer:
    """``with TransformersServer(dir) as server:`` runs ``transformers serve dir`` on a free
    port of 127.0.0.1 until the block ends. ``startup_timeout_s`` bounds the wait for
    ``/health``; the server's output goes to :attr:`log_path` (shown in errors)."""

    def __init__(self, checkpoint: str | Path, *, host: str = "127.0.0.1", port: int | None = None,
                 startup_timeout_s: float = 180.0, device: str = "cpu") -> None:
        self.checkpoint = Path(checkpoint)
        if not (self.checkpoint / "config.json").exists():
            raise ModelError(f"{self.checkpoint} is not a checkpoint directory (no config.json)")
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout_s = startup_timeout_s
        self.device = device
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_dir = tempfile.mkdtemp(prefix="embodied-serve-")
        self.log_path = Path(self._log_dir) / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def model(self) -> str:
        """The model name requests must carry."""
        return str(self.checkpoint)

    def start(self) -> None:
        cmd = [*_cli(), "serve", str(self.checkpoint), "--host", self.host, "--port", str(self.port),
               "--device", self.device]
        env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1"}
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout_s
        health = f"http://{self.host}:{self.port}/health"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ModelError(f"transformers serve exited with code {self._proc.returncode}: {self._log_tail()}")
            try:
                with urllib.request.urlopen(health, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        self.stop()
        raise ModelError(f"transformers serve did not answer {health} within {self.startup_timeout_s:.0f} s: "
                         f"{self._log_tail()}")

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after 10 s). Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self._log_dir, ignore_errors=True)
