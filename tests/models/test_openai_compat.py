"""The OpenAI-compatible HTTP client against a tiny scripted HTTP server on 127.0.0.1.

These test the client (retries, backoff, errors, streaming, payloads), not a model: the server
answers with fixed bodies chosen per test. The real model behind HTTP is in test_serve.py.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from PIL import Image

from embodied.errors import ModelError
from embodied.models import Message, build_model
from embodied.models.openai_compat import chat_completions_url
from embodied.models.serve import free_port


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)
    stream: list[dict[str, Any]] | None = None


@dataclass
class Script:
    replies: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def _completion(text: str, prompt_tokens: int = 5, completion_tokens: int = 2) -> dict[str, Any]:
    return {"id": "x", "model": "m", "choices": [{"index": 0, "finish_reason": "stop",
                                                 "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script([])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            script.requests.append(json.loads(self.rfile.read(length)))
            script.headers.append(dict(self.headers))
            reply = script.replies.pop(0) if script.replies else Reply(500, {"error": {"message": "script ended"}})
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            if reply.stream is not None:
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for chunk in reply.stream:
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                return
            body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            data = body.encode()
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    httpd.shutdown()
    httpd.server_close()


def _model(base_url: str, **options: Any):
    return build_model("openai", {"base_url": base_url, "model": "m", "backoff_s": 0.01, **options})


def test_url_forms() -> None:
    assert chat_completions_url("http://h:1") == "http://h:1/v1/chat/completions"
    assert chat_completions_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert chat_completions_url("https://api.x.com/openai/v1") == "https://api.x.com/openai/v1/chat/completions"
    with pytest.raises(ModelError, match="not an http"):
        chat_completions_url("127.0.0.1:8000")


def test_retries_5xx_then_succeeds(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [Reply(500, {"error": {"message": "boom"}}), Reply(503, "busy"), Reply(200, _completion("ok!"))]
    model = _model(url)
    response = model.chat([Message.user("hi")], max_tokens=8)
    assert response.text == "ok!"
    assert (response.prompt_tokens, response.completion_tokens) == (5, 2)
    assert response.raw["attempts"] == 3
    assert len(script.requests) == 3
    assert model.usage().calls == 1 and model.usage().prompt_tokens == 5


def test_429_honours_retry_after_within_the_cap(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [Reply(429, {"error": "slow down"}, {"Retry-After": "0.05"}), Reply(200, _completion("x"))]
    response = _model(url, max_backoff_s=0.2).chat([Message.user("hi")], max_tokens=8)
    assert response.text == "x" and response.raw["attempts"] == 2
    assert response.latency_s >= 0.05


def test_gives_up_after_bounded_retries(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [Reply(500, {"error": {"message": "down"}})] * 5
    with pytest.raises(ModelError, match=r"failed after 3 attempt\(s\).*HTTP 500: down"):
        _model(url, max_retries=2).chat([Message.user("hi")], max_tokens=8)
    assert len(script.requests) == 3


def test_client_errors_are_not_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [Reply(404, {"error": {"message": "model 'm' not found"}})]
    with pytest.raises(ModelError, match=r"HTTP 404: model 'm' not found.*base_url"):
        _model(url).chat([Message.user("hi")], max_tokens=8)
    assert len(script.requests) == 1


def test_unreachable_server_names_the_url_and_what_to_do() -> None:
    port = free_port()
    model = _model(f"http://127.0.0.1:{port}/v1", max_retries=1, timeout_s=2)
    with pytest.raises(ModelError) as err:
        model.chat([Message.user("hi")], max_tokens=8)
    text = str(err.value)
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in text
    assert "failed after 2 attempt(s)" in text and "Is the server running" in text


def test_payload_carries_images_as_png_data_urls_and_the_key(server: tuple[str, Script],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url, script = server
    monkeypatch.setenv("EMBODIED_TEST_KEY", "sk-test")
    script.replies = [Reply(200, _completion("seen"))]
    img = np.zeros((6, 9, 3), np.uint8)
    img[1, 2] = (10, 20, 30)
    model = _model(url, api_key_env="EMBODIED_TEST_KEY", seed=7)
    model.chat([Message.system("s"), Message.user("what is this?", img)], max_tokens=9, temperature=0.3, stop=["\n"])
    body = script.requests[0]
    assert body["model"] == "m" and body["max_tokens"] == 9 and body["temperature"] == 0.3
    assert body["stop"] == ["\n"] and body["seed"] == 7
    assert body["messages"][0] == {"role": "system", "content": "s"}
    text_part, image_part = body["messages"][1]["content"]
    assert text_part == {"type": "text", "text": "what is this?"}
    prefix, b64 = image_part["image_url"]["url"].split(",", 1)
    assert prefix == "data:image/png;base64"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(b64)))), img)
    assert script.headers[0].get("Authorization") == "Bearer sk-test"


def test_missing_api_key_variable_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBODIED_NO_SUCH_KEY", raising=False)
    with pytest.raises(ModelError, match="EMBODIED_NO_SUCH_KEY is not set"):
        _model("http://127.0.0.1:9/v1", api_key_env="EMBODIED_NO_SUCH_KEY")


def test_streaming_collects_text_usage_and_first_token_time(server: tuple[str, Script]) -> None:
    url, script = server
    chunks = [{"choices": [{"delta": {"role": "assistant"}, "index": 0}]},
              {"choices": [{"delta": {"content": "Hel"}, "index": 0}]},
              {"choices": [{"delta": {"content": "lo END tail"}, "index": 0}]},
              {"choices": [{"delta": {}, "index": 0, "finish_reason": "length"}],
               "usage": {"prompt_tokens": 4, "completion_tokens": 3}}]
    script.replies = [Reply(200, "", stream=chunks)]
    response = _model(url, stream=True).chat([Message.user("hi")], max_tokens=8, stop=[" END"])
    assert response.text == "Hello"
    assert response.finish_reason == "stop"
    assert (response.prompt_tokens, response.completion_tokens) == (4, 3)
    assert response.time_to_first_token_s is not None and 0 < response.time_to_first_token_s <= response.latency_s
    assert script.requests[0]["stream"] is True and script.requests[0]["stream_options"] == {"include_usage": True}


def test_a_body_that_is_not_a_completion_is_a_model_error(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies = [Reply(200, {"unexpected": True})]
    with pytest.raises(ModelError, match="not a chat completion"):
        _model(url).chat([Message.user("hi")], max_tokens=8)
