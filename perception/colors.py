"""Colour names from pixels, robust to shading.

A colour is a prototype (hue, saturation, value) computed from its RGB albedo. Shading on a
matte surface scales value but keeps hue and saturation, so pixels are first grouped by hue
family (chromatic) or as achromatic, and a whole segment is then named by its nearest prototype,
with value compared as a ratio that tolerates the darker sides of an object.

The default palette is the project's shared one (``embodied.palette``, which the simulator also
paints with); pass another mapping to :class:`ColorModel` for other worlds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from embodied.palette import PALETTE

DEFAULT_PALETTE = PALETTE

UNLABELLED = -1  # family id of pixels neither clearly chromatic nor clearly achromatic


@dataclass(frozen=True)
class Prototype:
    """A named colour in OpenCV's full-range HSV (hue 0-255 around the circle, S and V 0-255)."""

    name: str
    hue: float
    sat: float
    val: float

    @property
    def chromatic(self) -> bool:
        return self.sat >= 90


@dataclass(frozen=True)
class ColorThresholds:
    """Pixel-level limits (0-255 scales). Pixels between ``achromatic_sat`` and ``chromatic_sat``
    are left unlabelled rather than guessed."""

    chromatic_sat: int = 70
    achromatic_sat: int = 45
    dark_val: int = 40  # below this value, saturation is meaningless: the pixel is achromatic
    shading: float = 0.85  # typical ratio of observed to albedo value on lit faces
    min_shading: float = 0.6  # darkest ratio on a face turned from the light (ambient light only)


def _hsv_of(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    px = np.uint8([[[round(255 * c) for c in rgb]]])
    h, s, v = cv2.cvtColor(px, cv2.COLOR_RGB2HSV_FULL)[0, 0]
    return float(h), float(s), float(v)


def hue_distance(a: np.ndarray | float, b: float) -> np.ndarray | float:
    """Circular distance on the 0-255 hue circle."""
    d = np.abs(np.asarray(a, dtype=np.float32) - b) % 256
    return np.minimum(d, 256 - d)


class ColorModel:
    """Labels pixels by colour family and names segments by their nearest colour prototype.

    Families: one per distinct chromatic hue (ids 1..n), then one per achromatic value band
    (n+1..): white, gray and black keep apart per pixel because even a face turned from the
    light keeps ``min_shading`` of its albedo value, so a white cube's darkest side stays
    brighter than a gray cube's lit top.
    """

    def __init__(self, palette: Mapping[str, tuple[float, float, float]] | None = None,
                 thresholds: ColorThresholds | None = None) -> None:
        t = self.thresholds = thresholds or ColorThresholds()
        self.prototypes = [Prototype(name, *_hsv_of(rgb)) for name, rgb in (palette or DEFAULT_PALETTE).items()]
        # Chromatic colours whose hues are within a few units share a pixel family (orange and
        # brown differ by value and saturation, which shading blurs per pixel); the segment-level
        # naming separates them.
        self.family_hues: list[float] = []
        self.family_of: dict[str, int] = {}
        for proto in sorted((q for q in self.prototypes if q.chromatic), key=lambda q: q.hue):
            near = [i for i, h in enumerate(self.family_hues) if hue_distance(proto.hue, h) <= 6]
            if near:
                self.family_of[proto.name] = near[0] + 1
            else:
                self.family_hues.append(proto.hue)
                self.family_of[proto.name] = len(self.family_hues)
        # nearest family per hue value: pixel labelling is one table lookup
        self._hue_family = np.zeros(256, dtype=np.int8)
        if self.family_hues:
            dists = np.stack([hue_distance(np.arange(256), fh) for fh in self.family_hues])
            self._hue_family = (np.argmin(dists, axis=0) + 1).astype(np.int8)
        # achromatic value bands, split where the darker colour's full value stays below the
        # lighter one's darkest shade
        greys = sorted((q for q in self.prototypes if not q.chromatic), key=lambda q: q.val)
        first = len(self.family_hues) + 1
        bounds: list[float] = []
        for darker, lighter in itertools.pairwise(greys):
            if darker.val < t.min_shading * lighter.val:
                bounds.append((darker.val + t.min_shading * lighter.val) / 2)
        for proto in greys:
            self.family_of[proto.name] = first + int(np.searchsorted(bounds, proto.val))
        self.achromatic = frozenset(range(first, first + len(bounds) + 1)) if greys else frozenset({first})
        self._val_band = (first + np.searchsorted(bounds, np.arange(256), side="right")).astype(np.int8)

    @property
    def families(self) -> list[int]:
        """Family ids present: one per distinct chromatic hue, then the achromatic bands."""
        return [*range(1, len(self.family_hues) + 1), *sorted(self.achromatic)]

    def label_pixels(self, hsv: np.ndarray) -> np.ndarray:
        """HxW int8 family id per pixel of an HxWx3 full-range HSV image (UNLABELLED when unsure)."""
        t = self.thresholds
        s, v = hsv[..., 1], hsv[..., 2]
        labels = np.full(s.shape, UNLABELLED, dtype=np.int8)
        if self.family_hues:
            chromatic = (s >= t.chromatic_sat) & (v >= t.dark_val)
            labels[chromatic] = self._hue_family[hsv[..., 0][chromatic]]
        grey = (s < t.achromatic_sat) | (v < t.dark_val)
        labels[grey] = self._val_band[v[grey]]
        return labels

    def name_segment(self, hsv_pixels: np.ndarray, family: int) -> tuple[str, float]:
        """Name an Nx3 array of HSV pixels of one segment: (colour, confidence in [0, 1]).

        Hue and saturation come from the median pixel; value from the bright end (the 90th
        percentile), since lit top faces are the least shaded, compared in log ratio."""
        t = self.thresholds
        grey = family in self.achromatic
        hue = float(np.median(hsv_pixels[:, 0]))
        if not grey:  # circular median: rotate so the family hue sits at 128
            centre = self.family_hues[family - 1]
            hue = (float(np.median((hsv_pixels[:, 0].astype(np.float32) - centre + 128) % 256)) + centre - 128) % 256
        sat = float(np.median(hsv_pixels[:, 1]))
        val = float(np.percentile(hsv_pixels[:, 2], 90))
        scored = []
        for proto in self.prototypes:
            if self.family_of.get(proto.name) != family:
                continue
            ratio = math.log(max(val, 1.0) / max(proto.val * t.shading, 1.0))
            d = (ratio / 0.25) ** 2
            if proto.chromatic:
                d += (float(hue_distance(hue, proto.hue)) / 12) ** 2 + ((sat - proto.sat) / 50) ** 2
            scored.append((d, proto.name))
        if not scored:
            return "", 0.0
        scored.sort()
        best_d, best = scored[0]
        margin = scored[1][0] - best_d if len(scored) > 1 else 4.0
        return best, float(min(1.0, 0.5 + margin / 8))
