"""A recorded Qwen2.5-Coder-1.5B hybrid episode, replayed from its cassette through the whole
runner: the grammar cannot read the instruction, the model's schema-constrained reading is laid
out into typed subgoals, the rule writer and repairer act on them, and every exchange is traced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied.config import load_config
from embodied.experiment import run_episode
from embodied.report import write_report

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "llm" / "relation_hybrid.yaml"


@pytest.mark.slow
def test_replayed_1_5b_hybrid_episode(tmp_path: Path) -> None:
    cfg = load_config(FIXTURE)
    result = run_episode(cfg, tmp_path / "run", config_dir=FIXTURE.parent, console=False)
    events = [json.loads(line) for line in (tmp_path / "run" / "trace.jsonl").read_text().splitlines()]
    plan = next(e for e in events if e["event"] == "plan")
    assert plan["note"].startswith("planned by model (the grammar could not")
    assert all(s["action"] in ("pick", "place_on", "place_at", "push") for s in plan["subgoals"])
    calls = [e for e in events if e["event"] == "model_call"]
    answers = [e for e in events if e["event"] == "model_answer"]
    assert len(calls) == result.model_calls >= 1 and answers[-1]["rejected"] is None
    assert json.loads(calls[-1]["answer"])["steps"]  # schema-shaped JSON
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert result.success, result.failure
    html = Path(write_report(tmp_path / "run")).read_text(encoding="utf-8")
    assert "model call" in html and "planned by model" in html
