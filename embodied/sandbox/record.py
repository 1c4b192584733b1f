"""What a run records: bounded JSON-friendly copies of values, the policy lines of a frame or
traceback, and captured output."""

from __future__ import annotations

import dataclasses
import enum
import math
import reprlib
from collections.abc import Iterable
from typing import Any

from embodied.sandbox.names import POLICY_FILENAME


class _Plain:
    """JSON-friendly copies of arguments and results for the trace, bounded in depth and in the
    total number of items (a cyclic, huge or shared-reference value is summarised, never walked
    without end). One instance per recorded value."""

    MAX_ITEMS, MAX_DEPTH, MAX_STR = 2_000, 6, 10_000

    def __init__(self) -> None:
        self.left = self.MAX_ITEMS

    def __call__(self, value: Any, depth: int = 0) -> Any:
        try:
            return self._copy(value, depth)
        except Exception as exc:  # a value whose len/attributes raise is recorded as such, not dropped
            return f"<unrecordable {type(value).__name__}: {type(exc).__name__}>"

    def _items(self, items: Iterable[Any]) -> Iterable[Any]:
        for item in items:
            if self.left <= 0:
                return
            self.left -= 1
            yield item

    def _copy(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, enum.Enum):
            return self(value.value, depth)
        if isinstance(value, str):
            return value if len(value) <= self.MAX_STR else value[:self.MAX_STR] + "..."
        if isinstance(value, int):
            return value if value.bit_length() <= 64 else f"<int of {value.bit_length()} bits>"
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if depth >= self.MAX_DEPTH or self.left <= 0:
            return _short_repr(value)
        if isinstance(value, list | tuple | set | frozenset):
            out = [self(v, depth + 1) for v in self._items(value)]
            return [*out, "..."] if len(out) < len(value) else out
        if isinstance(value, dict):
            return {str(k): self(v, depth + 1) for k, v in self._items(value.items())}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: self(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}
        shape = getattr(value, "shape", None)
        if shape is not None and hasattr(value, "tolist") and hasattr(value, "size"):  # numpy, not imported
            if value.size <= 16:
                return self(value.tolist(), depth + 1)
            return {"ndarray": list(shape), "dtype": str(getattr(value, "dtype", ""))}
        return _short_repr(value)


def _plain(value: Any) -> Any:
    return _Plain()(value)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 200, 1000
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdict = 20


def _short_repr(value: Any) -> str:
    """``repr`` bounded in size for builtin containers (``reprlib``), cut at 1000 characters."""
    try:
        text = _REPR.repr(value)
    except Exception as exc:  # a broken __repr__ must not break the trace
        text = f"<{type(value).__name__}: repr failed: {type(exc).__name__}>"
    return text if len(text) <= 1000 else text[:1000] + "..."


def _policy_line(frame: Any) -> int | None:
    """Line of the innermost policy frame at or above ``frame``."""
    while frame is not None:
        if frame.f_code.co_filename == POLICY_FILENAME:
            return frame.f_lineno
        frame = frame.f_back
    return None


def _policy_lines(exc: BaseException) -> list[int]:
    """Policy lines in the traceback, outermost first, consecutive repeats removed."""
    lines: list[int] = []
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == POLICY_FILENAME and (not lines or lines[-1] != tb.tb_lineno):
            lines.append(tb.tb_lineno)
        tb = tb.tb_next
    return lines


class _Output:
    """Captured ``print`` output, cut at ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size, self.parts, self.truncated = limit, 0, [], False

    def write(self, text: str) -> None:
        if self.truncated:
            return
        room = self.limit - self.size
        if len(text) > room:
            text, self.truncated = text[:room] + "\n[output truncated]\n", True
        self.parts.append(text)
        self.size += len(text)

    def text(self) -> str:
        return "".join(self.parts)
