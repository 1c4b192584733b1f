"""The real-robot path, measured in one run: control-loop timing, the robot server's round trip, its
watchdogs, and pick-and-place success over the network with faults.

1. Control-loop period jitter (p50/p99 of |period - nominal|) and overruns of ``SafeRobot`` at
   100 Hz and 500 Hz, streaming to (a) an in-process kinematic driver (the loop alone) and (b) the
   real-time PyBullet stand-in arm behind the robot server (every tick a command and a state
   report over ZeroMQ).
2. Round trip of a command through the server (``ee_pose`` and a one-tick ``move_ee``).
3. Watchdog trip time after a killed client (server side) and a killed server (client side),
   measured from the kill; goal: within 2 control periods plus the configured watchdog.
4. Pick-and-place success over the network, faults on (configs/robot/sim_panda_pick_place.yaml:
   slip, nudge, distractor, moved target, injected at the server), with rehearsal off and on
   (``gate``: a policy that fails in the twin is not sent).

Timing on a shared 2-core machine is noisy: compare ratios within one run.

    .venv/bin/python benchmarks/robot_loop.py               # 20 seeds
    .venv/bin/python benchmarks/robot_loop.py --seeds 5     # quicker
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embodied.config import load_config  # noqa: E402
from embodied.experiment import run_episode  # noqa: E402
from robots.base import Motion  # noqa: E402
from robots.control import ControlConfig, SafeRobot  # noqa: E402
from robots.remote import RemoteRobot, server_status  # noqa: E402
from robots.wire import ServerLost  # noqa: E402

WORKSPACE = {"low": [0.15, -0.45, 0.0], "high": [0.85, 0.45, 0.6]}
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
WATCHDOG_S = 2.0  # configs/robot/sim_panda.yaml


class KinematicArm:
    """A driver that is wherever it was last told to be: the loop's own cost, nothing else."""

    max_speed = 2.0

    def __init__(self) -> None:
        self.position = (0.4, 0.0, 0.3)

    def joint_positions(self) -> list[float]:
        return [0.0] * 7

    def ee_pose(self) -> tuple[tuple[float, float, float], float]:
        return self.position, 0.0

    def reachable(self, position: tuple[float, float, float], yaw: float | None = None) -> float:
        return 0.0

    def move_ee(self, position: tuple[float, float, float], yaw: float | None = None, speed: float | None = None,
                stop_on_contact: bool = False) -> Motion:
        self.position = (float(position[0]), float(position[1]), float(position[2]))
        return Motion(reached=True, contact=False, error_m=0.0, steps=1)

    def open_gripper(self, width: float | None = None) -> float:
        return 0.08

    def close_gripper(self, force: float | None = None) -> float:
        return 0.0

    def gripper_width(self) -> float:
        return 0.08

    def holding(self) -> bool:
        return False

    def grasped_id(self) -> int | None:
        return None

    def home(self) -> None:
        return None

    def at_home(self) -> bool:
        return True

    def stop(self) -> None:
        return None

    def close(self) -> None:
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(config: str, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "embodied.cli", "robot", "serve", config, "--bind",
                             f"tcp://127.0.0.1:{port}"], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    if "robot server" not in (proc.stdout.readline() if proc.stdout else ""):
        proc.kill()
        raise RuntimeError(f"the robot server ({config}) did not start")
    return proc


def stop_server(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout:
        proc.stdout.close()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def circle(n: int, radius: float = 0.05) -> list[tuple[float, float, float]]:
    return [(0.4 + radius * math.cos(2 * math.pi * i / n), radius * math.sin(2 * math.pi * i / n), 0.3)
            for i in range(n)]


def loop_timing(robot: SafeRobot, rate: float, seconds: float) -> tuple[list[float], int, int]:
    """Stream a slow circle for ``seconds``; returns (|period - nominal| per tick, overruns, ticks)."""
    stamps: list[float] = []

    def targets():  # type: ignore[no-untyped-def]
        for point in circle(int(rate * seconds), radius=0.02):
            stamps.append(time.perf_counter())
            yield point

    result = robot.stream(targets(), speed=0.1)
    periods = np.diff(stamps)
    return [abs(p - 1.0 / rate) for p in periods], result.stats.overruns, result.stats.ticks


def section_loop(address: str) -> None:
    print("\n1. control-loop timing (|period - nominal|, ms; 2 s of streaming each)")
    print(f"   {'driver':<28} {'rate':>6} {'p50':>7} {'p99':>7} {'overruns':>14}")
    for rate in (100.0, 500.0):
        for label in ("in-process kinematic", "stand-in over ZeroMQ"):
            remote = None
            if label.startswith("in-process"):
                driver = KinematicArm()
            else:
                remote = RemoteRobot(address, watchdog_s=WATCHDOG_S)
                driver = remote
            cfg = ControlConfig(workspace=WORKSPACE, rate_hz=rate, max_speed=0.3, watchdog_s=3.0, on_outside="clip")
            robot = SafeRobot(driver, cfg)
            robot.connect()
            try:
                robot.move_ee(circle(4, 0.02)[0], speed=0.2)
                dev, overruns, ticks = loop_timing(robot, rate, 2.0)
            finally:
                robot.close()
                if remote is not None:
                    remote.close()
            print(f"   {label:<28} {rate:>5.0f}Hz {pct(dev, 50) * 1000:>7.3f} {pct(dev, 99) * 1000:>7.3f} "
                  f"{overruns:>6}/{ticks:<7}")


def section_rtt(address: str) -> None:
    remote = RemoteRobot(address, watchdog_s=WATCHDOG_S)
    remote.connect()
    try:
        state = []
        for _ in range(300):
            t0 = time.perf_counter()
            remote.ee_pose()
            state.append(time.perf_counter() - t0)
        here, _ = remote.ee_pose()
        move = []
        for i in range(100):
            t0 = time.perf_counter()
            remote.move_ee((here[0], here[1] + 0.0005 * (i % 2), here[2]), speed=0.05)
            move.append(time.perf_counter() - t0)
        remote.stop()
    finally:
        remote.disconnect()
        remote.close()
    print("\n2. round trip through the server (localhost TCP, ms)")
    print(f"   ee_pose  p50 {pct(state, 50) * 1000:.3f}  p99 {pct(state, 99) * 1000:.3f}  (n={len(state)})")
    print(f"   move_ee  p50 {pct(move, 50) * 1000:.3f}  p99 {pct(move, 99) * 1000:.3f}  (n={len(move)})")


CLIENT = textwrap.dedent("""
    import sys
    from robots.control import ControlConfig, SafeRobot
    from robots.remote import RemoteRobot
    r = RemoteRobot(sys.argv[1], watchdog_s=float(sys.argv[2]))
    s = SafeRobot(r, ControlConfig(workspace={"low": [0.15, -0.45, 0.0], "high": [0.85, 0.45, 0.6]},
                                   rate_hz=100, max_speed=0.05, watchdog_s=3.0))
    s.connect()
    print("streaming", flush=True)
    s.move_ee((0.45, 0.3, 0.15))
""")


def section_watchdogs(config: str, reps: int) -> None:
    period = 1 / 100
    goal = WATCHDOG_S + 2 * period
    print(f"\n3. watchdog trip time from the kill, s (watchdog {WATCHDOG_S} s, 100 Hz loop; goal <= {goal:.3f})")
    killed_client: list[float] = []
    killed_server: list[float] = []
    for _ in range(reps):
        port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        server = start_server(config, port)
        try:
            client = subprocess.Popen([sys.executable, "-c", CLIENT, address, str(WATCHDOG_S)], cwd=ROOT, env=ENV,
                                      stdout=subprocess.PIPE, text=True)
            assert client.stdout is not None
            client.stdout.readline()
            time.sleep(0.5)
            client.kill()
            at = time.time()
            client.wait(5)
            client.stdout.close()
            time.sleep(WATCHDOG_S + 0.5)
            trips = server_status(address)["trips"]
            killed_client.append(trips[-1]["at"] - at if trips else float("nan"))
            remote = RemoteRobot(address, watchdog_s=WATCHDOG_S)
            robot = SafeRobot(remote, ControlConfig(workspace=WORKSPACE, rate_hz=100, max_speed=0.05,
                                                    watchdog_s=3.0))
            robot.connect()
            kill_at: list[float] = []

            def kill(proc: subprocess.Popen[str] = server, times: list[float] = kill_at) -> None:
                proc.kill()
                times.append(time.monotonic())

            timer = threading.Timer(0.5, kill)
            timer.start()
            try:
                robot.move_ee((0.3, -0.3, 0.2))
            except ServerLost:
                killed_server.append(time.monotonic() - kill_at[0])
            finally:
                timer.cancel()
                remote.close()
        finally:
            stop_server(server)
    for label, values in (("client killed -> server stops the arm", killed_client),
                          ("server killed -> client faults", killed_server)):
        ok = all(v <= goal for v in values)
        print(f"   {label:<38} median {statistics.median(values):.3f}  max {max(values):.3f}  (n={len(values)}) "
              f"goal {'met' if ok else 'NOT met'}")


def section_success(seeds: int) -> None:
    print(f"\n4. pick-and-place over the network, faults on (server-side), {seeds} seeds per mode")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    server = start_server("configs/robot/sim_panda_pick_place.yaml", port)
    table: dict[str, list[tuple[bool, int, float, int, int]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mode in ("off", "gate"):
                rows = table.setdefault(mode, [])
                for seed in range(seeds):
                    run_dir = Path(tmp) / f"{mode}-{seed}"
                    cfg = load_config(ROOT / "configs/robot/pick_place.yaml",
                                      [f"env.connect={address}", f"env.seed={seed}", f"env.rehearse={mode}"])
                    result = run_episode(cfg, run_dir, console=False)
                    summary = json.loads((run_dir / "summary.json").read_text())
                    faults = len(summary.get("perturbations") or [])
                    held_back = sum(not r.get("sent", True) for r in (summary.get("stats") or {}).get("rehearsals", []))
                    rows.append((result.success, result.repairs, result.wall_time_s, faults, held_back))
                    print(f"   rehearsal {mode:<4} seed {seed:>2}: {'ok  ' if result.success else 'FAIL'} "
                          f"repairs {result.repairs} faults {faults} held back {held_back} "
                          f"{result.wall_time_s:6.1f} s {result.failure or ''}", flush=True)
    finally:
        stop_server(server)
    print(f"\n   {'rehearsal':<10} {'success':>9} {'repairs/ep':>11} {'faults/ep':>10} {'held back':>10} "
          f"{'wall s/ep':>10}")
    for mode, rows in table.items():
        wins = sum(r[0] for r in rows)
        print(f"   {mode:<10} {wins:>4}/{len(rows):<4} {statistics.fmean(r[1] for r in rows):>11.2f} "
              f"{statistics.fmean(r[3] for r in rows):>10.2f} {sum(r[4] for r in rows):>10} "
              f"{statistics.fmean(r[2] for r in rows):>10.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--watchdog-reps", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["loop", "rtt", "watchdog", "success"])
    args = parser.parse_args()
    port = free_port()
    server = start_server("configs/robot/sim_panda.yaml", port)
    try:
        if "loop" not in args.skip:
            section_loop(f"tcp://127.0.0.1:{port}")
        if "rtt" not in args.skip:
            section_rtt(f"tcp://127.0.0.1:{port}")
    finally:
        stop_server(server)
    if "watchdog" not in args.skip:
        section_watchdogs("configs/robot/sim_panda.yaml", args.watchdog_reps)
    if "success" not in args.skip:
        section_success(args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
