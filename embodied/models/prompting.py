"""Prompt templates kept as text files, filled with ``$name`` placeholders.

``$`` placeholders (not ``{}``) so that templates can show JSON and code examples verbatim. A
template that names a value the caller did not give, or a caller that gives a value the
template does not use, is a programming error and raises at once.
"""

from __future__ import annotations

import string
from pathlib import Path


class PromptTemplate:
    """One template file. ``$$`` is a literal dollar sign."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.text = self.path.read_text(encoding="utf-8")
        self._template = string.Template(self.text)
        names = set()
        for match in self._template.pattern.finditer(self.text):
            name = match.group("named") or match.group("braced")
            if name:
                names.add(name)
        self.names = frozenset(names)

    def fill(self, **values: object) -> str:
        missing = self.names - values.keys()
        extra = values.keys() - self.names
        if missing or extra:
            raise KeyError(f"template {self.path.name}: missing {sorted(missing)}, unused {sorted(extra)}")
        return self._template.substitute({k: str(v) for k, v in values.items()}).strip() + "\n"


class PromptLibrary:
    """The templates of one directory, loaded on first use: ``library.fill("write", ...)``
    reads ``write.md`` (or ``write.txt``). A ``directory`` given by the user overrides files of
    the same name in ``defaults``."""

    def __init__(self, defaults: str | Path, directory: str | Path | None = None) -> None:
        self.dirs = [Path(directory)] if directory is not None else []
        self.dirs.append(Path(defaults))
        self._cache: dict[str, PromptTemplate] = {}

    def get(self, name: str) -> PromptTemplate:
        if name not in self._cache:
            for d in self.dirs:
                for suffix in (".md", ".txt"):
                    path = d / f"{name}{suffix}"
                    if path.exists():
                        self._cache[name] = PromptTemplate(path)
                        break
                if name in self._cache:
                    break
            else:
                where = ", ".join(map(str, self.dirs))
                raise FileNotFoundError(f"no prompt template {name!r} (.md or .txt) in {where}")
        return self._cache[name]

    def has(self, name: str) -> bool:
        return any((d / f"{name}{s}").exists() for d in self.dirs for s in (".md", ".txt"))

    def fill(self, name: str, **values: object) -> str:
        return self.get(name).fill(**values)
