"""Record/replay cassettes: bit-exact reruns without the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embodied.errors import ModelError
from embodied.models import Message, build_model
from embodied.models.replay import ReplayChatModel


def test_replay_needs_an_existing_cassette(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        ReplayChatModel(tmp_path / "none.jsonl", mode="replay")
    with pytest.raises(ModelError, match="needs an inner model"):
        ReplayChatModel(tmp_path / "c.jsonl", mode="auto")


def test_a_miss_in_replay_mode_names_the_cassette_and_the_request(tmp_path: Path) -> None:
    cassette = tmp_path / "empty.jsonl"
    cassette.write_text("", encoding="utf-8")
    model = ReplayChatModel(cassette, mode="replay")
    with pytest.raises(ModelError) as err:
        model.chat([Message.user("hello there")], max_tokens=4)
    assert str(cassette) in str(err.value) and "hello there" in str(err.value)
    assert model.usage().calls == 0


def test_a_broken_cassette_line_is_reported_with_its_number(tmp_path: Path) -> None:
    cassette = tmp_path / "bad.jsonl"
    cassette.write_text('{"key": "a", "response": {"text": "x", "prompt_tokens": 1, "completion_tokens": 1}}\n'
                        'not json\n', encoding="utf-8")
    with pytest.raises(ModelError, match=r"bad.jsonl:2"):
        ReplayChatModel(cassette, mode="replay")


@pytest.mark.slow
def test_record_then_replay_is_bit_exact(smollm2, tmp_path: Path) -> None:
    cassette = tmp_path / "run" / "model.jsonl"
    image = np.zeros((4, 4, 3), np.uint8)
    requests = [[Message.system("Be brief."), Message.user("Say hi.")],
                [Message.user("Name a colour.")]]
    recorder = ReplayChatModel(cassette, mode="record", inner=smollm2)
    live = [recorder.chat(r, max_tokens=6) for r in requests]
    again = recorder.chat(requests[0], max_tokens=6)  # the same request twice: recorded twice
    assert recorder.misses == 3 and recorder.hits == 0
    entries = [json.loads(line) for line in cassette.read_text(encoding="utf-8").splitlines()]
    assert [e["n"] for e in entries] == [0, 0, 1]
    assert entries[0]["request"]["messages"][1]["parts"] == [{"text": "Say hi."}]

    player = build_model("replay", {"cassette": str(cassette), "mode": "replay"})
    replayed = [player.chat(r, max_tokens=6) for r in requests]
    for a, b in zip(live, replayed, strict=True):
        assert (b.text, b.prompt_tokens, b.completion_tokens, b.latency_s) == \
               (a.text, a.prompt_tokens, a.completion_tokens, a.latency_s)
        assert b.raw["replayed"] is True
    assert player.chat(requests[0], max_tokens=6).text == again.text
    assert player.usage().prompt_tokens == sum(r.prompt_tokens for r in live) + again.prompt_tokens
    with pytest.raises(ModelError, match="no response for request"):
        player.chat(requests[0], max_tokens=7)  # different params: a different request
    with pytest.raises(ModelError):
        player.chat([Message.user("Say hi.", image)], max_tokens=6)

    auto = ReplayChatModel(cassette, mode="auto", inner=smollm2)
    assert auto.chat(requests[1], max_tokens=6).text == live[1].text
    fresh = auto.chat([Message.user("Name a fruit.")], max_tokens=6)
    assert (auto.hits, auto.misses) == (1, 1)
    assert len(cassette.read_text(encoding="utf-8").splitlines()) == 4
    assert ReplayChatModel(cassette, mode="replay").chat([Message.user("Name a fruit.")], max_tokens=6).text == \
        fresh.text
