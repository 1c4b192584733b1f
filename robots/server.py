"""The robot server: exposes any :class:`robots.base.Robot` driver over ZeroMQ (schema in
:mod:`robots.wire`), with its own watchdog and e-stop.

One client controls the arm at a time (the last to say ``hello``); its session must send something
(a heartbeat at least) every ``heartbeat_s``. When it has been silent for ``watchdog_s`` the server
stops the arm, forgets the session and records the trip (``status`` lists them): a crashed client
or a cut cable stops the arm within the watchdog. An e-stop (the ``estop`` op from any sender, or
:meth:`RobotServer.estop`, e.g. on SIGUSR1) stops the arm and refuses motion until ``reset_estop``;
the latched reason travels to the client in every reply and heartbeat, so it stops there too.

Threads: the socket loop (receives, answers heartbeats, runs the watchdog, sends), one driver
thread running calls one at a time, and a fresh thread for every ``stop`` (a driver's ``stop``
must be safe from a second thread while a call hangs). ``latency_s``/``jitter_s`` delay every
outgoing message, to test a slow link.
"""

from __future__ import annotations

import heapq
import inspect
import itertools
import queue
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq
from pydantic import Field, field_validator

from embodied import backends
from embodied.config import StrictModel, backend_name
from robots.base import Robot
from robots.wire import RemoteEmergencyStop, SessionLost, WireError, error_to_wire, pack, plain, unpack

ROBOT_METHODS = ("joint_positions", "ee_pose", "reachable", "move_ee", "open_gripper", "close_gripper",
                 "gripper_width", "holding", "grasped_id", "home", "at_home", "stop")
CAPABILITIES = ("gripper_state", "scene_reset", "scene_truth", "scene_events", "camera_frame", "camera_names")
MOTION = ("move_ee", "open_gripper", "close_gripper", "home", "scene_reset")
# Calls that may keep the driver's process busy (and Python's GIL held) for long stretches; the
# server announces them with a ``busy`` message so the client's watchdog allows that much silence.
# None of them moves the arm.
SLOW_S = {"scene_reset": 30.0, "camera_frame": 10.0}


class ServerConfig(StrictModel):
    """Where and how the server listens. Seconds."""

    bind: str = Field(default="tcp://127.0.0.1:5557", description="ZeroMQ endpoint to bind")
    heartbeat_s: float = Field(default=0.05, gt=0, le=5)
    watchdog_s: float = Field(default=0.5, gt=0, le=60, description="client silence that stops the arm")
    latency_s: float = Field(default=0.0, ge=0, le=5, description="injected delay of every outgoing message")
    jitter_s: float = Field(default=0.0, ge=0, le=5, description="extra random delay, uniform in [0, jitter_s]")


class DriverSpec(StrictModel):
    kind: str
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return backend_name("driver", v)


class RobotServerConfig(StrictModel):
    """``embodied robot serve CONFIG``: the driver to expose and the server's settings."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    driver: DriverSpec


def build_driver(spec: DriverSpec, base_dir: Path) -> Robot:
    """The driver ``spec.kind`` built with ``spec.options`` (and ``base_dir`` when it asks for one)."""
    cls = backends.registry("driver").get(spec.kind)
    options = dict(spec.options)
    if "base_dir" in inspect.signature(cls).parameters:
        options.setdefault("base_dir", str(base_dir))
    return cls(**options)  # type: ignore[no-any-return]


class RobotServer:
    """Serves ``driver`` at ``config.bind`` until :meth:`shutdown`. Use :meth:`serve_forever` in the
    foreground or :meth:`start` for a background thread."""

    def __init__(self, driver: Robot, config: ServerConfig, log: Callable[[str], None] | None = None) -> None:
        self.driver = driver
        self.config = config
        self.log = log or (lambda text: print(f"[robot server] {text}", file=sys.stderr, flush=True))
        self.trips: list[dict[str, float]] = []
        self._estop: str | None = None
        self._estop_request: str | None = None  # set from a signal handler, latched by the loop
        self._controller: tuple[bytes, str] | None = None
        self._last_seen = 0.0
        self._running = threading.Event()
        self._stopped = threading.Event()
        self._ctx = zmq.Context()
        self._done_address = f"inproc://robot-server-done-{uuid.uuid4().hex}"
        self._calls: queue.SimpleQueue[tuple[bytes, dict[str, Any]] | None] = queue.SimpleQueue()
        self._outgoing: list[tuple[float, int, list[bytes]]] = []
        self._seq = itertools.count()
        self._rng = random.Random(0)
        self._thread: threading.Thread | None = None
        self.capabilities = [c for c in CAPABILITIES if callable(getattr(driver, c, None))]

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Serve on a background thread; returns once the socket is bound."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, args=(ready,), name="robot-server", daemon=True)
        self._thread.start()
        if not ready.wait(5.0):
            raise WireError(f"the robot server did not bind {self.config.bind}")

    def shutdown(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._stopped.wait(5.0)

    def estop(self, reason: str = "server e-stop") -> None:
        """Latch the e-stop at the next loop turn. Only sets an attribute: safe in a signal handler."""
        self._estop_request = reason

    # -- the socket loop --------------------------------------------------------------------

    def serve_forever(self, ready: threading.Event | None = None) -> None:
        router = self._ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a restarted client with the same identity takes over
        done = self._ctx.socket(zmq.PULL)
        done.bind(self._done_address)
        router.bind(self.config.bind)
        worker = threading.Thread(target=self._work, name="robot-server-driver", daemon=True)
        worker.start()
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(done, zmq.POLLIN)
        self._running.set()
        if ready is not None:
            ready.set()
        self.log(f"serving {type(self.driver).__name__} at {self.config.bind} (watchdog {self.config.watchdog_s} s)")
        next_beat = time.monotonic()
        try:
            while self._running.is_set():
                now = time.monotonic()
                due = min(next_beat, self._outgoing[0][0] if self._outgoing else next_beat)
                if self._controller is not None:  # wake exactly when the watchdog would trip
                    due = min(due, self._last_seen + self.config.watchdog_s + 1e-4)
                events = dict(poller.poll(max(0.0, min(due - now, self.config.heartbeat_s)) * 1000))
                if router in events:
                    while router.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                        identity, data = router.recv_multipart()
                        self._receive(identity, data)
                if done in events:
                    while done.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                        self._send(done.recv_multipart())
                now = time.monotonic()
                if self._estop_request is not None:
                    self._latch(self._estop_request)
                    self._estop_request = None
                if self._controller is not None and now - self._last_seen > self.config.watchdog_s:
                    self._trip(now - self._last_seen)
                if now >= next_beat:
                    next_beat = now + self.config.heartbeat_s
                    if self._controller is not None:
                        identity, session = self._controller
                        self._send([identity, pack({"kind": "heartbeat", "session": session, "time": now,
                                                    "estop": self._estop})])
                while self._outgoing and self._outgoing[0][0] <= time.monotonic():
                    router.send_multipart(heapq.heappop(self._outgoing)[2])
        finally:
            self._calls.put(None)
            worker.join(timeout=2.0)
            router.close(0)
            done.close(0)
            self._stop_arm()
            self._stopped.set()

    def _send(self, frames: list[bytes]) -> None:
        delay = self.config.latency_s + (self._rng.uniform(0, self.config.jitter_s) if self.config.jitter_s else 0.0)
        heapq.heappush(self._outgoing, (time.monotonic() + delay, next(self._seq), frames))

    def _reply(self, identity: bytes, request: dict[str, Any], result: Any = None,
               error: BaseException | None = None) -> list[bytes]:
        message: dict[str, Any] = {"kind": "reply", "id": request.get("id"), "ok": error is None,
                                   "estop": self._estop}
        if error is None:
            message["result"] = plain(result)
        else:
            message["error"] = error_to_wire(error)
        return [identity, pack(message)]

    def _receive(self, identity: bytes, data: bytes) -> None:
        try:
            message = unpack(data)
        except WireError as exc:
            self.log(f"dropped a message: {exc}")
            return
        session = str(message.get("session", ""))
        controlling = self._controller is not None and self._controller[1] == session and session != ""
        if controlling:
            self._last_seen = time.monotonic()
        if message["kind"] == "heartbeat":
            return
        if message["kind"] != "request":
            self.log(f"dropped a {message['kind']!r} message")
            return
        op = str(message.get("op", ""))
        args = dict(message.get("args") or {})
        if op == "hello":
            if self._controller is not None:
                self.log("a new client took control; the previous session ends")
            session = uuid.uuid4().hex[:12]
            self._controller = (identity, session)
            self._last_seen = time.monotonic()
            self._send(self._reply(identity, message, {
                "session": session, "max_speed": float(self.driver.max_speed), "capabilities": self.capabilities,
                "watchdog_s": self.config.watchdog_s, "heartbeat_s": self.config.heartbeat_s}))
        elif op == "status":
            self._send(self._reply(identity, message, {
                "controlled": self._controller is not None, "estop": self._estop, "trips": self.trips,
                "time": time.time()}))
        elif op == "estop":
            self._latch(str(args.get("reason") or "client e-stop"))
            self._send(self._reply(identity, message, True))
        elif not controlling:
            self._send(self._reply(identity, message, error=SessionLost(
                "this client does not control the arm (watchdog trip, server restart or another client): "
                "connect again")))
        elif op == "bye":
            self._controller = None
            self._stop_arm()
            self._send(self._reply(identity, message, True))
        elif op == "reset_estop":
            self._estop = None
            self.log("e-stop released")
            self._send(self._reply(identity, message, True))
        elif op == "call":
            method = str(args.get("method", ""))
            if method not in ROBOT_METHODS and method not in self.capabilities:
                self._send(self._reply(identity, message, error=WireError(f"unknown method {method!r}")))
            elif self._estop is not None and method in MOTION:
                self._send(self._reply(identity, message, error=RemoteEmergencyStop(
                    f"emergency stop latched at the server ({self._estop}): motion refused until reset",
                    reason=self._estop)))
            elif method == "stop":
                self._stop_arm()
                self._send(self._reply(identity, message, None))
            else:
                if method in SLOW_S:
                    self._send([identity, pack({"kind": "busy", "id": message.get("id"), "allow_s": SLOW_S[method],
                                                "estop": self._estop})])
                self._calls.put((identity, message))
        else:
            self._send(self._reply(identity, message, error=WireError(f"unknown op {op!r}")))

    def _work(self) -> None:
        push = self._ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(self._done_address)
        try:
            while (item := self._calls.get()) is not None:
                identity, message = item
                args = message.get("args") or {}
                try:
                    fn = getattr(self.driver, str(args["method"]))
                    result = fn(**dict(args.get("params") or {}))
                    push.send_multipart(self._reply(identity, message, result))
                except Exception as exc:  # every driver failure goes back to the client, typed
                    push.send_multipart(self._reply(identity, message, error=exc))
        finally:
            push.close(0)

    # -- safety -----------------------------------------------------------------------------

    def _stop_arm(self) -> None:
        """``driver.stop()`` on a fresh thread: never waits behind a call in progress."""

        def stop() -> None:
            try:
                self.driver.stop()
            except Exception as exc:  # reported, nothing else can be done from here
                self.log(f"stop failed: {type(exc).__name__}: {exc}")

        threading.Thread(target=stop, name="robot-server-stop", daemon=True).start()

    def _trip(self, silent_s: float) -> None:
        self._stop_arm()
        self._controller = None
        self.trips.append({"at": time.time(), "silent_s": round(silent_s, 4)})
        self.log(f"watchdog: no word from the client for {silent_s:.3f} s; arm stopped, session ended")

    def _latch(self, reason: str) -> None:
        self._stop_arm()
        if self._estop is None:
            self.log(f"E-STOP latched: {reason}")
        self._estop = reason


def load_server_config(path: Path) -> RobotServerConfig:
    from embodied.config import load_config_data, validation_error

    data, lines = load_config_data(path)
    from pydantic import ValidationError

    try:
        return RobotServerConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, RobotServerConfig, (), lines, str(path)) from exc
