"""Which segments of a frame are the robot, so that it never shows up as objects.

The Panda is white and dark gray: achromatic, like the white, gray and black objects, so colour
alone cannot tell them apart. Shape and context can: the arm is taller or wider than an object,
stands over its base, hangs in the air, and what touches it in 3-D hangs from it. Only what the
cameras show is used (no joint states). Units: metres.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from perception.segments import Frame, Segment, far_side_of_jumps, support_under


class RobotMasker:
    """Flags robot segments (``Segment.robot``). Options:

    max_object_height / max_object_size: segments taller (top minus lowest point) or wider are
      not objects.
    margin: an achromatic segment touching the robot in the image, this close in 3-D and not
      resting on a surface, is part of it.
    base / base_radius: x, y of the robot base (the tabletop frame puts it at the origin) and the
      radius around it where everything is robot; base None disables this.
    contact: a visible bottom this close above a surface rests on it.
    robot_families: the colour families the robot's pixels fall in (achromatic ones: the Panda
      is white and dark gray); only segments of these join the robot by growth or by floating.
    edge_jump / edge_pixels: what counts as a 3-D jump between neighbouring pixels (see
      :func:`perception.segments.far_side_of_jumps`).
    """

    def __init__(self, *, max_object_height: float = 0.25, max_object_size: float = 0.35, margin: float = 0.03,
                 base: tuple[float, float] | None = (0.0, 0.0), base_radius: float = 0.15,
                 contact: float = 0.015, robot_families: frozenset[int] = frozenset(), edge_jump: float = 0.015,
                 edge_pixels: float = 2.5) -> None:
        self.max_object_height = max_object_height
        self.max_object_size = max_object_size
        self.margin = margin
        self.base = base
        self.base_radius = base_radius
        self.contact = contact
        self.robot_families = robot_families
        self.edge_jump = edge_jump
        self.edge_pixels = edge_pixels

    def mark(self, segments: list[Segment], frame: Frame) -> None:
        """Flag the robot's segments.

        Seeds: any segment taller (top minus lowest point) or wider than an object can be; any
        segment standing over the robot base; achromatic segments floating in the air (their
        visible bottom edge is well above every surface under them: the arm). Growth, until
        nothing changes: achromatic segments touching the robot in the image and within
        ``margin`` in 3-D, unless they visibly rest on a surface (a white block under the open
        gripper); resting ones too when they hang from it (robot within 1 cm at or above their
        top), when the robot hides their top (fingertips lowered to the table, seen under the
        hand) or when what they rest on is the robot.
        """
        supports = {id(seg): support_under(seg, segments, self.contact) for seg in segments}
        for seg in segments:
            lift = None if seg.visible_bottom is None else seg.visible_bottom - supports[id(seg)][0]
            tall = seg.top - float(seg.points[:, 2].min()) > self.max_object_height
            # no surface under its visible bottom (whatever is right below it in the image: the
            # arm's links overlap each other)
            aloft = lift is not None and lift > max(self.contact, 0.02)
            seg.robot = bool(tall or max(seg.sides) > self.max_object_size or self._over_base(seg)
                             or (seg.family in self.robot_families and aloft))
        self._grow_through_surfaces(segments, frame, supports)
        changed = True
        while changed:
            changed = False
            robot_ids = np.array([i for i, s in enumerate(segments) if s.robot], dtype=np.int32)
            if len(robot_ids) == 0:
                return
            for seg in segments:
                if seg.robot or seg.family not in self.robot_families:
                    continue
                level, below = supports[id(seg)]
                resting = seg.visible_bottom is not None and seg.visible_bottom - level <= self.contact
                gap, hang = _gaps_to(seg, frame, robot_ids)
                under = seg.overhung and bool(np.mean(np.isin(frame.seg_map[seg.cover], robot_ids)) > 0.5)
                on_robot = resting and below is not None and below.robot
                if (not resting and gap < self.margin) or hang < 0.01 or under or on_robot:
                    seg.robot = changed = True

    def _grow_through_surfaces(self, segments: list[Segment], frame: Frame,
                               supports: dict[int, tuple[float, Segment | None]]) -> None:
        """Join the robot what is one continuous surface with it across the robot's colours
        (shading puts a white link's rim in the gray band) and through fragments too small to
        be segments, unless it visibly rests on a surface."""
        if not any(s.robot for s in segments) or not self.robot_families:
            return
        union = np.isin(frame.family, sorted(self.robot_families))
        cut = far_side_of_jumps(frame, np.where(union, 0, -1), self.edge_jump, self.edge_pixels)
        _, labels = cv2.connectedComponents((union & ~cut).astype(np.uint8), connectivity=4)
        robot_labels = {int(v) for s in segments if s.robot for v in np.unique(labels[s.rows, s.cols])} - {0}
        for seg in segments:
            if seg.robot or seg.family not in self.robot_families:
                continue
            level, _ = supports[id(seg)]
            if seg.visible_bottom is not None and seg.visible_bottom - level <= self.contact:
                continue
            if np.mean(np.isin(labels[seg.rows, seg.cols], sorted(robot_labels))) > 0.5:
                seg.robot = True

    def _over_base(self, seg: Segment) -> bool:
        if self.base is None:
            return False
        d = np.hypot(seg.points[:, 0] - self.base[0], seg.points[:, 1] - self.base[1])
        return bool(np.mean(d < self.base_radius) > 0.5)


def _gaps_to(seg: Segment, frame: Frame, ids: np.ndarray) -> tuple[float, float]:
    """3-D gaps (metres) from ``seg`` to pixels of segments ``ids`` adjacent to it in the image:
    to any of them, and to those at or above its top (inf when there are none)."""
    h, w = frame.seg_map.shape
    r0, r1 = max(seg.rows.min() - 2, 0), min(seg.rows.max() + 3, h)
    c0, c1 = max(seg.cols.min() - 2, 0), min(seg.cols.max() + 3, w)
    own = np.zeros((r1 - r0, c1 - c0), dtype=np.uint8)
    own[seg.rows - r0, seg.cols - c0] = 1
    ring = cv2.dilate(own, np.ones((5, 5), np.uint8)).astype(bool) & ~own.astype(bool)
    near = ring & np.isin(frame.seg_map[r0:r1, c0:c1], ids)
    if not near.any():
        return math.inf, math.inf
    rr, cc = np.nonzero(near)
    other = frame.points[rr + r0, cc + c0].astype(np.float64)
    mine = seg.points[:: max(1, len(seg.points) // 400)]
    gaps = np.linalg.norm(mine[:, None, :] - other[None, :, :], axis=-1)
    above = other[:, 2] >= seg.top - 0.005
    return float(gaps.min()), float(gaps[:, above].min()) if above.any() else math.inf
