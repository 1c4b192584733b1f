"""One registry per kind of backend. Entries are lazy ``"module:attr"`` strings, so choosing a
backend by name imports only that backend. The config loader and the factories read the same
registry: there is exactly one list of names per kind."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from embodied.errors import UnknownBackendError


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "package.module:Attribute"
    config: str | None = None  # "package.module:ConfigModel" validating this backend's options
    summary: str = ""


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def load_target(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, target: str, *, config: str | None = None, summary: str = "") -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} backend {name!r} is registered twice")
        self._entries[name] = Entry(name, target, config, summary)

    def unregister(self, name: str) -> None:
        """Take ``name`` out again (for backends registered by a test or a plugin for a while)."""
        self.entry(name)
        del self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[n] for n in self.names())

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            guess = did_you_mean(str(name), self.names())
            hint = f"did you mean {guess!r}?" if guess else f"known: {', '.join(self.names())}"
            raise UnknownBackendError(f"unknown {self.kind} {name!r}", hint=hint) from None

    def get(self, name: str) -> Any:
        return load_target(self.entry(name).target)

    def config_model(self, name: str) -> Any:
        entry = self.entry(name)
        return load_target(entry.config) if entry.config else None
