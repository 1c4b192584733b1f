"""The runner: check a policy, then run it in a worker process (``isolation: process``, the
default) or in this process (``inline``, for debugging), recording its primitive calls and
checkpoints in an :class:`Execution`."""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from typing import Any, Literal

from embodied.primitives import PrimitiveSet
from embodied.sandbox.check import PolicyProblem, _Checker, _parse, check
from embodied.sandbox.errors import IsolationUnavailable, _message
from embodied.sandbox.instrument import _instrument
from embodied.sandbox.limits import SandboxLimits
from embodied.sandbox.names import RESERVED_NAMES, _primitive_error_classes
from embodied.sandbox.policy import _ClassState, _InlineRun
from embodied.sandbox.process import _ProcessRun, _Worker
from embodied.sandbox.recorder import _Recorder
from embodied.types import Execution, ExecutionStatus, FailureCategory, Observation

Isolation = Literal["process", "inline"]
ISOLATIONS: tuple[Isolation, ...] = ("process", "inline")

__all__ = ["ISOLATIONS", "Isolation", "Sandbox", "SandboxLimits"]


class Sandbox:
    """Runs code policies against a :class:`PrimitiveSet` under the budgets of :class:`SandboxLimits`.

    ``isolation="process"`` runs each policy in a forked worker under OS limits, so a policy that
    segfaults, fills memory or hangs in one C call costs its own run, never the episode;
    ``"inline"`` runs it in this process (budgets are then checked between statements only).
    Between runs the sandbox keeps at most one idle worker (policies keep nothing in it: each run
    gets a fresh namespace and restored error classes); a worker that crashed or hit a limit is
    replaced. Runs may nest (a primitive may run another policy: it gets a second worker).
    ``close()`` ends the idle worker; garbage collection and interpreter exit do too."""

    def __init__(self, max_steps: int = 200_000, timeout_s: float = 300.0, *, isolation: Isolation = "process",
                 **limits: Any) -> None:
        self.limits = SandboxLimits(max_steps=max_steps, timeout_s=timeout_s, **limits)
        if isolation not in ISOLATIONS:
            raise ValueError(f"Sandbox isolation must be one of {ISOLATIONS}, got {isolation!r}")
        if isolation == "process" and not (hasattr(os, "fork") and hasattr(os, "memfd_create")):
            raise IsolationUnavailable("process isolation needs fork and memfd_create (Linux); "
                                       "use sandbox.isolation: inline on this system")
        self.isolation: Isolation = isolation
        self._idle: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _close_workers, self._idle)

    def close(self) -> None:
        """End the idle worker process, if any (the next run starts a new one)."""
        _close_workers(self._idle)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        """Check, instrument and run ``source``. Policy errors, refusals, budgets and a crashed
        worker come back in the :class:`Execution`; framework errors (``EpisodeAborted`` from a
        primitive, an exception from ``checkpoint``) and ``KeyboardInterrupt`` propagate."""
        start = time.perf_counter()
        clash = [name for name in RESERVED_NAMES if name in primitives]
        if clash:
            raise ValueError(f"primitive names {clash} clash with sandbox builtins {RESERVED_NAMES}")
        tree, problems = _parse(source)
        if tree is not None:
            problems = _Checker(primitives).run(tree)
        if tree is None or problems:  # refused here: a refused policy costs no process
            first = problems[0]
            if first.kind == "syntax":
                where = f" (line {first.line})" if first.line is not None else ""
                return Execution(status=ExecutionStatus.SYNTAX_ERROR, error_type="SyntaxError",
                                 error=f"SyntaxError: {first.message}{where}", line=first.line,
                                 category=FailureCategory.EXCEPTION, wall_time_s=time.perf_counter() - start)
            return Execution(status=ExecutionStatus.REFUSED, error_type="PolicyRefused",
                             error="; ".join(map(str, problems)), line=first.line,
                             category=FailureCategory.EXCEPTION, wall_time_s=time.perf_counter() - start)
        try:  # compiled here too: a policy that cannot compile costs no worker
            code = _instrument(tree)
        except (RecursionError, SyntaxError, ValueError) as exc:  # compile limits on absurd sources
            return Execution(status=ExecutionStatus.REFUSED, error_type="PolicyRefused",
                             error=f"policy cannot be compiled: {type(exc).__name__}: {_message(exc)}",
                             category=FailureCategory.EXCEPTION, wall_time_s=time.perf_counter() - start)
        recorder = _Recorder(primitives, checkpoint)
        # primitives learn the policy's budget (long motions and waits refuse what cannot end in time)
        with primitives.deadline(self.limits.timeout_s - (time.perf_counter() - start)):
            execution = self._execute(source, code, primitives, recorder, start)
        return recorder.finish(execution, start)

    def _execute(self, source: str, code: Any, primitives: PrimitiveSet, recorder: _Recorder,
                 start: float) -> Execution:
        if self.isolation == "process":
            worker = self._idle.pop() if self._idle else None
            if worker is None or not worker.alive:
                if worker is not None:
                    worker.close()
                worker = _Worker()
            reusable = False
            try:
                execution, reusable = _ProcessRun(self.limits, primitives, recorder, worker).execute(source, start)
            finally:
                if reusable and worker.alive and not self._idle:
                    self._idle.append(worker)
                else:
                    worker.close()
        else:
            classes = _ClassState(_primitive_error_classes(primitives).values())
            try:
                execution = _InlineRun(self.limits, primitives, recorder).execute(code)
            finally:
                classes.restore()
        return execution


def _close_workers(workers: list[_Worker]) -> None:
    while workers:
        workers.pop().close()
