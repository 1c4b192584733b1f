"""How sweeps scale, measured in one run on the same sweep of real tabletop episodes.

(a) local executor, 1 worker vs 2 workers: episodes per minute and the ratio (goal >= 1.8 on a
    2-core machine);
(b) worker start method, forkserver vs spawn, at 2 workers;
(c) Ray (a local instance with 2 CPUs) vs the local executor: once including ``ray.init`` and once
    on an already running instance (goal: warm Ray <= 1.1x local time);
(d) peak resident memory per worker process (``ru_maxrss`` reported by the workers; goal <= 500 MB).

For each run it also prints the time the episodes themselves took (sum of their wall times per
worker) and the rest, the sweep's own overhead (worker start-up, imports, scheduling, results):
on a busy machine the episodes slow down when run in parallel, the overhead should not.

Each measurement writes a fresh sweep directory (results, traces, images) like a real sweep does.
The machine is shared, so figures are noisy: run with more seeds for steadier ratios.

Usage: python benchmarks/sweep_scaling.py [--seeds N] [--tasks a.yaml b.yaml] [--no-ray] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

from embodied.executors import EpisodeExecutor, LocalExecutor, RayExecutor
from embodied.results import DONE
from embodied.sweep import SweepOutcome, plan_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TASKS = ["configs/tabletop/given_policy.yaml", "configs/tabletop/stack.yaml"]


def write_sweep(directory: Path, tasks: list[str], seeds: int) -> Path:
    paths = ", ".join(str((ROOT / t).resolve()) for t in tasks)
    config = directory / "bench.yaml"
    config.write_text(f"name: bench\nsweep:\n  seeds: 0..{seeds - 1}\n  tasks: [{paths}]\n", encoding="utf-8")
    return config


def measure(config: Path, out: Path, executor: EpisodeExecutor) -> tuple[float, SweepOutcome]:
    plan = plan_sweep(config, run_dir=out)
    t0 = time.perf_counter()
    outcome = run_sweep(plan, executor, progress=False, out=io.StringIO())
    elapsed = time.perf_counter() - t0
    if outcome.count(DONE) != len(outcome.rows):
        bad = [r.failure for r in outcome.rows if r.status != DONE][:3]
        raise SystemExit(f"{out}: {len(outcome.rows) - outcome.count(DONE)} episodes did not finish: {bad}")
    return elapsed, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=6, help="seeds per task")
    parser.add_argument("--tasks", nargs="+", default=DEFAULT_TASKS)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the sweep directories here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        config = write_sweep(base, args.tasks, args.seeds)
        n = len(args.tasks) * args.seeds
        print(f"sweep: {n} episodes ({', '.join(Path(t).stem for t in args.tasks)} x {args.seeds} seeds), "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        results: dict[str, float] = {}
        outcomes: list[SweepOutcome] = []

        def run(label: str, executor: EpisodeExecutor) -> float:
            seconds, outcome = measure(config, base / label, executor)
            outcomes.append(outcome)
            results[label] = seconds
            busy = sum(r.wall_time_s for r in outcome.rows) / executor.workers
            print(f"  {label:<20} {seconds:6.1f} s  {60 * n / seconds:6.1f} episodes/min   episodes themselves "
                  f"{busy:5.1f} s per worker, sweep overhead {seconds - busy:4.1f} s")
            return seconds

        one = run("local-1-forkserver", LocalExecutor(1, start_method="forkserver"))
        two = run("local-2-forkserver", LocalExecutor(2, start_method="forkserver"))
        spawn = run("local-2-spawn", LocalExecutor(2, start_method="spawn"))
        print(f"(a) 2 workers vs 1: {one / two:.2f}x episodes/min (goal >= 1.8)")
        print(f"(b) spawn vs forkserver at 2 workers: {spawn / two:.2f}x the time")
        if not args.no_ray:
            import ray

            cold = run("ray-2-with-init", RayExecutor(2))
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            try:
                warm = run("ray-2-warm", RayExecutor(2))
            finally:
                ray.shutdown()
            print(f"(c) Ray vs local at 2 workers: {warm / two:.2f}x the time on a running instance (goal <= 1.1), "
                  f"{cold / two:.2f}x including ray.init")
        rss = [o.max_rss_mb for outcome in outcomes for o in outcome.outputs]
        print(f"(d) peak RSS per worker: max {max(rss):.0f} MB, median {statistics.median(rss):.0f} MB "
              f"over {len(rss)} episodes (goal <= 500 MB)")
        wall = [r.wall_time_s for outcome in outcomes for r in outcome.rows]
        print(f"    episode wall time: median {statistics.median(wall):.2f} s")
        load = os.getloadavg()
        print(f"load average now {load[0]:.1f} on {os.cpu_count()} cores (other processes skew every ratio above)")


if __name__ == "__main__":
    main()
