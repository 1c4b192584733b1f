"""Build a model backend by name from the ``model`` registry (``embodied/backends.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from embodied import backends
from embodied.errors import ConfigError
from embodied.models.base import ChatModel


def build_model(spec: str | Mapping[str, Any] | Any, options: Mapping[str, Any] | None = None,
                base_dir: str | Path | None = None) -> ChatModel:
    """A model from a backend name plus ``options``, or from a config entry (a mapping or a
    ``ModelConfig`` with ``backend`` and ``options``). Relative paths in options are resolved
    against ``base_dir`` (the config file's directory). Raises :class:`ConfigError` for an
    unknown backend or option and :class:`embodied.errors.ModelError` when the model cannot be
    loaded or reached."""
    if isinstance(spec, str):
        name, opts = spec, dict(options or {})
    else:
        if options:
            raise TypeError("give options either inside the config entry or as the options argument, not both")
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"backend", "options"}
            if unknown or "backend" not in spec:
                raise ConfigError(f"a model entry has keys backend and options, got {sorted(spec)}", field="model")
            name, opts = spec["backend"], dict(spec.get("options") or {})
        else:
            name, opts = spec.backend, dict(spec.options)
    cls = backends.registry("model").get(name)
    if not (isinstance(cls, type) and issubclass(cls, ChatModel)):
        raise ConfigError(f"model backend {name!r} is registered as {cls!r}, which is not a ChatModel")
    base = Path(base_dir) if base_dir is not None else None
    return cls.from_options(opts, base_dir=base, build=build_model)
