"""YAML for files a person wrote, read under limits, so a careless or hostile file costs a clear
:class:`~embodied.errors.ConfigError` and never a traceback, a hang or all of memory.

The limits: a file must be a regular file of at most :data:`MAX_BYTES`, valid UTF-8, nested at
most :data:`MAX_DEPTH` levels, with at most :data:`MAX_ALIASES` aliases, no alias inside its own
anchor (``&a [*a]``), and at most :data:`MAX_NODES` nodes once every alias is expanded (an alias
bomb is a few hundred bytes that expand to billions of nodes). Configs are far below all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent

from embodied.errors import ConfigError

MAX_BYTES = 1 << 20  # 1 MB: the largest config in the repository is a few kB
MAX_DEPTH = 64  # nesting levels of mappings and sequences
MAX_ALIASES = 1000  # alias uses (*name) in one document
MAX_NODES = 200_000  # nodes of the document with every alias expanded


class _Limit(Exception):
    """Raised inside the composer; turned into a located ConfigError by :func:`load`."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message, self.mark = message, mark


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts depth and aliases and refuses recursive aliases."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._open: set[str] = set()  # anchors whose node is still being composed

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Limit(f"more than {MAX_ALIASES} aliases", event.start_mark)
            if event.anchor in self._open:
                raise _Limit(f"alias *{event.anchor} is used inside its own anchor &{event.anchor} "
                             f"(a recursive structure)", event.start_mark)
            return super().compose_node(parent, index)
        event = self.peek_event()
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Limit(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)


def _expanded_size(root: yaml.Node, file: str) -> None:
    """Refuse a document with more than MAX_NODES nodes once aliases are expanded. Shared nodes
    are sized once (memo by identity), so this costs the size of the file, not of the expansion."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        if total > MAX_NODES:
            raise ConfigError(f"the document expands to more than {MAX_NODES} values (aliases repeat "
                              f"too much)", file=file, line=node.start_mark.line + 1)
        sizes[id(node)] = total
        return total

    size(root)


def _error(exc: Exception, file: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "message", None) or str(exc)
    line = mark.line + 1 if mark is not None else None
    return ConfigError(f"invalid YAML: {problem}", file=file, line=line)


def parse(text: str, file: str) -> tuple[Any, yaml.Node | None]:
    """(data, node) of one YAML document within the limits; the node carries line numbers."""
    loader = _LimitedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _expanded_size(node, file)
        return loader.construct_document(node), node
    except _Limit as exc:
        raise ConfigError(f"invalid YAML: {exc.message}", file=file, line=exc.mark.line + 1) from None
    except yaml.YAMLError as exc:
        raise _error(exc, file) from None
    except (ValueError, OverflowError, TypeError) as exc:  # a value the constructor cannot build (2020-13-45)
        raise ConfigError(f"invalid YAML value: {exc}", file=file) from None
    finally:
        loader.dispose()


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """The file as UTF-8 text: a regular file of at most ``max_bytes``, else a ConfigError."""
    file = str(path)
    try:
        if not path.is_file():
            if not path.exists():
                raise ConfigError("file not found", file=file, hint="check the path")
            raise ConfigError("not a regular file (a directory, device or pipe cannot be a config)", file=file)
        with path.open("rb") as stream:
            raw = stream.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=file) from None
    if len(raw) > max_bytes:
        raise ConfigError(f"larger than {max_bytes / 2**20:g} MB; a config is a few kB", file=file)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at column {column}", file=file, line=line,
                          hint="save the file as UTF-8") from None
