"""Closed loop vs open loop on the tabletop task families under the default faults, in one run.

Runs configs/sweeps/closed_vs_open.yaml (every task family x {closed, open} x seeds, with
configs/presets/perturbed.yaml faults) through the sweep machinery and prints, per variant and per
task: success rate, mean repairs and replans per episode, and wall time per episode.
Goal (issue 3): closed loop >= 95 % where open loop <= 70 %.

    .venv/bin/python benchmarks/closed_loop.py            # 10 seeds, 2 workers
    .venv/bin/python benchmarks/closed_loop.py --seeds 3  # quicker look
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from embodied.results import DONE, EpisodeRow, format_confusion, row_confusion
from embodied.sweep import build_executor, plan_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="seeds per task and variant")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--run-dir", type=Path, help="keep the sweep here (default: a temporary directory)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir or Path(tmp) / "closed_vs_open"
        plan = plan_sweep(ROOT / "configs/sweeps/closed_vs_open.yaml", [f"sweep.seeds=0..{args.seeds - 1}"], run_dir)
        executor = build_executor(plan.spec, workers=args.workers)
        print(f"{len(plan.jobs())} episodes on {args.workers} workers -> {run_dir}", flush=True)
        outcome = run_sweep(plan, executor, progress=sys.stderr.isatty(), out=io.StringIO())
        rows = outcome.rows

    by_variant: dict[str, list[EpisodeRow]] = defaultdict(list)
    by_cell: dict[tuple[str, str], list[EpisodeRow]] = defaultdict(list)
    for row in rows:
        by_variant[row.variant].append(row)
        by_cell[(row.task, row.variant)].append(row)

    def label(variant: str) -> str:
        return "open loop" if "false" in variant.lower() else "closed loop"

    print(f"\n{'task':<14}" + "".join(f"{label(v):>14}" for v in sorted(by_variant)))
    for task in sorted({r.task for r in rows}):
        cells = [by_cell[(task, v)] for v in sorted(by_variant)]
        print(f"{task:<14}" + "".join(f"{sum(bool(r.success) for r in c):>10}/{len(c):<3}" for c in cells))

    print(f"\n{'variant':<12} {'success':>8} {'repairs/ep':>11} {'replans/ep':>11} {'wall s/ep':>10} "
          f"{'crashed':>8}")
    rates = {}
    for variant in sorted(by_variant):
        vr = by_variant[variant]
        done = [r for r in vr if r.status == DONE]
        rate = sum(bool(r.success) for r in vr) / len(vr)
        rates[label(variant)] = rate
        print(f"{label(variant):<12} {rate:>8.1%} {_mean([r.repairs for r in done]):>11.2f} "
              f"{_mean([r.replans for r in done]):>11.2f} {_mean([r.wall_time_s for r in done]):>10.2f} "
              f"{len(vr) - len(done):>8}")
    for variant in sorted(by_variant):
        print("\n" + format_confusion(row_confusion(by_variant[variant]), f"{label(variant)}: claimed vs true success"))
    closed, opened = rates.get("closed loop", 0.0), rates.get("open loop", 0.0)
    print(f"\nclosed/open success ratio: {closed / max(opened, 1e-9):.2f} "
          f"(goal: closed >= 95% {'met' if closed >= 0.95 else 'NOT met'}, "
          f"open <= 70% {'met' if opened <= 0.70 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
