"""What the sandbox costs, measured in one run, inline and with process isolation.

  * per primitive call: a policy making N calls to a cheap primitive vs a plain loop calling it,
    inline and in a worker process (each call is then a round trip through the pipe);
  * per policy start: an empty policy, inline vs forking a worker for it;
  * policy-side code: a loop of M iterations of arithmetic vs the same loop as a plain function;
  * inside primitives: a primitive doing pure-Python work (standing in for simulator code), timed
    inside the sandbox vs called directly. The sandbox sets no tracer, so this ratio should be ~1;
    for reference, the same work under a do-nothing ``sys.settrace`` tracer is also timed;
  * closed loop: whole tabletop episodes (closed_loop.py's task families under the default faults),
    inline and isolated interleaved episode by episode. Goal: isolated within 10 % of inline.

Timings on a shared machine are noisy; the ratios compare runs made side by side.

Usage: python benchmarks/sandbox_overhead.py [--calls N] [--loop M] [--repeat R] [--seeds S] [--tasks ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from embodied.config import load_config
from embodied.experiment import run_episode
from embodied.primitives import PrimitiveSet
from embodied.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("pick_place", "stack", "sort")


def make_api() -> tuple[PrimitiveSet, Callable[[int], int], Callable[[int], int]]:
    api = PrimitiveSet("bench")

    def bump(i: int) -> int:
        """Return i + 1: as cheap as a primitive can be."""
        return i + 1

    def work(n: int) -> int:
        """Pure-Python work in n function calls, like simulator glue code."""
        total = 0
        for k in range(n):
            total += _leaf(k)
        return total

    api.add(bump)
    api.add(work)
    return api, bump, work


def _leaf(k: int) -> int:
    return (k * 7) % 13


CALLS_POLICY = "for i in range({n}):\n    bump(i)\n"
LOOP_POLICY = "x = 0\nfor i in range({m}):\n    x = x + i * 2\n    if x > 1000000:\n        x = 0\n"
WORK_POLICY = "work({n})\n"


def plain_calls(bump: Callable[[int], int], n: int) -> None:
    for i in range(n):
        bump(i)


def plain_loop(m: int) -> None:
    x = 0
    for i in range(m):
        x = x + i * 2
        if x > 1000000:
            x = 0


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def sandbox_costs(args: argparse.Namespace) -> None:
    api, bump, work = make_api()
    boxes = {mode: Sandbox(max_steps=10 * (args.calls + args.loop) + 1000, timeout_s=600, isolation=mode)
             for mode in ("inline", "process")}

    def run(mode: str, source: str) -> None:
        execution = boxes[mode].run(source, api)
        if not execution.ok:
            raise SystemExit(f"benchmark policy failed ({mode}): {execution.error}")

    calls_plain = best(lambda: plain_calls(bump, args.calls), args.repeat)
    per_call = {}
    for mode in boxes:
        calls_box = best(lambda mode=mode: run(mode, CALLS_POLICY.format(n=args.calls)), args.repeat)
        per_call[mode] = (calls_box - calls_plain) / args.calls * 1e6
        print(f"primitive calls  N={args.calls} {mode:>7}: {calls_box * 1e3:8.1f} ms, "
              f"plain {calls_plain * 1e3:8.1f} ms, ratio {calls_box / calls_plain:6.1f}x, "
              f"overhead {per_call[mode]:.1f} us/call")
    print(f"  per call, process vs inline: {per_call['process'] / per_call['inline']:.1f}x "
          f"(+{per_call['process'] - per_call['inline']:.1f} us: the pipe round trip, mostly waiting for the "
          "scheduler on a busy machine)")
    for mode in boxes:  # CPU the episode process itself spends per call (the worker's CPU is its own)
        t0 = time.process_time()
        run(mode, CALLS_POLICY.format(n=args.calls))
        print(f"  episode-process CPU per call {mode:>7}: {(time.process_time() - t0) / args.calls * 1e6:.1f} us")
    starts = {mode: statistics.median(timed(lambda mode=mode: run(mode, "x = 1\n"), args.repeat * 4))
              for mode in boxes}

    def cold() -> None:  # a new sandbox: its first policy forks the worker
        with Sandbox(isolation="process") as box:
            box.run("x = 1\n", api)

    fork = statistics.median(timed(cold, args.repeat * 2))
    print(f"policy start (empty policy, median): inline {starts['inline'] * 1e3:.2f} ms, "
          f"process {starts['process'] * 1e3:.2f} ms with the warm worker "
          f"(+{(starts['process'] - starts['inline']) * 1e3:.2f} ms), {fork * 1e3:.2f} ms when it forks a new worker "
          "(first policy of a sandbox, or after a crash/limit)")
    loop_plain = best(lambda: plain_loop(args.loop), args.repeat)
    work_plain = best(lambda: work(args.work), args.repeat)
    for mode in boxes:
        loop_box = best(lambda mode=mode: run(mode, LOOP_POLICY.format(m=args.loop)), args.repeat)
        work_box = best(lambda mode=mode: run(mode, WORK_POLICY.format(n=args.work)), args.repeat)
        print(f"policy loop      M={args.loop} {mode:>7}: {loop_box * 1e3:8.1f} ms, plain {loop_plain * 1e3:8.1f} ms, "
              f"ratio {loop_box / loop_plain:6.1f}x, {(loop_box - loop_plain) / args.loop * 1e9:.0f} ns/iteration")
        print(f"inside primitive n={args.work} {mode:>7}: {work_box * 1e3:8.1f} ms, plain {work_plain * 1e3:8.1f} ms, "
              f"ratio {work_box / work_plain:6.2f}x")
    sys.settrace(lambda *a: None)
    try:
        work_traced = best(lambda: work(args.work), args.repeat)
    finally:
        sys.settrace(None)
    print(f"  (a global sys.settrace tracer would make that {work_traced / work_plain:.2f}x)")


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def closed_loop(args: argparse.Namespace) -> None:
    """Episodes of closed_loop.py's tasks, inline and isolated interleaved (same seeds, same faults)."""
    walls: dict[str, list[float]] = {"inline": [], "process": []}
    successes: dict[str, int] = {"inline": 0, "process": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            for seed in range(args.seeds):
                for mode in ("inline", "process") if seed % 2 == 0 else ("process", "inline"):
                    cfg = load_config(ROOT / "configs/tabletop" / f"{task}.yaml",
                                      [f"env.seed={seed}", f"sandbox.isolation={mode}", "run.save_images=false",
                                       "run.quiet=true"])
                    t0 = time.perf_counter()
                    result = run_episode(cfg, Path(tmp) / f"{task}-{seed}-{mode}", console=False)
                    walls[mode].append(time.perf_counter() - t0)
                    successes[mode] += bool(result.success)
    n = len(walls["inline"])
    inline, isolated = statistics.fmean(walls["inline"]), statistics.fmean(walls["process"])
    print(f"closed loop, {n} episodes each ({', '.join(args.tasks)} x {args.seeds} seeds):")
    print(f"  inline  {inline:6.2f} s/episode, {successes['inline']}/{n} succeeded")
    print(f"  process {isolated:6.2f} s/episode, {successes['process']}/{n} succeeded")
    paired = statistics.median(p / i for p, i in zip(walls["process"], walls["inline"], strict=True))
    print(f"  ratio process/inline {isolated / inline:.3f} (goal <= 1.10); paired median {paired:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--loop", type=int, default=50_000)
    parser.add_argument("--work", type=int, default=200_000, help="inner iterations of the work primitive")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=2, help="closed-loop seeds per task (0: skip episodes)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help="tabletop configs for the closed loop")
    args = parser.parse_args()
    sandbox_costs(args)
    if args.seeds > 0:
        closed_loop(args)


if __name__ == "__main__":
    main()
