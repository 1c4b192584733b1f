"""Any OpenAI-compatible ``/v1/chat/completions`` endpoint: vLLM, Ollama, llama.cpp server,
``transformers serve``, hosted APIs.

Images go as base64 PNG data URLs. Connection errors, timeouts, 429 and 5xx answers are retried
with bounded exponential backoff (``Retry-After`` honoured up to ``max_backoff_s``); other 4xx
answers fail at once. Every failure becomes one :class:`ModelError` naming the URL and what to
check.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from embodied.errors import ModelError
from embodied.models.base import ChatModel, ChatRequest, ChatResponse, Message, apply_stop
from embodied.models.images import data_url

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


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
    into a config file); None sends no Authorization header (local servers). ``timeout_s`` is
    per HTTP attempt; ``max_retries`` bounds the extra attempts; backoff doubles from
    ``backoff_s`` up to ``max_backoff_s`` seconds. ``stream`` measures time to first token.
    ``seed`` and ``extra_body`` are passed through to servers that accept them. A request's
    ``schema`` goes as ``response_format`` (``json_schema``), which servers with structured
    outputs decode under.
    """

    supports_schema = True

    def __init__(self, model: str, base_url: str = "http://127.0.0.1:8000/v1", api_key_env: str | None = None,
                 timeout_s: float = 120.0, max_retries: int = 3, backoff_s: float = 1.0,
                 max_backoff_s: float = 30.0, stream: bool = False, seed: int | None = None,
                 extra_body: dict[str, Any] | None = None) -> None:
        super().__init__()
        try:
            import httpx
        except ImportError as exc:
            raise ModelError("the openai backend needs httpx: pip install 'embodied[llm]'") from exc
        if max_retries < 0 or timeout_s <= 0 or backoff_s < 0 or max_backoff_s < 0:
            raise ValueError("max_retries, backoff_s and max_backoff_s must be >= 0 and timeout_s > 0")
        self._httpx = httpx
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
        problems: list[str] = []
        for attempt in range(self.max_retries + 1):
            try:
                text, usage, finish, ttft, raw = self._attempt(body, t0)
                break
            except _Retryable as exc:
                problems.append(exc.what)
                if attempt == self.max_retries:
                    raise ModelError(self._advice(problems, unreachable=exc.unreachable)) from exc
                delay = min(self.max_backoff_s, self.backoff_s * (2 ** attempt))
                if exc.retry_after_s is not None:
                    delay = min(self.max_backoff_s, max(delay, exc.retry_after_s))
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

    def _attempt(self, body: dict[str, Any], t0: float) -> tuple[str, dict[str, Any] | None, str, float | None,
                                                                  dict[str, Any]]:
        httpx = self._httpx
        try:
            if self.stream:
                with self._client.stream("POST", self.url, json=body) as response:
                    self._check_status(response, streaming=True)
                    return self._read_stream(response.iter_lines(), t0)
            response = self._client.post(self.url, json=body)
            self._check_status(response, streaming=False)
            return self._read_body(response)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})", unreachable=True) from exc
        except httpx.TransportError as exc:  # connection refused/reset, DNS, protocol errors
            raise _Retryable(f"cannot connect: {type(exc).__name__}: {exc}", unreachable=True) from exc

    def _check_status(self, response: Any, *, streaming: bool) -> None:
        status = response.status_code
        if status < 400:
            return
        if streaming:
            response.read()
        detail = _error_detail(response.text)
        if status in RETRY_STATUS or status >= 500:
            raise _Retryable(f"HTTP {status}: {detail}", unreachable=False,
                             retry_after_s=_retry_after(response.headers.get("retry-after")))
        hint = ""
        if status in (401, 403):
            hint = (f" Check the API key in ${self.api_key_env}." if self.api_key_env
                    else " The server wants an API key: set options.api_key_env to the variable holding it.")
        elif status == 404:
            hint = f" Check options.base_url and that the server serves model {self.model!r}."
        raise ModelError(f"{self.url} answered HTTP {status}: {detail}.{hint}")

    def _read_body(self, response: Any) -> tuple[str, dict[str, Any] | None, str, None, dict[str, Any]]:
        try:
            data = response.json()
            choice = data["choices"][0]
            text = _content_text(choice["message"].get("content"))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModelError(f"{self.url} returned a response that is not a chat completion: "
                             f"{response.text[:300]!r}") from exc
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
