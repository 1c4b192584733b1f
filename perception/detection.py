"""Find tabletop objects in RGB-D camera images, from pixels only.

Pipeline per camera (metres, world frame with the table top at z = 0; see ``perception.segments``):

1. Back-project every pixel to a world point; foreground = higher than ``min_height`` above the
   table (this removes the table whatever its colour).
2. Label pixels by hue family or as achromatic (``perception.colors``), robust to shading.
3. Connected components per family, cut along 3-D jumps (two objects of one colour, one in front
   of the other, come apart), each measured: footprint, top, roundness, hollowness, bottom edge.
4. Remove the robot (white and dark gray: achromatic), see ``perception.robot_mask``.
5. Mend what occlusion did to segments: join pieces of one container or plate cut apart by an
   object in front of their far part; cut an object out of a container of its own colour (what
   rises above the floor away from the walls); complete the footprint of an object whose top is
   hidden by what rests on it (only a strip of front face is seen) to a square.
6. Per segment: bottom = the visible bottom edge when nothing is right under it (held in the
   air), else the surface underneath (the table, another object's top, a container's floor);
   shape (flat -> plate; hollow -> bowl when round or deep, tray when square and shallow; walls
   on a circle -> cylinder; else block); colour (nearest prototype); yaw (footprint rectangle
   angle, in (-pi/4, pi/4]; 0 for round objects).
7. Merge estimates of one object from several cameras, then name them.

Names are ``"<colour> <shape word>"`` (block, cylinder, plate, bowl, tray). When several objects
share a name, each gets a suffix 1, 2, ... ordered left to right from the robot's point of view,
i.e. by decreasing y: "red block 1" is the one furthest to the robot's left.

Confidence (0-1) is a heuristic: pixel count (40+ pixels is full), colour margin, the share of
the outline hidden by nearer objects, and penalties for a bottom edge hidden by something in
front, a segment cut by the image border and floating.

Known limits: touching objects of one colour at the same depth form one segment (two
same-coloured cubes side by side read as one wide block; a same-coloured stack as one tall
block; a block lying on the rim of a same-coloured bowl spoils the bowl); an achromatic object
in or under the gripper joins the robot and is not reported while it is there; objects must
stand upright (tilted boxes get a loose footprint); a camera must see the table from above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from embodied.errors import EmbodiedError
from embodied.types import CameraInfo, SceneObject
from perception.colors import ColorModel
from perception.robot_mask import RobotMasker
from perception.segments import CONTAINER_WALL, Frame, Segment, Segmenter, support_under

ROUND_FILL = 0.88  # footprints whose points fill less of their rectangle are round (a disc fills pi/4)
BOWL_DEPTH = 0.28  # square containers at least this deep (height / width) are bowls, else trays
SHAPE_WORDS = {"cube": "block", "cylinder": "cylinder", "plate": "plate", "bowl": "bowl", "tray": "tray"}


class DetectionError(EmbodiedError):
    """The images given to the detector cannot be used (missing depth, mismatched sizes)."""


@dataclass
class Estimate:
    """One object as one camera (or several, fused) sees it; metres and radians."""

    color: str
    shape: str
    position: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float
    confidence: float
    weight: float
    cameras: list[str] = field(default_factory=list)


class RGBDDetector:
    """Detect objects on a table from RGB + depth images (see the module docstring).

    Keyword options (metres unless said otherwise):
      min_height: points at most this high are the table.
      min_pixels: smaller segments are noise.
      edge_jump / edge_pixels: a 3-D jump between neighbouring pixels larger than
        max(edge_jump, edge_pixels x pixel footprint) separates surfaces.
      contact: a visible bottom this close above a surface rests on it.
      plate_height: flatter objects are plates.
      max_object_height / max_object_size: segments taller / wider are not objects (the robot).
      robot_margin: achromatic segments this close (3-D) to the robot and not resting on a
        surface are part of it.
      robot_base / robot_base_radius: x, y of the robot base (the tabletop frame puts it at the
        origin) and the radius around it where everything is robot; None disables this.
      palette: colour name -> RGB albedo in [0, 1] (defaults to the tabletop palette).
    """

    def __init__(self, *, min_height: float = 0.003, min_pixels: int = 8, edge_jump: float = 0.015,
                 edge_pixels: float = 2.5, contact: float = 0.015, plate_height: float = 0.015,
                 max_object_height: float = 0.25, max_object_size: float = 0.35, robot_margin: float = 0.03,
                 robot_base: tuple[float, float] | None = (0.0, 0.0), robot_base_radius: float = 0.15,
                 palette: Mapping[str, tuple[float, float, float]] | None = None) -> None:
        self.colors = ColorModel(palette)
        self.segmenter = Segmenter(self.colors, min_height=min_height, min_pixels=min_pixels,
                                   edge_jump=edge_jump, edge_pixels=edge_pixels)
        self.contact = contact
        self.plate_height = plate_height
        self.robot = RobotMasker(max_object_height=max_object_height, max_object_size=max_object_size,
                                 margin=robot_margin, base=robot_base, base_radius=robot_base_radius, contact=contact,
                                 robot_families=self.colors.achromatic, edge_jump=edge_jump,
                                 edge_pixels=edge_pixels)

    def detect(self, images: Mapping[str, np.ndarray], cameras: Mapping[str, CameraInfo]) -> list[SceneObject]:
        """Objects seen in ``images`` ("<camera>/rgb" and "<camera>/depth"; "<camera>/seg" is
        never read: it is privileged simulator data). Raises DetectionError when no camera has
        both an RGB and a depth image of its declared size."""
        estimates: list[Estimate] = []
        used = 0
        for name, info in cameras.items():
            rgb, depth = images.get(f"{name}/rgb"), images.get(f"{name}/depth")
            if rgb is None or depth is None:
                continue
            shape = (info.height, info.width)
            if rgb.shape[:2] != shape or depth.shape != shape:
                raise DetectionError(f"camera {name!r}: images are {rgb.shape[:2]} and {depth.shape}, "
                                     f"its CameraInfo says {shape}")
            used += 1
            frame = self.segmenter.frame(name, np.ascontiguousarray(rgb[..., :3]),
                                         np.asarray(depth, dtype=np.float32), info)
            estimates.extend(self._detect_frame(frame))
        if used == 0:
            raise DetectionError(f"no camera has both '<name>/rgb' and '<name>/depth' images "
                                 f"(cameras: {sorted(cameras)}, images: {sorted(images)})")
        return name_objects(merge_views(estimates))

    def _detect_frame(self, frame: Frame) -> list[Estimate]:
        segments = self.segmenter.segments(frame)
        self.robot.mark(segments, frame)
        objects = self._join_pieces([s for s in segments if not s.robot], frame)
        objects = self._join_pieces(self._split_contents(objects, frame), frame, containers=False)
        self._complete_supports(objects, frame)
        return [self._estimate(s, objects) for s in objects]

    # ------------------------------------------------------------------------------------------
    def _join_pieces(self, segments: list[Segment], frame: Frame, containers: bool = True) -> list[Segment]:
        """Occlusion edges can cut one object into pieces: a container's near wall off the rest
        (it hides part of the floor), a corner of a plate off the rest (an object on the plate
        hides the plate behind it). Fold a same-coloured piece into a container or a flat object
        when it lies on or next to its outline at the same top height. ``containers=False`` joins
        flat objects only (after :meth:`_split_contents` has cut contents out of containers)."""
        out = list(segments)
        flat = [s for s in segments if s.top < self.plate_height]
        hollow = [s for s in segments if s.hollow] if containers else []
        for box in sorted(hollow + flat, key=lambda s: -s.n):
            if box not in out:
                continue
            margin = 0.015 if box.hollow else 0.02
            pieces = [s for s in out if s is not box and not s.hollow and s.family == box.family
                      and s.n < box.n and abs(s.top - box.top) <= (0.01 if box.hollow else 0.005)
                      and np.mean(box.contains_points(s.points[:, :2], margin)) >= 0.9]
            for piece in pieces:
                box.absorb(piece)
                out.remove(piece)
            if pieces:
                self.segmenter.measure(box, frame)
        return out

    def _complete_supports(self, segments: list[Segment], frame: Frame) -> None:
        """Something resting on an object hides its top: when only a strip of the lower object
        is seen (its front face, maybe a sliver of top), complete it to a square footprint. A
        segment rests on another when its lowest point is at the other's top and it stands over
        the other's footprint."""
        eye = np.asarray(frame.info.cam_to_world, dtype=np.float64)[:2, 3]
        for lower in segments:
            if not lower.thin or lower.hollow:
                continue
            for upper in segments:
                if upper is lower or upper.top <= lower.top:
                    continue
                bottom = upper.visible_bottom if upper.visible_bottom is not None else float(upper.points[:, 2].min())
                if abs(bottom - lower.top) <= self.contact and \
                        lower.contains(*upper.centre, margin=max(upper.sides) / 2 + 0.01):
                    lower.complete_square(eye)
                    break

    def _split_contents(self, segments: list[Segment], frame: Frame) -> list[Segment]:
        """An object of the container's own colour inside it joins the container's segment. Cut
        out what rises above the floor away from the walls, one segment per connected part."""
        out = list(segments)
        for box in [s for s in segments if s.hollow]:
            inner = box.contains_points(box.points[:, :2], -CONTAINER_WALL)
            if box.fill < ROUND_FILL:  # a round bowl: inside its inscribed circle
                radius = np.hypot(box.points[:, 0] - box.centre[0], box.points[:, 1] - box.centre[1])
                inner &= radius < min(box.sides) / 2 - CONTAINER_WALL
            raised = inner & (box.points[:, 2] > box.floor + 0.004)
            if raised.sum() < self.segmenter.min_pixels:
                continue
            content = box.split(~raised)
            r0, c0 = int(content.rows.min()), int(content.cols.min())
            mask = np.zeros((int(content.rows.max()) - r0 + 1, int(content.cols.max()) - c0 + 1), np.uint8)
            mask[content.rows - r0, content.cols - c0] = 1
            _, labels = cv2.connectedComponents(mask, connectivity=4)
            lab = labels[content.rows - r0, content.cols - c0]
            for value in np.unique(lab):
                part = lab == value
                if part.sum() < self.segmenter.min_pixels:
                    continue
                piece = Segment(box.camera, box.family, content.rows[part], content.cols[part],
                                content.points[part], content.hsv[part])
                self.segmenter.measure(piece, frame)
                out.append(piece)
            self.segmenter.measure(box, frame)
        return out

    # ------------------------------------------------------------------------------------------
    def _estimate(self, seg: Segment, others: Sequence[Segment]) -> Estimate:
        support, _ = support_under(seg, others, self.contact)
        bottom, floating = support, False
        if seg.visible_bottom is not None and seg.visible_bottom - support > self.contact and seg.open_below > 0.5:
            bottom, floating = seg.visible_bottom, True
        height = max(seg.top - bottom, 0.002)
        shape = self._shape(seg, height)
        color, color_conf = self.colors.name_segment(seg.hsv, seg.family)
        (dx, dy), (x, y), yaw = seg.sides, seg.centre, seg.yaw
        if shape == "cylinder" and seg.circle is not None:  # the wall points fix centre and radius
            x, y, radius, _ = seg.circle
            dx, dy, yaw = 2 * radius, 2 * radius, 0.0
        elif shape in ("cylinder", "bowl") and seg.fill < ROUND_FILL:
            dx = dy = (dx + dy) / 2
            yaw = 0.0
        confidence = min(1.0, seg.n / 40.0) * color_conf * (1.0 - 0.6 * seg.hidden_outline)
        if seg.bottom_hidden >= 0.7:
            confidence *= 0.8
        if seg.touches_border:
            confidence *= 0.6
        if floating:
            confidence *= 0.9
        return Estimate(color, shape, (x, y, bottom + height / 2), (dx, dy, height), yaw,
                         round(float(confidence), 3), float(seg.n), [seg.camera])

    def _shape(self, seg: Segment, height: float) -> str:
        if height < self.plate_height and min(seg.sides) > 2.5 * height:
            return "plate"
        if seg.hollow:  # round (empty corners) or deep: a bowl; square and shallow: a tray
            deep = height >= BOWL_DEPTH * max(seg.sides)
            return "bowl" if seg.fill < ROUND_FILL or deep else "tray"
        return "cylinder" if _is_round(seg) else "cube"


def _is_round(seg: Segment) -> bool:
    """Walls on a circle whose radius matches the footprint. Without enough wall points, a
    footprint whose points leave its corners empty."""
    if seg.circle is None:
        return seg.fill < ROUND_FILL
    _, _, r, res = seg.circle
    half = max(seg.sides) / 2  # the longer side: a half-seen circle still spans its diameter
    return res < 0.05 * r and 0.8 < r / max(half, 1e-6) < 1.3


def merge_views(estimates: list[Estimate]) -> list[Estimate]:
    """Fuse estimates of one object from several cameras (same colour, overlapping in x, y and
    z): numbers averaged weighted by pixel count; shape and yaw from the best-seen view."""
    groups: list[list[Estimate]] = []
    for est in sorted(estimates, key=lambda e: -e.weight):
        for group in groups:
            head = group[0]
            reach = max(0.02, 0.5 * min(head.size[0], head.size[1]))
            if (est.color == head.color and not set(est.cameras) & {c for g in group for c in g.cameras}
                    and math.dist(est.position[:2], head.position[:2]) < reach
                    and abs(est.position[2] - head.position[2]) < 0.5 * max(est.size[2], head.size[2])):
                group.append(est)
                break
        else:
            groups.append([est])
    out = []
    for group in groups:
        head = group[0]
        if len(group) > 1:
            w = np.array([g.weight for g in group])
            pos = np.average([g.position for g in group], axis=0, weights=w)
            size = np.average([g.size for g in group], axis=0, weights=w)
            head = Estimate(head.color, head.shape, (float(pos[0]), float(pos[1]), float(pos[2])),
                             (float(size[0]), float(size[1]), float(size[2])), head.yaw,
                             max(g.confidence for g in group), float(w.sum()), [c for g in group for c in g.cameras])
        out.append(head)
    return out


def name_objects(estimates: Sequence[Estimate]) -> list[SceneObject]:
    """``"<colour> <shape word>"``; duplicates get 1, 2, ... by decreasing y (robot's left first)."""
    objects = [SceneObject(name=f"{e.color} {SHAPE_WORDS.get(e.shape, e.shape)}".strip(), color=e.color,
                           shape=e.shape, position=e.position, size=e.size, yaw=e.yaw, confidence=e.confidence)
               for e in estimates]
    by_name: dict[str, list[SceneObject]] = {}
    for obj in objects:
        by_name.setdefault(obj.name, []).append(obj)
    for name, group in by_name.items():
        if len(group) > 1:
            for i, obj in enumerate(sorted(group, key=lambda o: -o.position[1]), start=1):
                obj.name = f"{name} {i}"
    return sorted(objects, key=lambda o: o.name)
