"""Errors the policy sees (catchable), the sandbox's own stop signals (not catchable), and the
bounded text of an exception for reports."""

from __future__ import annotations

from embodied.errors import EmbodiedError
from embodied.types import ExecutionStatus, FailureCategory


class SizeLimitError(Exception):
    """An operation in a policy would build a value beyond a sandbox size cap; refused before
    allocating anything."""


class ForbiddenOperation(Exception):
    """A policy tried, at run time, something the static check cannot see (e.g. attribute access
    inside a ``str.format`` field)."""


class _PolicyStop(BaseException):
    """Ends the policy: budget, timeout, depth or memory. A ``BaseException`` the policy has no
    name for, so ``except Exception`` cannot swallow it."""

    def __init__(self, status: ExecutionStatus, category: FailureCategory, error_type: str, message: str,
                 line: int | None) -> None:
        super().__init__(message)
        self.status, self.category, self.error_type, self.message, self.line = (
            status, category, error_type, message, line)


class _FrameworkAbort(BaseException):
    """Carries a framework error (environment gone, checkpoint callback failed) past the policy's
    handlers; ``Sandbox.run`` re-raises the original."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(repr(original))
        self.original = original


def _message(exc: BaseException, limit: int = 2000) -> str:
    try:
        text = str(exc)
    except Exception:  # an unprintable exception still gets reported by type
        text = ""
    return text if len(text) <= limit else text[:limit] + "..."


class WireError(EmbodiedError):
    """A value cannot cross between a policy worker and the episode process (not plain data,
    too large, malformed)."""


class IsolationUnavailable(EmbodiedError):
    """``isolation: process`` asked for on a system without ``fork`` and POSIX resource limits."""
