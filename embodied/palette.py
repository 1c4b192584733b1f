"""The named colours of the project: the simulator paints objects with them and perception names
what it sees with them, so they are one shared vocabulary. RGB albedo in [0, 1], chosen with hues
well apart for colour segmentation."""

from __future__ import annotations

PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.10, 0.10),
    "green": (0.10, 0.70, 0.15),
    "blue": (0.10, 0.25, 0.90),
    "yellow": (0.95, 0.85, 0.10),
    "orange": (1.00, 0.50, 0.00),
    "purple": (0.55, 0.15, 0.75),
    "cyan": (0.10, 0.80, 0.85),
    "pink": (1.00, 0.40, 0.70),
    "white": (0.95, 0.95, 0.95),
    "black": (0.08, 0.08, 0.08),
    "gray": (0.50, 0.50, 0.50),
    "brown": (0.50, 0.30, 0.12),
}
COLOR_ALIASES = {"grey": "gray", "violet": "purple", "magenta": "pink", "teal": "cyan"}
