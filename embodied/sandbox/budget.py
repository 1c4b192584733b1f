"""Step, wall-clock, call-depth and memory budgets of one run, checked from the instrumented
policy's own statements (no tracer)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from embodied.sandbox.errors import _FrameworkAbort, _PolicyStop
from embodied.types import ExecutionStatus, FailureCategory


class _ResidentMemory:
    """Resident set size from ``/proc/self/statm`` (Linux); ``available`` is False elsewhere and
    the memory budget is then not enforced."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        try:
            self.fd: int | None = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            self.fd = None

    def bytes(self) -> int:
        if self.fd is None:
            return 0
        return int(os.pread(self.fd, 128, 0).split()[1]) * self.page

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Meter:
    """Steps, wall clock, call depth and memory of one run. ``step`` is on the hot path (one call
    per policy statement): it does a counter and a clock read, everything else is in ``_check``,
    which runs every ``CHECK_INTERVAL_S`` of wall time or when the step budget is spent."""

    CHECK_INTERVAL_S = 0.005

    def __init__(self, max_steps: int, timeout_s: float, max_depth: int, max_memory_bytes: int | None) -> None:
        self.max_steps, self.timeout_s, self.max_depth = max_steps, timeout_s, max_depth
        self.steps = 0
        self.step_limit = max_steps  # dropped to -1 once stopped or closed: every step then checks
        self.start = time.perf_counter()
        self.deadline = self.start + timeout_s
        self.next_check = self.start
        self.depth_probe = 1 << 30  # set by the runner once the policy's base frame is known
        self.stopped: _PolicyStop | _FrameworkAbort | None = None
        self.closed = False
        self.memory = _ResidentMemory() if max_memory_bytes is not None else None
        self.max_memory = max_memory_bytes
        self.memory_base = self.memory.bytes() if self.memory else 0
        self.memory_exempt = 0  # growth during primitives and checkpoint callbacks

    def step(self, line: int, _clock: Callable[[], float] = time.perf_counter) -> bool:
        self.steps += 1
        if self.steps > self.step_limit or _clock() >= self.next_check:
            self._check(line)
        return True

    def enter(self, line: int) -> None:
        """Entry of a policy function or lambda: a step, then the depth probe. The probe is a
        frame lookup at a fixed height: cheap, and it keeps no counter that an exception could
        leave unbalanced. Returns None so that a lambda body can be ``enter(line) or body``."""
        self.step(line)
        try:
            sys._getframe(self.depth_probe)
        except ValueError:
            return
        raise self.halt(_PolicyStop(ExecutionStatus.ERROR, FailureCategory.EXCEPTION, "RecursionError",
                                    f"policy calls nested deeper than {self.max_depth} at line {line}", line))

    def _check(self, line: int) -> None:
        if self.stopped is not None:
            raise self.stopped
        if self.closed:
            raise RuntimeError("policy code ran after its sandbox run ended")
        now = time.perf_counter()
        self.next_check = now + self.CHECK_INTERVAL_S
        if self.steps > self.max_steps:
            raise self.halt(_PolicyStop(ExecutionStatus.TIMEOUT, FailureCategory.TIMEOUT, "PolicyBudgetExceeded",
                                        f"step budget of {self.max_steps} exceeded at line {line}", line))
        if now > self.deadline:
            raise self.halt(_PolicyStop(ExecutionStatus.TIMEOUT, FailureCategory.TIMEOUT, "PolicyBudgetExceeded",
                                        f"policy timed out after {self.timeout_s:g} s at line {line}", line))
        if self.memory is not None and self.max_memory is not None:
            grown = self.memory.bytes() - self.memory_base - self.memory_exempt
            if grown > self.max_memory:
                raise self.halt(_PolicyStop(
                    ExecutionStatus.ERROR, FailureCategory.MEMORY, "MemoryError",
                    f"policy memory budget of {self.max_memory / 2**20:g} MB exceeded at line {line} "
                    f"(it added {grown / 2**20:.0f} MB)", line))

    def halt(self, stop: _PolicyStop | _FrameworkAbort) -> _PolicyStop | _FrameworkAbort:
        """Make ``stop`` sticky: every later policy step raises it again, so neither a handler nor
        a ``finally`` block can keep the policy going. Returns it for the caller to raise."""
        if self.stopped is None:
            self.stopped = stop
        self.step_limit = -1
        return stop

    def framework_memory(self) -> int:
        return self.memory.bytes() if self.memory is not None else 0

    def exempt_since(self, before: int) -> None:
        if self.memory is not None:
            self.memory_exempt += self.memory.bytes() - before

    def close(self) -> None:
        self.closed = True
        self.step_limit = -1
        if self.memory is not None:
            self.memory.close()


def _frame_height(frame: Any) -> int:
    height = 0
    while frame is not None:
        height += 1
        frame = frame.f_back
    return height
