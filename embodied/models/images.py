"""Images as models receive them: RGB uint8 arrays, PNG bytes, and a stable content hash.

Cameras hand over RGBA (PyBullet), grayscale (screens after OCR preprocessing) or PIL images;
every backend wants the same thing, so the conversion happens once, here.
"""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import numpy as np
from PIL import Image


def to_rgb_array(image: Any) -> np.ndarray:
    """A copy of ``image`` as an ``(H, W, 3)`` uint8 array. Accepts PIL images and numpy arrays
    (H×W gray, H×W×3 RGB, H×W×4 RGBA; uint8, or float in [0, 1]). Raises ``TypeError`` or
    ``ValueError`` for anything else."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"an image must be a numpy array or a PIL image, not {type(image).__name__}")
    arr = image
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"an image must be H×W, H×W×3 or H×W×4, got shape {image.shape}")
    arr = arr[:, :, :3]
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr).copy()
    if np.issubdtype(arr.dtype, np.floating):
        return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        return np.clip(arr, 0, 255).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {arr.dtype}")


def to_pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(to_rgb_array(image), mode="RGB")


def png_bytes(image: np.ndarray) -> bytes:
    """Lossless PNG encoding; deterministic for the same pixels (no timestamps in the file)."""
    buf = io.BytesIO()
    to_pil(image).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def data_url(image: np.ndarray) -> str:
    """``data:image/png;base64,...`` as OpenAI-compatible servers accept in ``image_url``."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def image_digest(image: np.ndarray) -> str:
    """SHA-256 of the pixels and the shape: equal pixels give equal digests across runs."""
    arr = to_rgb_array(image)
    h = hashlib.sha256()
    h.update(f"{arr.shape[0]}x{arr.shape[1]}x{arr.shape[2]}:".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def fit_within(image: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale (never upscale) so that the longer side is at most ``max_side`` pixels: fewer
    image tokens for a VLM, same content."""
    arr = to_rgb_array(image)
    h, w = arr.shape[:2]
    if max(h, w) <= max_side:
        return arr
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(to_pil(arr).resize(size, Image.Resampling.BILINEAR), dtype=np.uint8)
