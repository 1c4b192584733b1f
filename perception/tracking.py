"""Object identity that survives a move: detections matched to the objects seen before.

A detector names what one set of images shows ("red block", "red block 1", ...). Names made
afresh per frame are not identities: after a slip the small red cube may read as a cylinder,
and "red block 1" then names the large cube, so a repair or a monitor acting on "red block 1"
silently swaps objects. :class:`ObjectTracker` keeps each object's identity across observations
from what a slip does not change: its colour (a hard constraint) and its size (sorted extents,
so a cube on its side matches), with its last known position as a weaker cue; the name given the
first time stays with the object, whatever shape the detector reads later.

Units: metres. The tracker never reads simulator state; it sees only the detections.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from embodied.types import CameraInfo, SceneObject


@dataclass
class Track:
    """One object as remembered: its name for good, its colour and size when first seen, and
    where it was last seen."""

    name: str
    color: str
    size: tuple[float, float, float]
    position: tuple[float, float, float]
    shape: str


class ObjectTracker:
    """Gives detections the names of the objects they are (see the module docstring).

    ``size_weight`` and ``distance_weight`` weigh the size difference (sum over sorted extents,
    metres) against the distance moved (metres): size matters more because objects move.
    ``max_size_change``: a detection whose extents differ from a track's by more than this share
    (of the track's largest extent) is another object.
    """

    def __init__(self, size_weight: float = 1.0, distance_weight: float = 0.1, max_size_change: float = 0.6) -> None:
        self.size_weight = size_weight
        self.distance_weight = distance_weight
        self.max_size_change = max_size_change
        self.tracks: list[Track] = []

    def reset(self) -> None:
        """Forget every object (a new episode)."""
        self.tracks = []

    def update(self, detections: Sequence[SceneObject]) -> list[SceneObject]:
        """The detections, renamed to the identities they match; new objects get new names."""
        if not self.tracks:
            self.tracks = [Track(d.name, d.color, _extents(d), tuple(d.position), d.shape) for d in detections]
            return list(detections)
        pairs = sorted((cost, i, j) for i, d in enumerate(detections) for j, t in enumerate(self.tracks)
                       if (cost := self._cost(d, t)) is not None)
        named: dict[int, str] = {}
        used: set[int] = set()
        for _, i, j in pairs:
            if i in named or j in used:
                continue
            named[i] = self.tracks[j].name
            used.add(j)
            self.tracks[j].position = tuple(detections[i].position)  # type: ignore[assignment]
        out = []
        taken = {t.name for t in self.tracks}
        for i, d in enumerate(detections):
            if i in named:
                out.append(replace(d, name=named[i]))
                continue
            name = _fresh_name(d, taken)
            taken.add(name)
            self.tracks.append(Track(name, d.color, _extents(d), tuple(d.position), d.shape))  # type: ignore[arg-type]
            out.append(replace(d, name=name))
        return sorted(out, key=lambda o: o.name)

    def _cost(self, d: SceneObject, t: Track) -> float | None:
        if d.color != t.color:
            return None
        size = sum(abs(a - b) for a, b in zip(_extents(d), t.size))
        if size > self.max_size_change * max(max(t.size), 1e-3) * 3:
            return None
        return self.size_weight * size + self.distance_weight * math.dist(d.position, t.position)


def _extents(obj: SceneObject) -> tuple[float, float, float]:
    a, b, c = sorted(float(v) for v in obj.size)
    return (a, b, c)


def _fresh_name(d: SceneObject, taken: set[str]) -> str:
    base = d.name.rstrip("0123456789").strip() or d.name
    if base not in taken and not any(n.startswith(base + " ") for n in taken):
        return base
    n = 1
    while f"{base} {n}" in taken:
        n += 1
    return f"{base} {n}"


class Detector(Protocol):
    def detect(self, images: Mapping[str, np.ndarray], cameras: Mapping[str, CameraInfo]) -> list[SceneObject]: ...


class TrackingDetector:
    """A detector whose names are identities across calls (an :class:`ObjectTracker` after it).
    Call :meth:`reset` at the start of an episode."""

    def __init__(self, inner: Detector, tracker: ObjectTracker | None = None) -> None:
        self.inner = inner
        self.tracker = tracker or ObjectTracker()

    def detect(self, images: Mapping[str, np.ndarray], cameras: Mapping[str, CameraInfo]) -> list[SceneObject]:
        return self.tracker.update(self.inner.detect(images, cameras))

    def reset(self) -> None:
        self.tracker.reset()
