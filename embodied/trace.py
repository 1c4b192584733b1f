"""The episode trace: an append-only JSONL file, flushed per event, so a crash loses nothing that
happened before it; checkpoint images as PNG files beside it; results written atomically."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from embodied.types import Observation, to_jsonable

EPISODE_FILE = "episode.json"
"""Written when an episode starts: where its config named its files from (``config_dir``), so the
episode can be re-run from its directory alone, also when it never finished."""


def write_json_atomic(path: Path, data: Any) -> None:
    """Write then rename: readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(to_jsonable(data), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()[:40] or "x"


def depth_to_png(depth: np.ndarray) -> np.ndarray:
    """Depth (metres) as an 8-bit image for humans: near is bright."""
    finite = depth[np.isfinite(depth)]
    if finite.size == 0:
        return np.zeros(depth.shape, np.uint8)
    lo, hi = float(finite.min()), float(finite.max())
    scaled = (hi - np.nan_to_num(depth, nan=hi)) / max(hi - lo, 1e-6)
    return (np.clip(scaled, 0, 1) * 255).astype(np.uint8)


class TraceWriter:
    """Records one episode. ``event`` appends one JSON line and flushes it to the OS."""

    def __init__(self, run_dir: Path, save_images: bool = True) -> None:
        self.run_dir = run_dir
        self.save_images = save_images
        self.images_dir = run_dir / "images"
        run_dir.mkdir(parents=True, exist_ok=True)
        self._file = (run_dir / "trace.jsonl").open("a", encoding="utf-8")
        self._t0 = time.perf_counter()
        self._n_images = 0

    def event(self, kind: str, **data: Any) -> None:
        record = {"t": round(time.perf_counter() - self._t0, 4), "event": kind, **to_jsonable(data)}
        self._file.write(json.dumps(record, default=repr) + "\n")
        self._file.flush()

    def images(self, observation: Observation | None, label: str) -> dict[str, str]:
        """Store the observation's images (RGB as is, depth rendered; masks skipped) and return
        their paths relative to the run directory."""
        if observation is None or not self.save_images:
            return {}
        self.images_dir.mkdir(exist_ok=True)
        paths: dict[str, str] = {}
        self._n_images += 1
        for key, image in observation.images.items():
            kind = key.rsplit("/", 1)[-1]
            if kind == "seg" or not isinstance(image, np.ndarray):
                continue
            array = depth_to_png(image) if kind == "depth" or image.dtype.kind == "f" else image
            name = f"{self._n_images:04d}-{_slug(label)}-{_slug(key)}.png"
            Image.fromarray(array).save(self.images_dir / name)
            paths[key] = f"images/{name}"
        return paths

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def redact_file(path: Path, redact: Any) -> None:
    """Rewrite a finished trace through ``redact`` (atomically): a secret learned late in an
    episode (a value typed into a password field) is masked in the records made before it too."""
    if not path.is_file():
        return
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.dumps(redact(json.loads(line)), default=repr))
        except json.JSONDecodeError:
            break  # a torn last line (a crash): dropped, as read_trace would
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)


def read_trace(path: Path) -> list[dict[str, Any]]:
    """Read a trace, tolerating a torn last line left by a crash."""
    events = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return events
