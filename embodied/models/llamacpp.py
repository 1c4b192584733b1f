"""Backend ``llamacpp``: a GGUF model run by llama.cpp (the ``xllamacpp`` wheel) on the CPU.

``model`` is a catalog name (``qwen2.5-coder-1.5b``, see :mod:`embodied.models.catalog`) or a
``.gguf`` path. Answers can be decoded under a JSON schema (``chat(..., schema=...)``), so
they always parse; prompt caching is on, so a shared prompt prefix is evaluated once.

``share``:
- ``machine`` (default): one server process per machine and settings, started by the first
  user and shared over HTTP by every episode and sweep worker (see
  :mod:`embodied.models.llamacpp_server` for the lease protocol); it stops ``linger_s`` seconds
  after its last client is gone.
- ``process``: the model is loaded into this process and called directly (no HTTP).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from embodied.errors import ConfigError, ModelError
from embodied.models.base import ChatModel, ChatRequest, ChatResponse, apply_stop, check_options
from embodied.models.catalog import CATALOG, model_path
from embodied.models.llamacpp_server import Lease, ServerSettings, attach, start_server
from embodied.models.openai_compat import message_payload

Share = Literal["machine", "process"]


def resolve_gguf(model: str) -> Path:
    """A catalog name -> its assembled file; anything else must be an existing ``.gguf``."""
    if model in CATALOG:
        return model_path(model)
    path = Path(model).expanduser()
    if not path.is_file():
        raise ModelError(f"model {model!r} is neither a catalog name ({', '.join(sorted(CATALOG))}) nor an "
                         "existing GGUF file")
    return path.resolve()


def serve_settings(models: Mapping[str, Any], name: str | None, *, host: str, port: int) -> ServerSettings:
    """Server settings of the ``llamacpp`` model ``name`` of a config's ``models:`` (the only
    one when ``name`` is None), looking through ``replay`` wrappers. For ``serve-model``."""
    if name is None:
        if not models:
            raise ConfigError("the config defines no models: add a llamacpp model under models:", field="models")
        if len(models) != 1:
            raise ConfigError(f"the config defines {len(models)} models: name one with --model", field="models")
        name = next(iter(models))
    if name not in models:
        raise ConfigError(f"no model {name!r} in the config", field="models", hint=f"known: {', '.join(models)}")
    entry = models[name]
    backend, options = entry.backend, dict(entry.options)
    while backend == "replay":
        inner = options.get("inner") or {}
        backend, options = inner.get("backend"), dict(inner.get("options") or {})
    if backend != "llamacpp":
        raise ConfigError(f"model {name!r} uses backend {backend!r}; serve-model serves llamacpp models",
                          field=f"models.{name}.backend")
    check_options(LlamaCppChatModel, options)
    defaults = inspect.signature(LlamaCppChatModel.__init__).parameters
    value = {k: options.get(k, defaults[k].default) for k in ("n_ctx", "threads", "parallel")}
    return ServerSettings(str(resolve_gguf(options["model"])), host=host, port=port, **value)


class LlamaCppChatModel(ChatModel):
    """Chat with a GGUF model through llama.cpp.

    ``n_ctx``: context tokens of the server (split across ``parallel`` slots); ``threads``:
    CPU threads; ``top_k``/``top_p``/``min_p``/``seed``: sampling when ``temperature`` > 0.
    ``timeout_s``: total deadline of one call in seconds (generation is cut by llama.cpp's
    ``t_max_predict_ms`` and the HTTP wait by the same bound). ``startup_timeout_s``: how long a
    server may take to load.
    """

    path_options: ClassVar[tuple[str, ...]] = ()
    supports_schema = True

    def __init__(self, model: str, n_ctx: int = 8192, threads: int = 2, parallel: int = 1,
                 share: Share = "machine", top_k: int = 40, top_p: float = 0.95, min_p: float = 0.05,
                 seed: int = 0, timeout_s: float = 600.0, startup_timeout_s: float = 300.0,
                 linger_s: float = 30.0) -> None:
        super().__init__()
        if share not in ("machine", "process"):
            raise ValueError(f"share must be 'machine' or 'process', got {share!r}")
        if n_ctx < 256 or threads < 1 or parallel < 1 or timeout_s <= 0:
            raise ValueError("n_ctx must be >= 256, threads and parallel >= 1, timeout_s > 0")
        self.model = model
        self.share = share
        self.timeout_s = timeout_s
        self.sampling = {"top_k": top_k, "top_p": top_p, "min_p": min_p, "seed": seed}
        self.settings = ServerSettings(str(resolve_gguf(model)), n_ctx=n_ctx, threads=threads, parallel=parallel)
        self._server: Any = None
        self._lease: Lease | None = None
        self._client: Any = None
        if share == "process":
            self._server = start_server(self.settings)
        else:
            import httpx

            self._lease = attach(self.settings, startup_timeout_s=startup_timeout_s, linger_s=linger_s)
            self._client = httpx.Client(timeout=timeout_s + 5.0)

    @property
    def name(self) -> str:
        return f"llamacpp:{self.model}"

    @property
    def url(self) -> str | None:
        """The shared server's base URL (``machine`` share), for tools that speak OpenAI."""
        return self._lease.url if self._lease is not None else None

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        for m in request.messages:
            if m.images:
                raise ModelError(f"{self.name} is a text model: it cannot take images (turn images off)")
        body: dict[str, Any] = {
            "messages": [message_payload(m) for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "cache_prompt": True,
            "t_max_predict_ms": int(self.timeout_s * 1000),
            **self.sampling,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.schema is not None:
            body["json_schema"] = request.schema
        return body

    def _chat(self, request: ChatRequest) -> ChatResponse:
        body = self.payload(request)
        t0 = time.perf_counter()
        data = self._post(body)
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            usage = data.get("usage") or {}
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModelError(f"{self.name}: llama.cpp returned no chat completion: {str(data)[:300]!r}") from exc
        text, stopped = apply_stop(text, request.stop)
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        return ChatResponse(text=text, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                            completion_tokens=int(usage.get("completion_tokens") or 0),
                            latency_s=time.perf_counter() - t0,
                            finish_reason="stop" if stopped else str(choice.get("finish_reason") or ""),
                            raw={"id": data.get("id"), "timings": data.get("timings")}, cached_tokens=cached)

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._server is not None:
            try:
                return self._server.handle_chat_completions(body)
            except ValueError as exc:  # e.g. a schema llama.cpp cannot turn into a grammar
                raise ModelError(f"{self.name}: llama.cpp refused the request: {exc}") from exc
        if self._lease is None or self._client is None:
            raise ModelError(f"{self.name} is closed")
        url = self._lease.url + "/v1/chat/completions"
        import httpx

        try:
            response = self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise ModelError(f"{self.name}: the shared llama.cpp server at {self._lease.url} failed: "
                             f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise ModelError(f"{self.name}: {url} answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            return response.json()
        except ValueError as exc:
            raise ModelError(f"{self.name}: {url} answered with something that is not JSON") from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        self._server = None  # the binding stops the server when the object goes
