"""``embodied serve-model CONFIG`` as a user runs it: a separate process serving the real
Qwen2.5-Coder-0.5B on llama.cpp, answered over HTTP through the project's ``openai`` backend,
then stopped by a signal: it exits cleanly and frees its port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embodied.models import Message, build_model
from embodied.models.llamacpp_server import healthy
from embodied.models.serve import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "models:\n  coder: {backend: llamacpp, options: {model: qwen2.5-coder-0.5b, n_ctx: 1024, threads: 2}}\n"


def port_is_free(port: int) -> bool:
    """Nothing listens on it and a new server may bind it (SO_REUSEADDR, as servers do: the
    connections the stopped server closed may still be in TIME_WAIT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """``embodied serve-model`` with the 0.5B on a free port, once it answers ``/health``."""
    config = tmp_path / "serve.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "embodied.cli", "serve-model", str(config), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # Ctrl-C as
        # from a terminal, even when the tests run in the background (which ignores SIGINT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while not healthy(url, timeout_s=1.0):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"serve-model not ready (exit code {proc.returncode}): {log.read_text()[-2000:]}")
        time.sleep(0.25)
    return proc, url, log


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def test_serve_model_answers_over_http_and_stops_on_sigint(tmp_path: Path) -> None:
    proc, url, log = start(tmp_path)
    try:
        assert f"at {url}/v1" in log.read_text()  # it says where it serves
        with build_model("openai", {"base_url": f"{url}/v1", "model": "qwen2.5-coder-0.5b", "timeout_s": 120}) as model:
            answer = model.chat([Message.system("You are a calculator. Answer with the number only."),
                                 Message.user("What is 17 + 25?")], max_tokens=8)
        assert "42" in answer.text and answer.prompt_tokens > 10 and 0 < answer.completion_tokens <= 8
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=90) == 0, log.read_text()[-2000:]  # a busy machine frees the model slowly
    finally:
        stop(proc)
    assert not healthy(url) and port_is_free(int(url.rsplit(":", 1)[1]))


def test_serve_model_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    proc, url, log = start(tmp_path)
    try:
        proc.send_signal(signal.SIGTERM)  # what a service manager sends
        assert proc.wait(timeout=90) == 0, log.read_text()[-2000:]  # a busy machine frees the model slowly
    finally:
        stop(proc)
    assert not healthy(url) and port_is_free(int(url.rsplit(":", 1)[1]))
