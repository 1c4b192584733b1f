"""Options of the monitors (``agent.monitor_options.<name>`` of a config), registered with them in
:mod:`embodied.backends` and validated when the config is loaded. Lengths in metres."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PICK_PRIMITIVES = ("pick", "grasp", "close_gripper")
RELEASE_PRIMITIVES = ("place_on", "place_at", "place", "put", "drop", "release", "open_gripper")  # put the held object
MOVE_PRIMITIVES = ("push",)  # move the named object without holding it


@dataclass(frozen=True)
class TraceMonitorConfig:
    """``report_caught``: also fail a subgoal whose policy caught a failed call and never recovered."""

    report_caught: bool = True


@dataclass(frozen=True)
class GeometricMonitorConfig:
    """Tolerances of :class:`embodied.geometry.Tolerances` (metres), ``min_confidence`` (detections
    below it are ignored) and the primitive names that pick, release and push (they tie calls to
    objects)."""

    contact_z: float = 0.025
    xy_margin: float = 0.015
    relation: float = 0.03
    near: float = 0.12
    at: float = 0.04
    aligned: float = 0.03
    min_confidence: float = 0.0
    pick_primitives: tuple[str, ...] = PICK_PRIMITIVES
    release_primitives: tuple[str, ...] = RELEASE_PRIMITIVES
    move_primitives: tuple[str, ...] = MOVE_PRIMITIVES


@dataclass(frozen=True)
class ScreenMonitorConfig:
    """``max_texts``: visible texts kept as evidence."""

    max_texts: int = 30


@dataclass(frozen=True)
class VLMMonitorConfig:
    """``cameras``: images to send (default every colour image), at most ``max_images``, downscaled
    to ``image_max_side`` pixels. ``unparseable_is_decisive``: an unreadable answer may fail a
    checkpoint on its own. ``visual_diff``: how failures describe what changed. ``trace_calls``: the
    last primitive calls the prompt lists."""

    cameras: tuple[str, ...] | None = None
    max_images: int = 2
    image_max_side: int = 448
    max_tokens: int = 200
    temperature: float = 0.0
    unparseable_is_decisive: bool = False
    visual_diff: Literal["off", "pixels", "model"] = "pixels"
    trace_calls: int = 12
    prompts_dir: str | None = None
