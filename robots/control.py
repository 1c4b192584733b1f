"""The real-robot control loop: a :class:`Robot` that wraps a driver (any other :class:`Robot`) and
adds the safety layer a physical arm needs. Skills are written against :class:`Robot`, so they run
unchanged on ``SafeRobot(PandaArm(...))`` in simulation and on ``SafeRobot(SomeArmDriver(...))``.

What the wrapper adds, each a separate concern:

- **Connection guarding** (lerobot style): every call before :meth:`SafeRobot.connect` or after
  :meth:`SafeRobot.disconnect` raises :class:`NotConnected`; connecting twice raises
  :class:`AlreadyConnected`.
- **Number checks**: a non-finite target, yaw, speed, gripper width or force is refused with
  :class:`~robots.errors.InvalidArgument` in every mode before anything reaches the driver (NaN
  would pass every comparison of the workspace check), and so is a speed below
  :attr:`ControlConfig.min_speed`; a driver reporting a non-finite pose is a :class:`DriverFault`.
- **Workspace limits**: an axis-aligned box in metres. A target outside it is refused
  (:class:`OutsideWorkspace`, an :class:`~robots.errors.Unreachable` the agent can react to) or
  clipped onto the box, per :attr:`ControlConfig.on_outside`. Either way the returned
  :class:`ControlledMotion` says what was requested and what was actually sent.
- **Speed limit**: a Cartesian move is split into straight-line waypoints at most
  ``speed / rate_hz`` metres apart, one sent per control tick, so the commanded end-effector speed
  never exceeds ``speed`` (capped at :attr:`ControlConfig.max_speed` and the driver's own limit).
- **Fixed-rate loop**: ticks are scheduled every ``1 / rate_hz`` seconds of wall time; the loop
  records how late each tick started (jitter) and how many ticks overran their period
  (:class:`LoopStats`). :meth:`SafeRobot.stream` sends a stream of targets (teleoperation, a
  visual servo) through the same loop, clipped and speed-limited per tick.
- **Watchdog**: every driver call runs on one driver thread and the loop waits at most
  ``watchdog_s`` for a state report (``command_timeout_s`` for a motion segment). A driver that
  does not answer in time trips :class:`WatchdogTimeout`: a stop is sent on a fresh thread and the
  wrapper stays faulted until it is disconnected and connected again.
- **E-stop**: :meth:`SafeRobot.estop` only sets a flag, so it is safe from another thread or a
  signal handler (:meth:`SafeRobot.estop_on_signal`). The loop checks the flag before every
  segment and while it waits, stops the driver and raises :class:`EmergencyStop`; every later motion
  raises it too until :meth:`SafeRobot.reset_estop`. Latency: at most one tick plus the duration of
  the driver call in progress (the driver is never called from two threads at once, except for the
  stop sent after a watchdog trip). This is a software stop; it does not replace the cell's
  hardware e-stop.

Driver exceptions that are not the framework's own (:class:`~embodied.errors.EmbodiedError`) are
translated into :class:`DriverFault` and chained with ``from``; typed ones (``Unreachable`` from the
driver's inverse kinematics, ``InvalidArgument``) pass through unchanged.
"""

from __future__ import annotations

import math
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from types import FrameType
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import Field, model_validator

from embodied.config import StrictModel
from embodied.errors import EmbodiedError, EpisodeAborted
from robots.base import GripperSensing, GripperState, Motion, Robot
from robots.errors import InvalidArgument, Unreachable

__all__ = ["AlreadyConnected", "ControlConfig", "ControlledMotion", "DriverFault", "EmergencyStop", "LoopStats",
           "NotConnected", "OutsideWorkspace", "SafeRobot", "StreamResult", "WatchdogTimeout", "Workspace"]

Vec3 = tuple[float, float, float]
T = TypeVar("T")


# -- errors ---------------------------------------------------------------------------------------


class OutsideWorkspace(Unreachable):
    """A target outside the configured workspace box, refused before anything moved."""

    def __init__(self, message: str, *, target: Vec3, low: Vec3, high: Vec3) -> None:
        super().__init__(message, target=target)
        self.low, self.high = low, high


class EmergencyStop(EpisodeAborted):
    """The e-stop was pressed: the arm was stopped, and every motion raises this until
    :meth:`SafeRobot.reset_estop`. ``reason`` is what :meth:`SafeRobot.estop` was given."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class WatchdogTimeout(EpisodeAborted):
    """The driver did not answer ``call`` within ``timeout_s``. ``stop_sent``: whether the stop
    command sent afterwards returned. The wrapper stays faulted until reconnected."""

    def __init__(self, message: str, *, call: str, timeout_s: float, stop_sent: bool) -> None:
        super().__init__(message)
        self.call, self.timeout_s, self.stop_sent = call, timeout_s, stop_sent


class NotConnected(EpisodeAborted):
    """A call on a robot that is not connected (never connected, disconnected, or closed)."""


class AlreadyConnected(EpisodeAborted):
    """``connect()`` on a robot that is already connected."""


class DriverFault(EpisodeAborted):
    """The driver raised an exception the framework does not know (chained as ``__cause__``)."""


# -- configuration --------------------------------------------------------------------------------


class Workspace(StrictModel):
    """An axis-aligned box in the cell's world frame, metres. The grasp point must stay inside."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]

    @model_validator(mode="after")
    def _ordered(self) -> Workspace:
        if not all(lo < hi for lo, hi in zip(self.low, self.high)):
            raise ValueError(f"workspace low {self.low} must be below high {self.high} on every axis")
        return self

    def contains(self, point: Vec3) -> bool:
        return all(lo <= v <= hi for v, lo, hi in zip(point, self.low, self.high))

    def clip(self, point: Vec3) -> Vec3:
        x, y, z = (min(max(float(v), lo), hi) for v, lo, hi in zip(point, self.low, self.high))
        return (x, y, z)


class ControlConfig(StrictModel):
    """Limits and timing of :class:`SafeRobot`. Units: metres, m/s, Hz, seconds.

    ``workspace`` has no default on purpose: every cell states its own box. ``on_outside`` is
    ``refuse`` by default so a code policy gets a typed ``Unreachable`` it can react to instead of
    a quietly moved target; ``clip`` suits teleoperation streams."""

    workspace: Workspace
    on_outside: Literal["clip", "refuse"] = "refuse"
    max_speed: float = Field(default=0.25, gt=0, le=2.0, description="end-effector m/s")
    min_speed: float = Field(default=0.005, gt=0, le=2.0,
                             description="slowest accepted m/s: slower moves would outlive any budget")
    rate_hz: float = Field(default=50.0, gt=0, le=1000.0, description="control ticks per second")
    watchdog_s: float = Field(default=0.5, gt=0, description="longest wait for a state report")
    command_timeout_s: float = Field(default=5.0, gt=0, description="longest wait for one motion segment")
    blocking_timeout_s: float = Field(default=30.0, gt=0, description="longest wait for home / gripper")
    reached_tolerance_m: float = Field(default=0.01, gt=0)
    settle_s: float = Field(default=1.0, ge=0, description="wait after the last waypoint for the arm to arrive")


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoopStats:
    """Timing of one run of the control loop. ``jitter``: how late a tick started after its
    scheduled time (seconds); ``overruns``: ticks whose work took longer than ``period_s``."""

    ticks: int
    period_s: float
    overruns: int
    max_jitter_s: float
    mean_jitter_s: float


@dataclass(frozen=True)
class ControlledMotion(Motion):
    """A :class:`Motion` that also says what was sent (lerobot style). ``error_m`` and ``reached``
    are measured against ``requested``, so a clipped move that stopped at the box edge is not
    "reached"; ``sent`` is the target actually commanded, ``waypoints`` the segments sent."""

    requested: Vec3
    sent: Vec3
    clipped: bool
    waypoints: int
    stats: LoopStats


@dataclass(frozen=True)
class StreamResult:
    """What :meth:`SafeRobot.stream` sent: one commanded point per tick, how many targets were
    clipped onto the workspace, whether a guarded stream ended on contact, and the loop timing."""

    sent: tuple[Vec3, ...]
    clipped: int
    contact: bool
    stats: LoopStats


@runtime_checkable
class Connectable(Protocol):
    """Optional driver methods: a hardware driver opens and closes its link here."""

    def connect(self) -> None: ...

    def disconnect(self) -> None: ...


@runtime_checkable
class LatchingEStop(Protocol):
    """Optional driver method: an e-stop latch of the driver's own (a robot server's), pressed when
    this loop's e-stop is. Must not block."""

    def estop(self, reason: str) -> None: ...


# -- the driver thread ----------------------------------------------------------------------------


class _DriverThread:
    """Runs driver calls one at a time on a daemon thread, so the caller can stop waiting for a
    driver that hangs (a daemon thread stuck in a driver never blocks interpreter exit)."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((future, fn))
        return future

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the waiting caller, which re-raises it
                future.set_exception(exc)

    def shutdown(self) -> None:
        self._queue.put(None)


def _on_fresh_thread(fn: Callable[[], object], timeout: float) -> BaseException | bool | None:
    """Run ``fn`` on a new daemon thread; True if it returned in time, False if not, else the
    exception it raised."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            fn()
            outcome.append(None)
        except BaseException as exc:  # reported to the caller
            outcome.append(exc)

    thread = threading.Thread(target=run, name="safe-robot-stop", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return False
    return True if outcome[0] is None else outcome[0]


# -- the wrapper ----------------------------------------------------------------------------------


class SafeRobot:
    """A :class:`Robot` wrapping ``driver`` (another :class:`Robot`) with the limits in ``config``.
    Construct, :meth:`connect` (or use as a context manager), hand to the skills."""

    def __init__(self, driver: Robot, config: ControlConfig) -> None:
        self.driver = driver
        self.config = config
        self.last_stats: LoopStats | None = None
        self._worker: _DriverThread | None = None
        self._fault: WatchdogTimeout | None = None
        self._estop_reason: str | None = None  # set by estop(): a plain attribute, safe in a signal handler
        self._closed = False
        self._gripper_closed = False  # last gripper command sent was a close

    # -- connection -------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._worker is not None

    def connect(self) -> None:
        """Open the driver's link (if it has one), start the driver thread and read the state once,
        so a driver that does not answer fails here, not in the middle of a skill."""
        if self._closed:
            raise NotConnected("this robot was closed; build a new one")
        if self._worker is not None:
            raise AlreadyConnected("connect() on a robot that is already connected")
        self._worker = _DriverThread(f"driver-{type(self.driver).__name__}")
        self._fault = None
        try:
            if isinstance(self.driver, Connectable):
                self._call(self.driver.connect, "connect", self.config.blocking_timeout_s)
            self._call(self.driver.ee_pose, "ee_pose", self.config.watchdog_s)
        except BaseException:
            self._drop_worker()
            raise

    def disconnect(self) -> None:
        """Stop the arm, close the driver's link and the driver thread. After a watchdog trip the
        driver thread is stuck: it is abandoned and the driver is told to disconnect from a fresh
        thread."""
        self._require_connected()
        try:
            if self._fault is not None:
                if isinstance(self.driver, Connectable):
                    _on_fresh_thread(self.driver.disconnect, self.config.watchdog_s)
                return
            self._call(self.driver.stop, "stop", self.config.watchdog_s)
            if isinstance(self.driver, Connectable):
                self._call(self.driver.disconnect, "disconnect", self.config.blocking_timeout_s)
        finally:
            self._drop_worker()

    def close(self) -> None:
        """Disconnect if connected, then release the driver's resources."""
        if self._closed:
            return
        try:
            if self.is_connected:
                self.disconnect()
        finally:
            self._closed = True
            self.driver.close()

    def __enter__(self) -> SafeRobot:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _drop_worker(self) -> None:
        if self._worker is not None:
            self._worker.shutdown()
            self._worker = None

    # -- e-stop -----------------------------------------------------------------------------

    def estop(self, reason: str = "e-stop") -> None:
        """Latch the e-stop. Only sets an attribute: safe from any thread and from a signal
        handler. The control loop stops the arm at its next check (within about one tick)."""
        self._estop_reason = reason

    @property
    def estopped(self) -> bool:
        return self._estop_reason is not None

    def reset_estop(self) -> None:
        """Release the e-stop latch; motions are accepted again."""
        self._estop_reason = None

    def estop_on_signal(self, signum: int = signal.SIGINT) -> Any:
        """Make ``signum`` press the e-stop (call from the main thread). Returns the previous
        handler, for ``signal.signal(signum, previous)``."""

        def handler(sig: int, frame: FrameType | None) -> None:
            self.estop(f"signal {signal.Signals(sig).name}")

        return signal.signal(signum, handler)

    def _check_estop(self) -> None:
        reason = self._estop_reason
        if reason is None:
            return
        if isinstance(self.driver, LatchingEStop):  # e.g. a robot server: latch there too
            self.driver.estop(reason)
        stop_note = self._halt()
        error = EmergencyStop(f"emergency stop ({reason}): the arm was stopped; call reset_estop() to move again",
                              reason=reason)
        if stop_note:
            error.add_note(stop_note)
        raise error

    # -- calling the driver -----------------------------------------------------------------

    def _require_connected(self) -> _DriverThread:
        if self._worker is None:
            raise NotConnected("the robot is not connected: call connect() first")
        return self._worker

    def _guard(self) -> _DriverThread:
        worker = self._require_connected()
        if self._fault is not None:
            raise WatchdogTimeout(f"the driver stopped answering earlier ({self._fault}); disconnect and "
                                  f"connect again", call=self._fault.call, timeout_s=self._fault.timeout_s,
                                  stop_sent=self._fault.stop_sent)
        return worker

    def _call(self, fn: Callable[[], T], what: str, timeout: float) -> T:
        """``fn()`` on the driver thread, waiting at most ``timeout`` seconds."""
        future = self._guard().submit(fn)
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise self._trip(what, timeout) from None
        except EmbodiedError:
            raise
        except Exception as exc:
            raise DriverFault(f"driver {what} failed: {type(exc).__name__}: {exc}") from exc

    def _trip(self, what: str, timeout: float) -> WatchdogTimeout:
        stopped = _on_fresh_thread(self.driver.stop, self.config.watchdog_s)
        error = WatchdogTimeout(f"the driver did not answer {what} within {timeout:.3f} s; the arm was "
                                f"{'stopped' if stopped is True else 'told to stop (no answer)'}",
                                call=what, timeout_s=timeout, stop_sent=stopped is True)
        if isinstance(stopped, BaseException):
            error.add_note(f"stop raised {type(stopped).__name__}: {stopped}")
        self._fault = error
        return error

    def _halt(self) -> str | None:
        """Send a stop; returns None, or a note saying why the stop may not have reached the arm."""
        if self._worker is None or self._fault is not None:
            return "no stop sent: the driver is not connected or not answering"
        try:
            self._call(self.driver.stop, "stop", self.config.watchdog_s)
        except EmbodiedError as exc:
            return f"stop failed: {type(exc).__name__}: {exc}"
        return None

    def _state(self) -> tuple[Vec3, float]:
        position, yaw = self._call(self.driver.ee_pose, "ee_pose", self.config.watchdog_s)
        here = (float(position[0]), float(position[1]), float(position[2])), float(yaw)
        if not all(math.isfinite(v) for v in (*here[0], here[1])):  # lines from a NaN start are NaN
            raise DriverFault(f"the driver reported a non-finite pose {here}")
        return here

    # -- state (protocol) -------------------------------------------------------------------

    @property
    def max_speed(self) -> float:
        """End-effector speed limit in m/s: the tighter of the config's and the driver's."""
        return min(self.config.max_speed, self.driver.max_speed)

    @staticmethod
    def _point(position: object, what: str = "target") -> Vec3:
        """``position`` as three finite floats, else InvalidArgument: NaN passes every comparison
        of the workspace check (all are false), so it is refused before any of them."""
        try:
            x, y, z = (float(v) for v in position)  # type: ignore[attr-defined]
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"{what} must be three numbers (x, y, z) in metres, got {position!r}") from exc
        if not all(math.isfinite(v) for v in (x, y, z)):
            raise InvalidArgument(f"{what} must be finite, got ({x}, {y}, {z})")
        return x, y, z

    @staticmethod
    def _yaw(yaw: float | None) -> float | None:
        if yaw is None:
            return None
        if not isinstance(yaw, int | float) or not math.isfinite(yaw):
            raise InvalidArgument(f"yaw must be a finite number of radians or None, got {yaw!r}")
        return float(yaw)

    def joint_positions(self) -> list[float]:
        return self._call(self.driver.joint_positions, "joint_positions", self.config.watchdog_s)

    def ee_pose(self) -> tuple[tuple[float, float, float], float]:
        return self._state()

    def gripper_width(self) -> float:
        return self._call(self.driver.gripper_width, "gripper_width", self.config.watchdog_s)

    def holding(self) -> bool:
        return self._call(self.driver.holding, "holding", self.config.watchdog_s)

    def gripper_state(self) -> GripperState:
        """The driver's gripper report when it has one, else its width and the last command sent."""
        if isinstance(self.driver, GripperSensing):
            return self._call(self.driver.gripper_state, "gripper_state", self.config.watchdog_s)
        return GripperState(width_m=float(self.gripper_width()), closed=self._gripper_closed)

    def grasped_id(self) -> int | None:
        return self._call(self.driver.grasped_id, "grasped_id", self.config.watchdog_s)

    def at_home(self) -> bool:
        return self._call(self.driver.at_home, "at_home", self.config.watchdog_s)

    def reachable(self, position: tuple[float, float, float], yaw: float | None = None) -> float:
        """The driver's IK residual for the target actually sent; in clip mode the distance the
        target was moved onto the box is added, so a far-outside point does not look reachable."""
        sent, clipped = self._limit(position)
        yaw = self._yaw(yaw)
        residual = self._call(lambda: self.driver.reachable(sent, yaw), "reachable", self.config.command_timeout_s)
        if not math.isfinite(residual):  # a solver that diverged cannot call a pose reachable
            return math.inf
        return residual + (math.dist(sent, position) if clipped else 0.0)

    # -- limits -----------------------------------------------------------------------------

    def _limit(self, position: Vec3) -> tuple[Vec3, bool]:
        """(target to send, whether it was clipped); raises OutsideWorkspace in refuse mode."""
        target = self._point(position)
        box = self.config.workspace
        if box.contains(target):
            return target, False
        if self.config.on_outside == "refuse":
            raise OutsideWorkspace(f"({target[0]:.3f}, {target[1]:.3f}, {target[2]:.3f}) is outside the workspace "
                                   f"box {box.low}..{box.high}", target=target, low=box.low, high=box.high)
        return box.clip(target), True

    def _speed(self, speed: float | None) -> float:
        if speed is None:
            return self.max_speed
        low = min(self.config.min_speed, self.max_speed)
        if not isinstance(speed, int | float) or not math.isfinite(speed) or not speed >= low:
            raise InvalidArgument(f"speed must be a finite number of m/s, at least {low:g}, got {speed!r}")
        return min(float(speed), self.max_speed)

    # -- the loop ---------------------------------------------------------------------------

    def _run(self, points: Iterator[Vec3], yaw: float | None, speed: float,
             stop_on_contact: bool) -> tuple[list[Vec3], int, bool, LoopStats]:
        """Send one point per tick at ``rate_hz``. Returns (points sent, driver steps, ended on
        contact, timing). On any failure the driver is stopped before the error propagates."""
        period = 1.0 / self.config.rate_hz
        sent: list[Vec3] = []
        steps, overruns, contact = 0, 0, False
        jitters: list[float] = []
        deadline = time.monotonic()
        try:
            for point in points:
                self._check_estop()
                jitters.append(max(0.0, time.monotonic() - deadline))
                motion = self._call(lambda pt=point: self.driver.move_ee(pt, yaw, speed, stop_on_contact),
                                    "move_ee", self.config.command_timeout_s)
                sent.append(point)
                steps += motion.steps
                self._state()  # the watchdog: a fresh state report every tick
                if stop_on_contact and motion.contact:
                    contact = True
                    break
                deadline += period
                if not self._sleep_until(deadline):
                    overruns += 1
                    deadline = time.monotonic()  # do not burst to catch up
        except BaseException as exc:
            if not isinstance(exc, EmergencyStop | WatchdogTimeout):
                note = self._halt()
                if note:
                    exc.add_note(note)
            raise
        finally:
            self.last_stats = LoopStats(ticks=len(jitters), period_s=period, overruns=overruns,
                                        max_jitter_s=max(jitters, default=0.0),
                                        mean_jitter_s=sum(jitters) / len(jitters) if jitters else 0.0)
        return sent, steps, contact, self.last_stats

    def _sleep_until(self, deadline: float) -> bool:
        """Sleep to ``deadline`` in short slices, returning early on e-stop; False if already late."""
        remaining = deadline - time.monotonic()
        if remaining < 0:
            return False
        while remaining > 0 and self._estop_reason is None:
            time.sleep(min(remaining, 0.005))
            remaining = deadline - time.monotonic()
        return True

    # -- motion (protocol) ------------------------------------------------------------------

    def move_ee(self, position: tuple[float, float, float], yaw: float | None = None, speed: float | None = None,
                stop_on_contact: bool = False) -> ControlledMotion:
        """A straight line to ``position`` (limited to the workspace) in waypoints at most
        ``speed / rate_hz`` metres apart, one per tick, then up to ``settle_s`` for the arm to
        arrive. Returns what was requested and sent; ``reached`` is judged against the request."""
        self._guard()
        self._check_estop()
        v = self._speed(speed)
        yaw = self._yaw(yaw)
        requested = self._point(position)
        target, clipped = self._limit(requested)
        start, _ = self._state()
        sent, steps, contact, stats = self._run(self._line(start, target, v), yaw, v, stop_on_contact)
        if not contact:
            self._settle(target)
        here, _ = self._state()
        error = math.dist(here, requested)
        return ControlledMotion(reached=error <= self.config.reached_tolerance_m, contact=contact, error_m=error,
                                steps=steps, requested=requested, sent=target, clipped=clipped,
                                waypoints=len(sent), stats=stats)

    def _line(self, start: Vec3, target: Vec3, speed: float) -> Iterator[Vec3]:
        """Evenly spaced points from ``start`` (excluded) to ``target`` (exactly, last), at most
        ``speed / rate_hz`` apart. From a start inside the box every point is clipped to it, so
        rounding never puts one a hair outside; from outside the line is followed as it is, back in."""
        spacing = speed / self.config.rate_hz
        n = max(1, math.ceil(math.dist(start, target) / spacing - 1e-9))
        box = self.config.workspace
        inside = box.contains(start)
        for i in range(1, n):
            x, y, z = (a + (b - a) * i / n for a, b in zip(start, target))
            yield box.clip((x, y, z)) if inside else (x, y, z)
        yield target

    def _settle(self, target: Vec3) -> None:
        end = time.monotonic() + self.config.settle_s
        period = 1.0 / self.config.rate_hz
        while time.monotonic() < end:
            self._check_estop()
            if math.dist(self._state()[0], target) <= self.config.reached_tolerance_m / 3:
                return
            self._sleep_until(time.monotonic() + period)

    def stream(self, targets: Iterable[Vec3], yaw: float | None = None, speed: float | None = None,
               stop_on_contact: bool = False) -> StreamResult:
        """Follow a stream of targets (one consumed per tick) through the loop: each is limited to
        the workspace and the commanded point moves at most ``speed / rate_hz`` metres towards it
        per tick. In refuse mode a target outside the box stops the arm and raises
        :class:`OutsideWorkspace`."""
        self._guard()
        self._check_estop()
        v = self._speed(speed)
        yaw = self._yaw(yaw)
        spacing = v / self.config.rate_hz
        clipped = 0
        current, _ = self._state()
        box = self.config.workspace

        def points() -> Iterator[Vec3]:
            nonlocal clipped, current
            for target in targets:
                goal, was_clipped = self._limit(target)  # refuses a non-finite target: nothing is sent
                clipped += was_clipped
                gap = math.dist(current, goal)
                if gap > spacing:
                    x, y, z = (a + (b - a) * spacing / gap for a, b in zip(current, goal))
                    # from inside the box, rounding must not put a point a hair outside it
                    goal = box.clip((x, y, z)) if box.contains(current) else (x, y, z)
                current = goal
                yield goal

        sent, _, contact, stats = self._run(points(), yaw, v, stop_on_contact)
        return StreamResult(sent=tuple(sent), clipped=clipped, contact=contact, stats=stats)

    def open_gripper(self, width: float | None = None) -> float:
        self._guard()
        self._check_estop()
        if width is not None and (not isinstance(width, int | float) or not math.isfinite(width) or width < 0):
            raise InvalidArgument(f"gripper width must be a finite number of metres >= 0 or None, got {width!r}")
        self._gripper_closed = False
        return self._call(lambda: self.driver.open_gripper(width), "open_gripper", self.config.blocking_timeout_s)

    def close_gripper(self, force: float | None = None) -> float:
        self._guard()
        self._check_estop()
        if force is not None and (not isinstance(force, int | float) or not math.isfinite(force) or force <= 0):
            raise InvalidArgument(f"gripper force must be a finite number of newtons > 0 or None, got {force!r}")
        self._gripper_closed = True
        return self._call(lambda: self.driver.close_gripper(force), "close_gripper", self.config.blocking_timeout_s)

    def home(self) -> None:
        """The driver's own joint-space move home: not split into ticks and not bounded by the
        Cartesian workspace (the home pose is a configuration, not a target); e-stop is checked
        before it starts."""
        self._guard()
        self._check_estop()
        self._call(self.driver.home, "home", self.config.blocking_timeout_s)

    def stop(self) -> None:
        """Stop and hold. Always allowed while connected, e-stop or not."""
        self._call(self.driver.stop, "stop", self.config.watchdog_s)
