"""Typed errors of the core. Other packages subclass these; nothing branches on message text."""

from __future__ import annotations

from embodied.types import FailureCategory


class EmbodiedError(Exception):
    """Base of every error the framework raises on purpose."""


class ConfigError(EmbodiedError):
    """A config file or override is wrong. ``str()`` is the whole user-facing message."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file, self.line, self.field, self.hint, self.message = file, line, field, hint, message
        where = file or "<config>"
        if line is not None:
            where += f":{line}"
        text = f"{where}: "
        if field:
            text += f"{field}: "
        text += message
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class UnknownBackendError(ConfigError):
    """A backend name that no registry knows."""


class DomainError(EmbodiedError):
    """A domain kit was asked for something it does not have (an unknown action or predicate, an
    argument of the wrong type, a missing prompt file), or a world does not match its kit."""


class PrimitiveError(EmbodiedError):
    """A primitive (robot skill, GUI action) failed in a way the agent can react to.

    Subclasses set ``category``; the trace monitor reads it to classify the failure, and the
    repairer picks its repair from it.
    """

    category: FailureCategory = FailureCategory.UNKNOWN


class ObjectNotFound(PrimitiveError):
    category = FailureCategory.NOT_FOUND


class DeadlineExceeded(PrimitiveError):
    """A primitive refused to start (or stopped) work that would run past the running policy's
    wall-clock budget (see :meth:`embodied.primitives.PrimitiveSet.time_left`)."""

    category = FailureCategory.TIMEOUT


class PolicyBudgetExceeded(EmbodiedError):
    """A code policy ran out of steps or wall time."""


class ModelError(EmbodiedError):
    """A language/vision model backend failed (unreachable, bad response, cassette miss)."""


class EpisodeAborted(EmbodiedError):
    """The environment broke (simulator crash, device gone): the episode cannot go on."""
