"""Tolerant matching of object descriptions ("the red cube", "Red Block", "red one") to names.

Shared by the skills (agent side, against detected objects) and by ground-truth scoring (against
configured objects), so both read a description the same way.

A description must be plausibly a name (:func:`implausible`): at most :data:`MAX_NAME_CHARS`
characters and :data:`MAX_NAME_WORDS` words of letters, digits and word punctuation. Anything
else (a shell command, a pasted paragraph) matches nothing, so fuzzy matching never stretches to
it and its cost stays bounded (difflib is quadratic in the length of what it compares)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

# Each group is one meaning; the first word is the canonical form.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("block", "cube", "box", "brick", "blocks", "cubes", "boxes", "bricks"),
    ("plate", "zone", "pad", "mat", "target", "plates", "zones", "pads", "mats", "square", "patch"),
    ("bowl", "container", "tray", "bin", "basket", "bowls", "containers", "trays", "bins", "cup"),
    ("cylinder", "can", "puck", "disc", "disk", "cylinders", "cans", "pucks", "round"),
    ("grey", "gray"),
    ("purple", "violet"),
    ("orange",),
    ("cyan", "teal"),
    ("pink", "magenta"),
)
_CANON = {word: group[0] for group in SYNONYMS for word in group}
MAX_NAME_CHARS = 80
MAX_NAME_WORDS = 12
# letters and digits, and the punctuation found inside names ("o'clock", "no. 2", "mug-1", "lid (red)")
_NAME_TEXT = re.compile(r"[^\W_]([\w \t'.,#()-]*)")
_STOP = {"the", "a", "an", "one", "object", "thing", "item", "piece", "that", "this", "of", "colored",
         "coloured", "small", "little", "big"}


def implausible(text: object) -> str | None:
    """Why ``text`` cannot be an object's name or description, or None when it can be."""
    if not isinstance(text, str):
        return f"a name is a string, not {type(text).__name__}"
    stripped = text.strip()
    if not stripped:
        return "the name is empty"
    if len(stripped) > MAX_NAME_CHARS:
        return f"{len(stripped)} characters; names are at most {MAX_NAME_CHARS}"
    if not _NAME_TEXT.fullmatch(stripped):
        odd = sorted({c for c in stripped if not (c.isalnum() or c in " \t'.,#()_-")})
        if odd:
            return f"it contains {' '.join(repr(c) for c in odd[:5])}, which no name has"
        return f"it starts with {stripped[0]!r}; names start with a letter or digit"
    if len(stripped.split()) > MAX_NAME_WORDS:
        return f"{len(stripped.split())} words; names are at most {MAX_NAME_WORDS}"
    return None


def words(text: str) -> list[str]:
    """Canonical content words of a description, in order."""
    tokens = re.findall(r"[a-z0-9]+", text.lower())
    return [_CANON.get(t, t) for t in tokens if t not in _STOP]


def canonical(text: str) -> str:
    return " ".join(words(text))


def match_score(query: str, name: str) -> float:
    """1.0 for the same canonical words; partial credit when every query word is in the name
    (e.g. "red" -> "red block"); fuzzy ratio otherwise, so typos still land."""
    q, n = words(query), words(name)
    if not q or not n:
        return 0.0
    if q == n:
        return 1.0
    if set(q) <= set(n):
        return 0.9 * len(set(q)) / len(set(n)) + 0.05
    if set(n) <= set(q):  # "red block on the left" style extras
        return 0.7
    return 0.6 * difflib.SequenceMatcher(None, " ".join(q), " ".join(n)).ratio()


WORD_MATCH = 0.8  # difflib ratio for one word of a fuzzy match: "gren" ~ "green", but not "red"


def resolve(query: str, names: Iterable[str], threshold: float = 0.45) -> str | None:
    """The best-matching name, or None when nothing is close or the best is ambiguous.

    A fuzzy (non word-subset) match must also match word by word, so a typo ("gren block") still
    finds "green block" while "green block" never lands on "red block". A description that is not
    plausibly a name (:func:`implausible`) matches nothing, unless it is one of ``names`` exactly."""
    names = list(names)
    if implausible(query) is not None:
        return query if query in names else None
    scored = sorted(((match_score(query, n), n) for n in names), reverse=True)
    if not scored or scored[0][0] < threshold:
        return None
    if len(scored) > 1 and scored[1][0] == scored[0][0] and scored[0][0] < 1.0:
        return None
    best_score, best = scored[0]
    if best_score < 0.5:
        name_words = words(best)
        for word in words(query):
            if not any(difflib.SequenceMatcher(None, word, other).ratio() >= WORD_MATCH for other in name_words):
                return None
    return best


def closest(query: str, names: Iterable[str], n: int = 3) -> list[str]:
    """Names to suggest in an error message (none for a description that is not plausibly a name)."""
    if implausible(query) is not None:
        return []
    scored = sorted(((match_score(query, name), name) for name in names), reverse=True)
    return [name for score, name in scored[:n] if score > 0.2]
