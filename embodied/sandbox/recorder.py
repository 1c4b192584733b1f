"""The episode side of a run: executes the real primitives and checkpoint callbacks and records
them, whether the policy runs in this process (inline) or in a worker (process isolation)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from embodied.errors import EpisodeAborted, PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.sandbox.errors import _FrameworkAbort, _message
from embodied.sandbox.record import _Plain, _plain
from embodied.types import Checkpoint, Execution, ExecutionStatus, FailureCategory, Observation, PrimitiveCall


class _Recorder:
    """Calls, checkpoints and the episode's callbacks of one run. Framework failures (the
    environment gone, a checkpoint callback or ``sim_time`` raising) come out as
    :class:`_FrameworkAbort`; a primitive's own exception is recorded and re-raised."""

    def __init__(self, primitives: PrimitiveSet, callback: Callable[[str], Observation | None] | None) -> None:
        self.primitives, self.callback = primitives, callback
        self.calls: list[PrimitiveCall] = []
        self.checkpoints: list[Checkpoint] = []

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], line: int | None) -> Any:
        fn = self.primitives[name].fn
        plain = _Plain()  # one item budget for all arguments, however many are star-passed
        record = PrimitiveCall(index=len(self.calls), name=name, args=plain(args), kwargs=plain(kwargs), line=line)
        self.calls.append(record)
        sim_time = self.primitives.sim_time
        try:
            sim0 = sim_time()
        except Exception as exc:
            raise _FrameworkAbort(exc) from exc
        t0 = time.perf_counter()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            record.wall_time_s = time.perf_counter() - t0
            record.error_type, record.error = type(exc).__name__, _message(exc)
            record.category = exc.category if isinstance(exc, PrimitiveError) else FailureCategory.EXCEPTION
            if isinstance(exc, EpisodeAborted):
                raise _FrameworkAbort(exc) from exc
            raise
        record.wall_time_s = time.perf_counter() - t0
        try:
            record.sim_time_s = sim_time() - sim0
        except Exception as exc:
            raise _FrameworkAbort(exc) from exc
        record.result = _plain(result)
        return result

    def take(self, label: str, line: int | None) -> None:
        """Record a checkpoint, with the callback's observation of the world now."""
        observation = None
        if self.callback is not None:
            try:
                observation = self.callback(label)
            except Exception as exc:
                raise _FrameworkAbort(exc) from exc
        self.checkpoints.append(Checkpoint(label=label, after_call=len(self.calls), line=line,
                                           observation=observation))

    def finish(self, execution: Execution, start: float) -> Execution:
        """The closing checkpoint (unless the policy just took one), then the recorded calls and
        checkpoints into ``execution``. Raises the original error if the callback fails."""
        try:
            if not self.checkpoints or self.checkpoints[-1].after_call != len(self.calls):
                label = {ExecutionStatus.OK: "end", ExecutionStatus.TIMEOUT: "timeout"}.get(execution.status, "error")
                try:
                    self.take(label, execution.line)
                except _FrameworkAbort as abort:
                    raise abort.original from None
        finally:
            self.attach(execution, start)
        return execution

    def attach(self, execution: Execution, start: float) -> None:
        execution.calls, execution.checkpoints = self.calls, self.checkpoints
        execution.wall_time_s = time.perf_counter() - start
