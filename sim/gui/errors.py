"""Typed errors of the GUI environments.

Errors an agent can react to (an element that is not on screen, a field that refuses text) are
:class:`~embodied.errors.PrimitiveError` subclasses carrying a failure category; errors of the
machinery (no Chromium installed, the phone unplugged) are not, because no code policy can fix them.
Backends translate their library exceptions into these at the public-method boundary, chained
with ``from``.
"""

from __future__ import annotations

from collections.abc import Sequence

from embodied.errors import EmbodiedError, EpisodeAborted, PrimitiveError
from embodied.types import FailureCategory


class GuiError(EmbodiedError):
    """Base of errors raised by the GUI package that are not the agent's fault."""


class BackendUnavailable(GuiError):
    """A backend cannot start: a program or Python package is missing, or no device is attached.

    ``str()`` says what to install or run.
    """


class DeviceDisconnected(EpisodeAborted, GuiError):
    """The device, display or browser went away mid-episode; the episode cannot go on."""


class GuiActionError(PrimitiveError):
    """An input action was sent but failed (the backend refused it or reported an error)."""

    category = FailureCategory.UNKNOWN


class InvalidGuiArgument(PrimitiveError):
    """A GUI primitive was called with a value it cannot use (a NaN pixel, a negative wait, a
    text too long to type); refused before any input reached the screen."""

    category = FailureCategory.EXCEPTION


class ElementNotFound(PrimitiveError):
    """No visible element matches a description. ``closest`` lists the nearest visible texts so
    the agent (and a repairer) can correct the description."""

    category = FailureCategory.NOT_FOUND

    def __init__(self, query: str, closest: Sequence[str] = ()) -> None:
        self.query = query
        self.closest = list(closest)
        text = f"no visible element matches {query!r}"
        if self.closest:
            text += "; closest visible: " + ", ".join(repr(c) for c in self.closest)
        else:
            text += "; the screen shows no text that resembles it"
        super().__init__(text)


class TextEntryError(GuiActionError):
    """Text could not be typed, e.g. non-ASCII text on an Android device without ADB Keyboard."""
