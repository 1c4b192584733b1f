"""``embodied robot serve | run | calibrate``: the real-robot commands."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType

EPILOG = """\
examples:
  embodied robot serve configs/robot/sim_panda.yaml          # terminal 1: the arm (here a stand-in)
  embodied robot run configs/robot/stack.yaml --yes          # terminal 2: the agent
  embodied robot run configs/robot/stack.yaml --dry-run      # everything but motion
  embodied robot calibrate configs/robot/calibrate_sim.yaml  # ChArUco intrinsics + hand-eye
"""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    robot = sub.add_parser("robot", help="real robots: serve a driver, run an episode, calibrate cameras",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    rsub = robot.add_subparsers(dest="robot_command", metavar="SUBCOMMAND", required=True)
    serve = rsub.add_parser("serve", help="expose a robot driver over ZeroMQ (until Ctrl-C; SIGUSR1 = e-stop)")
    serve.add_argument("config", type=Path)
    serve.add_argument("--bind", help="override server.bind, e.g. tcp://127.0.0.1:5560")
    run = rsub.add_parser("run", help="run one episode on a robot cell (asks before the first motion)")
    run.add_argument("config", type=Path)
    run.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    run.add_argument("--yes", action="store_true", help="do not ask before the first motion")
    run.add_argument("--dry-run", action="store_true", help="connect, perceive, plan, write; stop before motion")
    run.add_argument("--run-dir", type=Path)
    run.add_argument("--quiet", action="store_true")
    calibrate = rsub.add_parser("calibrate", help="ChArUco intrinsics and camera-to-robot transform")
    calibrate.add_argument("config", type=Path, help="calibration config (board, camera, poses, output)")


def main(argv: list[str]) -> int:
    """``embodied robot ...``: parse ``argv`` (what follows ``robot``) and run the subcommand."""
    parser = argparse.ArgumentParser(prog="embodied")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return command(parser.parse_args(["robot", *argv]))


def command(args: argparse.Namespace) -> int:
    handlers = {"serve": _serve, "run": _run, "calibrate": _calibrate}
    return handlers[args.robot_command](args)


def _serve(args: argparse.Namespace) -> int:
    from robots.server import RobotServer, build_driver, load_server_config

    cfg = load_server_config(args.config)
    if args.bind:
        cfg.server.bind = args.bind
    driver = build_driver(cfg.driver, args.config.resolve().parent)
    server = RobotServer(driver, cfg.server)

    def shutdown(sig: int, frame: FrameType | None) -> None:
        server._running.clear()

    def estop(sig: int, frame: FrameType | None) -> None:
        server.estop(f"signal {signal.Signals(sig).name} at the server")

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGUSR1, estop)
    print(f"robot server: {cfg.driver.kind} at {cfg.server.bind} (Ctrl-C to stop, SIGUSR1 for e-stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        driver.close()
    return 0


def _ask(what: str) -> bool:
    print(f"\nThe arm is about to {what}. Proceed with the plan above? [y/N] ", end="", flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


def _run(args: argparse.Namespace) -> int:
    from embodied.config import load_config
    from embodied.console import ConsoleLog
    from embodied.errors import ConfigError
    from embodied.experiment import run_episode
    from robots.real_env import RobotEnv

    cfg = load_config(args.config, args.overrides)
    if cfg.env.kind != "robot":
        raise ConfigError("`embodied robot run` needs a robot cell", file=str(args.config), field="env.kind",
                          hint="use env.kind: robot (see configs/robot/stack.yaml); `embodied run` runs simulations")
    if args.quiet:
        cfg.run.quiet = True

    envs: list[RobotEnv] = []

    def setup(env: object) -> None:
        if isinstance(env, RobotEnv):
            envs.append(env)
            env.confirm = None if args.yes else _ask
            env.dry_run = args.dry_run
            env.base_dir = args.config.resolve().parent

    result = run_episode(cfg, args.run_dir, config_dir=args.config.resolve().parent,
                         console=ConsoleLog(), on_env=setup)
    if cfg.run.quiet:
        print(json.dumps({"success": result.success, "wall_time_s": result.wall_time_s, "failure": result.failure}))
    if args.dry_run:
        return 0 if envs and envs[0].dry_run_reached else 1
    return 0 if result.success else 1


def _calibrate(args: argparse.Namespace) -> int:
    from robots.calibration import calibrate_command

    return calibrate_command(args.config)
