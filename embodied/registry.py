"""One registry per kind of backend. Entries are lazy ``"module:attr"`` strings, so choosing a
backend by name imports only that backend. The config loader and the factories read the same
registry: there is exactly one list of names per kind."""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from embodied.errors import ConfigError, UnknownBackendError


@dataclass(frozen=True)
class Entry:
    """``config``: the backend's options as a typed config (a dataclass or a pydantic model),
    validated when a config is loaded; ``needs``: the shared objects of a run the backend is built
    with (``model``, ``kit``, ``policy``), passed besides its options."""

    name: str
    target: str  # "package.module:Attribute"
    config: str | None = None  # "package.module:ConfigModel" validating this backend's options
    summary: str = ""
    needs: tuple[str, ...] = ()


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

    def register(self, name: str, target: str, *, config: str | None = None, summary: str = "",
                 needs: tuple[str, ...] = ()) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} backend {name!r} is registered twice")
        self._entries[name] = Entry(name, target, config, summary, tuple(needs))

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


def parse_options(registry: Registry, name: str, options: Mapping[str, Any] | None, field: str) -> Any:
    """``options`` of backend ``name`` as its typed config (None when it declares none and none are
    given). Unknown options and wrong types are :class:`ConfigError` naming ``field.<option>``. An
    option ``model`` is a reference to a configured model (for backends that need a model) and is
    left out of the typed config."""
    from pydantic import TypeAdapter, ValidationError

    entry = registry.entry(name)
    given = {k: v for k, v in (options or {}).items() if not (k == "model" and "model" in entry.needs)}
    config_cls = registry.config_model(name)
    if config_cls is None:
        if given:
            raise ConfigError(f"{registry.kind} {name!r} has no options", field=f"{field}.{next(iter(given))}")
        return None
    known = [f.name for f in dataclasses.fields(config_cls)]
    for key in given:
        if key not in known:
            guess = did_you_mean(key, known)
            raise ConfigError(f"{registry.kind} {name!r} has no option {key!r}", field=f"{field}.{key}",
                              hint=f"did you mean {guess!r}?" if guess else f"options: {', '.join(known) or 'none'}")
    try:
        return TypeAdapter(config_cls).validate_python(given)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(err["msg"], field=f"{field}.{where}" if where else field) from None


def config_kwargs(config: Any) -> dict[str, Any]:
    """A typed config's fields as constructor keywords."""
    return {} if config is None else {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
