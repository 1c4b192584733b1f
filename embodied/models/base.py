"""The one interface every language or vision-language model backend implements.

Messages with text and images go in, text comes out with token counts and timing. The public
:meth:`ChatModel.chat` validates the request, times it, and keeps cumulative usage; backends
implement only :meth:`ChatModel._chat` (the android_env pattern: retries, accounting and error
translation in one public method, the backend-specific part in a private one).
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from embodied.errors import ConfigError
from embodied.models.images import to_rgb_array
from embodied.registry import did_you_mean

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True, eq=False)
class Message:
    """One chat turn. ``parts`` are text strings and images, in order. Images may be given as
    numpy arrays (RGB, RGBA or gray) or PIL images; they are stored as RGB uint8 arrays."""

    role: str
    parts: tuple[str | np.ndarray, ...]

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"message role must be one of {ROLES}, got {self.role!r}")
        parts: list[str | np.ndarray] = []
        for part in self.parts:
            parts.append(part if isinstance(part, str) else to_rgb_array(part))
        if not parts:
            raise ValueError("a message needs at least one part (text or image)")
        object.__setattr__(self, "parts", tuple(parts))

    @classmethod
    def system(cls, text: str) -> Message:
        return cls("system", (text,))

    @classmethod
    def user(cls, *parts: Any) -> Message:
        return cls("user", tuple(parts))

    @classmethod
    def assistant(cls, text: str) -> Message:
        return cls("assistant", (text,))

    @property
    def text(self) -> str:
        """The text parts joined by blank lines (images left out)."""
        return "\n\n".join(p for p in self.parts if isinstance(p, str))

    @property
    def images(self) -> list[np.ndarray]:
        return [p for p in self.parts if not isinstance(p, str)]


@dataclass(frozen=True, eq=False)
class ChatRequest:
    """Everything that determines an answer: the replay cassette hashes exactly this."""

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = None  # a JSON schema the answer must follow (constrained decoding)


@dataclass
class ChatResponse:
    """A model's answer. Token counts come from the backend's tokenizer (or the server's
    ``usage``); ``latency_s`` is wall time of the whole call in seconds, including retries;
    ``time_to_first_token_s`` is known only when the backend streams or times generation."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    time_to_first_token_s: float | None = None
    finish_reason: str = ""  # "stop" (end of turn or stop string) or "length" (max_tokens)
    raw: dict[str, Any] = field(default_factory=dict)
    cached_tokens: int = 0  # prompt tokens the server served from its prefix cache


@dataclass
class Usage:
    """Cumulative usage of one model object, for ``summary.json``. Times in seconds."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_time_s: float = 0.0
    cached_tokens: int = 0  # prompt tokens served from a prefix cache (backends that report it)

    @property
    def model_calls(self) -> int:
        """``calls`` under the name the episode summary uses."""
        return self.calls

    def add(self, response: ChatResponse) -> None:
        self.calls += 1
        self.prompt_tokens += response.prompt_tokens
        self.completion_tokens += response.completion_tokens
        self.model_time_s += response.latency_s
        self.cached_tokens += response.cached_tokens

    def as_summary(self) -> dict[str, Any]:
        return {"model_calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "model_time_s": round(self.model_time_s, 3),
                "cached_tokens": self.cached_tokens}


DEFAULT_DEADLINE_S = 300.0  # seconds one chat() call may take in all: minutes, never tens of minutes


def check_deadline(deadline_s: float) -> float:
    """``deadline_s`` as a float if it is a finite number of seconds > 0, else a ValueError (for
    backends taking a ``deadline_s`` option)."""
    if isinstance(deadline_s, bool) or not isinstance(deadline_s, int | float) or not 0 < deadline_s < float("inf"):
        raise ValueError(f"deadline_s must be a finite number of seconds > 0, got {deadline_s!r}")
    return float(deadline_s)


@dataclass
class CallDeadline:
    """The total wall-clock budget of one chat call (connecting, waiting for the first byte,
    reading the whole answer, retries and backoff together), on the monotonic clock. Per-read
    timeouts alone do not bound a call: a server sending one byte every few seconds never trips
    them. A backend creates one per call and stops waiting when :meth:`remaining` reaches 0."""

    total_s: float
    start: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        """Seconds left (0 when spent)."""
        return max(0.0, self.start + self.total_s - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string. Returns the text and whether a stop was hit."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class ChatModel(abc.ABC):
    """Base of every model backend. Subclasses implement ``_chat``; callers use ``chat``.

    ``path_options`` names constructor options that are file paths: :meth:`from_options`
    resolves them against the config file's directory.
    """

    path_options: ClassVar[tuple[str, ...]] = ()
    # True when ``schema`` constrains decoding; other backends ignore it (callers still validate).
    supports_schema: ClassVar[bool] = False

    def __init__(self) -> None:
        self._usage = Usage()
        self._listeners: list[Callable[..., None]] = []

    def listen(self, listener: Callable[..., None]) -> None:
        """Call ``listener(kind, **data)`` for every exchange (``model_call``: the request's last
        message and the answer with its tokens and time) and every verdict a caller reports on an
        answer (``model_answer``, see :meth:`report`). The episode runner passes its trace."""
        self._listeners.append(listener)

    def report(self, **data: Any) -> None:
        """What a caller made of an answer (accepted, or rejected and why), for the listeners."""
        for listener in self._listeners:
            listener("model_answer", model=self.name, **data)

    @property
    def name(self) -> str:
        """A short label for logs, e.g. ``openai:gpt-4o-mini``."""
        return type(self).__name__

    def chat(self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0,
             stop: Sequence[str] | None = None, schema: Mapping[str, Any] | None = None) -> ChatResponse:
        """Send one chat request. ``temperature`` 0 means greedy (deterministic where the backend
        allows it). ``schema``: a JSON schema the answer is decoded under by backends with
        :attr:`supports_schema`; others ignore it. Raises :class:`embodied.errors.ModelError`
        when the backend fails."""
        if not messages:
            raise ValueError("chat() needs at least one message")
        for m in messages:
            if not isinstance(m, Message):
                raise TypeError(f"chat() takes Message objects, got {type(m).__name__}")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if isinstance(stop, str):
            raise TypeError("stop must be a sequence of strings, not one string")
        request = ChatRequest(tuple(messages), max_tokens, float(temperature), tuple(stop or ()),
                              dict(schema) if schema is not None else None)
        t0 = time.perf_counter()
        response = self._chat(request)
        if response.latency_s <= 0.0:
            response = dataclasses.replace(response, latency_s=time.perf_counter() - t0)
        self._usage.add(response)
        if self._listeners:
            last = request.messages[-1]
            event = {"model": self.name, "messages": len(request.messages), "last_role": last.role,
                     "last_message": last.text, "images": sum(len(m.images) for m in request.messages),
                     "schema": request.schema is not None, "answer": response.text,
                     "prompt_tokens": response.prompt_tokens, "completion_tokens": response.completion_tokens,
                     "cached_tokens": response.cached_tokens, "latency_s": round(response.latency_s, 3)}
            for listener in self._listeners:
                listener("model_call", **event)
        return response

    @abc.abstractmethod
    def _chat(self, request: ChatRequest) -> ChatResponse:
        """Backend-specific: answer ``request``. Set ``latency_s`` when the backend knows better
        than the wall time around this call (e.g. a replayed response)."""

    def usage(self) -> Usage:
        """A copy of the cumulative usage since construction."""
        return dataclasses.replace(self._usage)

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing to release
        """Release connections or memory. Safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -----------------------------------------------------------------------------------------
    # Construction from config

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, base_dir: Path | None = None,
                     build: Callable[..., ChatModel] | None = None) -> Self:
        """Build from a config's ``options:`` mapping. Unknown option names raise a
        :class:`ConfigError` with a "did you mean"; path options are resolved against
        ``base_dir``. ``build`` builds nested models (used by wrappers such as ``replay``)."""
        check_options(cls, options)
        kwargs = dict(options)
        for key in cls.path_options:
            value = kwargs.get(key)
            if isinstance(value, str) and base_dir is not None:
                kwargs[key] = resolve_path(value, base_dir)
        return cls(**kwargs)


def check_options(cls: type, options: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for option names ``cls.__init__`` does not take, and for
    required ones that are missing."""
    params = {name: p for name, p in inspect.signature(cls.__init__).parameters.items()
              if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    for key in options:
        if key not in params:
            guess = did_you_mean(str(key), list(params))
            hint = f"did you mean {guess!r}?" if guess else f"allowed: {', '.join(params)}"
            raise ConfigError(f"unknown option {key!r} for {cls.__name__}", field=f"options.{key}", hint=hint)
    for name, p in params.items():
        if p.default is inspect.Parameter.empty and name not in options:
            raise ConfigError(f"{cls.__name__} needs option {name!r}", field=f"options.{name}")


def resolve_path(value: str, base_dir: Path) -> str:
    """Relative file paths in a config are relative to the config file. ``package:NAME`` and
    absolute paths are left alone (see :func:`embodied.models.local.resolve_model_path`)."""
    if value.startswith("package:") or Path(value).expanduser().is_absolute():
        return str(Path(value).expanduser()) if not value.startswith("package:") else value
    return str((base_dir / value).resolve())
