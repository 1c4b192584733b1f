"""Sweeps: spec validation, expansion into episodes, parallel runs with crashes, Ctrl-C, resume,
results files and the aggregate table.

Most tests inject worker functions defined here (they run in real worker processes, so they must
be module-level): they write a summary.json like run_episode does, and can crash on purpose.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from embodied.config import parse_override
from embodied.errors import ConfigError
from embodied.executors import EpisodeJob, LocalExecutor
from embodied.results import DONE, FAILED, INTERRUPTED, EpisodeRow, aggregate, read_rows, wilson_interval
from embodied.sweep import (
    SweepError,
    plan_sweep,
    resume,
    run_sweep,
    sweep_command,
    variant_labels,
    yaml_value,
)
from embodied.trace import write_json_atomic

TASK = """\
name: {name}
task:
  instruction: put the red block on the blue block
  goal: ["on(red block, blue block)"]
env:
  kind: tabletop
  seed: 7
  physics_hz: 240
  objects:
    - {{name: red block, shape: cube, color: red, region: left}}
    - {{name: blue block, shape: cube, color: blue, region: right}}
"""


def sweep_dir_of(job: EpisodeJob) -> Path:
    return Path(job.run_dir).parents[3]


def fake_worker(job: EpisodeJob) -> dict[str, Any]:
    """Succeeds on even seeds; writes summary.json atomically like run_episode."""
    time.sleep(0.05)
    summary = {"success": job.seed % 2 == 0, "repairs": job.seed % 3, "replans": 0, "wall_time_s": 0.05,
               "sim_steps": 480, "model_calls": 1, "prompt_tokens": 10, "completion_tokens": 5,
               "failure": "" if job.seed % 2 == 0 else "goal not met",
               "slip": job.config["env"]["perturbations"]["slip"]}
    write_json_atomic(Path(job.run_dir) / "summary.json", summary)
    return summary


def killing_worker(job: EpisodeJob) -> dict[str, Any]:
    """Kills its own process (like a simulator segfault) on seed 1 while RUN_DIR/KILL exists."""
    if job.seed == 1 and (sweep_dir_of(job) / "KILL").exists():
        (Path(job.run_dir) / "trace.jsonl").write_text('{"event": "episode_start"}\n', encoding="utf-8")
        os.kill(os.getpid(), signal.SIGKILL)
    return fake_worker(job)


def raising_worker(job: EpisodeJob) -> dict[str, Any]:
    if job.seed == 2:
        raise RuntimeError("boom in the simulator")
    return fake_worker(job)


def crashing_or_raising_worker(job: EpisodeJob) -> dict[str, Any]:
    if job.seed == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return raising_worker(job)


def dies_after_result_worker(job: EpisodeJob) -> dict[str, Any]:
    summary = fake_worker(job)
    if job.seed == 1:
        os.kill(os.getpid(), signal.SIGKILL)  # e.g. a crash while tearing the simulator down
    return summary


def slow_worker(job: EpisodeJob) -> dict[str, Any]:
    """Slow enough (10 jobs on 2 workers: about 8 s) that a Ctrl-C sent after the second result
    lands mid-sweep even when a busy machine delays the test's polling by seconds."""
    time.sleep(1.5)
    return fake_worker(job)


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "stack.yaml").write_text(TASK.format(name="stack"), encoding="utf-8")
    (cfg / "sort.yaml").write_text(TASK.format(name="sort"), encoding="utf-8")
    (cfg / "single.yaml").write_text(TASK.format(name="single") + textwrap.dedent("""\
        sweep:
          seeds: 0..3
          workers: 2
        """), encoding="utf-8")
    (cfg / "multi.yaml").write_text(textwrap.dedent("""\
        name: multi
        agent: {repair_budget: 1}
        sweep:
          seeds: {start: 0, count: 2}
          tasks: [stack.yaml, sort.yaml]
          variants:
            agent.closed_loop: [true, false]
            env.perturbations.slip: [0.0, 0.2]
          workers: 2
        """), encoding="utf-8")
    return cfg


# ---------------------------------------------------------------------------------------------
# Spec and expansion


def test_seed_forms_and_defaults(configs: Path) -> None:
    assert plan_sweep(configs / "single.yaml").seeds == [0, 1, 2, 3]
    assert plan_sweep(configs / "single.yaml", ["sweep.seeds={start: 5, count: 2}"]).seeds == [5, 6]
    assert plan_sweep(configs / "single.yaml", ["sweep.seeds=[3, 1]"]).seeds == [3, 1]
    plan = plan_sweep(configs / "single.yaml", ["sweep.seeds=null"])
    assert [j.seed for j in plan.jobs()] == [7]  # no seeds: the config's own env.seed


@pytest.mark.parametrize(("override", "words"), [
    ("sweep.seeds=3..1", "range is empty"),
    ("sweep.seeds=zero..3", "expected 'A..B'"),
    ("sweep.seeds=[1, 1]", "seeds repeat"),
    ("sweep.seeds=[-1]", ">= 0"),
    ("sweep.workers=0", "greater than or equal to 1"),
    ("sweep.executor=rey", "did you mean 'ray'"),
    ("sweep.varients={a: [1]}", "unknown key 'varients' (did you mean 'variants'?)"),
    ("sweep.variants.agent.planner=rule", "Input should be a valid list"),
    ("sweep.variants={agent.planner: []}", "has no values"),
    ("sweep.variants={env.slip: [1, 1]}", "same value twice"),
    ("sweep.ray_address=auto", "executor is not 'ray'"),
])
def test_bad_sweep_blocks_are_config_errors_naming_the_field(configs: Path, override: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        plan_sweep(configs / "single.yaml", [override])
    assert words in str(info.value)
    assert info.value.field is not None and info.value.field.startswith("sweep")


def test_error_points_at_the_line_in_the_file(configs: Path) -> None:
    path = configs / "bad.yaml"
    path.write_text(TASK.format(name="bad") + "sweep:\n  seeds: 5..2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        plan_sweep(path)
    assert info.value.file == str(path) and info.value.line == TASK.count("\n") + 2


def test_no_sweep_section_and_unknown_task_file(configs: Path) -> None:
    with pytest.raises(ConfigError, match=r"no sweep: section"):
        plan_sweep(configs / "stack.yaml")
    with pytest.raises(ConfigError, match=r"task config 'nope\.yaml' not found"):
        plan_sweep(configs / "multi.yaml", ["sweep.tasks=[nope.yaml]"])


def test_expansion_applies_shared_sections_variants_and_seeds(configs: Path) -> None:
    plan = plan_sweep(configs / "multi.yaml", run_dir=configs.parent / "out")
    jobs = plan.jobs()
    assert len(plan.cells) == 2 * 2 * 2 and len(jobs) == 16
    labels = {c.variant for c in plan.cells}
    assert labels == {"closed_loop=true,slip=0.0", "closed_loop=true,slip=0.2", "closed_loop=false,slip=0.0",
                      "closed_loop=false,slip=0.2"}
    job = next(j for j in jobs if j.variant == "closed_loop=false,slip=0.2" and j.task == "sort" and j.seed == 1)
    assert job.config["agent"]["closed_loop"] is False
    assert job.config["env"]["perturbations"]["slip"] == 0.2
    assert job.config["env"]["seed"] == 1
    assert job.config["agent"]["repair_budget"] == 1  # from the sweep file's own agent: section
    assert job.config["sweep"] is None and job.config["name"] == "sort"
    assert job.run_dir == str(configs.parent / "out" / "episodes" / job.variant / "sort" / "seed-1")


def test_nested_variant_keys_are_flattened(configs: Path) -> None:
    plan = plan_sweep(configs / "multi.yaml", ["sweep.variants={env: {perturbations: {slip: [0.1]}}}",
                                               "sweep.variants.agent.repair_budget=[0, 2]"])
    assert plan.spec.variants == {"env.perturbations.slip": [0.1], "agent.repair_budget": [0, 2]}
    assert [c.variant for c in plan.cells][::2] == ["slip=0.1,repair_budget=0", "slip=0.1,repair_budget=2"]


def test_bad_variant_value_names_the_variant(configs: Path) -> None:
    with pytest.raises(ConfigError) as info:
        plan_sweep(configs / "multi.yaml", ["sweep.variants={env.perturbations.slip: [0.1, 3.0]}"])
    assert "slip=3.0" in str(info.value) and info.value.field == "env.perturbations.slip"


def test_task_section_beside_task_list_is_refused(configs: Path) -> None:
    with pytest.raises(ConfigError, match="would replace every one"):
        plan_sweep(configs / "multi.yaml", ["task.instruction=hello"])


def test_recording_models_get_one_cassette_per_episode(configs: Path) -> None:
    (configs / "shared.jsonl").write_text('{"recorded": 1}\n', encoding="utf-8")
    models = ("models: {planner: {backend: replay, options: {cassette: shared.jsonl, mode: auto}}, "
              "judge: {backend: replay, options: {cassette: shared.jsonl, mode: replay}}}\n")
    (configs / "llm.yaml").write_text((configs / "single.yaml").read_text() + models, encoding="utf-8")
    plan = plan_sweep(configs / "llm.yaml", run_dir=configs.parent / "out")
    jobs = plan.jobs()
    own = [j.config["models"]["planner"]["options"]["cassette"] for j in jobs]
    assert own == [f"{j.run_dir}/cassettes/planner.jsonl" for j in jobs]
    assert all(j.config["models"]["judge"]["options"]["cassette"] == "shared.jsonl" for j in jobs)  # read only
    assert all(j.copies == ((str(configs / "shared.jsonl"), own[i]),) for i, j in enumerate(jobs))
    run_sweep(plan, LocalExecutor(2), worker=fake_worker, progress=False)
    assert all(Path(p).read_text() == '{"recorded": 1}\n' for p in own)  # auto mode starts from the shared one


def test_variant_labels_use_short_unique_keys() -> None:
    labels = [lab for lab, _ in variant_labels({"a.x": [1], "b.x": [2, "p/q"], "agent.planner": ["rule"]})]
    assert labels == ["a.x=1,b.x=2,planner=rule", "a.x=1,b.x=p_q,planner=rule"]
    assert variant_labels({}) == [("default", {})]


@pytest.mark.parametrize("value", ["yes", "1.0", 1.0, None, True, "a: b", [1, "x"], {"a": [1, 2]}, "0..3"])
def test_override_text_round_trips(value: Any) -> None:
    assert parse_override(f"k={yaml_value(value)}")[1] == value


def test_wilson_interval_known_values() -> None:
    lo, hi = wilson_interval(5, 10)
    assert (round(lo, 3), round(hi, 3)) == (0.237, 0.763)
    assert wilson_interval(0, 10)[0] == 0.0 and 0.25 < wilson_interval(0, 10)[1] < 0.32
    assert wilson_interval(10, 10)[1] == 1.0


# ---------------------------------------------------------------------------------------------
# Running


def test_sweep_runs_all_episodes_and_writes_results(configs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_sweep(configs / "multi.yaml", run_dir=configs.parent / "out")
    outcome = run_sweep(plan, LocalExecutor(2), worker=fake_worker, progress=False)
    assert not outcome.interrupted and outcome.count(DONE) == 16
    rows = read_rows(plan.run_dir / "results.jsonl")
    assert len(rows) == 16 and {r.status for r in rows} == {DONE}
    assert sum(r.success for r in rows) == 8
    assert all(r.sim_time_s == 2.0 for r in rows)  # 480 steps at 240 Hz
    with (plan.run_dir / "results.csv").open() as f:
        header = next(csv.reader(f))
    for col in ("variant", "task", "seed", "success", "repairs", "replans", "model_calls", "prompt_tokens",
                "completion_tokens", "wall_time_s", "sim_time_s", "failure"):
        assert col in header
    out = capsys.readouterr().out
    assert "95% CI" in out and "1/2 (50%)" in out and "16/16 episodes done" in out
    stats = aggregate(rows)
    assert len(stats) == 8 and all(s.n == 2 for s in stats)
    assert {o.pid for o in outcome.outputs} != {os.getpid()}  # episodes ran in other processes
    assert all(o.max_rss_mb > 0 for o in outcome.outputs)
    assert (plan.run_dir / "sweep.yaml").is_file()


def test_killed_worker_fails_only_its_episode_and_resume_reruns_exactly_it(configs: Path) -> None:
    run_dir = configs.parent / "out"
    plan = plan_sweep(configs / "single.yaml", run_dir=run_dir)
    run_dir.mkdir()
    (run_dir / "KILL").touch()
    outcome = run_sweep(plan, LocalExecutor(2), worker=killing_worker, progress=False)
    by_seed = {r.seed: r for r in outcome.rows}
    assert by_seed[1].status == FAILED
    assert "SIGKILL" in by_seed[1].failure and "BrokenProcessPool" in by_seed[1].failure
    assert [by_seed[s].status for s in (0, 2, 3)] == [DONE, DONE, DONE]
    failure = json.loads((run_dir / by_seed[1].run_dir / "failure.json").read_text())
    assert failure["status"] == FAILED and "SIGKILL" in failure["reason"]
    done_before = {s: (run_dir / by_seed[s].run_dir / "summary.json").stat().st_mtime_ns for s in (0, 2, 3)}

    (run_dir / "KILL").unlink()
    again = run_sweep(resume(run_dir), LocalExecutor(2), worker=killing_worker, progress=False)
    assert [o.summary["success"] for o in again.outputs] == [False]  # exactly one episode ran: seed 1
    assert again.count(DONE) == 4
    for s, mtime in done_before.items():  # nothing finished was rerun
        assert (run_dir / by_seed[s].run_dir / "summary.json").stat().st_mtime_ns == mtime
    retired = list((run_dir / "retired").rglob("trace.jsonl"))
    assert len(retired) == 1 and "seed-1-" in str(retired[0])  # the crashed attempt is kept aside
    nothing = run_sweep(resume(run_dir), LocalExecutor(2), worker=killing_worker, progress=False)
    assert nothing.outputs == [] and nothing.count(DONE) == 4


def test_a_worker_dying_after_writing_its_result_keeps_the_result(configs: Path) -> None:
    plan = plan_sweep(configs / "single.yaml", run_dir=configs.parent / "out")
    outcome = run_sweep(plan, LocalExecutor(2), worker=dies_after_result_worker, progress=False)
    assert outcome.count(DONE) == 4 and not (plan.run_dir / outcome.rows[1].run_dir / "failure.json").exists()


def test_exception_in_an_episode_is_recorded_with_its_traceback(configs: Path) -> None:
    plan = plan_sweep(configs / "single.yaml", run_dir=configs.parent / "out")
    outcome = run_sweep(plan, LocalExecutor(2), worker=raising_worker, progress=False)
    row = next(r for r in outcome.rows if r.seed == 2)
    assert row.status == FAILED and row.failure == "RuntimeError: boom in the simulator"
    detail = json.loads((plan.run_dir / row.run_dir / "failure.json").read_text())["detail"]
    assert "raising_worker" in detail  # the worker-side traceback is kept
    assert outcome.count(DONE) == 3


def test_resume_arguments_are_checked(configs: Path, tmp_path: Path) -> None:
    with pytest.raises(SweepError, match="not a sweep directory"):
        resume(tmp_path)
    with pytest.raises(ConfigError, match="either a sweep config or --resume"):
        sweep_command(configs / "single.yaml", resume_dir=tmp_path)
    with pytest.raises(ConfigError, match="at least 1"):
        sweep_command(configs / "single.yaml", workers=0)
    with pytest.raises(ConfigError, match="unknown executor"):
        sweep_command(configs / "single.yaml", executor="rey", run_dir=tmp_path / "x", worker=fake_worker)


CTRL_C_SCRIPT = """
import sys
sys.path.insert(0, {test_dir!r})
from pathlib import Path
from embodied.sweep import sweep_command
from test_sweep import slow_worker
if __name__ == "__main__":
    sys.exit(sweep_command(Path({config!r}), ["sweep.seeds=0..9"], run_dir=Path({run_dir!r}), worker=slow_worker,
                           progress=False))
"""


def _ctrl_c_reaches_it() -> None:
    """A test run started in the background (CI, ``cmd &``) inherits SIGINT ignored; a terminal's
    Ctrl-C is what the test imitates, so the child gets the default disposition back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resume_finishes(configs: Path) -> None:
    run_dir = configs.parent / "out"
    script = configs.parent / "ctrl_c.py"
    script.write_text(CTRL_C_SCRIPT.format(test_dir=str(Path(__file__).parent), config=str(configs / "single.yaml"),
                                           run_dir=str(run_dir)), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=str(configs.parent), preexec_fn=_ctrl_c_reaches_it)
    def done() -> int:
        results = run_dir / "results.jsonl"
        return sum(r.status == DONE for r in read_rows(results)) if results.is_file() else 0

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and done() < 2:  # the parent has taken two results in
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    assert f"embodied sweep --resume {run_dir}" in out
    rows = read_rows(run_dir / "results.jsonl")
    statuses = [r.status for r in rows]
    assert statuses.count(DONE) >= 2 and INTERRUPTED in statuses and len(rows) == 10
    again = run_sweep(resume(run_dir), LocalExecutor(2), worker=fake_worker, progress=False)
    assert again.count(DONE) == 10
    assert len(again.outputs) == 10 - statuses.count(DONE)


@pytest.mark.slow
def test_ray_executor_runs_the_same_sweep(configs: Path) -> None:
    pytest.importorskip("ray")
    from embodied.executors import RayExecutor

    plan = plan_sweep(configs / "single.yaml", ["sweep.executor=ray"], run_dir=configs.parent / "out")
    sys.path.insert(0, str(Path(__file__).parent))  # Ray workers import this module by name
    outcome = run_sweep(plan, RayExecutor(2), worker=crashing_or_raising_worker, progress=False)
    by_seed = {r.seed: r for r in outcome.rows}
    assert [by_seed[s].status for s in (0, 3)] == [DONE, DONE]
    assert by_seed[1].status == FAILED and "WorkerCrashedError" in by_seed[1].failure
    assert by_seed[2].status == FAILED and "boom in the simulator" in by_seed[2].failure
    assert {o.pid for o in outcome.outputs}.isdisjoint({os.getpid()})


# ---------------------------------------------------------------------------------------------
# Real tabletop episodes


@pytest.mark.slow
def test_real_tabletop_sweep_survives_a_killed_worker_and_resumes(tmp_path: Path) -> None:
    import threading

    from embodied.cli import main

    root = Path(__file__).resolve().parents[2]
    sweep = tmp_path / "real.yaml"
    sweep.write_text(textwrap.dedent(f"""\
        name: real
        run: {{save_images: false}}
        sweep:
          seeds: 0..3
          tasks: [{root / "configs" / "tabletop" / "given_policy.yaml"}]
          workers: 2
        """), encoding="utf-8")
    run_dir = tmp_path / "out"
    victim = run_dir / "episodes" / "default" / "given_policy" / "seed-1" / "worker.json"
    killed: list[int] = []

    def kill_seed_1_worker() -> None:  # find the worker's pid from its marker and SIGKILL it mid-episode
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            if victim.is_file():
                pid = json.loads(victim.read_text())["pid"]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.005)

    watcher = threading.Thread(target=kill_seed_1_worker)
    watcher.start()
    status = main(["sweep", str(sweep), "--run-dir", str(run_dir), "--no-progress"])
    watcher.join()
    assert status == 1 and killed
    by_seed = {r.seed: r for r in read_rows(run_dir / "results.jsonl")}
    assert by_seed[1].status == FAILED and f"worker process {killed[0]} was killed by SIGKILL" in by_seed[1].failure
    assert all(by_seed[s].status == DONE and by_seed[s].success for s in (0, 2, 3))
    assert (run_dir / by_seed[0].run_dir / "trace.jsonl").is_file()

    assert main(["sweep", "--resume", str(run_dir), "--no-progress"]) == 0
    rows = read_rows(run_dir / "results.jsonl")
    assert [r.status for r in rows] == [DONE] * 4 and all(r.success for r in rows)
    assert all(r.sim_time_s > 0 and r.wall_time_s > 0 for r in rows)
    assert main(["replay", str(run_dir / rows[1].run_dir)]) == 0  # the rerun episode replays identically


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "configs" / "sweeps").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_sweep_configs_plan(path: Path, tmp_path: Path) -> None:
    plan = plan_sweep(path, run_dir=tmp_path)
    jobs = plan.jobs()
    assert jobs and len({j.run_dir for j in jobs}) == len(jobs)


def test_episodes_interleave_variants_and_tasks_seed_by_seed(configs: Path) -> None:
    # Stopped after any prefix, a sweep has run every variant on the same tasks and seeds.
    jobs = plan_sweep(configs / "multi.yaml", run_dir=configs.parent / "out").jobs()
    assert [j.seed for j in jobs[:8]] == [0] * 8 and [j.seed for j in jobs[8:]] == [1] * 8
    first_four = jobs[:4]
    assert len({j.variant for j in first_four}) == 4 and len({j.task for j in first_four}) == 1


def test_progress_lines_are_printed_at_intervals_off_a_terminal(configs: Path) -> None:
    import io

    from embodied.sweep import _Progress

    plan = plan_sweep(configs / "single.yaml", ["sweep.seeds=0..1"], run_dir=configs.parent / "out")
    jobs = plan.jobs()
    rows = {j.label: EpisodeRow(j.variant, j.task, j.seed) for j in jobs}
    log = io.StringIO()  # not a terminal: no bar is drawn
    tracker = _Progress(plan, jobs, rows, False, log, line_interval_s=0.05)
    time.sleep(0.3)
    tracker.close()
    lines = [line for line in log.getvalue().splitlines() if line.startswith("sweep progress:")]
    assert len(lines) >= 3 and "0/2 done" in lines[-1]
