"""``RemoteRobot``: the client side of the robot server, a :class:`robots.base.Robot` whose every call
goes over ZeroMQ (schema in :mod:`robots.wire`). ``SafeRobot``, the skills and code policies run on
it unchanged.

Its own watchdog: an I/O thread sends a heartbeat every ``heartbeat_s`` and notes every message
from the server (replies and the server's heartbeats); a call waiting for its reply fails with
:class:`~robots.wire.ServerLost` as soon as the server has been silent for ``watchdog_s``, and
every later call fails the same way until :meth:`connect` is called again. For a slow call that
moves nothing (a simulated scene reset, a camera frame) the server sends a ``busy`` notice first and
the watchdog allows the silence it announces. A reconnect uses a
fresh socket, so nothing queued for a dead server reaches a restarted one.

E-stop: :meth:`estop` latches here and tells the server; an e-stop latched at the server arrives
with every message and latches here too. Either way motion calls raise
:class:`~robots.wire.RemoteEmergencyStop` until :meth:`reset_estop`.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import zmq

from embodied.types import CameraInfo
from robots.base import GripperState, Motion
from robots.server import MOTION
from robots.wire import (
    NotSupported,
    RemoteEmergencyStop,
    ServerLost,
    SessionLost,
    WireError,
    error_from_wire,
    image_from_wire,
    pack,
    unpack,
)

Vec3 = tuple[float, float, float]
WAIT_SLICE_S = 0.005  # a waiting call checks the server's silence this often


class RemoteRobot:
    """A robot served at ``address`` (e.g. ``tcp://127.0.0.1:5557``). Seconds throughout:
    ``call_timeout_s`` bounds one call (a blocking ``home`` included) while the server is alive."""

    def __init__(self, address: str, heartbeat_s: float = 0.05, watchdog_s: float = 0.5,
                 call_timeout_s: float = 30.0, connect_timeout_s: float = 5.0) -> None:
        self.address = address
        self.heartbeat_s = heartbeat_s
        self.watchdog_s = watchdog_s
        self.call_timeout_s = call_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.max_speed = 0.0
        self.capabilities: list[str] = []
        self.session = ""
        self._ctx = zmq.Context()
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._allowed_silence: dict[int, float] = {}  # request id -> seconds, from the server's busy notice
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pushes: list[zmq.Socket] = []
        self._generation = 0
        self._outbox = ""
        self._io: threading.Thread | None = None
        self._running = False
        self._last_server = 0.0
        self._lost: str | None = None
        self._estop: str | None = None
        self._server_estop: str | None = None
        self._gripper_closed = False

    # -- connection -------------------------------------------------------------------------

    def connect(self) -> None:
        """Open a fresh socket and take control of the arm (``hello``)."""
        self._shutdown_io()
        self._generation += 1
        self._outbox = f"inproc://remote-robot-{uuid.uuid4().hex}"
        dealer = self._ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.setsockopt(zmq.IMMEDIATE, 1)  # nothing is queued for a peer that is not connected
        dealer.connect(self.address)
        outbox = self._ctx.socket(zmq.PULL)
        outbox.setsockopt(zmq.LINGER, 0)
        outbox.bind(self._outbox)
        self._lost = None
        self.session = ""
        self._last_server = time.monotonic()
        self._running = True
        self._io = threading.Thread(target=self._serve_io, args=(dealer, outbox), name="remote-robot-io", daemon=True)
        self._io.start()
        deadline = time.monotonic() + self.connect_timeout_s
        while True:  # the server may still be starting: say hello until it answers
            try:
                hello = self._request("hello", {}, timeout=min(1.0, max(0.05, deadline - time.monotonic())))
                break
            except ServerLost as exc:
                if time.monotonic() >= deadline:
                    self._shutdown_io()
                    raise ServerLost(f"no robot server answered at {self.address} within "
                                     f"{self.connect_timeout_s:.1f} s") from exc
                self._lost = None
                self._last_server = time.monotonic()
        self.session = str(hello["session"])
        self.max_speed = float(hello["max_speed"])
        self.capabilities = list(hello["capabilities"])

    def disconnect(self) -> None:
        """Release control (the server stops the arm) and close the socket."""
        try:
            if self._running and self._lost is None and self.session:
                self._request("bye", {}, timeout=min(1.0, self.watchdog_s * 2))
        except (ServerLost, SessionLost):
            pass  # the server is gone or already forgot us: nothing left to release
        finally:
            self._shutdown_io()

    def close(self) -> None:
        self._shutdown_io()
        self._ctx.term()

    def _shutdown_io(self) -> None:
        self._running = False
        if self._io is not None:
            self._io.join(timeout=2.0)
            self._io = None
        for sock in self._pushes:
            sock.close(0)
        self._pushes = []
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ServerLost("the connection was closed"))

    # -- the I/O thread ---------------------------------------------------------------------

    def _serve_io(self, dealer: zmq.Socket, outbox: zmq.Socket) -> None:
        poller = zmq.Poller()
        poller.register(dealer, zmq.POLLIN)
        poller.register(outbox, zmq.POLLIN)
        next_beat = time.monotonic()
        try:
            while self._running:
                events = dict(poller.poll(max(0.0, next_beat - time.monotonic()) * 1000))
                if outbox in events:
                    while outbox.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                        self._send(dealer, outbox.recv())
                if dealer in events:
                    while dealer.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                        self._receive(dealer.recv())
                now = time.monotonic()
                if now >= next_beat:
                    next_beat = now + self.heartbeat_s
                    if self.session:
                        self._send(dealer, pack({"kind": "heartbeat", "session": self.session, "time": now,
                                                 "estop": self._estop}))
        finally:
            dealer.close(0)
            outbox.close(0)

    @staticmethod
    def _send(dealer: zmq.Socket, data: bytes) -> None:
        """Send without blocking: with no server connected the message is dropped (never queued for
        a server that may come back), and the waiting call's watchdog reports the loss."""
        with contextlib.suppress(zmq.Again):
            dealer.send(data, zmq.NOBLOCK)

    def _receive(self, data: bytes) -> None:
        try:
            message = unpack(data)
        except WireError:
            return  # not ours; the watchdog decides whether the server is alive
        self._last_server = time.monotonic()
        reason = message.get("estop")
        if reason:
            self._server_estop = str(reason)
        elif message["kind"] == "heartbeat":
            self._server_estop = None
        if message["kind"] == "busy":
            self._allowed_silence[int(message.get("id") or 0)] = float(message.get("allow_s") or 0.0)
        if message["kind"] == "reply":
            with self._lock:
                future = self._pending.pop(int(message.get("id") or 0), None)
            if future is not None and not future.done():
                future.set_result(message)

    def _push(self) -> zmq.Socket:
        """This thread's socket into the I/O thread (ZeroMQ sockets are single-threaded)."""
        sock = getattr(self._local, "sock", None)
        if sock is None or getattr(self._local, "generation", -1) != self._generation:
            sock = self._ctx.socket(zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(self._outbox)
            self._local.sock, self._local.generation = sock, self._generation
            self._pushes.append(sock)
        return sock

    def _request(self, op: str, args: dict[str, Any], timeout: float | None = None) -> Any:
        if self._lost is not None:
            raise ServerLost(f"the robot server is lost ({self._lost}); connect again")
        if not self._running:
            raise ServerLost("not connected to the robot server: call connect() first")
        request_id = next(self._ids)
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            self._pending[request_id] = future
        self._push().send(pack({"kind": "request", "id": request_id, "session": self.session, "op": op,
                                "args": args}))
        limit = time.monotonic() + (self.call_timeout_s if timeout is None else timeout)
        while True:
            try:
                reply = future.result(timeout=min(WAIT_SLICE_S, self.watchdog_s / 4))
                break
            except FutureTimeout:
                now = time.monotonic()
                silent = now - self._last_server
                allowed = max(self.watchdog_s, self._allowed_silence.get(request_id, 0.0))
                if silent > allowed or now > limit:
                    with self._lock:
                        self._pending.pop(request_id, None)
                    self._allowed_silence.pop(request_id, None)
                    why = (f"no message from {self.address} for {silent:.3f} s (watchdog {allowed} s)"
                           if silent > allowed else f"no reply to {op} within its time limit")
                    self._lost = why
                    raise ServerLost(f"the robot server stopped answering during {op}: {why}") from None
        self._allowed_silence.pop(request_id, None)
        if not reply.get("ok"):
            raise error_from_wire(dict(reply.get("error") or {}))
        return reply.get("result")

    def _call(self, method: str, **params: Any) -> Any:
        if method in MOTION:
            reason = self._estop or self._server_estop
            if reason is not None:
                raise RemoteEmergencyStop(f"emergency stop latched ({reason}): motion refused until reset",
                                          reason=reason)
        return self._request("call", {"method": method, "params": params})

    # -- e-stop -----------------------------------------------------------------------------

    def estop(self, reason: str = "client e-stop") -> None:
        """Latch here and at the server (which stops the arm). Does not wait for the answer."""
        self._estop = reason
        if self._running:
            request_id = next(self._ids)
            self._push().send(pack({"kind": "request", "id": request_id, "session": "", "op": "estop",
                                    "args": {"reason": reason}}))

    @property
    def estopped(self) -> str | None:
        return self._estop or self._server_estop

    def reset_estop(self) -> None:
        self._request("reset_estop", {})
        self._estop = None
        self._server_estop = None

    def status(self) -> dict[str, Any]:
        """The server's view: controlled, latched e-stop, watchdog trips (wall-clock ``at``)."""
        return dict(self._request("status", {}))

    # -- the Robot protocol -----------------------------------------------------------------

    def joint_positions(self) -> list[float]:
        return [float(v) for v in self._call("joint_positions")]

    def ee_pose(self) -> tuple[Vec3, float]:
        position, yaw = self._call("ee_pose")
        return (float(position[0]), float(position[1]), float(position[2])), float(yaw)

    def reachable(self, position: Vec3, yaw: float | None = None) -> float:
        return float(self._call("reachable", position=list(position), yaw=yaw))

    def move_ee(self, position: Vec3, yaw: float | None = None, speed: float | None = None,
                stop_on_contact: bool = False) -> Motion:
        result = self._call("move_ee", position=[float(v) for v in position], yaw=yaw, speed=speed,
                            stop_on_contact=stop_on_contact)
        return Motion(reached=bool(result["reached"]), contact=bool(result["contact"]),
                      error_m=float(result["error_m"]), steps=int(result["steps"]))

    def open_gripper(self, width: float | None = None) -> float:
        self._gripper_closed = False
        return float(self._call("open_gripper", width=width))

    def close_gripper(self, force: float | None = None) -> float:
        self._gripper_closed = True
        return float(self._call("close_gripper", force=force))

    def gripper_width(self) -> float:
        return float(self._call("gripper_width"))

    def gripper_state(self) -> GripperState:
        """The driver's report when the server has one, else the width and the last command."""
        if "gripper_state" not in self.capabilities:
            return GripperState(width_m=self.gripper_width(), closed=self._gripper_closed)
        r = self._call("gripper_state")
        return GripperState(width_m=float(r["width_m"]), closed=bool(r["closed"]), force_n=r.get("force_n"),
                            object_detected=r.get("object_detected"))

    def holding(self) -> bool:
        return bool(self._call("holding"))

    def grasped_id(self) -> int | None:
        body = self._call("grasped_id")
        return None if body is None else int(body)

    def home(self) -> None:
        self._call("home")

    def at_home(self) -> bool:
        return bool(self._call("at_home"))

    def stop(self) -> None:
        self._request("call", {"method": "stop", "params": {}}, timeout=self.watchdog_s * 2)

    # -- capabilities of some servers -------------------------------------------------------

    def _require(self, capability: str) -> None:
        if capability not in self.capabilities:
            raise NotSupported(f"the robot at {self.address} has no {capability!r} (it offers: "
                               f"{', '.join(self.capabilities) or 'nothing extra'})")

    def scene_reset(self, seed: int) -> None:
        self._require("scene_reset")
        self._call("scene_reset", seed=int(seed))

    def scene_truth(self, goal: list[str]) -> dict[str, Any]:
        self._require("scene_truth")
        return dict(self._call("scene_truth", goal=[str(g) for g in goal]))

    def scene_events(self) -> list[dict[str, Any]]:
        self._require("scene_events")
        return [dict(e) for e in self._call("scene_events")]

    def camera_names(self) -> list[str]:
        self._require("camera_names")
        return [str(n) for n in self._call("camera_names")]

    def camera_frame(self, name: str) -> dict[str, Any]:
        """``{"rgb": HxWx3 uint8, "depth": HxW float32 metres, "info": CameraInfo}``."""
        self._require("camera_frame")
        r = self._call("camera_frame", name=name)
        info = r["info"]
        return {"rgb": image_from_wire(r["rgb"]), "depth": image_from_wire(r["depth"]),
                "info": CameraInfo(**{k: info[k] for k in CameraInfo.__dataclass_fields__})}


def server_status(address: str, timeout_s: float = 2.0) -> dict[str, Any]:
    """Ask a robot server for its ``status`` without taking control (monitoring, tests)."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(address)
        sock.send(pack({"kind": "request", "id": 1, "session": "", "op": "status", "args": {}}))
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            if not sock.poll(left * 1000):
                break
            message = unpack(sock.recv())
            if message["kind"] == "reply" and message.get("id") == 1:
                return dict(message["result"])
        raise ServerLost(f"no status from {address} within {timeout_s} s")
    finally:
        sock.close(0)
