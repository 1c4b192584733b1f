"""The model contract (:func:`embodied.checks.check_model`) over every registered model backend,
each on a real model: SmolLM2-135M (in process, behind ``transformers serve``, and recorded then
replayed through a cassette) and Qwen2.5-Coder-0.5B on llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodied import backends, checks
from embodied.models import build_model
from embodied.models.replay import ReplayChatModel


@pytest.mark.slow
@pytest.mark.parametrize("name", backends.registry("model").names())
def test_model_contract(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if name == "transformers":
        checks.check_model(request.getfixturevalue("smollm2"), name)
    elif name == "openai":
        server = request.getfixturevalue("smollm2_server")
        checks.check_model(build_model("openai", {"base_url": server.base_url, "model": server.model}), name)
    elif name == "replay":
        cassette = tmp_path / "contract.jsonl"
        checks.check_model(ReplayChatModel(cassette, mode="record", inner=request.getfixturevalue("smollm2")), name)
        checks.check_model(ReplayChatModel(cassette, mode="replay"), name)  # and played back without the model
    elif name == "llamacpp":  # the smallest catalog code model, in this process
        with build_model("llamacpp", {"model": "qwen2.5-coder-0.5b", "n_ctx": 1024, "share": "process"}) as model:
            checks.check_model(model, name)
    else:
        pytest.fail(f"model backend {name!r} is registered but this test cannot build it")
