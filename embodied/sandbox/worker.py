"""The policy worker: a child forked from the episode process for one policy run.

The child inherits the checked, compiled policy and the primitive API (names, docs) from the fork,
closes every inherited file descriptor but its pipe, sets OS limits (address space, CPU time, open
files, file size, no new processes: as root it also drops to ``nobody``, since root ignores
``RLIMIT_NPROC``), runs the policy and exits. Its primitives are stubs: each call goes to the
episode process over the pipe (:mod:`embodied.sandbox.wire`), where the real primitive runs and is
recorded. Anything the policy does to objects here (class attributes, memory, a segfault) ends
with the child.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import gc
import math
import os
import resource
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from embodied.primitives import PrimitiveSet
from embodied.sandbox.errors import WireError, _message, _PolicyStop
from embodied.sandbox.limits import SandboxLimits
from embodied.sandbox.policy import _Run
from embodied.sandbox.record import _policy_line
from embodied.sandbox.wire import Decoder, Encoder, FramedSocket, decode_message, encode_message
from embodied.types import ExecutionStatus, FailureCategory

EXIT_MEMORY = 3  # the worker's own machinery ran out of memory (after the policy exhausted it)
EXIT_FAILED = 4  # an error in the worker's machinery; its traceback is in the error file
ADDRESS_SPACE_HEADROOM = 128 * 2**20  # bytes above the memory budget for the interpreter's own needs
OPEN_FILES = 16
ERROR_FILE_BYTES = 2**20
NOBODY = 65534
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS = 1, 38


def child_main(conn: FramedSocket, error_fd: int, parent: int, limits: SandboxLimits, cpu_limit_s: int,
               primitives: PrimitiveSet, code: Any) -> NoReturn:
    """Everything the forked child does; never returns into the parent's code."""
    status = 0
    try:
        _isolate(conn.fileno(), error_fd, parent, limits, cpu_limit_s)
        run = _WorkerRun(limits, primitives, _Channel(conn))
        execution = run.execute(code)
        _unlimit_memory()  # the reply must get out even when the policy filled the address space
        conn.send(encode_message({"op": "done", "status": execution.status.value, "category": execution.category.value,
                                "error_type": execution.error_type, "error": execution.error,
                                "line": execution.line, "stdout": execution.stdout, "steps": execution.steps}))
    except MemoryError:
        status = EXIT_MEMORY
    except BaseException:  # anything else is a bug of the worker: report it, never run parent code
        status = EXIT_FAILED
        with contextlib.suppress(BaseException):
            os.write(2, traceback.format_exc()[-4000:].encode("utf-8", "replace"))
    os._exit(status)


def _isolate(conn_fd: int, error_fd: int, parent: int, limits: SandboxLimits, cpu_limit_s: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the episode process's to handle
    gc.freeze()  # the parent's objects are never collected here: no finalizer of theirs runs twice
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(error_fd, 2)
    keep = sorted({0, 1, 2, conn_fd})
    low = 3
    for fd in keep:
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    faulthandler.enable(file=2, all_threads=False)  # a crash leaves the policy's line in the error file
    _limit(resource.RLIMIT_CPU, cpu_limit_s, cpu_limit_s + 1)
    _limit(resource.RLIMIT_NOFILE, OPEN_FILES, OPEN_FILES)
    _limit(resource.RLIMIT_FSIZE, ERROR_FILE_BYTES, ERROR_FILE_BYTES)
    _limit(resource.RLIMIT_CORE, 0, 0)
    _limit(resource.RLIMIT_NPROC, 0, 0)
    if os.geteuid() == 0:  # root ignores RLIMIT_NPROC (and may write anywhere): become nobody
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after setuid, which clears it
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(EXIT_FAILED)
    if limits.max_memory_bytes is not None:
        soft = _address_space() + limits.max_memory_bytes + ADDRESS_SPACE_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (soft, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _limit(which: int, soft: int, hard: int) -> None:
    current_hard = resource.getrlimit(which)[1]
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def _address_space() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _unlimit_memory() -> None:
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def cpu_limit(limits: SandboxLimits, grace_s: float) -> int:
    """CPU seconds a worker may use: past the wall-clock budget and its grace, so the episode's
    own deadline normally acts first; the limit holds even if the episode process stops watching."""
    return math.ceil(limits.timeout_s + grace_s) + 1


class _Channel:
    """The child's end of the pipe: requests to the episode process, and the episode's calls of
    policy functions (a primitive given a policy callback) while a request is open."""

    def __init__(self, conn: FramedSocket) -> None:
        self.conn = conn
        self.handles: dict[int, Any] = {}
        self.run: _WorkerRun | None = None

    def _callable_id(self, value: Any) -> tuple[int, str]:
        handle = id(value)
        self.handles[handle] = value
        return handle, str(getattr(value, "__name__", type(value).__name__))

    def _own(self, handle: int) -> Any:
        if handle not in self.handles:
            raise WireError("malformed message: unknown callable handle")
        return self.handles[handle]

    def send(self, message: dict[str, Any]) -> None:
        self.conn.send(encode_message(message, Encoder(callable_id=self._callable_id)))

    def wait(self) -> Any:
        """Serve the episode until it answers the open request: the value, or the exception."""
        while True:
            reply = decode_message(self.conn.receive(), Decoder(own=self._own))
            op = reply["op"]
            if op == "result":
                return reply["value"]
            if op == "error":
                raise _exception(reply)
            if op == "stopped":  # a policy callback the episode ran hit a budget: already sticky here
                stopped = self.run.meter.stopped if self.run is not None else None
                raise stopped or _PolicyStop(ExecutionStatus.ERROR, FailureCategory.EXCEPTION, "PolicyStopped",
                                             "policy stopped by the episode process", None)
            if op == "invoke":
                self._invoke(reply)
                continue
            raise WireError(f"unexpected message {op!r} from the episode process")

    def _invoke(self, message: dict[str, Any]) -> None:
        fn = self._own(message["id"])
        try:
            value = fn(*message["args"], **message["kwargs"])
        except _PolicyStop as stop:
            self.send({"op": "stopped", "status": stop.status.value, "category": stop.category.value,
                       "error_type": stop.error_type, "message": stop.message, "line": stop.line})
            return
        except Exception as exc:
            self.send({"op": "raise", "type": type(exc).__name__, "message": _message(exc)})
            return
        try:
            self.send({"op": "return", "value": value})
        except WireError as exc:
            self.send({"op": "raise", "type": "TypeError", "message": f"a policy callback returned {exc}"})


def _exception(reply: dict[str, Any]) -> BaseException:
    """The primitive's exception as the policy knows it: the same class (this child is a fork, so
    the class exists here), its arguments and public attributes."""
    cls = _resolve(reply["classes"])
    exc = cls.__new__(cls)
    exc.args = tuple(reply["args"])
    for key, value in reply["attrs"].items():
        with contextlib.suppress(AttributeError, TypeError):
            setattr(exc, key, value)
    return exc


def _resolve(classes: list[list[str]]) -> type[BaseException]:
    for module_name, qualname in classes:
        obj: Any = sys.modules.get(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, type) and issubclass(obj, Exception):
            return obj
    return Exception


class _WorkerRun(_Run):
    """The policy side in the worker: primitives and checkpoints are requests to the episode."""

    def __init__(self, limits: SandboxLimits, primitives: PrimitiveSet, channel: _Channel) -> None:
        super().__init__(limits, primitives)
        self.channel = channel
        channel.run = self

    def _wrap(self, name: str) -> Callable[..., Any]:
        meter, channel = self.meter, self.channel

        def primitive(*args: Any, **kwargs: Any) -> Any:
            line = _policy_line(sys._getframe(1))
            memory = meter.framework_memory()
            try:
                try:
                    channel.send({"op": "call", "name": name, "args": list(args), "kwargs": kwargs, "line": line})
                except WireError as exc:  # the policy's arguments are not plain data
                    raise TypeError(f"{name}(): {_message(exc)}") from None
                value = channel.wait()
            finally:
                meter.exempt_since(memory)
            if meter.stopped is not None:  # a callback stopped the policy while the primitive ran
                raise meter.stopped
            return value

        primitive.__name__ = primitive.__qualname__ = name
        return primitive

    def _take(self, label: str, line: int | None) -> None:
        memory = self.meter.framework_memory()
        try:
            self.channel.send({"op": "checkpoint", "label": label, "line": line})
            self.channel.wait()
        finally:
            self.meter.exempt_since(memory)
