"""The policy side of a run: the namespace, budgets, guards and captured output, and how the
policy's end is described. Where primitives and checkpoints really run is left to a subclass:
:class:`_InlineRun` calls them in this process; the worker's run asks the episode process."""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from embodied.errors import PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.sandbox.budget import _frame_height, _Meter
from embodied.sandbox.errors import _FrameworkAbort, _message, _PolicyStop
from embodied.sandbox.guards import _Guards
from embodied.sandbox.instrument import _ENTER, _STEP
from embodied.sandbox.limits import SandboxLimits
from embodied.sandbox.names import _MATH, SAFE_BUILTINS, SAFE_EXCEPTIONS, _primitive_error_classes, help_text
from embodied.sandbox.record import _Output, _policy_line, _policy_lines
from embodied.sandbox.recorder import _Recorder
from embodied.types import Execution, ExecutionStatus, FailureCategory


class _Run:
    """State of one execution on the policy's side: namespace, meter, guards, output."""

    def __init__(self, limits: SandboxLimits, names: Sequence[str], errors: Mapping[str, type[PrimitiveError]]) -> None:
        self.limits, self.names, self.errors = limits, tuple(names), dict(errors)
        self.meter = _Meter(limits.max_steps, limits.timeout_s, limits.max_depth, limits.max_memory_bytes)
        self.guards = _Guards(limits.max_len, limits.max_range, limits.max_int_digits)
        self.output = _Output(limits.max_output_chars)
        self.wrappers: dict[int, str] = {}
        # read before the policy runs: a policy that sets `ObjectNotFound.category` cannot relabel its failure
        self.categories = {cls: cls.category for cls in _error_classes()}

    # -- hooks ----------------------------------------------------------------------------------
    def _wrap(self, name: str) -> Callable[..., Any]:
        """The callable the policy sees as primitive ``name``."""
        raise NotImplementedError

    def _take(self, label: str, line: int | None) -> None:
        """Record a checkpoint now."""
        raise NotImplementedError

    def _help_text(self, name: str | None) -> str:
        """The API listing (``name`` None) or one primitive's entry."""
        raise NotImplementedError

    # -- the policy's namespace -----------------------------------------------------------------
    def namespace(self) -> dict[str, Any]:
        names: dict[str, Any] = dict(self.errors)  # exactly the errors the world declares
        names.update({e.__name__: e for e in SAFE_EXCEPTIONS})  # a builtin name always means the builtin
        names.update({n: getattr(builtins, n) for n in SAFE_BUILTINS})
        names.update({"range": self.guards.range, "sum": self.guards.sum, "round": self.guards.round,
                      "True": True, "False": False, "None": None})
        names.update({"print": self.print, "help": self.help, "checkpoint": self.checkpoint, "math": _MATH})
        names.update(self.guards.helpers())
        names.update({_STEP: self.meter.step, _ENTER: self.meter.enter})
        for name in self.names:
            wrapper = self._wrap(name)
            self.wrappers[id(wrapper)] = name
            names[name] = wrapper
        # Everything lives in __builtins__: `del print` cannot remove it, and the policy's own
        # assignments land in an otherwise empty globals dict.
        return {"__builtins__": names, "__name__": "__policy__"}

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
        self.output.write(self._help_text(self.wrappers.get(id(what))) + "\n")

    def checkpoint(self, label: str) -> None:
        """Record a checkpoint: the monitors judge the world as it is now."""
        if not isinstance(label, str):
            raise TypeError(f"checkpoint() label must be a str, not {type(label).__name__}")
        self._take(label, _policy_line(sys._getframe(1)))

    # -- running --------------------------------------------------------------------------------
    def execute(self, code: Any) -> Execution:
        """Run ``code``; the result holds how the policy ended, its output and steps (calls and
        checkpoints are the recorder's). A framework error is re-raised as itself."""
        execution = Execution(status=ExecutionStatus.OK)
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
        execution.stdout, execution.steps = self.output.text(), self.meter.steps
        return execution

    def _exec(self, code: Any, namespace: dict[str, Any]) -> None:
        # The policy's module frame sits one above this one; a function at nesting n has its probe
        # frame at height base + n + 2, so looking `base + 2 + max_depth` frames down from the
        # probe succeeds exactly when n > max_depth.
        base = _frame_height(sys._getframe())
        self.meter.depth_probe = base + 2 + self.limits.max_depth
        exec(code, namespace)

    def _category_of(self, exc: BaseException) -> FailureCategory:
        if isinstance(exc, PrimitiveError):
            known = next((self.categories[c] for c in type(exc).__mro__ if c in self.categories), None)
            return known if isinstance(known, FailureCategory) else FailureCategory.UNKNOWN
        if isinstance(exc, MemoryError):  # an allocation refused by the address-space limit
            return FailureCategory.MEMORY
        return FailureCategory.EXCEPTION

    def _describe(self, execution: Execution, exc: Exception) -> None:
        lines = _policy_lines(exc)
        execution.status = ExecutionStatus.ERROR
        execution.error_type = type(exc).__name__
        execution.category = self._category_of(exc)
        execution.line = lines[-1] if lines else None
        where = ""
        if lines:
            where = f" (line {lines[-1]}"
            callers = lines[-2::-1][:3]
            where += ", called from line " + ", ".join(map(str, callers)) + ")" if callers else ")"
        text = _message(exc)
        execution.error = f"{execution.error_type}: {text}{where}" if text else f"{execution.error_type}{where}"


class _InlineRun(_Run):
    """Primitives and checkpoints run here, in the policy's own process (``isolation: inline``).
    Memory that primitives and checkpoint callbacks add is not charged to the policy."""

    def __init__(self, limits: SandboxLimits, primitives: PrimitiveSet, recorder: _Recorder) -> None:
        super().__init__(limits, primitives.names(), _primitive_error_classes(primitives))
        self.primitives, self.recorder = primitives, recorder

    def _help_text(self, name: str | None) -> str:
        return api_help(self.primitives, name)

    def _wrap(self, name: str) -> Callable[..., Any]:
        meter, recorder = self.meter, self.recorder

        def primitive(*args: Any, **kwargs: Any) -> Any:
            line = _policy_line(sys._getframe(1))
            memory = meter.framework_memory()
            try:
                return recorder.call(name, args, kwargs, line)
            except _FrameworkAbort as abort:
                raise meter.halt(abort) from abort.original
            finally:
                meter.exempt_since(memory)

        primitive.__name__ = primitive.__qualname__ = name
        return primitive

    def _take(self, label: str, line: int | None) -> None:
        memory = self.meter.framework_memory()
        try:
            self.recorder.take(label, line)
        except _FrameworkAbort as abort:
            raise self.meter.halt(abort) from abort.original
        self.meter.exempt_since(memory)


def _error_classes() -> list[type[PrimitiveError]]:
    """``PrimitiveError`` and every subclass loaded, named in the policy's namespace or not."""
    found: list[type[PrimitiveError]] = []
    todo: list[type[PrimitiveError]] = [PrimitiveError]
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.append(cls)
            todo.extend(cls.__subclasses__())
    return found


def api_help(primitives: PrimitiveSet, name: str | None) -> str:
    """What ``help()`` prints: the whole API, or one primitive's entry."""
    return primitives[name].spec() if name is not None else help_text(primitives)


class _ClassState:
    """The attributes of the error classes a policy is handed, and of the objects those attributes
    hold (``ObjectNotFound.category`` is an enum member, whose attributes can be set), restored
    after a run: ``ObjectNotFound.category = ...`` in one policy must not reach the next one run by
    the same process (inline, or the same worker)."""

    def __init__(self, classes: Iterable[type[PrimitiveError]]) -> None:
        owners: list[Any] = list(classes)
        for cls in list(owners):
            owners.extend(v for k, v in vars(cls).items() if not k.startswith("_") and hasattr(v, "__dict__"))
        self.saved = [(owner, dict(vars(owner))) for owner in owners]

    def restore(self) -> None:
        for owner, saved in self.saved:
            now = vars(owner)
            for key in [k for k in now if k not in saved]:
                delattr(owner, key)
            for key, value in saved.items():
                if now.get(key, _MISSING) is not value and not key.startswith("__"):
                    setattr(owner, key, value)


_MISSING = object()
