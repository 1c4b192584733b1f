"""Replay: the behaviour sequence of a trace, comparison with the first difference, cassette
switching, and (when the tabletop stack is complete) a real episode re-run from its directory."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from paint_world import make_episode

from embodied.config import ExperimentConfig, ModelConfig
from embodied.models.replay import MODE_OPTION, REPLAY_MODE
from embodied.replay import (
    ReplayError,
    behaviour,
    first_difference,
    replay_config,
    replay_episode,
    same,
)
from embodied.trace import read_trace


def test_behaviour_lists_policies_calls_verdicts_and_success_in_order(tmp_path: Path) -> None:
    make_episode(tmp_path / "a", smudges=1)
    steps = behaviour(read_trace(tmp_path / "a" / "trace.jsonl"))
    kinds = [s.kind for s in steps]
    # red: policy, call, verdict; blue: policy, failing call, verdict, repaired policy, call, verdict; result
    assert kinds == ["policy", "call", "verdict", "policy", "call", "verdict", "policy", "call", "verdict", "success"]
    assert steps[4].data["error_type"] == "Smudged" and steps[4].subgoal == 1
    assert steps[6].data["version"] == 1 and "+ i + 1" in steps[6].data["source"]
    assert steps[-1].data == {"success": True}


def test_identical_runs_match_and_a_changed_run_differs_at_the_first_change(tmp_path: Path) -> None:
    for name, smudges in (("a", 1), ("b", 1), ("c", 2)):
        make_episode(tmp_path / name, smudges=smudges)
    a, b, c = (behaviour(read_trace(tmp_path / n / "trace.jsonl")) for n in "abc")
    assert first_difference(a, b) is None
    diff = first_difference(a, c)
    assert diff is not None and diff.position == 7  # the repaired call: ok in a, smudged again in c
    text = diff.describe()
    assert "step 8" in text and "paint('blue', 41)" in text and "-> Smudged" in text
    shorter = first_difference(a, a[:-1])
    assert shorter is not None and shorter.replay is None and "replay ends here" in shorter.describe()


def test_float_comparison_tolerates_only_rounding() -> None:
    assert same({"x": [0.1 + 0.2]}, {"x": [0.3]})
    assert not same([1, 2.0], [1, 2.01])
    assert not same(True, 1.0) and same(None, None) and not same("a", "b")


def test_models_with_an_existing_cassette_switch_to_replay(tmp_path: Path) -> None:
    (tmp_path / "planner.jsonl").write_text("", encoding="utf-8")
    cfg = ExperimentConfig.model_construct(models={
        "planner": ModelConfig.model_construct(backend="replay", options={
            "cassette": "planner.jsonl", "mode": "auto", "inner": {"backend": "openai", "options": {}}}),
        "vlm": ModelConfig.model_construct(backend="replay", options={"cassette": "missing.jsonl"}),
        "live": ModelConfig.model_construct(backend="openai", options={"model": "x"}),
    })
    live = replay_config(cfg, tmp_path)
    assert live == ["vlm", "live"]
    assert cfg.models["planner"].options == {"cassette": str(tmp_path / "planner.jsonl"), MODE_OPTION: REPLAY_MODE}
    assert MODE_OPTION not in cfg.models["live"].options


def test_a_directory_without_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="not an episode run directory"):
        replay_episode(tmp_path)


def _tabletop_ready() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("planners.fixed", "perception.monitors",
                                                                 "sim.tabletop.env"))


@pytest.mark.slow
@pytest.mark.skipif(not _tabletop_ready(), reason="the tabletop stack (env, fixed planner, monitors) is incomplete")
def test_a_real_tabletop_episode_replays_identically(tmp_path: Path) -> None:
    from embodied.config import load_config
    from embodied.experiment import run_episode

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "configs" / "tabletop" / "given_policy.yaml", ["run.save_images=false"])
    run_episode(cfg, tmp_path / "ep", console=False)
    result = replay_episode(tmp_path / "ep")
    assert result.matches, result.summary()
    assert any(s.kind == "call" for s in result.original)

    # a tampered original (one argument changed) is caught at that call
    trace = tmp_path / "ep" / "trace.jsonl"
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    execution = next(e for e in events if e["event"] == "execution" and e["calls"])
    execution["calls"][0]["args"] = ["green block"]
    trace.write_text("".join(json.dumps(e) + "\n" for e in events))
    again = replay_episode(tmp_path / "ep")
    assert not again.matches and "green block" in again.summary()
