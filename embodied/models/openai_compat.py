"""Any OpenAI-compatible ``/v1/chat/completions`` endpoint: vLLM, Ollama, llama.cpp server,
``transformers serve``, hosted APIs.

Images go as base64 PNG data URLs. Connection errors, timeouts, 429 and 5xx answers are retried
with bounded exponential backoff (``Retry-After`` honoured up to ``max_backoff_s``); other 4xx
answers fail at once. Every failure becomes one :class:`ModelError` naming the URL and what to
check.

A whole call (connect, first byte, whole body, retries and backoff) ends within ``deadline_s``:
each attempt runs on a helper thread that the caller stops waiting for at the deadline, and that
thread gives up at its next chunk or read timeout (per-read timeouts alone never bound a server
that drips one byte at a time).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar
from urllib.parse import urlsplit

from embodied.errors import ModelError
from embodied.models.base import (
    DEFAULT_DEADLINE_S,
    CallDeadline,
    ChatModel,
    ChatRequest,
    ChatResponse,
    Message,
    apply_stop,
    check_deadline,
)
from embodied.models.images import data_url

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_BODY_BYTES = 64 << 20  # an answer larger than this is not a chat completion
T = TypeVar("T")


class _Cancelled(Exception):
    """The caller stopped waiting (deadline): the attempt's thread stops reading."""


class _Retryable(Exception):
    """One failed attempt that may succeed when tried again."""

    def __init__(self, what: str, *, unreachable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.unreachable = unreachable  # no HTTP answer at all (refused, reset, timed out)
        self.retry_after_s = retry_after_s


def chat_completions_url(base_url: str) -> str:
    """``http://host:port`` -> ``http://host:port/v1/chat/completions``; a base URL with a path
    (``.../v1``, ``.../openai/v1``) is used as given."""
    base = base_url.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelError(f"base_url {base_url!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    if not parts.path:
        base += "/v1"
    return base + "/chat/completions"


def message_payload(message: Message) -> dict[str, Any]:
    """Text-only messages as a plain string (accepted by every server); mixed ones as parts."""
    if not message.images:
        return {"role": message.role, "content": message.text}
    content: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, str):
            content.append({"type": "text", "text": part})
        else:
            content.append({"type": "image_url", "image_url": {"url": data_url(part)}})
    return {"role": message.role, "content": content}


class OpenAIChatModel(ChatModel):
    """A chat model behind an OpenAI-compatible HTTP API.

    ``api_key_env`` names the environment variable holding the key (the key itself never goes
    into a config file); None sends no Authorization header (local servers). ``timeout_s`` bounds
    each connect and each read; ``deadline_s`` bounds the whole call, retries included;
    ``max_retries`` bounds the extra attempts; backoff doubles from ``backoff_s`` up to
    ``max_backoff_s`` seconds. ``stream`` measures time to first token.
    ``seed`` and ``extra_body`` are passed through to servers that accept them.
    A request's ``schema`` goes as ``response_format`` (``json_schema``), which servers with
    structured outputs decode under.
    """

    supports_schema = True

    def __init__(self, model: str, base_url: str = "http://127.0.0.1:8000/v1", api_key_env: str | None = None,
                 timeout_s: float = 120.0, max_retries: int = 3, backoff_s: float = 1.0,
                 max_backoff_s: float = 30.0, stream: bool = False, seed: int | None = None,
                 extra_body: dict[str, Any] | None = None, deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        super().__init__()
        try:
            import httpx
        except ImportError as exc:
            raise ModelError("the openai backend needs httpx: pip install 'embodied[llm]'") from exc
        if max_retries < 0 or timeout_s <= 0 or backoff_s < 0 or max_backoff_s < 0:
            raise ValueError("max_retries, backoff_s and max_backoff_s must be >= 0 and timeout_s > 0")
        self._httpx = httpx
        self.deadline_s = check_deadline(deadline_s)
        self.timeout_s = float(timeout_s)
        self.model = model
        self.url = chat_completions_url(base_url)
        self.max_retries, self.backoff_s, self.max_backoff_s = max_retries, backoff_s, max_backoff_s
        self.stream, self.seed, self.extra_body = stream, seed, dict(extra_body or {})
        headers = {"Content-Type": "application/json"}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ModelError(f"environment variable {api_key_env} is not set: export it with the API key "
                                 f"for {self.url} (options.api_key_env names the variable)")
            headers["Authorization"] = f"Bearer {key}"
        self.api_key_env = api_key_env
        self._client = httpx.Client(timeout=timeout_s, headers=headers)

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    def close(self) -> None:
        self._client.close()

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [message_payload(m) for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.schema is not None:  # structured outputs (OpenAI, vLLM, llama.cpp server)
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "answer", "schema": request.schema, "strict": True}}
        if self.seed is not None:
            body["seed"] = self.seed
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(self.extra_body)
        return body

    def _chat(self, request: ChatRequest) -> ChatResponse:
        body = self.payload(request)
        t0 = time.perf_counter()
        deadline = CallDeadline(self.deadline_s)
        problems: list[str] = []
        for attempt in range(self.max_retries + 1):
            try:
                text, usage, finish, ttft, raw = self._within(deadline, problems,
                                                              lambda cancel: self._attempt(body, t0, deadline, cancel))
                break
            except _Retryable as exc:
                problems.append(exc.what)
                if attempt == self.max_retries:
                    raise ModelError(self._advice(problems, unreachable=exc.unreachable)) from exc
                delay = min(self.max_backoff_s, self.backoff_s * (2 ** attempt))
                if exc.retry_after_s is not None:
                    delay = min(self.max_backoff_s, max(delay, exc.retry_after_s))
                if delay >= deadline.remaining():
                    raise ModelError(self._late(problems)) from exc
                time.sleep(delay)
        text, stopped = apply_stop(text, request.stop)
        raw["attempts"] = len(problems) + 1
        if usage is None:
            raw["usage_missing"] = True
            usage = {}
        return ChatResponse(text=text, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                            completion_tokens=int(usage.get("completion_tokens") or 0),
                            latency_s=time.perf_counter() - t0, time_to_first_token_s=ttft,
                            finish_reason="stop" if stopped else (finish or ""), raw=raw,
                            cached_tokens=int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0))

    def _within(self, deadline: CallDeadline, problems: list[str], attempt: Callable[[threading.Event], T]) -> T:
        """``attempt(cancel)`` on a helper thread; stop waiting when the deadline is spent, set
        ``cancel`` and raise ModelError. The helper is a daemon thread that ends at its next chunk
        or read timeout, so an abandoned attempt never holds the caller or interpreter exit."""
        remaining = deadline.remaining()
        if remaining <= 0.0:
            raise ModelError(self._late(problems))
        future: Future[T] = Future()
        cancel = threading.Event()

        def run() -> None:
            try:
                future.set_result(attempt(cancel))
            except BaseException as exc:  # handed to the waiting caller, which re-raises it
                future.set_exception(exc)

        threading.Thread(target=run, name="openai-attempt", daemon=True).start()
        try:
            return future.result(timeout=remaining)
        except FutureTimeout:
            cancel.set()
            raise ModelError(self._late([*problems, "no complete answer yet"])) from None

    def _late(self, problems: list[str]) -> str:
        tried = f" after {len(problems)} attempt(s); last: {problems[-1]}" if problems else ""
        return (f"{self.url} did not answer within the call deadline of {self.deadline_s:g} s{tried}. A slow "
                f"server or a long answer needs a larger options.deadline_s (or a smaller max_tokens).")

    def _advice(self, problems: list[str], *, unreachable: bool) -> str:
        text = f"{self.url} failed after {len(problems)} attempt(s); last: {problems[-1]}."
        if unreachable:
            text += (" Is the server running and listening there? Start it (e.g. `transformers serve DIR "
                     "--host 127.0.0.1 --port P`, `vllm serve`, `ollama serve`) or fix options.base_url; "
                     "a slow server needs a larger options.timeout_s.")
        else:
            text += " The server is overloaded or failing: try again later or raise options.max_retries."
        return text

    # -----------------------------------------------------------------------------------------

    def _attempt(self, body: dict[str, Any], t0: float, deadline: CallDeadline,
                 cancel: threading.Event) -> tuple[str, dict[str, Any] | None, str, float | None, dict[str, Any]]:
        """One HTTP attempt. Each connect and read waits at most ``timeout_s`` (and never past the
        deadline); the body is read chunk by chunk so ``cancel`` is seen between chunks."""
        httpx = self._httpx
        timeout = max(0.001, min(self.timeout_s, deadline.remaining()))
        try:
            with self._client.stream("POST", self.url, json=body, timeout=timeout) as response:
                if self.stream and response.status_code < 400:
                    return self._read_stream(_cancellable(response.iter_lines(), cancel), t0)
                data = bytearray()
                for chunk in _cancellable(response.iter_bytes(), cancel):
                    data += chunk
                    if len(data) > MAX_BODY_BYTES:
                        raise ModelError(f"{self.url} sent more than {MAX_BODY_BYTES >> 20} MB: not a chat completion")
                text = data.decode(response.encoding or "utf-8", errors="replace")
                self._check_status(response.status_code, response.headers, text)
                return self._read_body(text)
        except _Cancelled:
            raise ModelError("cancelled at the call deadline") from None
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})", unreachable=True) from exc
        except httpx.TransportError as exc:  # connection refused/reset, DNS, protocol errors
            raise _Retryable(f"cannot connect: {type(exc).__name__}: {exc}", unreachable=True) from exc

    def _check_status(self, status: int, headers: Any, text: str) -> None:
        """Raise for an HTTP error ``status``; ``text`` is the whole body (read under the deadline)."""
        if status < 400:
            return
        detail = _error_detail(text)
        if status in RETRY_STATUS or status >= 500:
            raise _Retryable(f"HTTP {status}: {detail}", unreachable=False,
                             retry_after_s=_retry_after(headers.get("retry-after")))
        hint = ""
        if status in (401, 403):
            hint = (f" Check the API key in ${self.api_key_env}." if self.api_key_env
                    else " The server wants an API key: set options.api_key_env to the variable holding it.")
        elif status == 404:
            hint = f" Check options.base_url and that the server serves model {self.model!r}."
        raise ModelError(f"{self.url} answered HTTP {status}: {detail}.{hint}")

    def _read_body(self, body: str) -> tuple[str, dict[str, Any] | None, str, None, dict[str, Any]]:
        try:
            data = json.loads(body)
            choice = data["choices"][0]
            text = _content_text(choice["message"].get("content"))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModelError(f"{self.url} returned a response that is not a chat completion: "
                             f"{body[:300]!r}") from exc
        raw = {"id": data.get("id"), "model": data.get("model")}
        return text, data.get("usage"), str(choice.get("finish_reason") or ""), None, raw

    def _read_stream(self, lines: Iterator[str], t0: float) -> tuple[str, dict[str, Any] | None, str,
                                                                       float | None, dict[str, Any]]:
        pieces: list[str] = []
        usage: dict[str, Any] | None = None
        finish = ""
        ttft: float | None = None
        raw: dict[str, Any] = {}
        for line in lines:
            if not line.startswith("data:"):
                continue
            data_text = line[len("data:"):].strip()
            if data_text == "[DONE]":
                break
            try:
                chunk = json.loads(data_text)
            except ValueError as exc:
                raise ModelError(f"{self.url} sent a stream chunk that is not JSON: {data_text[:200]!r}") from exc
            raw.setdefault("id", chunk.get("id"))
            raw.setdefault("model", chunk.get("model"))
            if chunk.get("usage"):
                usage = chunk["usage"]
            for choice in chunk.get("choices") or []:
                piece = _content_text((choice.get("delta") or {}).get("content"))
                if piece:
                    if ttft is None:
                        ttft = time.perf_counter() - t0
                    pieces.append(piece)
                finish = choice.get("finish_reason") or finish
        return "".join(pieces), usage, str(finish), ttft, raw


def _cancellable(items: Iterator[T], cancel: threading.Event) -> Iterator[T]:
    for item in items:
        if cancel.is_set():
            raise _Cancelled
        yield item


def _content_text(content: Any) -> str:
    """Message content as text: a string, or a list of parts of which the text ones count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    raise TypeError(f"unexpected content type {type(content).__name__}")


def _error_detail(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300].strip() or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data))
        if isinstance(err, dict):
            return str(err.get("message") or err)[:300]
        return str(err)[:300]
    return str(data)[:300]


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
