"""`embodied robot serve` and `embodied robot run` as a user runs them, in two processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from robot_server_process import ROOT, Server

from robots.remote import RemoteRobot

pytestmark = pytest.mark.slow  # each test starts the stand-in arm server in a subprocess

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def robot_run(address: str, run_dir: Path, *flags: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "embodied.cli", "robot", "run", "configs/robot/stack.yaml",
                           f"env.connect={address}", "--run-dir", str(run_dir), *flags],
                          cwd=ROOT, env=ENV, input=stdin, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_serve_and_run_complete_the_stack_task_over_the_network(tmp_path) -> None:
    server = Server().start()
    try:
        done = robot_run(server.address, tmp_path / "run", "--yes")
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["success"] is True
    assert summary["goal_details"]["source"].startswith("simulated cell")
    assert "SUCCESS" in done.stdout and "plan (2 subgoals)" in done.stdout


@pytest.mark.slow
def test_dry_run_and_a_declined_confirmation_move_nothing(tmp_path) -> None:
    server = Server().start()
    try:
        dry = robot_run(server.address, tmp_path / "dry", "--dry-run")
        declined = robot_run(server.address, tmp_path / "no", stdin="n\n")
        remote = RemoteRobot(server.address, watchdog_s=2.0)
        remote.connect()
        try:
            assert remote.at_home()  # nothing moved
        finally:
            remote.disconnect()
            remote.close()
    finally:
        server.stop()
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "DryRunStop" in json.loads((tmp_path / "dry" / "summary.json").read_text())["failure"]
    assert declined.returncode == 1
    assert "Proceed with the plan above?" in declined.stdout
    assert "OperatorDeclined" in json.loads((tmp_path / "no" / "summary.json").read_text())["failure"]
