"""Record every request/response of a model to a JSONL cassette, and replay it: bit-exact reruns
(same text, same token counts) without the model, its server or its cost.

A request is keyed by a SHA-256 of its canonical JSON: roles, texts, image pixel digests,
``max_tokens``, ``temperature`` and ``stop``. The same request may be asked several times in one
run (with sampling, answers may differ): the n-th occurrence replays the n-th recorded answer,
and the last one when fewer were recorded.

Modes: ``record`` calls the model for every request and starts a new cassette; ``replay`` never
calls a model and raises :class:`ModelError` on a miss; ``auto`` replays hits and records misses
(appending). One cassette per process: concurrent writers would interleave lines.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from embodied.errors import ConfigError, ModelError
from embodied.models.base import ChatModel, ChatRequest, ChatResponse, check_options, resolve_path
from embodied.models.images import image_digest

Mode = Literal["record", "replay", "auto"]
FORMAT = 1

# The vocabulary of this backend in a config's ``models:`` entry, for tools that rewrite entries
# (``embodied replay`` switches them to replay mode; sweeps give each episode its own cassette).
REPLAY_BACKEND = "replay"  # the backend's registry name
CASSETTE_OPTION = "cassette"  # a JSONL file
MODE_OPTION = "mode"  # record | replay | auto
INNER_OPTION = "inner"  # the model that answers when recording; not needed to replay
REPLAY_MODE: Mode = "replay"
DEFAULT_MODE: Mode = "auto"


def request_summary(request: ChatRequest) -> dict[str, Any]:
    """The canonical, JSON-ready form of a request (images replaced by pixel digests)."""
    messages = []
    for m in request.messages:
        parts = [{"text": p} if isinstance(p, str) else {"image_sha256": image_digest(p)} for p in m.parts]
        messages.append({"role": m.role, "parts": parts})
    summary = {"messages": messages, "max_tokens": request.max_tokens, "temperature": request.temperature,
               "stop": list(request.stop)}
    if request.schema is not None:  # only then: keys of schema-free requests stay as they were
        summary["schema"] = request.schema
    return summary


def request_key(request: ChatRequest) -> str:
    """Stable across processes and machines: sorted keys, no whitespace, UTF-8."""
    canonical = json.dumps(request_summary(request), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_RESPONSE_FIELDS = ("text", "prompt_tokens", "completion_tokens", "latency_s", "time_to_first_token_s",
                    "finish_reason", "cached_tokens")


class ReplayChatModel(ChatModel):
    """Wraps ``inner`` (any ChatModel; not needed in ``replay`` mode) with a cassette.

    Replayed responses report the recorded ``latency_s`` so that a rerun's usage figures are
    the recorded ones; ``raw["replayed"]`` tells them apart.
    """

    path_options: ClassVar[tuple[str, ...]] = (CASSETTE_OPTION,)

    def __init__(self, cassette: str | Path, mode: Mode = "auto", inner: ChatModel | None = None) -> None:
        super().__init__()
        if mode not in ("record", "replay", "auto"):
            raise ValueError(f"replay mode must be record, replay or auto, got {mode!r}")
        if mode != "replay" and inner is None:
            raise ModelError(f"replay mode {mode!r} needs an inner model to record from (options.inner)")
        self.cassette = Path(cassette)
        self.mode = mode
        self.inner = inner
        self._recorded: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._seen: dict[str, int] = defaultdict(int)
        self.hits = 0
        self.misses = 0
        if mode == "record":
            self.cassette.parent.mkdir(parents=True, exist_ok=True)
            self.cassette.write_text("", encoding="utf-8")
        elif self.cassette.exists():
            self._load()
        elif mode == "replay":
            raise ModelError(f"replay cassette {self.cassette} does not exist (record it first with mode record or "
                             "auto)")

    @property
    def name(self) -> str:
        inner = self.inner.name if self.inner is not None else "none"
        return f"replay:{inner}"

    def _load(self) -> None:
        with self.cassette.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    key, response = entry["key"], entry["response"]
                    missing = [k for k in ("text", "prompt_tokens", "completion_tokens") if k not in response]
                except (ValueError, KeyError, TypeError) as exc:
                    raise ModelError(f"{self.cassette}:{number}: not a cassette entry ({exc})") from exc
                if missing:
                    raise ModelError(f"{self.cassette}:{number}: response lacks {', '.join(missing)}")
                self._recorded[key].append(response)

    def _chat(self, request: ChatRequest) -> ChatResponse:
        key = request_key(request)
        occurrence = self._seen[key]
        self._seen[key] += 1
        recorded = self._recorded.get(key, [])
        if recorded and self.mode != "record":
            self.hits += 1
            entry = recorded[min(occurrence, len(recorded) - 1)]
            fields = {k: entry.get(k) for k in _RESPONSE_FIELDS}
            fields["finish_reason"] = fields["finish_reason"] or ""
            fields["latency_s"] = float(fields["latency_s"] or 0.0)
            fields["cached_tokens"] = int(fields["cached_tokens"] or 0)
            return ChatResponse(**fields, raw={"replayed": True, "key": key})
        if self.mode == "replay" or self.inner is None:
            raise ModelError(f"replay cassette {self.cassette} has no response for request {key[:16]} "
                             f"({_describe(request)}); record it with mode 'auto' or 'record'")
        self.misses += 1
        response = self.inner.chat(request.messages, max_tokens=request.max_tokens,
                                   temperature=request.temperature, stop=request.stop, schema=request.schema)
        stored = {k: getattr(response, k) for k in _RESPONSE_FIELDS}
        self._append({"format": FORMAT, "key": key, "n": occurrence, "model": self.inner.name,
                      "request": request_summary(request), "response": stored})
        self._recorded[key].append(stored)
        return dataclasses.replace(response, raw={**response.raw, "replayed": False, "key": key})

    def _append(self, entry: dict[str, Any]) -> None:
        """One line per exchange, flushed at once: a crash loses at most the call in flight."""
        self.cassette.parent.mkdir(parents=True, exist_ok=True)
        with self.cassette.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, base_dir: Path | None = None,
                     build: Callable[..., ChatModel] | None = None) -> Self:
        """``inner`` is a nested model config (``{backend: ..., options: {...}}``), built with
        ``build``; ``cassette`` is relative to the config file."""
        check_options(cls, options)
        kwargs = dict(options)
        if isinstance(kwargs.get("cassette"), str) and base_dir is not None:
            kwargs["cassette"] = resolve_path(kwargs["cassette"], base_dir)
        inner = kwargs.get("inner")
        if inner is not None and not isinstance(inner, ChatModel):
            if build is None:
                raise ConfigError("replay: a nested inner model config needs a builder", field="options.inner")
            kwargs["inner"] = build(inner, base_dir=base_dir)
        return cls(**kwargs)


def _describe(request: ChatRequest) -> str:
    last = request.messages[-1]
    snippet = " ".join(last.text.split())[:80]
    images = sum(len(m.images) for m in request.messages)
    return (f"{len(request.messages)} message(s), {images} image(s), last {last.role}: {snippet!r}, "
            f"max_tokens={request.max_tokens}, temperature={request.temperature}")
