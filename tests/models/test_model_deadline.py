"""A model call has a total deadline: a server that drips one byte at a time, or never answers,
cannot hold a call past ``deadline_s`` (issue 12). Real HTTP servers on 127.0.0.1, started and
stopped by each test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from embodied.errors import ModelError
from embodied.models import Message, build_model
from embodied.models.base import DEFAULT_DEADLINE_S, CallDeadline

DRIP_S = 0.1  # seconds between the bytes a dripping server sends


def _dripping_server(kind: str) -> tuple[ThreadingHTTPServer, threading.Event]:
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(503 if kind == "unavailable" else 200)
            if kind == "unavailable":
                body = b'{"error": {"message": "busy"}}'
                self.send_header("content-type", "application/json")
                self.send_header("retry-after", "0")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if kind == "sse":
                self.send_header("content-type", "text/event-stream")
            else:
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "1000000")
            self.end_headers()
            try:  # one byte (an SSE comment line when streaming) per DRIP_S, until the client leaves
                while not stop.wait(DRIP_S):
                    self.wfile.write(b":\n" if kind == "sse" else b" ")
                    self.wfile.flush()
            except OSError:
                return

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, stop


@pytest.fixture
def drip() -> Iterator[callable]:
    started: list[tuple[ThreadingHTTPServer, threading.Event]] = []

    def start(kind: str) -> str:
        httpd, stop = _dripping_server(kind)
        started.append((httpd, stop))
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1"

    yield start
    for httpd, stop in started:
        stop.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def silent() -> Iterator[str]:
    """A server that accepts connections (the kernel completes the handshake) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()


def timed_call(options: dict) -> tuple[float, BaseException | None]:
    model = build_model("openai", {"model": "m", **options})
    t0 = time.monotonic()
    try:
        model.chat([Message.user("hi")], max_tokens=8)
    except BaseException as exc:  # the test inspects it
        return time.monotonic() - t0, exc
    finally:
        model.close()
    return time.monotonic() - t0, None


@pytest.mark.parametrize("stream", [False, True])
def test_a_dripping_server_cannot_outlive_the_deadline(drip, stream: bool) -> None:
    url = drip("sse" if stream else "json")
    took, error = timed_call({"base_url": url, "timeout_s": 30, "max_retries": 3, "deadline_s": 1.5,
                              "stream": stream})
    assert isinstance(error, ModelError), error
    assert "deadline of 1.5 s" in str(error) and "options.deadline_s" in str(error)
    assert 1.4 <= took < 4.0  # every read succeeded (a byte per 0.1 s): only the deadline ends it


def test_a_silent_server_costs_the_deadline_not_retries_times_timeout(silent: str) -> None:
    took, error = timed_call({"base_url": silent, "timeout_s": 30, "max_retries": 3, "deadline_s": 1.0})
    assert isinstance(error, ModelError) and "deadline" in str(error), error
    assert took < 3.0  # without the deadline: 4 attempts x 30 s


def test_retries_and_backoff_stop_at_the_deadline(drip) -> None:
    url = drip("unavailable")
    took, error = timed_call({"base_url": url, "timeout_s": 5, "max_retries": 50, "backoff_s": 0.3,
                              "max_backoff_s": 0.3, "deadline_s": 1.2})
    assert isinstance(error, ModelError) and "deadline" in str(error) and "HTTP 503" in str(error), error
    assert took < 3.0


def test_the_default_deadline_is_minutes_and_bad_values_are_refused() -> None:
    assert 60.0 <= DEFAULT_DEADLINE_S <= 600.0
    model = build_model("openai", {"model": "m"})
    assert model.deadline_s == DEFAULT_DEADLINE_S
    model.close()
    for bad in (0, -1.0, float("nan"), float("inf"), "10"):
        with pytest.raises((ValueError, ModelError)):
            build_model("openai", {"model": "m", "deadline_s": bad})


def test_call_deadline_counts_down() -> None:
    deadline = CallDeadline(0.2)
    assert 0.0 < deadline.remaining() <= 0.2 and not deadline.expired
    time.sleep(0.25)
    assert deadline.remaining() == 0.0 and deadline.expired
