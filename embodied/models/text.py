"""Finding structure in model answers: fenced blocks and JSON embedded in prose.

Shared by every component that parses model output (planners, writers, the VLM monitor).
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced block, in order; language lower-cased, "" if none.
    An unterminated last fence (the model hit its token limit) runs to the end of the text."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def find_json(text: str) -> Any:
    """The first non-empty JSON object or array in ``text``: in a ```json (or untagged) block,
    else anywhere in the prose. Trailing commas are forgiven. None when there is none."""
    candidates = [body for lang, body in fenced_blocks(text) if lang in ("json", "")]
    candidates.append(text)
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for i, ch in enumerate(candidate):
            if ch not in "{[":
                continue
            value = _decode_at(decoder, candidate, i)
            if isinstance(value, dict | list) and value:
                return value
    return None


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object in ``text`` that decodes on its own, outermost first and without
    overlaps, in order. Recovers the complete items of a list cut off at the token limit."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        if text[i] == "{":
            try:
                value, end = decoder.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            if isinstance(value, dict):
                found.append(value)
            i = end
        else:
            i += 1
    return found


def _decode_at(decoder: json.JSONDecoder, text: str, start: int) -> Any:
    """The JSON value starting at ``start``, forgiving trailing commas; None if there is none.
    The outermost value wins: a nested object is only found when its container fails."""
    try:
        return decoder.raw_decode(text, start)[0]
    except ValueError:
        pass
    try:
        return decoder.raw_decode(_TRAILING_COMMA.sub(r"\1", text[start:]), 0)[0]
    except ValueError:
        return None
