"""What the sandbox costs, measured in one run against the same code as plain Python.

Three numbers:
  * per primitive call: a policy making N calls to a cheap primitive vs a plain loop calling it;
  * policy-side code: a loop of M iterations of arithmetic vs the same loop as a plain function;
  * inside primitives: a primitive doing pure-Python work (standing in for simulator code), timed
    inside the sandbox vs called directly. The sandbox sets no tracer, so this ratio should be ~1;
    for reference, the same work under a do-nothing ``sys.settrace`` tracer is also timed.

Usage: python benchmarks/sandbox_overhead.py [--calls N] [--loop M] [--repeat R]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from embodied.primitives import PrimitiveSet
from embodied.sandbox import Sandbox


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--loop", type=int, default=50_000)
    parser.add_argument("--work", type=int, default=200_000, help="inner iterations of the work primitive")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    api, bump, work = make_api()
    sandbox = Sandbox(max_steps=10 * (args.calls + args.loop) + 1000, timeout_s=600)

    def run(source: str) -> None:
        execution = sandbox.run(source, api)
        if not execution.ok:
            raise SystemExit(f"benchmark policy failed: {execution.error}")

    calls_box = best(lambda: run(CALLS_POLICY.format(n=args.calls)), args.repeat)
    calls_plain = best(lambda: plain_calls(bump, args.calls), args.repeat)
    loop_box = best(lambda: run(LOOP_POLICY.format(m=args.loop)), args.repeat)
    loop_plain = best(lambda: plain_loop(args.loop), args.repeat)
    work_box = best(lambda: run(WORK_POLICY.format(n=args.work)), args.repeat)
    work_plain = best(lambda: work(args.work), args.repeat)
    sys.settrace(lambda *a: None)
    try:
        work_traced = best(lambda: work(args.work), args.repeat)
    finally:
        sys.settrace(None)

    per_call_us = (calls_box - calls_plain) / args.calls * 1e6
    print(f"primitive calls  N={args.calls}: sandbox {calls_box * 1e3:8.1f} ms, plain {calls_plain * 1e3:8.1f} ms, "
          f"ratio {calls_box / calls_plain:6.1f}x, overhead {per_call_us:.2f} us/call")
    print(f"policy loop      M={args.loop}: sandbox {loop_box * 1e3:8.1f} ms, plain {loop_plain * 1e3:8.1f} ms, "
          f"ratio {loop_box / loop_plain:6.1f}x, {(loop_box - loop_plain) / args.loop * 1e9:.0f} ns/iteration")
    print(f"inside primitive n={args.work}: sandbox {work_box * 1e3:8.1f} ms, plain {work_plain * 1e3:8.1f} ms, "
          f"ratio {work_box / work_plain:6.2f}x (a global sys.settrace tracer: {work_traced / work_plain:.2f}x)")


if __name__ == "__main__":
    main()
