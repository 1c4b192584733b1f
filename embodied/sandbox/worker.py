"""The policy worker: a child forked from the episode process, reused for the episode's policies.

At its start the worker closes every inherited file descriptor but its pipe and sets the OS limits
that hold for its whole life (open files, file size, no core dumps, no new processes: as root it
also drops to ``nobody``, since root ignores ``RLIMIT_NPROC``). For each policy it receives the
source and limits, checks and instruments the policy again (the first line of defence runs here
too), sets the run's address-space and CPU-time limits, runs it and reports how it ended. Its
primitives are stubs: each call goes to the episode process over the pipe
(:mod:`embodied.sandbox.wire`), where the real primitive runs and is recorded. Error classes a
policy changed are restored after each run; a worker that crashed, hit a limit or timed out is
not reused.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import gc
import importlib
import math
import os
import resource
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from embodied.errors import PrimitiveError
from embodied.sandbox.check import _Checker, _parse
from embodied.sandbox.errors import WireError, _message, _PolicyStop
from embodied.sandbox.instrument import _instrument
from embodied.sandbox.limits import SandboxLimits
from embodied.sandbox.policy import _ClassState, _Run
from embodied.sandbox.record import _policy_line
from embodied.sandbox.wire import Decoder, Encoder, FramedSocket, decode_message, encode_message
from embodied.types import Execution, ExecutionStatus, FailureCategory

EXIT_MEMORY = 3  # the worker's own machinery ran out of memory (after the policy exhausted it)
EXIT_FAILED = 4  # an error in the worker's machinery; its traceback is in the error file
ADDRESS_SPACE_HEADROOM = 64 * 2**20  # bytes above the memory budget for the interpreter's own needs
OPEN_FILES = 16
ERROR_FILE_BYTES = 2**20
NOBODY = 65534
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS = 1, 38


def worker_main(conn: FramedSocket, error_fd: int, parent: int) -> NoReturn:
    """Everything the forked worker does; never returns into the parent's code."""
    status = 0
    try:
        _isolate(conn.fileno(), error_fd, parent)
        channel = _Channel(conn)
        while True:
            try:
                message = decode_message(conn.receive())
            except EOFError:  # the episode process is done with this worker
                break
            if message.get("op") != "run":
                raise WireError(f"unexpected message {message.get('op')!r} from the episode process")
            execution = _run_one(channel, message)
            conn.send(encode_message({"op": "done", "status": execution.status.value,
                                      "category": execution.category.value, "error_type": execution.error_type,
                                      "error": execution.error, "line": execution.line,
                                      "stdout": execution.stdout, "steps": execution.steps}))
            del execution
            gc.collect()  # the policy's cycles go before the next run measures its memory
    except MemoryError:
        status = EXIT_MEMORY
    except BaseException:  # anything else is a bug of the worker: report it, never run parent code
        status = EXIT_FAILED
        with contextlib.suppress(BaseException):
            os.write(2, traceback.format_exc()[-4000:].encode("utf-8", "replace"))
    os._exit(status)


def _run_one(channel: _Channel, message: dict[str, Any]) -> Execution:
    limits = SandboxLimits(**message["limits"])
    names = [str(n) for n in message["names"]]
    errors = _declared_errors(message["errors"])
    tree, problems = _parse(message["source"])
    if tree is not None:  # names bound nowhere were judged by the episode, which may know newer classes
        problems = [p for p in _Checker(_Names(names, errors)).run(tree) if p.kind != "unknown_name"]
    if tree is None or problems:  # the episode process checked it already: a mismatch is a bug
        raise RuntimeError(f"the worker refused a policy the episode accepted: {problems[:1]}")
    code = _instrument(tree)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    used = math.ceil(cpu.ru_utime + cpu.ru_stime)
    _limit(resource.RLIMIT_CPU, used + int(message["cpu_limit_s"]), resource.RLIM_INFINITY)
    classes = _ClassState(errors.values())
    try:
        if limits.max_memory_bytes is not None:
            soft = _address_space() + limits.max_memory_bytes + ADDRESS_SPACE_HEADROOM
            resource.setrlimit(resource.RLIMIT_AS, (soft, resource.getrlimit(resource.RLIMIT_AS)[1]))
        return _WorkerRun(limits, names, errors, channel).execute(code)
    finally:
        _unlimit_memory()  # the report must get out even when the policy filled the address space
        classes.restore()


def _declared_errors(classes: list[list[str]]) -> dict[str, type[PrimitiveError]]:
    """The error classes the world declares (module, qualname), found in this fork of the episode
    process; one that cannot be found (defined after the fork) is left out of the namespace."""
    found: dict[str, type[PrimitiveError]] = {}
    for module, qualname in classes:
        cls, index = _resolve([[str(module), str(qualname)]], PrimitiveError)
        if index == 0:
            found[cls.__name__] = cls
    return found


class _Names:
    """The primitive names and declared errors, as the static check asks for them."""

    def __init__(self, names: list[str], errors: dict[str, type[PrimitiveError]]) -> None:
        self._names = names
        self.errors = tuple(cls for cls in errors.values() if cls is not PrimitiveError)

    def names(self) -> list[str]:
        return self._names


def _isolate(conn_fd: int, error_fd: int, parent: int) -> None:
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
        self.kept: dict[int, tuple[int, Any]] = {}  # id(object) -> (the episode's handle, object)
        self.run: _WorkerRun | None = None

    def _make_kept(self, handle: int, value: str, cls: list[str]) -> Any:
        found, index = _resolve([cls], str)
        obj = found(value) if index == 0 else value
        self.kept[id(obj)] = (handle, obj)
        return obj

    def _kept_id(self, value: Any) -> int | None:
        entry = self.kept.get(id(value))
        return entry[0] if entry is not None and entry[1] is value else None

    def _callable_id(self, value: Any) -> tuple[int, str]:
        handle = id(value)
        self.handles[handle] = value
        return handle, str(getattr(value, "__name__", type(value).__name__))

    def _own(self, handle: int) -> Any:
        if handle not in self.handles:
            raise WireError("malformed message: unknown callable handle")
        return self.handles[handle]

    def send(self, message: dict[str, Any]) -> None:
        self.conn.send(encode_message(message, Encoder(callable_id=self._callable_id, kept_id=self._kept_id)))

    def wait(self) -> Any:
        """Serve the episode until it answers the open request: the value, or the exception."""
        while True:
            reply = decode_message(self.conn.receive(), Decoder(own=self._own, make_kept=self._make_kept))
            op = reply["op"]
            if op == "result":
                return reply["value"]
            if op == "error":
                raise _exception(reply, self.run)
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


def _exception(reply: dict[str, Any], run: _WorkerRun | None) -> BaseException:
    """The primitive's exception as the policy knows it: the same class (the worker is a fork of
    the episode process, so the class exists here, or its module can be imported), its arguments
    and public attributes. A class that cannot be found (defined inside a function, or after the
    fork) becomes a subclass of its nearest findable base with the same name and category."""
    classes = reply["classes"]
    cls, index = _resolve(classes)
    if index > 0:
        name = str(classes[0][1]).rsplit(".", 1)[-1]
        cls = type(name, (cls,), {"category": FailureCategory(reply["category"])} if reply["category"] else {})
        if run is not None and reply["category"]:
            run.categories[cls] = FailureCategory(reply["category"])
    exc = cls.__new__(cls)
    exc.args = tuple(reply["args"])
    for key, value in reply["attrs"].items():
        with contextlib.suppress(AttributeError, TypeError):
            setattr(exc, key, value)
    return exc


def _resolve(classes: list[list[str]], base: type = Exception) -> tuple[type, int]:
    """The first of ``classes`` (module, qualname) found here that subclasses ``base``, and its
    index (``len(classes)`` and ``base`` itself when none is)."""
    for index, (module_name, qualname) in enumerate(classes):
        module: Any = sys.modules.get(module_name)
        if module is None:
            with contextlib.suppress(Exception):
                module = importlib.import_module(module_name)
        obj = module
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, type) and issubclass(obj, base):
            return obj, index
    return base, len(classes)


class _WorkerRun(_Run):
    """The policy side in the worker: primitives, checkpoints and help are requests to the episode."""

    def __init__(self, limits: SandboxLimits, names: list[str], errors: dict[str, type[PrimitiveError]],
                 channel: _Channel) -> None:
        super().__init__(limits, names, errors)
        self.channel = channel
        channel.run = self
        channel.handles.clear()  # no policy object of an earlier run stays reachable
        channel.kept.clear()

    def _help_text(self, name: str | None) -> str:
        self.channel.send({"op": "help", "name": name})
        return str(self.channel.wait())

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
