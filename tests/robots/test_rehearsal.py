"""Rehearsal in a twin built from the cameras' view, with the stand-in arm in this process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodied.config import load_config
from embodied.experiment import run_episode
from robots.real_env import RobotEnv

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ["env.connect=null", "env.driver={kind: sim_panda, options: {scene: ../tabletop/pick_place.yaml}}"]


def episode(tmp_path: Path, policy: str, rehearse: str) -> dict:
    cfg = load_config(ROOT / "configs/robot/pick_place.yaml", [*LOCAL, f"env.rehearse={rehearse}"])
    cfg.task.policy = policy

    def in_config_dir(env: RobotEnv) -> None:  # the driver's scene path is relative to the config
        env.base_dir = ROOT / "configs/robot"

    result = run_episode(cfg, tmp_path / rehearse, console=False, on_env=in_config_dir)
    return {"result": result, "summary": json.loads((tmp_path / rehearse / "summary.json").read_text())}


@pytest.mark.slow
def test_a_policy_that_fails_in_the_twin_is_not_sent_and_a_good_one_is_compared(tmp_path) -> None:
    bad = episode(tmp_path, "pick('red block')\nplace_at(1.6, 0.0)\n", "gate")
    records = bad["summary"]["stats"]["rehearsals"]
    assert records and all(r["rehearsed"] and not r["twin_ok"] and not r["sent"] for r in records)
    assert "Unreachable" in records[0]["twin_error"] or "reach" in records[0]["twin_error"]
    assert bad["summary"]["stats"]["motion_commands"] == 0  # the real arm never moved

    good = episode(tmp_path, "pick('red block')\nplace_on('green plate')\n", "advise")
    assert good["result"].success
    (record,) = good["summary"]["stats"]["rehearsals"]
    assert record["twin_ok"] and record["sent"] and record["real_ok"]
    assert record["error_m"]["red block"] < 0.03  # the twin predicted where the block ends up
