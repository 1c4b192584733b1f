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
