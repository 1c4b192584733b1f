"""The llamacpp backend with the real Qwen2.5-Coder-0.5B through the real engine: in process,
through the machine-shared server, and over HTTP through the ``openai`` backend."""

from __future__ import annotations

import json
import time

import pytest

from embodied.errors import ConfigError, ModelError
from embodied.models import Message, build_model
from embodied.models.llamacpp import serve_settings
from embodied.models.llamacpp_server import Paths, _alive, healthy

pytestmark = pytest.mark.slow

MODEL = "qwen2.5-coder-0.5b"
COLOUR = {"type": "object", "properties": {"colour": {"enum": ["teal", "ochre"]}}, "required": ["colour"]}
PROMPT = "You sort paint. Name one colour of the two allowed ones for a sunny wall."


def test_in_process_answer_follows_the_schema_and_reuses_the_prompt_cache() -> None:
    with build_model("llamacpp", {"model": MODEL, "n_ctx": 1024, "share": "process"}) as model:
        first = model.chat([Message.system(PROMPT), Message.user("Answer in JSON.")], max_tokens=16, schema=COLOUR)
        second = model.chat([Message.system(PROMPT), Message.user("Answer in JSON again.")], max_tokens=16,
                            schema=COLOUR)
        usage = model.usage()
    for response in (first, second):
        assert json.loads(response.text)["colour"] in ("teal", "ochre")
        assert response.prompt_tokens > 10 and 0 < response.completion_tokens <= 16
    assert second.cached_tokens > 10  # the shared system prompt was not evaluated again
    assert usage.calls == 2 and usage.cached_tokens == first.cached_tokens + second.cached_tokens


def test_machine_share_starts_one_server_and_stops_it_after_the_last_client() -> None:
    options = {"model": MODEL, "n_ctx": 1024, "linger_s": 1.0}
    first = build_model("llamacpp", options)
    second = build_model("llamacpp", options)
    try:
        assert first.url == second.url and first._lease.pid == second._lease.pid
        pid, url = first._lease.pid, first.url
        # the same server over HTTP through the openai backend, schema as response_format
        with build_model("openai", {"model": MODEL, "base_url": url + "/v1", "timeout_s": 120}) as client:
            answer = client.chat([Message.system(PROMPT), Message.user("JSON please.")], max_tokens=16,
                                 schema=COLOUR)
        assert json.loads(answer.text)["colour"] in ("teal", "ochre")
        assert answer.prompt_tokens > 10
    finally:
        first.close()
        second.close()
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _alive(pid) and not healthy(url)
    assert not Paths.of(first.settings).state.exists()


def test_deadline_cuts_generation() -> None:
    with build_model("llamacpp", {"model": MODEL, "n_ctx": 1024, "share": "process", "timeout_s": 0.5}) as model:
        response = model.chat([Message.user("Count from 1 to 500, one number per line.")], max_tokens=400)
    assert response.completion_tokens < 400


def test_bad_model_names_fail_clearly() -> None:
    with pytest.raises(ModelError, match="neither a catalog name"):
        build_model("llamacpp", {"model": "qwen-9000"})

    class Entry:
        def __init__(self, backend: str, options: dict) -> None:
            self.backend, self.options = backend, options

    with pytest.raises(ConfigError, match="serves llamacpp models"):
        serve_settings({"m": Entry("openai", {"model": "x"})}, None, host="127.0.0.1", port=0)
    settings = serve_settings({"m": Entry("replay", {"inner": {"backend": "llamacpp",
                                                               "options": {"model": MODEL, "threads": 1}}})},
                              "m", host="127.0.0.1", port=9)
    assert settings.threads == 1 and settings.gguf.endswith("0.5b-instruct.gguf") and settings.port == 9
