"""Hostile and careless configs end in one config error line and exit 2, never a traceback, and
``embodied check`` refuses what ``embodied run`` would crash on (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name: t
task:
  instruction: put the red block on the blue block
env:
  kind: tabletop
  seed: 1
  objects:
    - {name: red block, shape: cube, color: red, region: left}
    - {name: blue block, shape: cube, color: blue, region: right}
"""


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real command line in a fresh interpreter (as a user runs it), with this checkout first."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "embodied.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def assert_config_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    first = result.stderr.splitlines()[0]
    assert first.startswith("config error: "), result.stderr
    for needle in needles:
        assert needle in first, (needle, first)


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_recursive_alias_is_a_config_error(tmp_path: Path) -> None:
    cfg = write(tmp_path / "rec.yaml", GOOD + "extra: &a [*a]\n")
    assert_config_error(cli("check", str(cfg)), "rec.yaml", "alias")


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    cfg = write(tmp_path / "bomb.yaml", GOOD + "\n".join(lines) + "\n")
    assert_config_error(cli("check", str(cfg), timeout=30), "bomb.yaml", "alias")


def test_invalid_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    cfg = write(tmp_path / "latin.yaml", GOOD.encode() + b"name: caf\xe9\n")
    assert_config_error(cli("check", str(cfg)), "latin.yaml:10", "UTF-8")


def test_include_of_an_endless_file_is_refused(tmp_path: Path) -> None:
    cfg = write(tmp_path / "zero.yaml", "include: /dev/zero\n" + GOOD)
    assert_config_error(cli("check", str(cfg), timeout=30), "include", "/dev/zero")


def test_deeply_nested_flow_sequence_is_refused(tmp_path: Path) -> None:
    cfg = write(tmp_path / "deep.yaml", GOOD + "extra: " + "[" * 5000 + "]" * 5000 + "\n")
    assert_config_error(cli("check", str(cfg)), "deep.yaml", "nest")


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    cfg = write(tmp_path / "big.yaml", GOOD + "# " + "x" * (3 * 2**20) + "\n")
    assert_config_error(cli("check", str(cfg)), "big.yaml", "MB")


def test_negative_seed_fails_check_not_run(tmp_path: Path) -> None:
    cfg = write(tmp_path / "seed.yaml", GOOD.replace("seed: 1", "seed: -7"))
    assert_config_error(cli("check", str(cfg)), "seed.yaml:6", "env.seed")


def test_unwritable_out_dir_fails_check_and_run(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    # root writes through permission bits; a read-only mount stops it too
    unwritable = Path("/proc/sys/embodied-runs") if os.geteuid() == 0 else locked / "runs"
    try:
        cfg = write(tmp_path / "out.yaml", GOOD + f"run: {{out_dir: {unwritable}}}\n")
        assert_config_error(cli("check", str(cfg)), "out.yaml", "run.out_dir")
        assert_config_error(cli("run", str(cfg), "--quiet"), "out.yaml", "run.out_dir")
    finally:
        locked.chmod(0o700)


def test_out_dir_that_is_a_file_fails_check(tmp_path: Path) -> None:
    blocker = write(tmp_path / "blocker", "not a directory")
    cfg = write(tmp_path / "out.yaml", GOOD + f"run: {{out_dir: {blocker / 'runs'}}}\n")
    assert_config_error(cli("check", str(cfg)), "out.yaml", "run.out_dir")


def test_huge_sweep_seed_range_is_refused_before_expanding(tmp_path: Path) -> None:
    cfg = write(tmp_path / "sweep.yaml", GOOD + "sweep: {seeds: 0..999999999}\n")
    assert_config_error(cli("check", str(cfg), timeout=30), "sweep.yaml", "sweep.seeds")
    mapped = write(tmp_path / "sweep2.yaml", GOOD + "sweep: {seeds: {start: 0, count: 999999999}}\n")
    assert_config_error(cli("check", str(mapped), timeout=30), "sweep2.yaml", "sweep.seeds")


def test_sweep_command_refuses_huge_seed_range(tmp_path: Path) -> None:
    cfg = write(tmp_path / "sweep.yaml", GOOD + "sweep: {seeds: 0..999999999}\n")
    assert_config_error(cli("sweep", str(cfg), "--run-dir", str(tmp_path / "out"), timeout=30), "sweep.seeds")
