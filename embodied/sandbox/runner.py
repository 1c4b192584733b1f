"""The runner: check, instrument and execute a policy, recording its primitive calls and
checkpoints in an :class:`Execution`."""

from __future__ import annotations

import builtins
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from embodied.errors import EpisodeAborted, PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.sandbox.budget import _frame_height, _Meter
from embodied.sandbox.check import PolicyProblem, _Checker, _parse, check
from embodied.sandbox.errors import _FrameworkAbort, _message, _PolicyStop
from embodied.sandbox.guards import _Guards
from embodied.sandbox.instrument import _ENTER, _STEP, _instrument
from embodied.sandbox.names import (
    _MATH,
    RESERVED_NAMES,
    SAFE_BUILTINS,
    SAFE_EXCEPTIONS,
    _primitive_error_classes,
    help_text,
)
from embodied.sandbox.record import _Output, _Plain, _plain, _policy_line, _policy_lines
from embodied.types import Checkpoint, Execution, ExecutionStatus, FailureCategory, Observation, PrimitiveCall


@dataclass(frozen=True)
class SandboxLimits:
    """Budgets and caps of one policy run. Sizes are items or characters; time in seconds."""

    max_steps: int = 200_000
    timeout_s: float = 300.0
    max_depth: int = 200
    max_len: int = 10_000_000
    max_range: int = 1_000_000
    max_int_digits: int = 10_000
    max_memory_mb: float | None = 1024.0
    max_output_chars: int = 100_000

    def __post_init__(self) -> None:
        for name in ("max_steps", "max_depth", "max_len", "max_range", "max_int_digits", "max_output_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"SandboxLimits.{name} must be a positive int, got {value!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"SandboxLimits.timeout_s must be > 0, got {self.timeout_s!r}")
        if self.max_memory_mb is not None and not self.max_memory_mb > 0:
            raise ValueError(f"SandboxLimits.max_memory_mb must be > 0 or None, got {self.max_memory_mb!r}")


class Sandbox:
    """Runs code policies against a :class:`PrimitiveSet` under the budgets of :class:`SandboxLimits`.

    Holds no state between runs; runs may nest (a primitive may run another policy)."""

    def __init__(self, max_steps: int = 200_000, timeout_s: float = 300.0, **limits: Any) -> None:
        self.limits = SandboxLimits(max_steps=max_steps, timeout_s=timeout_s, **limits)

    @property
    def max_steps(self) -> int:
        return self.limits.max_steps

    @property
    def timeout_s(self) -> float:
        return self.limits.timeout_s

    def check(self, source: str, primitives: PrimitiveSet | None = None) -> list[PolicyProblem]:
        """Problems that would stop ``source`` before running (see :func:`check`)."""
        return check(source, primitives)

    def run(self, source: str, primitives: PrimitiveSet,
            checkpoint: Callable[[str], Observation | None] | None = None) -> Execution:
        """Check, instrument and run ``source``. Policy errors, refusals and budgets come back in
        the :class:`Execution`; framework errors (``EpisodeAborted`` from a primitive, an exception
        from ``checkpoint``) and ``KeyboardInterrupt`` propagate."""
        start = time.perf_counter()
        tree, problems = _parse(source)
        if tree is not None:
            problems = _Checker(primitives).run(tree)
        if tree is None or problems:
            first = problems[0]
            if first.kind == "syntax":
                where = f" (line {first.line})" if first.line is not None else ""
                return Execution(status=ExecutionStatus.SYNTAX_ERROR, error_type="SyntaxError",
                                 error=f"SyntaxError: {first.message}{where}", line=first.line,
                                 category=FailureCategory.EXCEPTION, wall_time_s=time.perf_counter() - start)
            return Execution(status=ExecutionStatus.REFUSED, error_type="PolicyRefused",
                             error="; ".join(map(str, problems)), line=first.line,
                             category=FailureCategory.EXCEPTION, wall_time_s=time.perf_counter() - start)
        try:
            code = _instrument(tree)
        except (RecursionError, SyntaxError, ValueError) as exc:  # compile limits on absurd sources
            return Execution(status=ExecutionStatus.REFUSED, error_type="PolicyRefused",
                             error=f"policy cannot be compiled: {type(exc).__name__}: {_message(exc)}",
                             category=FailureCategory.EXCEPTION, wall_time_s=time.perf_counter() - start)
        with primitives.deadline(self.limits.timeout_s - (time.perf_counter() - start)):
            return _Run(self.limits, primitives, checkpoint).execute(code, start)


class _Run:
    """State of one execution: the policy's namespace, recorded calls, checkpoints, output."""

    def __init__(self, limits: SandboxLimits, primitives: PrimitiveSet,
                 callback: Callable[[str], Observation | None] | None) -> None:
        clash = [name for name in RESERVED_NAMES if name in primitives]
        if clash:
            raise ValueError(f"primitive names {clash} clash with sandbox builtins {RESERVED_NAMES}")
        self.limits, self.primitives, self.callback = limits, primitives, callback
        memory = None if limits.max_memory_mb is None else int(limits.max_memory_mb * 2**20)
        self.meter = _Meter(limits.max_steps, limits.timeout_s, limits.max_depth, memory)
        self.guards = _Guards(limits.max_len, limits.max_range, limits.max_int_digits)
        self.calls: list[PrimitiveCall] = []
        self.checkpoints: list[Checkpoint] = []
        self.output = _Output(limits.max_output_chars)
        self.wrappers: dict[int, str] = {}

    # -- the policy's namespace -----------------------------------------------------------------
    def namespace(self) -> dict[str, Any]:
        names: dict[str, Any] = dict(_primitive_error_classes(self.primitives))
        names.update({e.__name__: e for e in SAFE_EXCEPTIONS})  # a builtin name always means the builtin
        names.update({n: getattr(builtins, n) for n in SAFE_BUILTINS})
        names.update({"range": self.guards.range, "sum": self.guards.sum, "round": self.guards.round,
                      "True": True, "False": False, "None": None})
        names.update({"print": self.print, "help": self.help, "checkpoint": self.checkpoint, "math": _MATH})
        names.update(self.guards.helpers())
        names.update({_STEP: self.meter.step, _ENTER: self.meter.enter})
        for primitive in self.primitives:
            wrapper = self._wrap(primitive.name, primitive.fn)
            self.wrappers[id(wrapper)] = primitive.name
            names[primitive.name] = wrapper
        # Everything lives in __builtins__: `del print` cannot remove it, and the policy's own
        # assignments land in an otherwise empty globals dict.
        return {"__builtins__": names, "__name__": "__policy__"}

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        calls, meter, sim_time = self.calls, self.meter, self.primitives.sim_time

        def primitive(*args: Any, **kwargs: Any) -> Any:
            line = _policy_line(sys._getframe(1))
            plain = _Plain()  # one item budget for all arguments, however many are star-passed
            record = PrimitiveCall(index=len(calls), name=name, args=plain(args), kwargs=plain(kwargs), line=line)
            calls.append(record)
            memory = meter.framework_memory()
            try:
                sim0 = sim_time()
            except Exception as exc:
                raise meter.halt(_FrameworkAbort(exc)) from exc
            t0 = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                record.wall_time_s = time.perf_counter() - t0
                record.error_type, record.error = type(exc).__name__, _message(exc)
                record.category = exc.category if isinstance(exc, PrimitiveError) else FailureCategory.EXCEPTION
                meter.exempt_since(memory)
                if isinstance(exc, EpisodeAborted):
                    raise meter.halt(_FrameworkAbort(exc)) from exc
                raise
            record.wall_time_s = time.perf_counter() - t0
            try:
                record.sim_time_s = sim_time() - sim0
            except Exception as exc:
                raise meter.halt(_FrameworkAbort(exc)) from exc
            record.result = _plain(result)
            meter.exempt_since(memory)
            return result

        primitive.__name__ = primitive.__qualname__ = name
        return primitive

    def print(self, *args: Any, sep: str | None = " ", end: str | None = "\n") -> None:
        """``print`` into ``Execution.stdout`` (no ``file=``)."""
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if not isinstance(sep, str) or not isinstance(end, str):
            raise TypeError("print() sep and end must be str")
        for arg in args:
            self.guards.fmt(arg)
        self.output.write(sep.join(str(a) for a in args) + end)

    def help(self, what: Any = None) -> None:
        """Print the primitive API (or one primitive's entry) and what else policies may use."""
        name = self.wrappers.get(id(what))
        if name is not None:
            self.output.write(self.primitives[name].spec() + "\n")
            return
        self.output.write(help_text(self.primitives) + "\n")

    def checkpoint(self, label: str) -> None:
        """Record a checkpoint: the monitors judge the world as it is now."""
        if not isinstance(label, str):
            raise TypeError(f"checkpoint() label must be a str, not {type(label).__name__}")
        self._take(label, _policy_line(sys._getframe(1)))

    def _take(self, label: str, line: int | None) -> None:
        observation = None
        if self.callback is not None:
            memory = self.meter.framework_memory()
            try:
                observation = self.callback(label)
            except Exception as exc:
                raise self.meter.halt(_FrameworkAbort(exc)) from exc
            self.meter.exempt_since(memory)
        self.checkpoints.append(Checkpoint(label=label, after_call=len(self.calls), line=line,
                                           observation=observation))

    # -- running --------------------------------------------------------------------------------
    def execute(self, code: Any, start: float) -> Execution:
        execution = Execution(status=ExecutionStatus.OK)
        try:
            failure: BaseException | None = None
            try:
                self._exec(code, self.namespace())
            except (_PolicyStop, _FrameworkAbort, Exception) as exc:
                failure = exc
            finally:
                self.meter.close()
            # The first stop wins: over what a finally block raised later, and over a normal end
            # when a primitive swallowed the stop raised in a policy callback it was running.
            first = self.meter.stopped
            if isinstance(first, _FrameworkAbort):
                raise first.original from None
            if isinstance(first, _PolicyStop):
                execution.status, execution.category = first.status, first.category
                execution.error_type, execution.error, execution.line = first.error_type, first.message, first.line
            elif isinstance(failure, Exception):
                self._describe(execution, failure)
            if not self.checkpoints or self.checkpoints[-1].after_call != len(self.calls):
                label = {ExecutionStatus.OK: "end", ExecutionStatus.TIMEOUT: "timeout"}.get(execution.status, "error")
                try:
                    self._take(label, execution.line)
                except _FrameworkAbort as abort:
                    raise abort.original from None
        finally:
            execution.calls, execution.checkpoints = self.calls, self.checkpoints
            execution.stdout, execution.steps = self.output.text(), self.meter.steps
            execution.wall_time_s = time.perf_counter() - start
        return execution

    def _exec(self, code: Any, namespace: dict[str, Any]) -> None:
        # The policy's module frame sits one above this one; a function at nesting n has its probe
        # frame at height base + n + 2, so looking `base + 2 + max_depth` frames down from the
        # probe succeeds exactly when n > max_depth.
        base = _frame_height(sys._getframe())
        self.meter.depth_probe = base + 2 + self.limits.max_depth
        exec(code, namespace)

    def _describe(self, execution: Execution, exc: Exception) -> None:
        lines = _policy_lines(exc)
        execution.status = ExecutionStatus.ERROR
        execution.error_type = type(exc).__name__
        execution.category = exc.category if isinstance(exc, PrimitiveError) else FailureCategory.EXCEPTION
        execution.line = lines[-1] if lines else None
        where = ""
        if lines:
            where = f" (line {lines[-1]}"
            callers = lines[-2::-1][:3]
            where += ", called from line " + ", ".join(map(str, callers)) + ")" if callers else ")"
        text = _message(exc)
        execution.error = f"{execution.error_type}: {text}{where}" if text else f"{execution.error_type}{where}"
