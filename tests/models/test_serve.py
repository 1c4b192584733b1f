"""The ``openai`` backend against a real ``transformers serve`` process with SmolLM2 (real HTTP,
real model), compared with the same model in process."""

from __future__ import annotations

import pytest

from embodied.models import Message, build_model
from embodied.models.check import check_model

pytestmark = pytest.mark.slow

PROMPT = [Message.system("You answer in one short sentence."), Message.user("Name three colours.")]


def test_openai_backend_against_transformers_serve(smollm2_server, smollm2) -> None:
    model = build_model("openai", {"base_url": smollm2_server.base_url, "model": smollm2_server.model})
    response = model.chat(PROMPT, max_tokens=12)
    assert response.text.strip()
    assert response.prompt_tokens > 10 and 0 < response.completion_tokens <= 12
    assert model.usage().calls == 1
    local = smollm2.chat(PROMPT, max_tokens=12)
    # same weights (dequantized GGUF), greedy: the server and the in-process backend agree
    assert (response.text, response.prompt_tokens, response.completion_tokens) == \
           (local.text, local.prompt_tokens, local.completion_tokens)


def test_streaming_against_transformers_serve(smollm2_server) -> None:
    model = build_model("openai", {"base_url": smollm2_server.base_url, "model": smollm2_server.model,
                                   "stream": True})
    response = model.chat(PROMPT, max_tokens=6)
    assert response.text.strip() and response.completion_tokens > 0
    assert response.time_to_first_token_s is not None and response.time_to_first_token_s <= response.latency_s
    assert check_model(model) == []
