"""Start `embodied robot serve` in a subprocess on a free port, for the robot tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``embodied robot serve configs/robot/sim_panda.yaml`` in a subprocess on a free port."""

    def __init__(self, port: int | None = None, extra: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.extra = extra
        self.proc: subprocess.Popen[str] | None = None

    def start(self, config: str = "configs/robot/sim_panda.yaml") -> Server:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([PYTHON, "-m", "embodied.cli", "robot", "serve", config, "--bind", self.address,
                                      *self.extra], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if "robot server" not in line:
            self.stop()
            raise RuntimeError(f"the server did not start: {line!r} {self.proc.stderr.read()}")  # type: ignore[union-attr]
        return self

    def kill(self) -> float:
        assert self.proc is not None
        self.proc.kill()
        at = time.time()
        self.proc.wait(5)
        return at

    def stop(self) -> str:
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        err = self.proc.stderr.read() if self.proc.stderr else ""  # type: ignore[union-attr]
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        self.proc = None
        return err
