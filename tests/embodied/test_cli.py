"""The CLI end to end: every shipped tabletop config runs closed loop and writes its run dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied.cli import main
from embodied.trace import read_trace

ROOT = Path(__file__).resolve().parents[2]
TABLETOP = sorted((ROOT / "configs" / "tabletop").glob("*.yaml"))
SUMMARY_KEYS = {"success", "instruction", "wall_time_s", "sim_steps", "primitive_calls", "subgoals", "repairs",
                "replans", "policies_written", "outcomes", "model_calls", "prompt_tokens", "completion_tokens",
                "model_time_s"}


@pytest.mark.slow
@pytest.mark.parametrize("config", TABLETOP, ids=[c.stem for c in TABLETOP])
def test_every_tabletop_config_runs_and_succeeds(config: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    code = main(["run", str(config), "--run-dir", str(run_dir)])
    out = capsys.readouterr().out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary.keys() >= SUMMARY_KEYS
    assert summary["success"] is True, summary.get("failure") or summary.get("goal_details")
    assert code == 0
    assert "SUCCESS" in out and "plan (" in out  # live progress was printed
    assert (run_dir / "config.yaml").exists()
    assert list((run_dir / "images").glob("*.png")), "no checkpoint images written"
    kinds = [e["event"] for e in read_trace(run_dir / "trace.jsonl")]
    for kind in ("episode_start", "plan", "policy", "execution", "checkpoint", "verdict", "result"):
        assert kind in kinds, kind
    executions = [e for e in read_trace(run_dir / "trace.jsonl") if e["event"] == "execution"]
    assert all(call["wall_time_s"] >= 0 and "line" in call for e in executions for call in e["calls"])


def test_config_error_exits_2_with_a_located_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(ROOT / "configs/tabletop/stack.yaml"), "env.objects.0.colour=red"])
    err = capsys.readouterr().err
    assert code == 2
    assert "env.objects.0.colour" in err and "did you mean 'color'" in err
    assert "Traceback" not in err


def test_check_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ROOT / "configs/tabletop/sort.yaml")]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("tabletop", "panda", "rule", "geometric", "trace"):
        assert name in out


def test_help_explains_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "run" in out and "overrides" in out and "examples" in out


def test_unparseable_instruction_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    code = main(["run", str(ROOT / "configs/tabletop/pick_place.yaml"), "task.instruction=sing me a song",
                 "--run-dir", str(run_dir)])
    out = capsys.readouterr().out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert code == 1 and summary["success"] is False
    assert "planning failed" in summary["failure"]
    assert "could not plan" in out
