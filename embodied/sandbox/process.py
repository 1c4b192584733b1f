"""Process isolation, the episode's side: a forked worker per sandbox, reused from policy to
policy, whose primitive, checkpoint and help requests are served here; a worker that crashes,
exhausts a limit or stops answering becomes a categorized failure of that policy (``crashed``,
``memory``, ``timeout``) and is replaced at the next run.

Why fork from the episode process: it already has every module the worker needs, so a worker
costs one fork and no warm-up; reusing it makes a policy start one message. The wall-clock
deadline is kept here and does not depend on the worker: when it passes, the worker is stopped
with SIGABRT (its fault handler writes the policy's line) and then killed.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import os
import re
import signal
import socket
import time
from typing import Any

from embodied.errors import PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.sandbox.errors import WireError, _FrameworkAbort, _message, _PolicyStop
from embodied.sandbox.limits import SandboxLimits
from embodied.sandbox.names import POLICY_FILENAME, _primitive_error_classes
from embodied.sandbox.policy import api_help
from embodied.sandbox.recorder import _Recorder
from embodied.sandbox.wire import Decoder, Encoder, FramedSocket, decode_message, encode, encode_message
from embodied.sandbox.worker import EXIT_FAILED, EXIT_MEMORY, cpu_limit, worker_main
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


class _Worker:
    """One forked worker process: its pipe, its error file (stderr and the fault handler's
    tracebacks, a memfd) and its exit status once reaped."""

    def __init__(self) -> None:
        pair = socket.socketpair()
        self.conn, theirs = FramedSocket(pair[0]), FramedSocket(pair[1])
        self.error_fd = os.memfd_create("embodied-policy-errors", 0)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker; worker_main never returns
            worker_main(theirs, self.error_fd, parent)
        theirs.close()
        self.pid = pid
        self.reaped: int | None = None  # wait status once reaped

    @property
    def alive(self) -> bool:
        """Still running (an idle worker can die: PR_SET_PDEATHSIG fires when the thread that
        forked it ends)."""
        if self.reaped is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.reaped = status
        return self.reaped is None

    def clear_errors(self) -> None:
        """Empty the error file before a run (the worker shares its offset: it writes from 0)."""
        os.ftruncate(self.error_fd, 0)
        os.lseek(self.error_fd, 0, os.SEEK_SET)

    def error_text(self) -> str:
        try:
            return os.pread(self.error_fd, 65536, 0).decode("utf-8", "replace")
        except OSError:
            return ""

    def crash_line(self) -> int | None:
        """The innermost policy line in the fault handler's traceback (it prints that first)."""
        found = _POLICY_LINE.search(self.error_text())
        return int(found.group(1)) if found else None

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Stop the worker: ``sig`` first (SIGABRT makes it write its traceback), SIGKILL after
        ``STOP_WAIT_S`` if it is still there."""
        if self.reaped is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)
        self.reap(STOP_WAIT_S)

    def reap(self, timeout: float) -> None:
        """Collect the exit status, waiting at most ``timeout`` seconds; a worker still running
        after that is killed."""
        if self.reaped is not None:
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

    def close(self) -> None:
        """End the worker (closing its pipe ends an idle worker; it is killed if it lingers)."""
        self.conn.close()
        self.reap(STOP_WAIT_S)
        os.close(self.error_fd)


class _ProcessRun:
    """One policy run in a worker, served from the episode process."""

    def __init__(self, limits: SandboxLimits, primitives: PrimitiveSet, recorder: _Recorder, worker: _Worker) -> None:
        self.limits, self.primitives, self.recorder, self.worker = limits, primitives, recorder, worker
        self.conn = worker.conn
        self.grace = GRACE_S + GRACE_FRACTION * limits.timeout_s
        self.deadline = 0.0
        self.gone: _WorkerGone | None = None
        self.closed = False
        self.kept: list[Any] = []  # str subclasses sent to the worker (a Secret comes back as itself)

    # -- lifecycle ------------------------------------------------------------------------------
    def execute(self, source: str, start: float) -> tuple[Execution, bool]:
        """Run ``source`` in the worker; also whether the worker may run the next policy. Calls and
        checkpoints are the recorder's; a framework error (environment gone, checkpoint callback
        failed, Ctrl-C) stops the worker and is raised."""
        self.deadline = start + self.limits.timeout_s + self.grace
        self.worker.clear_errors()
        try:
            self._send({"op": "run", "source": source, "limits": dataclasses.asdict(self.limits),
                        "names": self.primitives.names(),
                        "errors": [[cls.__module__, cls.__qualname__]
                                   for cls in _primitive_error_classes(self.primitives).values()],
                        "cpu_limit_s": cpu_limit(self.limits, self.grace)})
            execution = self._finished(self._serve(("done",)))
        except _WorkerGone as gone:
            return gone.execution(), False
        except _FrameworkAbort as abort:
            self.worker.stop()
            raise abort.original from None
        except BaseException:
            self.worker.stop()
            raise
        finally:
            self.closed = True
        return execution, execution.category is not FailureCategory.MEMORY

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
            elif op == "help":
                self._help(message)
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
                return decode_message(data, Decoder(proxy=self._proxy, kept=self._kept))
            except WireError as exc:
                raise self._protocol(_message(exc)) from None

    def _proxy(self, handle: int, name: str) -> _PolicyFunction:
        return _PolicyFunction(self, handle, name)

    def _keep(self, value: Any) -> int:
        self.kept.append(value)
        return len(self.kept) - 1

    def _kept(self, handle: int) -> Any:
        if not 0 <= handle < len(self.kept):
            raise WireError("malformed message: a kept value that was never sent")
        return self.kept[handle]

    def _encoder(self) -> Encoder:
        return Encoder(own_id=self._own_id, keep=self._keep)

    def _send(self, message: dict[str, Any]) -> None:
        self._send_bytes(encode_message(message, self._encoder()))

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
            data = encode_message({"op": "result", "value": result}, self._encoder())
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

    def _help(self, message: dict[str, Any]) -> None:
        name = message.get("name")
        if name is not None and not (isinstance(name, str) and name in self.primitives):
            raise self._protocol("a help request for no primitive")
        self._reply({"op": "result", "value": api_help(self.primitives, name)})

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
                                  self._encoder())
        except WireError as exc:
            raise TypeError(f"cannot pass these arguments to policy function {fn.name}: {_message(exc)}") from None
        self._send_bytes(data)
        reply = self._serve(("return", "raise", "stopped"))
        op = reply["op"]
        if op == "return":
            return reply.get("value")
        if op == "raise":
            raise _callback_exception(reply, self.primitives)
        try:
            stop = _PolicyStop(ExecutionStatus(reply["status"]), FailureCategory(reply["category"]),
                               str(reply["error_type"]), str(reply["message"]), reply.get("line"))
        except (KeyError, ValueError):
            raise self._protocol("a malformed stop") from None
        raise stop

    # -- ends -----------------------------------------------------------------------------------
    def _timed_out(self) -> _WorkerGone:
        self.worker.stop(signal.SIGABRT)
        line = self.worker.crash_line()
        where = f" at line {line}" if line is not None else ""
        return self._end(ExecutionStatus.TIMEOUT, FailureCategory.TIMEOUT, "PolicyBudgetExceeded",
                         f"policy timed out after {self.limits.timeout_s:g} s{where}: it stayed inside one "
                         "operation past its budget, so its worker process was stopped", line)

    def _died(self) -> _WorkerGone:
        self.worker.reap(STOP_WAIT_S)
        status, line = self.worker.reaped or 0, self.worker.crash_line()
        where = f" at line {line}" if line is not None else ""
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_MEMORY:
            budget = "" if self.limits.max_memory_mb is None else f" (budget {self.limits.max_memory_mb:g} MB)"
            return self._end(ExecutionStatus.ERROR, FailureCategory.MEMORY, "MemoryError",
                             f"policy used up its worker's memory{where}{budget}", line)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_FAILED:  # a bug of ours, not the policy's
            last = (self.worker.error_text().strip().splitlines() or ["?"])[-1]
            return self._end(ExecutionStatus.ERROR, FailureCategory.CRASHED, "WorkerError",
                             f"the policy worker failed{where}: {last}", line)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
            return self._end(ExecutionStatus.TIMEOUT, FailureCategory.TIMEOUT, "PolicyBudgetExceeded",
                             f"policy used up its CPU time limit{where}", line)
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            why = f"killed by {signal.Signals(number).name} ({signal.strsignal(number)})"
        else:
            why = f"exited with status {os.WEXITSTATUS(status)} without reporting"
        return self._end(ExecutionStatus.ERROR, FailureCategory.CRASHED, "WorkerCrashed",
                         f"policy crashed its worker process{where}: {why}", line)

    def _protocol(self, what: str) -> _WorkerGone:
        self.worker.stop()
        return self._end(ExecutionStatus.ERROR, FailureCategory.CRASHED, "WorkerCrashed",
                         f"policy worker sent {what}; it was stopped", None)

    def _end(self, status: ExecutionStatus, category: FailureCategory, error_type: str, message: str,
             line: int | None) -> _WorkerGone:
        self.gone = _WorkerGone(status, category, error_type, message, line)
        return self.gone


def _error_message(exc: BaseException) -> dict[str, Any]:
    """A primitive's exception for the worker: its classes (most derived first; the worker is a
    fork, so it has them), its arguments and public attributes, each only if it is plain data."""
    classes = [[c.__module__, c.__qualname__] for c in type(exc).__mro__ if issubclass(c, Exception)]
    args = list(exc.args) if _sendable(exc.args) else [_message(exc)]
    attrs = {k: v for k, v in vars(exc).items() if not k.startswith("_") and _sendable(v)}
    category = None
    if isinstance(exc, PrimitiveError):
        category = exc.category.value if isinstance(exc.category, FailureCategory) else FailureCategory.UNKNOWN.value
    return {"op": "error", "classes": classes, "args": args, "attrs": attrs, "category": category}


def _sendable(value: Any) -> bool:
    try:
        encode(value)
    except WireError:
        return False
    return True


def _callback_exception(reply: dict[str, Any], primitives: PrimitiveSet) -> Exception:
    """A policy callback's exception as seen by the primitive that called it: a builtin or
    primitive error class of that name (the worker is not trusted to name anything else)."""
    name, message = str(reply.get("type")), str(reply.get("message"))
    cls = _primitive_error_classes(primitives).get(name) or getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        exc = cls.__new__(cls)
        exc.args = (message,)
        return exc
    return RuntimeError(f"{name}: {message}")
