"""Screen parsing for GUIs without an accessibility tree: OCR text plus OpenCV widget shapes.

:func:`parse_screen` turns a screenshot into :class:`~embodied.types.UIElement` records:

* text labels from OCR (role ``text``);
* rectangles found by edge contours, classified by shape and content: a small empty square is a
  ``checkbox`` (checked when its inside is dark enough), a small circle a ``radio``, a wide
  rectangle with no centred label a ``textbox`` (its text is the value typed in it), a
  rectangle around a centred label a ``button``;
* icons found by template matching (:func:`find_template`), named by the caller.

Fields take the nearest label to their left or above as ``description``; checkboxes and radios
take the label to their right as ``text``. Also here: :func:`draw_marks`, numbered boxes on the
screenshot (set-of-marks prompting for a vision-language model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from embodied.types import UIElement
from perception.ocr import TextLine, Word, group_lines

Box = tuple[int, int, int, int]  # left, top, right, bottom; pixels, right/bottom exclusive


@dataclass(frozen=True)
class Shape:
    """A widget outline found in the image."""

    kind: str  # "rect" or "circle"
    bounds: Box


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grayscale copy of an RGB (or already gray) uint8 image. OCR reads white-on-colour labels
    only in grayscale."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image


def detect_shapes(gray: np.ndarray, min_size: int = 8, max_height: int = 120) -> list[Shape]:
    """Closed rectangles and circles: outlines from edge contours, plus flat-coloured regions
    whose bounding box they fill (a field's white inside, even when typed text touches its
    border). Screen-sized panels are dropped; near-duplicates (a border's inner and outer edge)
    are merged. Glyph outlines ("o", "D") are removed later by :func:`drop_glyphs`."""
    w = gray.shape[1]
    shapes: list[Shape] = []
    edges = cv2.Canny(gray, 20, 50)  # low: light frames (white on light grey) are faint
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))  # bridge the 1-px gaps a tick mark leaves in a frame
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for c in contours:
        x, y, cw, ch = cv2.boundingRect(c)
        if cw < min_size or ch < min_size or ch > max_height or cw > 0.9 * w:
            continue
        fill = cv2.contourArea(c) / float(cw * ch)
        corners = len(cv2.approxPolyDP(c, 0.02 * cv2.arcLength(c, True), True))
        kind = _outline_kind(fill, corners, cw, ch)
        if kind:  # the dilation grew outer outlines by one pixel: undo it
            shapes.append(Shape(kind, (x + 1, y + 1, x + cw - 1, y + ch - 1)))
    shapes.extend(_flat_regions(gray, min_size, max_height))
    return [Shape(_small_kind(gray, s.bounds), s.bounds) if _is_small_box(s.bounds) else s for s in _dedupe(shapes)]


def _small_kind(gray: np.ndarray, box: Box) -> str:
    """Square or circle, for a small box: a square's frame runs through its corners, while a
    circle's corners show what lies outside it. Each corner is compared with the middle of the
    frame's sides and with the pixels just outside the box."""
    left, top, right, bottom = box
    h, w = bottom - top, right - left
    if h < 6 or w < 6 or top < 2 or left < 2 or bottom + 2 > gray.shape[0] or right + 2 > gray.shape[1]:
        return "rect"
    g = gray.astype(np.int16)
    outside = float(np.median(np.concatenate([g[top - 2, left:right], g[bottom + 1, left:right],
                                              g[top:bottom, left - 2], g[top:bottom, right + 1]])))
    best_k, frame = 0, outside
    for k in (0, 1, 2):  # the found box may sit a pixel or two outside the drawn frame
        f = float(np.median([g[top + k, left + w // 2], g[bottom - 1 - k, left + w // 2], g[top + h // 2, left + k],
                             g[top + h // 2, right - 1 - k]]))
        if abs(f - outside) > abs(frame - outside):
            best_k, frame = k, f
    if abs(frame - outside) < 6:
        return "rect"  # no visible frame: nothing to tell them apart by
    k = best_k
    corners = [g[top + k, left + k], g[top + k, right - 1 - k], g[bottom - 1 - k, left + k],
               g[bottom - 1 - k, right - 1 - k]]
    like_frame = sum(abs(c - frame) < abs(c - outside) for c in corners)
    return "rect" if like_frame >= 2 else "circle"


def _outline_kind(fill: float, corners: int, w: int, h: int) -> str:
    square = 0.8 <= w / h <= 1.25 and w <= 40
    if fill >= 0.85 and corners <= 8:
        return "rect"
    if 0.70 <= fill < 0.85 and corners > 6 and square:
        return "circle"
    if fill >= 0.75 and corners <= 6 and square:
        return "rect"  # small squares: their corners round off in the edge map
    return ""


def _flat_regions(gray: np.ndarray, min_size: int, max_height: int, border: int = 2) -> list[Shape]:
    """Uniform regions whose outline runs along their bounding box: the insides of fields,
    buttons and boxes. Returned grown by ``border`` pixels to cover the widget's frame."""
    h, w = gray.shape
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    flat = (grad <= 2).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(flat, connectivity=4)
    out: list[Shape] = []
    for i in range(1, count):
        x, y, cw, ch, area = (int(v) for v in stats[i])
        if cw < min_size - 2 * border or ch < min_size - 2 * border or ch > max_height or cw > 0.9 * w:
            continue
        if area < 0.3 * cw * ch:
            continue
        comp = labels[y:y + ch, x:x + cw] == i
        edge = np.concatenate([comp[0, :], comp[-1, :], comp[:, 0], comp[:, -1]])
        along = float(edge.mean())
        if along < 0.9:  # circles come from contours only: a ticked box's inside is not flat
            continue
        box = (max(0, x - border), max(0, y - border), min(w, x + cw + border), min(h, y + ch + border))
        out.append(Shape("rect", box))
    return _join_slices(out)


def _join_slices(shapes: list[Shape], max_gap: int = 8) -> list[Shape]:
    """Merge side-by-side flat regions that share their top and bottom and nearly touch: a text
    cursor (a full-height bar) splits a field's flat inside into such slices."""
    boxes = sorted(s.bounds for s in shapes)
    merged: list[Box] = []
    for b in boxes:
        for i, m in enumerate(merged):
            if (abs(b[1] - m[1]) <= 2 and abs(b[3] - m[3]) <= 2 and -2 <= b[0] - m[2] <= max_gap
                    and not _is_small_box(b) and not _is_small_box(m)):
                merged[i] = (m[0], min(m[1], b[1]), max(m[2], b[2]), max(m[3], b[3]))
                break
        else:
            merged.append(b)
    return [Shape("rect", b) for b in merged]


def drop_glyphs(shapes: Sequence[Shape], words: Sequence[Word],
                gray: np.ndarray | None = None) -> tuple[list[Shape], list[Word]]:
    """Reconcile shapes with OCR words: a shape inside a word is a letter's outline (dropped); a
    one- or two-character word on a small box is the box's tick mark read as text (dropped). With
    ``gray``, a small box inside a field frame that touches neighbouring letters is a letter of a
    word OCR missed (dropped), not a checkbox or radio."""
    boxes = [s for s in shapes if _is_small_box(s.bounds)]
    kept_words = [wd for wd in words if not (len(wd.text) <= 2 and any(
        _inside((wd.left, wd.top, wd.right, wd.bottom), _grow(b.bounds, 3)) for b in boxes))]
    kept_shapes = [s for s in shapes if not any(
        _inside(s.bounds, _grow((wd.left, wd.top, wd.right, wd.bottom), 3)) for wd in kept_words)]
    if gray is not None:
        fields = [s.bounds for s in kept_shapes if _is_field_frame(s.bounds)]
        kept_shapes = [s for s in kept_shapes
                       if not (_is_small_box(s.bounds) and _is_letter_in_field(gray, s.bounds, fields))]
    return kept_shapes, kept_words


def _is_field_frame(b: Box) -> bool:
    w, h = b[2] - b[0], b[3] - b[1]
    return 14 <= h <= 90 and w >= 2.5 * h


def _is_letter_in_field(gray: np.ndarray, box: Box, fields: Sequence[Box], reach: int = 6) -> bool:
    """Whether a small box is a letter of text that OCR missed (the "o" of an unread word): it
    sits inside a field-shaped frame with ink within ``reach`` px of its left or right side, at
    its middle rows (its neighbouring letters). A checkbox or radio keeps a margin to its label."""
    left, top, right, bottom = box
    frame = next((f for f in fields if f != box and _inside(box, _grow(f, 1))), None)
    if frame is None:
        return False
    inner = gray[frame[1] + 2:frame[3] - 2, frame[0] + 2:frame[2] - 2]
    if inner.size == 0:
        return False
    ink = float(np.percentile(inner, 90)) - 80
    band = slice(top + (bottom - top) // 4, bottom - (bottom - top) // 4)
    sides = (gray[band, max(frame[0] + 2, left - reach):left], gray[band, right:min(frame[2] - 2, right + reach)])
    return any(side.size and bool((side < ink).any()) for side in sides)


def outline_mask(shape: tuple[int, int], shapes: Sequence[Shape], width: int = 3) -> np.ndarray:
    """Mask of the frames of field- and button-sized shapes, to blank before OCR: a field's left
    border otherwise reads as "l" or "|" in front of its text."""
    mask = np.zeros(shape, np.uint8)
    for s in shapes:
        left, top, right, bottom = s.bounds
        if bottom - top >= 14 and not _is_small_box(s.bounds):
            cv2.rectangle(mask, (left, top), (right - 1, bottom - 1), 1, width)
    return mask.astype(bool)


def blank_outlines(gray: np.ndarray, shapes: Sequence[Shape]) -> np.ndarray:
    """A copy of ``gray`` with widget frames painted over in the local background colour, and
    text cursors in fields too (a cursor touching the last letter makes OCR miss the word)."""
    mask = outline_mask(gray.shape, shapes)
    cursors = cursor_mask(gray, shapes)
    if not mask.any() and not cursors.any():
        return gray
    out = gray.copy()
    out[mask] = cv2.medianBlur(gray, 7)[mask]
    for s in shapes:
        left, top, right, bottom = s.bounds
        region = cursors[top:bottom, left:right]
        if region.any():
            out[top:bottom, left:right][region] = np.uint8(np.percentile(gray[top:bottom, left:right], 90))
    return out


def cursor_mask(gray: np.ndarray, shapes: Sequence[Shape], pad: int = 3, max_width: int = 3) -> np.ndarray:
    """Mask of text cursors: thin (at most ``max_width`` px) dark bars running over most of the
    inside height of a field-shaped frame; letters are shorter than the field's inside."""
    mask = np.zeros(gray.shape, bool)
    for s in shapes:
        if not _is_field_frame(s.bounds):
            continue
        left, top, right, bottom = s.bounds
        inner = gray[top + pad:bottom - pad, left + pad:right - pad]
        if inner.size == 0:
            continue
        dark = inner < float(np.percentile(inner, 90)) - 80
        tall = dark.sum(axis=0) >= 0.7 * inner.shape[0]
        x = 0
        while x < tall.size:
            if not tall[x]:
                x += 1
                continue
            end = x
            while end < tall.size and tall[end]:
                end += 1
            if end - x <= max_width:
                rows = dark[:, x:end].any(axis=1)
                mask[top + pad:bottom - pad, left + pad + x:left + pad + end] = rows[:, None]
            x = end
    return mask


def _dedupe(shapes: list[Shape]) -> list[Shape]:
    """Keep the outer of two shapes whose boxes nearly coincide (within 4 px on every side), and
    drop full-height slices of a larger shape (a text cursor splits a field's flat inside)."""
    shapes = sorted(shapes, key=lambda s: -_area(s.bounds))
    kept: list[Shape] = []
    for s in shapes:
        if any(all(abs(a - b) <= 4 for a, b in zip(s.bounds, k.bounds)) for k in kept):
            continue
        if any(_inside(s.bounds, _grow(k.bounds, 3)) and abs(s.bounds[1] - k.bounds[1]) <= 4
               and abs(s.bounds[3] - k.bounds[3]) <= 4 and not _is_small_box(s.bounds) for k in kept):
            continue
        kept.append(s)
    return kept


def parse_screen(image: np.ndarray, words: Sequence[Word], shapes: Sequence[Shape] | None = None,
                 icons: Sequence[UIElement] = ()) -> list[UIElement]:
    """UI elements from a screenshot, its OCR words and (optionally precomputed) shapes, in
    reading order, with ids ``e0, e1, ...``."""
    gray = to_gray(image)
    shapes, words = drop_glyphs(detect_shapes(gray) if shapes is None else shapes, words, gray)
    lines = group_lines(list(words))
    used: set[int] = set()
    widgets: list[UIElement] = []
    for shape in sorted(shapes, key=lambda s: _area(s.bounds)):  # innermost first
        inside = [i for i, ln in enumerate(lines) if i not in used and _inside(_center_box(ln.bounds), shape.bounds)]
        el = _classify(shape, [lines[i] for i in inside], gray)
        if el is None:
            continue
        if any(_inside(other.bounds, el.bounds) and other.role != "text" for other in widgets) and el.role != "button":
            continue  # a frame around other widgets, not a widget itself
        used.update(inside)
        widgets.append(el)
    texts = [UIElement(id="", role="text", text=ln.text, bounds=ln.bounds)
             for i, ln in enumerate(lines) if i not in used]
    _associate_labels(widgets, texts)
    elements = sorted([*widgets, *texts, *icons], key=reading_order)
    return [UIElement(id=f"e{i}", role=e.role, text=e.text, bounds=e.bounds, clickable=e.clickable,
                      editable=e.editable, checked=e.checked, selected=e.selected, description=e.description)
            for i, e in enumerate(elements)]


def reading_order(el: UIElement) -> tuple[int, int]:
    """Sort key: rows of 16 px by vertical centre, then left to right."""
    return ((el.bounds[1] + el.bounds[3]) // 32, el.bounds[0])


def _classify(shape: Shape, lines: list[TextLine], gray: np.ndarray) -> UIElement | None:
    left, top, right, bottom = shape.bounds
    w, h = right - left, bottom - top
    small = w <= 40 and h <= 40 and 0.75 <= w / h <= 1.33
    if small and not lines:
        role = "radio" if shape.kind == "circle" else "checkbox"
        return UIElement(id="", role=role, bounds=shape.bounds, clickable=True, checked=_is_marked(gray, shape.bounds))
    if h < 14 or h > 90:
        return None
    text = " ".join(ln.text for ln in lines)
    if lines:
        pad_left = min(ln.bounds[0] for ln in lines) - left
        pad_right = right - max(ln.bounds[2] for ln in lines)
        # A button's label sits in the middle with real padding; a field's value starts at its left edge.
        centred = abs(pad_left - pad_right) <= max(4.0, 0.15 * w) and pad_left >= 0.25 * h
        if centred and w <= 8 * h:
            return UIElement(id="", role="button", text=text, bounds=shape.bounds, clickable=True)
    if w >= 2.5 * h:
        value = text.strip("|").strip()  # a text cursor at either end reads as "|"
        return UIElement(id="", role="textbox", text=value, bounds=shape.bounds, clickable=True, editable=True)
    if lines:
        return UIElement(id="", role="button", text=text, bounds=shape.bounds, clickable=True)
    return None


def _is_marked(gray: np.ndarray, box: Box) -> bool:
    """Whether a checkbox/radio is ticked: enough dark pixels inside its border, relative to the
    box's own background."""
    left, top, right, bottom = box
    pad = max(2, (right - left) // 5)
    inner = gray[top + pad:bottom - pad, left + pad:right - pad]
    if inner.size == 0:
        return False
    background = float(np.percentile(gray[top:bottom, left:right], 90))
    return float(np.mean(inner < background - 80)) > 0.12


def _associate_labels(widgets: list[UIElement], texts: list[UIElement]) -> None:
    """Give each field the label to its left/above (``description``) and each checkbox/radio the
    label to its right (``text``). Checkbox labels stay in ``texts`` too: tapping either works."""
    for i, el in enumerate(widgets):
        if el.role in ("checkbox", "radio"):
            label = _nearest(el.bounds, texts, "right", max_gap=4 * (el.bounds[3] - el.bounds[1]))
            if label is not None:
                widgets[i] = _replace(el, text=label.text)
        elif el.role == "textbox":
            h = el.bounds[3] - el.bounds[1]
            label = _nearest(el.bounds, texts, "left", max_gap=12 * h) or _nearest(el.bounds, texts, "above", 1.5 * h)
            if label is not None:
                widgets[i] = _replace(el, description=label.text)


def nearest_label(bounds: Box, candidates: Sequence[UIElement], side: str, max_gap: float) -> UIElement | None:
    """The candidate on ``side`` ("left", "right", "above", "below") of ``bounds`` that overlaps
    it across that axis and is closest, within ``max_gap`` pixels."""
    return _nearest(bounds, candidates, side, max_gap)


def _nearest(bounds: Box, candidates: Sequence[UIElement], side: str, max_gap: float) -> UIElement | None:
    left, top, right, bottom = bounds
    best: tuple[float, UIElement] | None = None
    for c in candidates:
        cl, ct, cr, cb = c.bounds
        if side in ("left", "right"):
            overlap = min(bottom, cb) - max(top, ct)
            if overlap < 0.3 * min(bottom - top, cb - ct):
                continue
            gap = left - cr if side == "left" else cl - right
        else:
            overlap = min(right, cr) - max(left, cl)
            if overlap <= 0 and not (side == "above" and abs(cl - left) <= 0.5 * (right - left)):
                continue
            gap = top - cb if side == "above" else ct - bottom
        if -2 <= gap <= max_gap and (best is None or gap < best[0]):
            best = (gap, c)
    return best[1] if best else None


def find_template(image: np.ndarray, template: np.ndarray, threshold: float = 0.85,
                  max_hits: int = 10) -> list[tuple[Box, float]]:
    """Where ``template`` appears in ``image`` (both RGB or gray uint8), best first, as (box, score)
    with normalised cross-correlation >= ``threshold``; overlapping hits are suppressed."""
    img, tpl = to_gray(image), to_gray(template)
    th, tw = tpl.shape
    if th > img.shape[0] or tw > img.shape[1]:
        return []
    scores = cv2.matchTemplate(img, tpl, cv2.TM_CCOEFF_NORMED)
    hits: list[tuple[Box, float]] = []
    ys, xs = np.nonzero(scores >= threshold)
    order = np.argsort(-scores[ys, xs])
    for k in order:
        x, y = int(xs[k]), int(ys[k])
        box = (x, y, x + tw, y + th)
        if any(_iou(box, b) > 0.3 for b, _ in hits):
            continue
        hits.append((box, float(scores[y, x])))
        if len(hits) >= max_hits:
            break
    return hits


def icon_elements(image: np.ndarray, templates: Mapping[str, np.ndarray], threshold: float = 0.85) -> list[UIElement]:
    """Clickable ``icon`` elements named after the templates found on screen."""
    out = []
    for name, tpl in templates.items():
        for box, _score in find_template(image, tpl, threshold):
            out.append(UIElement(id="", role="icon", text=name, bounds=box, clickable=True))
    return out


def draw_marks(image: np.ndarray, elements: Sequence[UIElement]) -> tuple[np.ndarray, dict[int, str]]:
    """Set-of-marks: a copy of ``image`` with each element boxed and numbered, and the map from
    number to element id, so a vision-language model can answer "click 3"."""
    out = np.ascontiguousarray(image.copy())
    palette = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]
    marks: dict[int, str] = {}
    for n, el in enumerate(elements, start=1):
        color = palette[n % len(palette)]
        left, top, right, bottom = el.bounds
        cv2.rectangle(out, (left, top), (right - 1, bottom - 1), color, 1)
        label = str(n)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        ly = max(th + 2, top)
        cv2.rectangle(out, (left, ly - th - 2), (left + tw + 2, ly), color, -1)
        cv2.putText(out, label, (left + 1, ly - 1), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        marks[n] = el.id
    return out, marks


# ------------------------------------------------------------------------------------ geometry


def _area(b: Box) -> int:
    return max(0, b[2] - b[0]) * max(0, b[3] - b[1])


def _is_small_box(b: Box) -> bool:
    w, h = b[2] - b[0], b[3] - b[1]
    return 6 <= w <= 40 and 6 <= h <= 40 and 0.75 <= w / h <= 1.33


def _grow(b: Box, n: int) -> Box:
    return (b[0] - n, b[1] - n, b[2] + n, b[3] + n)


def _inside(inner: Box, outer: Box) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _center_box(b: Box) -> Box:
    cx, cy = (b[0] + b[2]) // 2, (b[1] + b[3]) // 2
    return (cx, cy, cx + 1, cy + 1)


def _iou(a: Box, b: Box) -> float:
    inter = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    union = _area(a) + _area(b) - inter
    return inter / union if union else 0.0


def _replace(el: UIElement, **changes: object) -> UIElement:
    return replace(el, **changes)  # type: ignore[arg-type]
