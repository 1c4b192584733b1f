"""Keeping passwords out of traces.

A value typed into a GUI may be secret. Three mechanisms keep it out of every record:

* :class:`Secret` is a ``str`` that behaves like its value for typing but renders as ``"***"``
  through ``str()``, ``repr()`` and ``format()``; :func:`embodied.types.to_jsonable` renders any
  ``str`` subclass through ``str()``, so a recorded call argument shows ``***``.
* :class:`SecretBook` holds the values known to be secret (from the env config, or learned when
  text is typed into a password field) and :meth:`SecretBook.redact` replaces them inside any
  text or nested record, for plain strings a policy wrote literally.
* Backends report password fields with role ``"password"`` and never put their value into
  ``UIElement.text`` (see :func:`mask_elements`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from embodied.types import UIElement

MASK = "***"


class Secret(str):
    """A string whose printed form is ``***``. ``reveal()`` returns the plain value for typing."""

    __slots__ = ()

    def reveal(self) -> str:
        return str.__str__(self)

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK


def reveal(value: str) -> str:
    """The plain text of a value that may be a :class:`Secret`."""
    return value.reveal() if isinstance(value, Secret) else value


class SecretBook:
    """The secret values of one environment. Values shorter than 3 characters are not redacted
    inside longer text (they would mangle ordinary words) but are still masked when equal."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        for v in values:
            self.add(v)

    def add(self, value: str) -> None:
        plain = reveal(value)
        if plain:
            self._values.add(plain)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and (isinstance(value, Secret) or reveal(value) in self._values)

    def __len__(self) -> int:
        return len(self._values)

    def redact(self, value: Any) -> Any:
        """``value`` with every known secret replaced by ``***``, recursing into lists, tuples
        and dicts. Other objects are returned unchanged."""
        if isinstance(value, Secret):
            return MASK
        if isinstance(value, str):
            if value in self._values:
                return MASK
            # Longest first, so a secret containing another is masked whole.
            for secret in sorted(self._values, key=len, reverse=True):
                if len(secret) >= 3 and secret in value:
                    value = value.replace(secret, MASK)
            return value
        if isinstance(value, list):
            return [self.redact(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.redact(v) for v in value)
        if isinstance(value, dict):
            return {k: self.redact(v) for k, v in value.items()}
        return value


_SECRET_NOUN = r"(?:password|passcode|passphrase|passwd|pin|pwd)"
_VALUE = r"(\"[^\"]+\"|“[^”]+”|'[^']+'|[^\s,;]+)"
#: "password hunter2", "password: 'x y'", "with the password is hunter2", and "hunter2 as the password" /
#: "hunter2 into the password field": a value stated next to a word for a secret.
_AFTER = re.compile(rf"\b{_SECRET_NOUN}\b\s*(?:(?:is|=|:|of)\s*)?{_VALUE}", re.I)
_BEFORE = re.compile(rf"{_VALUE}\s+(?:as|into|in|to|for)\s+(?:the\s+|my\s+|your\s+|a\s+)?{_SECRET_NOUN}\b", re.I)
#: Words that follow or precede "password" in ordinary sentences and are not values.
_NOT_VALUES = frozenset({"field", "box", "input", "textbox", "entry", "area", "into", "in", "to", "and", "with",
                         "is", "the", "a", "an", "for", "of", "then", "here", "text", "type", "enter", "your", "my",
                         "configured", "saved", "stored", "same", "again", "twice", "both", "new", "old", "correct",
                         "it", "this", "that", "one", "secret", "button", "fields", "boxes", "too", "also"})


def literal_secrets(text: str) -> list[str]:
    """Values an instruction states as a password ("log in with password hunter2", "type 'x' into
    the password field"), so that records can mask them before the value is ever typed."""
    found = []
    for pattern in (_AFTER, _BEFORE):
        for m in pattern.finditer(text):
            value = m.group(1).strip().rstrip(".!?")
            if value[:1] in "\"“'" and len(value) >= 2:
                value = value[1:-1]
            if value and value.lower() not in _NOT_VALUES and not _SECRET_WORD.fullmatch(value):
                found.append(value)
    return found


_SECRET_WORD = re.compile(_SECRET_NOUN, re.I)


class RecordRedactor:
    """Redaction for records (traces, summaries, the console), stricter than what the agent sees:
    the env's secrets, plus every value a recorded text states as a password (learned as records
    pass, so an instruction recorded first masks the value in everything recorded after it).
    Perception is not affected: the planner still reads the instruction it was given."""

    def __init__(self, book: SecretBook) -> None:
        self.book = book
        self.learned = SecretBook()

    def __call__(self, value: Any) -> Any:
        self._learn(value)
        return self.learned.redact(self.book.redact(value))

    def _learn(self, value: Any) -> None:
        if isinstance(value, str) and not isinstance(value, Secret):
            for secret in literal_secrets(value):
                self.learned.add(secret)
        elif isinstance(value, list | tuple):
            for v in value:
                self._learn(v)
        elif isinstance(value, dict):
            args = value.get("args")
            if isinstance(args, dict) and args.get("password") and isinstance(args.get("text"), str):
                self.learned.add(args["text"])  # a planned step that types into a password field
            for v in value.values():
                self._learn(v)


def mask_elements(elements: Iterable[UIElement], book: SecretBook | None = None) -> list[UIElement]:
    """Copies of ``elements`` with password values blanked and known secrets redacted."""
    out = []
    for el in elements:
        text = MASK if el.role == "password" and el.text else el.text
        if book is not None and len(book):
            text = book.redact(text)
            el = replace(el, description=book.redact(el.description))
        out.append(el if text == el.text else replace(el, text=text))
    return out
