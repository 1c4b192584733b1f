"""Tesseract OCR for screenshots: words with pixel boxes, grouped into text lines and labels.

Tesseract runs as a subprocess reading the image from stdin (no temporary files), with one
OpenMP thread: on a 2-core machine that is 2-3x faster than the default (~100 ms for an 800x600
frame instead of ~250 ms). :class:`IncrementalOcr` re-reads only the part of the screen that
changed since the previous frame, which is what an act-then-observe loop mostly needs.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from dataclasses import dataclass

import cv2
import numpy as np

from embodied.errors import EmbodiedError


class OcrUnavailable(EmbodiedError):
    """Tesseract is missing or failed; ``str()`` says what to install."""


@dataclass(frozen=True)
class Word:
    """One OCR word; box in pixels (right/bottom exclusive), confidence in [0, 100]."""

    text: str
    left: int
    top: int
    right: int
    bottom: int
    conf: float

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class TextLine:
    """Words on one row close enough together to read as one label."""

    text: str
    bounds: tuple[int, int, int, int]
    conf: float
    words: tuple[Word, ...]


class Tesseract:
    """Reads words from a grayscale image. ``psm`` 11 (sparse text) suits screens, whose labels
    are scattered rather than laid out in paragraphs; ``min_conf`` drops noise."""

    def __init__(self, lang: str = "eng", psm: int = 11, min_conf: float = 30.0, exe: str | None = None,
                 timeout_s: float = 20.0) -> None:
        self.lang, self.psm, self.min_conf, self.timeout_s = lang, psm, min_conf, timeout_s
        self.exe = exe or shutil.which("tesseract")
        if self.exe is None:
            raise OcrUnavailable("tesseract is not installed: run `apt-get install -y tesseract-ocr tesseract-ocr-eng`")
        self._env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def words(self, gray: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[Word]:
        """Words in ``gray`` (HxW uint8; a colour image is converted), boxes shifted by ``offset``."""
        if gray.ndim == 3:
            gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
        if gray.shape[0] < 8 or gray.shape[1] < 8:
            return []
        ok, buf = cv2.imencode(".pgm", gray)
        if not ok:
            raise OcrUnavailable("could not encode the image for tesseract")
        cmd = [self.exe, "stdin", "stdout", "-l", self.lang, "--psm", str(self.psm), "--oem", "1", "tsv"]
        try:
            proc = subprocess.run(cmd, input=buf.tobytes(), capture_output=True, env=self._env,
                                  timeout=self.timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise OcrUnavailable(f"tesseract took longer than {self.timeout_s} s") from exc
        if proc.returncode != 0:
            raise OcrUnavailable(f"tesseract failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-300:]}"
                                 " -- is the language pack installed (apt-get install -y tesseract-ocr-eng)?")
        return parse_tsv(proc.stdout.decode("utf-8", errors="replace"), self.min_conf, offset)


def parse_tsv(tsv: str, min_conf: float = 30.0, offset: tuple[int, int] = (0, 0)) -> list[Word]:
    """Words from tesseract's TSV output (level 5 rows), dropping empty and low-confidence ones."""
    dx, dy = offset
    out = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        conf = float(row["conf"])
        if conf < min_conf:
            continue
        left, top = int(row["left"]) + dx, int(row["top"]) + dy
        out.append(Word(text, left, top, left + int(row["width"]), top + int(row["height"]), conf))
    return out


def group_lines(words: list[Word], gap_factor: float = 1.0) -> list[TextLine]:
    """Group words into labels: same row (vertical centres within half a word height) and a
    horizontal gap below ``gap_factor`` x the line height. Two labels on one row ("Name" and a
    far-away "Email") stay apart. Returned in reading order (top to bottom, left to right)."""
    rows: list[list[Word]] = []
    for w in sorted(words, key=lambda w: (w.top + w.bottom) / 2):
        cy = (w.top + w.bottom) / 2
        for row in rows:
            ref = row[-1]
            if abs((ref.top + ref.bottom) / 2 - cy) <= 0.5 * max(ref.height, w.height):
                row.append(w)
                break
        else:
            rows.append([w])
    lines: list[TextLine] = []
    for row in rows:
        row.sort(key=lambda w: w.left)
        height = float(np.median([w.height for w in row]))
        group = [row[0]]
        for w in row[1:]:
            if w.left - group[-1].right > gap_factor * height:
                lines.append(_line(group))
                group = [w]
            else:
                group.append(w)
        lines.append(_line(group))
    lines.sort(key=lambda ln: (ln.bounds[1], ln.bounds[0]))
    return lines


def _line(words: list[Word]) -> TextLine:
    texts = [w.text for w in words]
    # A lone "|" before another word is almost always a capital I ("| agree").
    texts = ["I" if t == "|" and i + 1 < len(texts) else t for i, t in enumerate(texts)]
    bounds = (min(w.left for w in words), min(w.top for w in words),
              max(w.right for w in words), max(w.bottom for w in words))
    return TextLine(" ".join(texts), bounds, float(np.mean([w.conf for w in words])), tuple(words))


class IncrementalOcr:
    """OCR that re-reads only the changed region of the screen.

    The previous frame and its words are kept; on a new frame the changed pixels' bounding box is
    grown to cover every old word it touches (so a word half-changed is read whole), old words in
    it are dropped and the box alone is OCR'd. When more than ``full_fraction`` of the frame
    changed, the whole frame is read.
    """

    def __init__(self, ocr: Tesseract, full_fraction: float = 0.5, margin: int = 6) -> None:
        self.ocr, self.full_fraction, self.margin = ocr, full_fraction, margin
        self._gray: np.ndarray | None = None
        self._words: list[Word] = []
        self.full_reads = 0
        self.partial_reads = 0

    def reset(self) -> None:
        self._gray, self._words = None, []

    def words(self, gray: np.ndarray) -> list[Word]:
        if gray.ndim == 3:
            gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
        prev, self._gray = self._gray, gray.copy()
        if prev is None or prev.shape != gray.shape:
            return self._full(gray)
        changed = cv2.absdiff(prev, gray) > 8
        if not changed.any():
            return list(self._words)
        ys, xs = np.nonzero(changed)
        h, w = gray.shape
        box = [max(0, xs.min() - self.margin), max(0, ys.min() - self.margin),
               min(w, xs.max() + 1 + self.margin), min(h, ys.max() + 1 + self.margin)]
        grown = True
        while grown:
            grown = False
            for word in self._words:
                if _overlaps((word.left, word.top, word.right, word.bottom), box):
                    m = self.margin
                    new = [min(box[0], max(0, word.left - m)), min(box[1], max(0, word.top - m)),
                           max(box[2], min(w, word.right + m)), max(box[3], min(h, word.bottom + m))]
                    if new != box:
                        box, grown = new, True
        if (box[2] - box[0]) * (box[3] - box[1]) > self.full_fraction * w * h:
            return self._full(gray)
        kept = [wd for wd in self._words if not _overlaps((wd.left, wd.top, wd.right, wd.bottom), box)]
        fresh = self.ocr.words(gray[box[1]:box[3], box[0]:box[2]], offset=(box[0], box[1]))
        self._words = kept + fresh
        self.partial_reads += 1
        return list(self._words)

    def _full(self, gray: np.ndarray) -> list[Word]:
        self._words = self.ocr.words(gray)
        self.full_reads += 1
        return list(self._words)


def _overlaps(a: tuple[int, int, int, int] | list[int], b: tuple[int, int, int, int] | list[int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
