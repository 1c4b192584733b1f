"""From one RGB-D frame to measured segments: connected regions of one colour family standing
above the table, each with its world points and the geometry read off them.

Units are metres in the world frame (table top at z = 0, +z up). A segment is not yet an object:
``perception.detection`` removes the robot's segments, joins container pieces and turns the rest
into objects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from embodied.types import CameraInfo
from perception.colors import ColorModel

CONTAINER_WALL = 0.015  # metres inside a container's outline where its walls and rim may be
THIN = 0.85  # a footprint narrower than this share of its length is a strip
SIDE_MIN = 0.004  # metres: a bottom edge this close to the top is the top face's edge, not a side's


@dataclass(eq=False)
class Frame:
    """One camera's images and the per-pixel arrays derived from them."""

    camera: str
    info: CameraInfo
    depth: np.ndarray  # HxW metres along the optical axis
    points: np.ndarray  # HxWx3 world points
    hsv: np.ndarray  # HxWx3 full-range HSV
    family: np.ndarray  # HxW colour family per foreground pixel, -1 elsewhere
    far_side: np.ndarray  # HxW pixels behind a 3-D jump to a same-family neighbour
    seg_map: np.ndarray  # HxW index of the segment owning the pixel, -1 for none

    def pixel_size(self, depth: np.ndarray | float) -> np.ndarray | float:
        """Footprint of one pixel (metres) at ``depth`` on a surface facing the camera."""
        return np.asarray(depth) / self.info.fy


@dataclass(eq=False)
class Segment:
    """One connected region of one colour family in one frame, and its measured geometry."""

    camera: str
    family: int
    rows: np.ndarray  # pixel rows (v)
    cols: np.ndarray  # pixel columns (u)
    points: np.ndarray  # Nx3 world points
    hsv: np.ndarray  # Nx3 HSV pixels
    robot: bool = False
    top: float = 0.0  # z of the top surface
    centre: tuple[float, float] = (0.0, 0.0)  # footprint centre (x, y)
    sides: tuple[float, float] = (0.0, 0.0)  # footprint sides along yaw and across it
    yaw: float = 0.0  # radians in (-pi/4, pi/4]
    fill: float = 1.0  # area of the points' convex hull / footprint area: ~0.79 round, ~1 square
    circle: tuple[float, float, float, float] | None = None  # wall circle: centre x, y, radius, rms residual
    hollow: bool = False  # the inside of the footprint is well below the rim
    floor: float = 0.0  # z of the inside (containers; the top for solid objects)
    visible_bottom: float | None = None  # z of the bottom edge where nothing hides it
    overhung: bool = False  # something not behind it sits just above its top edge in the image (cover: those pixels)
    cover: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.zeros(0, int), np.zeros(0, int)))
    top_covered: bool = False  # overhung, and no top face seen: the top is hidden
    touches_border: bool = False
    hidden_outline: float = 0.0  # share of the outline where a nearer object hides it (0-1)
    open_below: float = 0.0  # share of the bottom edge with nothing right under it (0-1)
    bottom_hidden: float = 0.0  # share of the bottom edge hidden by something in front (0-1)

    @property
    def n(self) -> int:
        return len(self.rows)

    def contains(self, x: float, y: float, margin: float) -> bool:
        """Whether (x, y) lies in the footprint grown by ``margin`` (negative shrinks it)."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        dx, dy = x - self.centre[0], y - self.centre[1]
        u, v = dx * c + dy * s, -dx * s + dy * c
        return abs(u) <= self.sides[0] / 2 + margin and abs(v) <= self.sides[1] / 2 + margin

    def contains_points(self, xy: np.ndarray, margin: float) -> np.ndarray:
        """Vectorised :meth:`contains` for an Nx2 array of points."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        d = xy - np.asarray(self.centre)
        u, v = d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c
        return (np.abs(u) <= self.sides[0] / 2 + margin) & (np.abs(v) <= self.sides[1] / 2 + margin)

    @property
    def thin(self) -> bool:
        """A strip: the footprint is much narrower one way (often only a front face is seen)."""
        return min(self.sides) < THIN * max(self.sides)

    def complete_square(self, eye_xy: np.ndarray) -> None:
        """A thin footprint whose top is hidden is a front face: assume the object is as deep as
        it is wide and extend the footprint away from the camera at ``eye_xy``."""
        if not self.thin:
            return
        thin, wide = min(self.sides), max(self.sides)
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        direction = np.array([c, s]) if self.sides[0] < self.sides[1] else np.array([-s, c])
        if np.dot(direction, np.asarray(self.centre) - eye_xy) < 0:
            direction = -direction
        shift = (wide - thin) / 2
        self.centre = (self.centre[0] + shift * direction[0], self.centre[1] + shift * direction[1])
        self.sides = (wide, wide)

    def split(self, keep: np.ndarray) -> Segment:
        """Move the pixels where ``keep`` is False to a new segment and return it (call
        :meth:`Segmenter.measure` on both afterwards)."""
        out = Segment(self.camera, self.family, self.rows[~keep], self.cols[~keep], self.points[~keep],
                      self.hsv[~keep])
        self.rows, self.cols = self.rows[keep], self.cols[keep]
        self.points, self.hsv = self.points[keep], self.hsv[keep]
        return out

    def absorb(self, other: Segment) -> None:
        """Take over ``other``'s pixels (call :meth:`Segmenter.measure` afterwards)."""
        self.rows, self.cols = np.r_[self.rows, other.rows], np.r_[self.cols, other.cols]
        self.points, self.hsv = np.r_[self.points, other.points], np.r_[self.hsv, other.hsv]


class Segmenter:
    """Splits a frame into measured segments. Options in metres:

    min_height: points at most this high above the table are the table.
    min_pixels: smaller regions are noise.
    edge_jump / edge_pixels: neighbours further apart in 3-D than max(edge_jump, edge_pixels x
      pixel footprint) belong to different surfaces (one occludes the other).
    """

    def __init__(self, colors: ColorModel, *, min_height: float = 0.003, min_pixels: int = 8,
                 edge_jump: float = 0.015, edge_pixels: float = 2.5) -> None:
        self.colors = colors
        self.min_height = min_height
        self.min_pixels = min_pixels
        self.edge_jump = edge_jump
        self.edge_pixels = edge_pixels
        self._rays: dict[tuple, np.ndarray] = {}

    def frame(self, camera: str, rgb: np.ndarray, depth: np.ndarray, info: CameraInfo) -> Frame:
        pts = self._points(depth, info)
        finite = np.isfinite(depth) & (depth > 0)
        far_plane = float(np.max(np.where(finite, depth, 0.0)))
        fg = finite & (depth < far_plane * 0.999) & (pts[..., 2] > self.min_height)
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)
        family = self.colors.label_pixels(hsv)
        family[~fg] = -1
        frame = Frame(camera, info, depth, pts, hsv, family, np.zeros(depth.shape, bool),
                      np.full(depth.shape, -1, dtype=np.int32))
        frame.far_side = far_side_of_jumps(frame, family, self.edge_jump, self.edge_pixels)
        return frame

    def segments(self, frame: Frame) -> list[Segment]:
        """Connected components per colour family, cut along depth jumps, each measured."""
        out: list[Segment] = []
        box = _bounding_box(frame.family >= 0)
        if box is None:
            return out
        (top, left), window = box[:2], (slice(box[0], box[2]), slice(box[1], box[3]))
        family, far_side = frame.family[window], frame.far_side[window]
        for fam in self.colors.families:
            mask = ((family == fam) & ~far_side).astype(np.uint8)
            if not mask.any():
                continue
            count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
            for lab in range(1, count):
                x0, y0, w, h, area = stats[lab]
                if area < self.min_pixels:
                    continue
                rr, cc = np.nonzero(labels[y0:y0 + h, x0:x0 + w] == lab)
                rr, cc = rr + y0 + top, cc + x0 + left
                frame.seg_map[rr, cc] = len(out)
                out.append(Segment(frame.camera, fam, rr, cc, frame.points[rr, cc].astype(np.float64),
                                   frame.hsv[rr, cc]))
        for seg in out:
            self.measure(seg, frame)
        return out

    # ------------------------------------------------------------------------------------------
    def _points(self, depth: np.ndarray, info: CameraInfo) -> np.ndarray:
        """HxWx3 world points; the per-pixel ray directions are cached per camera model."""
        key = (info.width, info.height, info.fx, info.fy, info.cx, info.cy,
               tuple(tuple(r) for r in info.cam_to_world))
        rays = self._rays.get(key)
        if rays is None:
            v, u = np.mgrid[0:info.height, 0:info.width].astype(np.float32)
            cam = np.stack([(u - info.cx) / info.fx, (v - info.cy) / info.fy, np.ones_like(u)], axis=-1)
            rot = np.asarray(info.cam_to_world, dtype=np.float32)[:3, :3]
            rays = np.ascontiguousarray(cam @ rot.T)
            if len(self._rays) >= 8:  # poses rarely change; bound the cache for moving cameras
                self._rays.clear()
            self._rays[key] = rays
        origin = np.asarray(info.cam_to_world, dtype=np.float32)[:3, 3]
        return rays * depth[..., None] + origin

    def _jump_limit(self, frame: Frame, depth: np.ndarray) -> np.ndarray:
        return np.maximum(self.edge_jump, 3.0 * frame.pixel_size(depth))

    # ------------------------------------------------------------------------------------------
    def measure(self, seg: Segment, frame: Frame) -> None:
        """Footprint, top, roundness, hollowness, top cover and visible bottom of ``seg``.

        The footprint is the minimum-area rectangle of all points in (x, y): an upright object's
        vertical sides project onto its outline, so side points fix it as well as top points.
        """
        p = seg.points
        xy = p[:, :2]
        seg.top = float(np.percentile(p[:, 2], 97))
        rect = cv2.minAreaRect((xy * 1000.0).astype(np.float32))  # millimetres keep float32 precise
        corners = cv2.boxPoints(rect).astype(np.float64) / 1000.0
        e1, e2 = corners[1] - corners[0], corners[2] - corners[1]
        w, h = float(np.linalg.norm(e1)), float(np.linalg.norm(e2))
        centre = corners.mean(axis=0)
        seg.centre = (float(centre[0]), float(centre[1]))
        seg.sides, seg.yaw = canonical_rect(w, h, math.atan2(e1[1], e1[0]) if w > 1e-9 else 0.0)
        # statistics in the rectangle's frame, normalised to [-1, 1]
        c, s = math.cos(seg.yaw), math.sin(seg.yaw)
        rel = xy - centre
        xn = (rel[:, 0] * c + rel[:, 1] * s) / max(seg.sides[0] / 2, 1e-6)
        yn = (-rel[:, 0] * s + rel[:, 1] * c) / max(seg.sides[1] / 2, 1e-6)
        hull = cv2.convexHull((xy * 1000.0).astype(np.float32))
        seg.fill = float(cv2.contourArea(hull)) / 1e6 / max(w * h, 1e-12)
        walls = (p[:, 2] < seg.top - 0.006) & (np.hypot(xn, yn) > 0.7)
        seg.circle = fit_circle(xy[walls]) if walls.sum() >= 8 else None
        interior = (np.abs(xn) < 0.6) & (np.abs(yn) < 0.6)
        seg.hollow, seg.floor = False, seg.top
        if interior.sum() >= 6:
            low = p[interior, 2] < seg.top - max(0.012, 0.3 * seg.top)
            seg.hollow = bool(low.mean() >= 0.3 and min(seg.sides) >= 0.05)
            seg.floor = float(np.percentile(p[interior, 2], 10))
        self._top_cover(seg, frame)
        self._bottom(seg, frame)
        self._outline_hidden(seg, frame)

    def _top_cover(self, seg: Segment, frame: Frame) -> None:
        """Is the top hidden? Covered = right above the top edge in the image there is something
        clearly nearer (an occluder: the gripper over it), or something not behind it while the
        top edge is on a side face (no top face seen: an object resting on it). Then the highest
        point seen is the top, and a thin strip of front face means a footprint that extends,
        unseen, away from the camera (assumed square). An object merely standing right behind
        leaves the top face in view and covers nothing."""
        tr, tc = _extreme_per_column(seg.rows, seg.cols, lowest=False)
        probe = tr - 1
        # skip this segment's own pixel cut off by the jump to the occluder
        step = (probe > 0) & frame.far_side[np.maximum(probe, 0), tc]
        probe = np.where(step, probe - 1, probe)
        ok = probe >= 0
        tr, tc, probe = tr[ok], tc[ok], probe[ok]
        seg.top_covered, seg.overhung, seg.cover = False, False, (probe[:0], tc[:0])
        if len(tr) == 0:
            return
        d_here = frame.depth[tr, tc]
        down = np.minimum(tr + 1, frame.depth.shape[0] - 1)
        step = frame.points[tr, tc] - frame.points[down, tc]
        on_side = (step[:, 2] > 1.5 * np.hypot(step[:, 0], step[:, 1])) & _member(seg, down, tc)
        limit = self._jump_limit(frame, d_here)
        above = (frame.points[probe, tc, 2] > self.min_height) & (frame.depth[probe, tc] < d_here + limit)
        nearer = frame.depth[probe, tc] < d_here - limit
        seg.overhung = bool(above.mean() > 0.6)
        seg.cover = (probe[above], tc[above])
        seg.top_covered = bool((above & (on_side | nearer)).mean() > 0.6)
        if not seg.top_covered:
            return
        # the highest point seen is the top edge of the front face, a fraction of a pixel low;
        # an object resting on it shows its bottom edge a fraction of a pixel high: meet halfway
        highest = float(seg.points[:, 2].max())
        above = float(np.median(frame.points[seg.cover[0], seg.cover[1], 2]))
        seg.top = (highest + above) / 2 if abs(above - highest) < self.edge_jump else highest
        seg.complete_square(np.asarray(frame.info.cam_to_world, dtype=np.float64)[:2, 3])

    def _bottom(self, seg: Segment, frame: Frame) -> None:
        """The visible bottom edge: per column, the lowest pixel, unless the pixel below it is
        nearer (an occluder in front). With most columns occluded, or when those pixels are on
        the top face (a camera looking straight down sees no sides), the bottom is unknown.
        ``open_below`` is the share of edge columns whose pixel below is well lower in z (the
        table far below a held object) rather than a surface at the edge (what it rests on)."""
        height, width = frame.depth.shape
        br, bc = _extreme_per_column(seg.rows, seg.cols, lowest=True)
        inside = br + 1 < height
        seg.touches_border = bool((~inside).any() or seg.rows.min() == 0 or seg.cols.min() == 0
                                  or seg.cols.max() == width - 1)
        br, bc = br[inside], bc[inside]
        seg.visible_bottom, seg.open_below, seg.bottom_hidden = None, 0.0, 1.0
        if len(br) == 0:
            return
        d_here = frame.depth[br, bc]
        occluded = frame.depth[br + 1, bc] < d_here - self._jump_limit(frame, d_here)
        seg.bottom_hidden = float(occluded.mean())
        if (~occluded).sum() < 2 or occluded.mean() >= 0.7:
            return
        edge_z = frame.points[br[~occluded], bc[~occluded], 2]
        below_z = frame.points[br[~occluded] + 1, bc[~occluded], 2]
        lowest = float(np.median(edge_z))
        if seg.top - lowest > SIDE_MIN:
            seg.visible_bottom = lowest
            seg.open_below = float(np.mean(edge_z - below_z > self.edge_jump))


    def _outline_hidden(self, seg: Segment, frame: Frame) -> None:
        """Share of a 2-pixel ring around the segment that is another object nearer the camera
        than the segment next to it: how much of the outline is an occlusion edge."""
        height, width = frame.depth.shape
        r0, r1 = max(int(seg.rows.min()) - 2, 0), min(int(seg.rows.max()) + 3, height)
        c0, c1 = max(int(seg.cols.min()) - 2, 0), min(int(seg.cols.max()) + 3, width)
        own = np.zeros((r1 - r0, c1 - c0), dtype=np.uint8)
        own[seg.rows - r0, seg.cols - c0] = 1
        kernel = np.ones((5, 5), np.uint8)
        ring = cv2.dilate(own, kernel).astype(bool) & ~own.astype(bool)
        depth = frame.depth[r0:r1, c0:c1]
        own_depth = cv2.dilate(np.where(own > 0, depth, 0).astype(np.float32), kernel)
        nearer = (depth < own_depth - self._jump_limit(frame, own_depth)) & (frame.family[r0:r1, c0:c1] >= 0)
        seg.hidden_outline = float((ring & nearer).sum() / max(ring.sum(), 1))


def far_side_of_jumps(frame: Frame, groups: np.ndarray, edge_jump: float, edge_pixels: float) -> np.ndarray:
    """Pixels on the far side of a 3-D jump to a 4-neighbour of the same group (``groups``: HxW
    ints, negative = no group). Removing them cuts a region into the surfaces that occlude each
    other. A jump is a gap over max(edge_jump, edge_pixels x pixel footprint), metres."""
    far = np.zeros(frame.depth.shape, dtype=bool)
    box = _bounding_box(groups >= 0)
    if box is None:
        return far
    window = (slice(box[0], box[2]), slice(box[1], box[3]))
    pts, depth, group = frame.points[window], frame.depth[window], groups[window]
    far_win = far[window]
    size = frame.pixel_size(depth)
    for axis in (0, 1):
        a: list[slice] = [slice(None), slice(None)]
        b: list[slice] = [slice(None), slice(None)]
        a[axis], b[axis] = slice(None, -1), slice(1, None)
        ta, tb = tuple(a), tuple(b)
        same = (group[ta] == group[tb]) & (group[ta] >= 0)
        gap = np.linalg.norm(pts[ta] - pts[tb], axis=-1)
        limit = np.maximum(edge_jump, edge_pixels * np.maximum(size[ta], size[tb]))
        jump = same & (gap > limit)
        a_far = depth[ta] > depth[tb]
        far_win[ta] |= jump & a_far
        far_win[tb] |= jump & ~a_far
    return far


def _bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(row0, col0, row1, col1) of the true pixels, end-exclusive; None when there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def support_under(seg: Segment, others: Sequence[Segment], contact: float) -> tuple[float, Segment | None]:
    """The highest surface under the segment's centre that is below its top and at most
    ``contact`` above its visible bottom: (its z, the segment it belongs to, or None for the
    table at z = 0). Another segment's top counts, or a container's floor when the centre is
    inside it."""
    ceiling = seg.top - 0.005
    if seg.visible_bottom is not None:
        ceiling = min(ceiling, seg.visible_bottom + contact)
    best: tuple[float, Segment | None] = (0.0, None)
    x, y = seg.centre
    for other in others:
        if other is seg or not other.contains(x, y, 0.01):
            continue
        inner = other.hollow and other.contains(x, y, -CONTAINER_WALL)
        level = other.floor if inner else other.top
        if best[0] < level <= ceiling:
            best = (level, other)
    return best


def _member(seg: Segment, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether each pixel (rows[i], cols[i]) belongs to ``seg``."""
    r0, c0 = int(seg.rows.min()), int(seg.cols.min())
    own = np.zeros((int(seg.rows.max()) - r0 + 1, int(seg.cols.max()) - c0 + 1), dtype=bool)
    own[seg.rows - r0, seg.cols - c0] = True
    r, c = rows - r0, cols - c0
    ok = (r >= 0) & (r < own.shape[0]) & (c >= 0) & (c < own.shape[1])
    out = np.zeros(len(rows), dtype=bool)
    out[ok] = own[r[ok], c[ok]]
    return out


def _extreme_per_column(rows: np.ndarray, cols: np.ndarray, lowest: bool) -> tuple[np.ndarray, np.ndarray]:
    """For each column, the bottom-most (``lowest``: largest row) or top-most pixel."""
    order = np.lexsort((-rows if lowest else rows, cols))
    cs = cols[order]
    first = np.r_[True, cs[1:] != cs[:-1]]
    return rows[order][first], cs[first]


def fit_circle(xy: np.ndarray) -> tuple[float, float, float, float] | None:
    """Least-squares circle through 2-D points: (centre x, centre y, radius, rms residual), or
    None when degenerate. Points on a straight line fit a huge circle, which callers reject."""
    a = np.c_[xy, np.ones(len(xy))]
    sol, *_ = np.linalg.lstsq(a, (xy ** 2).sum(axis=1), rcond=None)
    cx, cy = sol[0] / 2, sol[1] / 2
    r2 = sol[2] + cx * cx + cy * cy
    if not np.isfinite(r2) or r2 <= 0:
        return None
    r = math.sqrt(r2)
    res = float(np.sqrt(np.mean((np.hypot(xy[:, 0] - cx, xy[:, 1] - cy) - r) ** 2)))
    return float(cx), float(cy), r, res


def canonical_rect(w: float, h: float, yaw: float) -> tuple[tuple[float, float], float]:
    """Bring a rectangle's angle into (-pi/4, pi/4], swapping sides when turning by 90 degrees, so
    that the first side is the one nearest the world x axis."""
    yaw = (yaw + math.pi / 2) % math.pi - math.pi / 2
    if yaw > math.pi / 4:
        yaw -= math.pi / 2
        w, h = h, w
    elif yaw <= -math.pi / 4:
        yaw += math.pi / 2
        w, h = h, w
    return (w, h), yaw
