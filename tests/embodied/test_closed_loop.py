"""Each injected fault is caught by a monitor, classified, and repaired (or planned around) by the
matching mechanism — through the real loop: PyBullet, camera detection, rule planner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from embodied.config import load_config
from embodied.experiment import run_episode
from embodied.trace import read_trace

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path: Path, config: str, *overrides: str) -> tuple[Any, list[dict[str, Any]]]:
    cfg = load_config(ROOT / "configs/tabletop" / config, list(overrides))
    result = run_episode(cfg, tmp_path / "run", console=False)
    return result, read_trace(tmp_path / "run" / "trace.jsonl")


def fault(name: str) -> list[str]:
    return [f"env.perturbations.{name}=1.0", "env.perturbations.max_events=1"]


@pytest.mark.slow
@pytest.mark.parametrize(("fault_name", "category"), [
    ("slip", "dropped"),            # object slips out in transport -> re-pick and re-place
    ("nudge", "grasp_missed"),      # object shoved before the grasp -> re-detect, re-grasp
    ("move_target", "wrong_place"),  # target moved while carrying -> place again on its new pose
])
def test_fault_is_classified_and_repaired(tmp_path: Path, fault_name: str, category: str) -> None:
    result, trace = run(tmp_path, "pick_place.yaml", *fault(fault_name))
    fired = next(e for e in trace if e["event"] == "result")["perturbations"]
    assert [f["name"] for f in fired] == [fault_name]
    failed = [e["verdict"] for e in trace if e["event"] == "verdict" and not e["verdict"]["ok"]]
    assert failed and failed[0]["category"] == category
    assert failed[0]["failed_line"] is not None  # the verdict localises the failing step
    repairs = [e for e in trace if e["event"] == "repair"]
    assert repairs and repairs[0]["origin"] == f"repair:{category}"
    assert repairs[0]["diff"].startswith("---")
    assert result.success and result.repairs >= 1


@pytest.mark.slow
def test_open_loop_does_not_recover_from_the_same_fault(tmp_path: Path) -> None:
    result, trace = run(tmp_path, "pick_place.yaml", *fault("slip"), "agent.closed_loop=false")
    assert not result.success
    assert result.repairs == 0 and not [e for e in trace if e["event"] == "repair"]


@pytest.mark.slow
def test_obstruction_on_the_target_is_cleared_first(tmp_path: Path) -> None:
    # Seed 5 drops the distractor onto the place target; dynamic planning or repair must clear it.
    result, trace = run(tmp_path, "stack.yaml", *fault("distractor"), "env.seed=5")
    fired = next(e for e in trace if e["event"] == "result")["perturbations"]
    assert fired and fired[0]["details"]["on_target"] is True
    handled = [e for e in trace if e["event"] in ("plan_revised", "repair", "replan")]
    assert handled, "the obstruction was neither planned around nor repaired"
    assert result.success


@pytest.mark.slow
def test_impossible_task_ends_with_a_clear_failure_not_a_hang(tmp_path: Path) -> None:
    # The plate is out of the arm's reach: every attempt fails, budgets end the episode.
    result, _ = run(tmp_path, "pick_place.yaml", "env.objects.0.region=null", "env.objects.0.position=[1.3, 0.0]",
                    "agent.repair_budget=1", "agent.replan_budget=1")
    assert not result.success
    assert result.failure  # says why, e.g. unreachable after the budget
    assert result.wall_time_s < 120


def test_a_simulator_crash_is_a_recorded_failure_not_a_lost_run(tmp_path: Path) -> None:
    import json

    from embodied.errors import EpisodeAborted

    def crash_on_reset(env: Any) -> None:
        def reset(seed: int | None = None) -> Any:
            raise EpisodeAborted("physics server died")

        env.reset = reset

    cfg = load_config(ROOT / "configs/tabletop/pick_place.yaml")
    result = run_episode(cfg, tmp_path / "run", config_dir=tmp_path, console=False, on_env=crash_on_reset)
    assert not result.success and "physics server died" in result.failure
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["aborted"] is True and summary["config_dir"] == str(tmp_path.resolve())
    kinds = [e["event"] for e in read_trace(tmp_path / "run" / "trace.jsonl")]
    assert kinds[-2:] == ["aborted", "result"]
