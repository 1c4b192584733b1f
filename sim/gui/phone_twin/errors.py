"""Typed errors of the phone twin."""

from __future__ import annotations

from sim.gui.errors import GuiError


class TwinError(GuiError):
    """The phone twin could not start or serve (no Chromium, port in use, a broken app page)."""


class ProtocolError(TwinError):
    """A peer sent bytes that are not a valid adb message (bad magic, truncated header)."""
