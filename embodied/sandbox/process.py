"""Process isolation, the episode's side: fork a worker for one policy run, serve its primitive
and checkpoint requests, and turn a worker that crashes, exhausts a limit or stops answering into
a categorized failure of that policy (``crashed``, ``memory``, ``timeout``).

Why fork per run: the episode process already holds the checked policy and its API, so a fork
costs a few milliseconds and needs no warm-up, and every run starts from a clean copy: nothing a
policy changes (class attributes, memory) reaches the next one. The wall-clock deadline is kept
here and does not depend on the worker: when it passes, the worker is stopped with SIGABRT (its
fault handler writes the policy's line) and then killed.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import signal
import socket
import time
from typing import Any

from embodied.primitives import PrimitiveSet
from embodied.sandbox.errors import WireError, _FrameworkAbort, _message, _PolicyStop
from embodied.sandbox.limits import SandboxLimits
from embodied.sandbox.names import POLICY_FILENAME, _primitive_error_classes
from embodied.sandbox.recorder import _Recorder
from embodied.sandbox.wire import Decoder, Encoder, FramedSocket, decode_message, encode, encode_message
from embodied.sandbox.worker import EXIT_FAILED, EXIT_MEMORY, child_main, cpu_limit
from embodied.types import Execution, ExecutionStatus, FailureCategory

GRACE_S = 0.5  # seconds the worker gets past its budget to report a timeout itself
GRACE_FRACTION = 0.05  # plus this fraction of the budget
STOP_WAIT_S = 1.0  # after SIGABRT, how long the worker may take to write its traceback and die
_POLICY_LINE = re.compile(r'File "' + re.escape(POLICY_FILENAME) + r'", line (\d+)')


class _WorkerGone(BaseException):
    """The worker is dead or was stopped: how the policy's run ended. A ``BaseException`` so a
    primitive that catches ``Exception`` around a policy callback cannot hold it up."""

    def __init__(self, status: ExecutionStatus, category: FailureCategory, error_type: str, message: str,
                 line: int | None) -> None:
        super().__init__(message)
        self.status, self.category, self.error_type, self.message, self.line = (
            status, category, error_type, message, line)

    def execution(self) -> Execution:
        return Execution(status=self.status, category=self.category, error_type=self.error_type,
                         error=self.message, line=self.line)


class _PolicyFunction:
    """A policy function handed to a primitive: calling it runs it in the worker."""

    def __init__(self, run: _ProcessRun, handle: int, name: str) -> None:
        self.run, self.handle, self.name = run, handle, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.run.invoke(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<policy function {self.name}>"


class _ProcessRun:
    """One policy run in a forked worker, served from the episode process."""

    def __init__(self, limits: SandboxLimits, primitives: PrimitiveSet, recorder: _Recorder) -> None:
        self.limits, self.primitives, self.recorder = limits, primitives, recorder
        self.grace = GRACE_S + GRACE_FRACTION * limits.timeout_s
        self.deadline = 0.0
        self.pid = 0
        self.conn: Any = None
        self.error_fd = -1
        self.reaped: int | None = None  # wait status once reaped
        self.stopped_by_us = False
        self.gone: _WorkerGone | None = None
        self.closed = False

    # -- lifecycle ------------------------------------------------------------------------------
    def execute(self, code: Any, start: float) -> Execution:
        """Run ``code`` in a worker. Calls and checkpoints are the recorder's; a framework error
        (environment gone, checkpoint callback failed, Ctrl-C) kills the worker and is raised."""
        pair = socket.socketpair()
        ours, theirs = FramedSocket(pair[0]), FramedSocket(pair[1])
        self.error_fd = os.memfd_create("embodied-policy-errors", 0)
        self.deadline = start + self.limits.timeout_s + self.grace
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker; child_main never returns
            child_main(theirs, self.error_fd, parent, self.limits, cpu_limit(self.limits, self.grace),
                       self.primitives, code)
        self.pid, self.conn = pid, ours
        theirs.close()
        try:
            done = self._serve(("done",))
            return self._finished(done)
        except _WorkerGone as gone:
            return gone.execution()
        except _FrameworkAbort as abort:
            self._stop()
            raise abort.original from None
        except BaseException:
            self._stop()
            raise
        finally:
            self.closed = True
            self._reap(STOP_WAIT_S)
            ours.close()
            os.close(self.error_fd)

    def _finished(self, done: dict[str, Any]) -> Execution:
        try:
            status, category = ExecutionStatus(done["status"]), FailureCategory(done["category"])
            fields = {k: done[k] for k in ("error_type", "error", "line", "stdout", "steps")}
        except (KeyError, ValueError) as exc:
            raise self._protocol(f"a malformed report ({exc})") from None
        if not all(isinstance(fields[k], str | None) for k in ("error_type", "error", "stdout")) or not (
                isinstance(fields["line"], int | None) and isinstance(fields["steps"], int)):
            raise self._protocol("a report with fields of the wrong type")
        return Execution(status=status, category=category, error_type=fields["error_type"], error=fields["error"],
                         line=fields["line"], stdout=fields["stdout"] or "", steps=fields["steps"])

    # -- serving the worker ---------------------------------------------------------------------
    def _serve(self, until: tuple[str, ...]) -> dict[str, Any]:
        """Answer the worker's requests until it sends one of ``until``."""
        while True:
            message = self._receive()
            op = message.get("op")
            if op in until:
                return message
            if op == "call":
                self._call(message)
            elif op == "checkpoint":
                self._checkpoint(message)
            else:
                raise self._protocol(f"an unexpected message {op!r}")

    def _receive(self) -> dict[str, Any]:
        if self.gone is not None:
            raise self.gone
        while True:
            remaining = self.deadline - time.perf_counter()
            if remaining <= 0:
                raise self._timed_out()
            try:
                data = self.conn.receive(self.deadline)
            except TimeoutError:
                continue
            except (EOFError, OSError):
                raise self._died() from None
            except WireError as exc:
                raise self._protocol(_message(exc)) from None
            try:
                return decode_message(data, Decoder(proxy=self._proxy))
            except WireError as exc:
                raise self._protocol(_message(exc)) from None

    def _proxy(self, handle: int, name: str) -> _PolicyFunction:
        return _PolicyFunction(self, handle, name)

    def _send(self, message: dict[str, Any]) -> None:
        self._send_bytes(encode_message(message, Encoder(own_id=self._own_id)))

    def _send_bytes(self, data: bytes) -> None:
        try:
            self.conn.send(data, self.deadline)
        except TimeoutError:
            raise self._timed_out() from None
        except OSError:
            raise self._died() from None

    def _own_id(self, value: Any) -> int | None:
        return value.handle if isinstance(value, _PolicyFunction) and value.run is self else None

    def _call(self, message: dict[str, Any]) -> None:
        name, args, kwargs, line = (message.get(k) for k in ("name", "args", "kwargs", "line"))
        if not (isinstance(name, str) and name in self.primitives and isinstance(args, list)
                and isinstance(kwargs, dict) and all(isinstance(k, str) for k in kwargs)
                and isinstance(line, int | None)):
            raise self._protocol("a malformed primitive call")
        try:  # framework errors and Ctrl-C (BaseException) pass through to execute()
            result = self.recorder.call(name, tuple(args), kwargs, line)
        except _PolicyStop:  # a policy callback hit a budget while the primitive ran it
            self._reply({"op": "stopped"})
            return
        except Exception as exc:
            self._reply(_error_message(exc))
            return
        try:
            data = encode_message({"op": "result", "value": result}, Encoder(own_id=self._own_id))
        except WireError as exc:
            self._reply(_error_message(TypeError(f"{name}() returned a value the policy cannot receive: "
                                                 f"{_message(exc)}")))
            return
        self._extend()
        self._send_bytes(data)

    def _checkpoint(self, message: dict[str, Any]) -> None:
        label, line = message.get("label"), message.get("line")
        if not isinstance(label, str) or not isinstance(line, int | None):
            raise self._protocol("a malformed checkpoint")
        self.recorder.take(label, line)
        self._reply({"op": "result", "value": None})

    def _reply(self, message: dict[str, Any]) -> None:
        self._extend()
        self._send(message)

    def _extend(self) -> None:
        """Time spent in primitives counts against the policy's budget (as inline), but a worker
        that was waiting for a slow primitive gets its grace to notice the budget itself."""
        self.deadline = max(self.deadline, time.perf_counter() + self.grace)

    # -- policy callbacks -----------------------------------------------------------------------
    def invoke(self, fn: _PolicyFunction, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run a policy function in the worker (a primitive calling a callback it was given)."""
        if self.closed:
            raise RuntimeError("policy code ran after its sandbox run ended")
        if self.gone is not None:
            raise self.gone
        try:
            data = encode_message({"op": "invoke", "id": fn.handle, "args": list(args), "kwargs": kwargs},
                                  Encoder(own_id=self._own_id))
        except WireError as exc:
            raise TypeError(f"cannot pass these arguments to policy function {fn.name}: {_message(exc)}") from None
        self._send_bytes(data)
        reply = self._serve(("return", "raise", "stopped"))
        op = reply["op"]
        if op == "return":
            return reply.get("value")
        if op == "raise":
            raise _callback_exception(reply)
        try:
            stop = _PolicyStop(ExecutionStatus(reply["status"]), FailureCategory(reply["category"]),
                               str(reply["error_type"]), str(reply["message"]), reply.get("line"))
        except (KeyError, ValueError):
            raise self._protocol("a malformed stop") from None
        raise stop

    # -- ends -----------------------------------------------------------------------------------
    def _timed_out(self) -> _WorkerGone:
        self._stop(signal.SIGABRT)
        line = self._crash_line()
        where = f" at line {line}" if line is not None else ""
        return self._end(ExecutionStatus.TIMEOUT, FailureCategory.TIMEOUT, "PolicyBudgetExceeded",
                         f"policy timed out after {self.limits.timeout_s:g} s{where}: it stayed inside one "
                         "operation past its budget, so its worker process was stopped", line)

    def _died(self) -> _WorkerGone:
        self._reap(STOP_WAIT_S)
        if self.reaped is None:
            self._stop()
        status, line = self.reaped or 0, self._crash_line()
        where = f" at line {line}" if line is not None else ""
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_MEMORY:
            return self._end(ExecutionStatus.ERROR, FailureCategory.MEMORY, "MemoryError",
                             f"policy used up its worker's memory{where} "
                             f"(budget {self.limits.max_memory_mb:g} MB)", line)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
            return self._end(ExecutionStatus.TIMEOUT, FailureCategory.TIMEOUT, "PolicyBudgetExceeded",
                             f"policy used up its CPU time limit{where}", line)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_FAILED:  # a bug of ours, not the policy's
            last = (self._error_text().strip().splitlines() or ["?"])[-1]
            return self._end(ExecutionStatus.ERROR, FailureCategory.CRASHED, "WorkerError",
                             f"the policy worker failed{where}: {last}", line)
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            why = f"killed by {signal.Signals(number).name} ({signal.strsignal(number)})"
        else:
            why = f"exited with status {os.WEXITSTATUS(status)} without reporting"
        return self._end(ExecutionStatus.ERROR, FailureCategory.CRASHED, "WorkerCrashed",
                         f"policy crashed its worker process{where}: {why}", line)

    def _protocol(self, what: str) -> _WorkerGone:
        self._stop()
        return self._end(ExecutionStatus.ERROR, FailureCategory.CRASHED, "WorkerCrashed",
                         f"policy worker sent {what}; it was stopped", None)

    def _end(self, status: ExecutionStatus, category: FailureCategory, error_type: str, message: str,
             line: int | None) -> _WorkerGone:
        self.gone = _WorkerGone(status, category, error_type, message, line)
        return self.gone

    def _stop(self, sig: int = signal.SIGKILL) -> None:
        """Stop the worker: ``sig`` first (SIGABRT makes it write its traceback), SIGKILL after
        ``STOP_WAIT_S`` if it is still there."""
        if self.reaped is not None or not self.pid:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)
        self._reap(STOP_WAIT_S)
        if self.reaped is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap(None)

    def _reap(self, timeout: float | None) -> None:
        """Collect the worker's exit status, waiting at most ``timeout`` seconds (None: until it
        exits); a worker still running after that is killed."""
        if self.reaped is not None or not self.pid:
            return
        if timeout is None:
            self.reaped = os.waitpid(self.pid, 0)[1]
            return
        end = time.perf_counter() + timeout
        delay = 0.0005
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.reaped = status
                return
            if time.perf_counter() >= end:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.reaped = os.waitpid(self.pid, 0)[1]

    def _error_text(self) -> str:
        try:
            return os.pread(self.error_fd, 65536, 0).decode("utf-8", "replace")
        except OSError:
            return ""

    def _crash_line(self) -> int | None:
        """The innermost policy line in the fault handler's traceback (it prints that first)."""
        found = _POLICY_LINE.search(self._error_text())
        return int(found.group(1)) if found else None


def _error_message(exc: BaseException) -> dict[str, Any]:
    """A primitive's exception for the worker: its classes (most derived first; the worker is a
    fork, so it has them), its arguments and public attributes, each only if it is plain data."""
    classes = [[c.__module__, c.__qualname__] for c in type(exc).__mro__ if issubclass(c, Exception)]
    args = list(exc.args) if _sendable(exc.args) else [_message(exc)]
    attrs = {k: v for k, v in vars(exc).items() if not k.startswith("_") and _sendable(v)}
    return {"op": "error", "classes": classes, "args": args, "attrs": attrs}


def _sendable(value: Any) -> bool:
    try:
        encode(value)
    except WireError:
        return False
    return True


def _callback_exception(reply: dict[str, Any]) -> Exception:
    """A policy callback's exception as seen by the primitive that called it: a builtin or
    primitive error class of that name (the worker is not trusted to name anything else)."""
    name, message = str(reply.get("type")), str(reply.get("message"))
    cls = _primitive_error_classes().get(name) or getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        exc = cls.__new__(cls)
        exc.args = (message,)
        return exc
    return RuntimeError(f"{name}: {message}")
