"""``embodied`` command line: run an experiment config, validate one, list backends."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from embodied import __version__, backends
from embodied.errors import ConfigError, EmbodiedError

EPILOG = """\
examples:
  embodied run configs/tabletop/stack.yaml
  embodied run configs/tabletop/stack.yaml env.seed=3 env.objects.0.color=green
  embodied run configs/tabletop/pick_place.yaml agent.closed_loop=false   # open-loop ablation
  embodied check configs/tabletop/sort.yaml                                # validate only
  embodied list                                                            # every backend name

overrides are dotted paths into the config (list items by index); values are YAML
(numbers, true/false, [lists]). Presets are composed with `include:` inside the file.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="embodied", description="Closed-loop code-policy agents: plan, write code, run, check, repair, replan.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"embodied {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run one episode from a config", epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("config", type=Path, help="experiment YAML (e.g. configs/tabletop/stack.yaml)")
    run.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. env.seed=3")
    run.add_argument("--run-dir", type=Path, help="write the run here instead of run.out_dir/<name>-<time>")
    run.add_argument("--quiet", action="store_true", help="no live progress, only the final line")
    run.add_argument("--show-code", action="store_true", help="print every policy as it is written")

    check = sub.add_parser("check", help="validate a config (and overrides) without running it")
    check.add_argument("config", type=Path)
    check.add_argument("overrides", nargs="*", metavar="KEY=VALUE")

    sub.add_parser("list", help="list every registered backend by kind")

    sweep = sub.add_parser("sweep", help="run variants x tasks x seeds in parallel (resumable)")
    sweep.add_argument("config", type=Path, nargs="?", help="a config with a sweep: section")
    sweep.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. sweep.seeds=0..9")
    sweep.add_argument("--workers", type=int, help="parallel episodes (default: sweep.workers, else one per core)")
    sweep.add_argument("--executor", help="local or ray (default: sweep.executor)")
    sweep.add_argument("--resume", type=Path, metavar="RUN_DIR", help="run only the missing episodes of a sweep")
    sweep.add_argument("--run-dir", type=Path, help="write the sweep here instead of run.out_dir/sweep-<name>-<time>")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")

    report = sub.add_parser("report", help="write RUN_DIR/report.html for a sweep or a single run")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--max-episodes", type=int, default=40, help="episode timelines to include (failures first)")

    serve = sub.add_parser("serve-model", help="serve a config's llamacpp model as an OpenAI-compatible HTTP server")
    serve.add_argument("config", type=Path, help="a config whose models: include a llamacpp model")
    serve.add_argument("--model", help="which model of the config (default: the only one)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)

    replay = sub.add_parser("replay", help="re-run an episode from its run directory and compare with the original")
    replay.add_argument("episode_dir", type=Path)

    # Commands of backend packages (e.g. `embodied robot`), by registry name: their own parsers,
    # loaded only when the command runs, so other commands import none of their code.
    for entry in backends.registry("command"):
        extra = sub.add_parser(entry.name, help=entry.summary, add_help=False)
        extra.add_argument("argv", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def _cmd_run(args: argparse.Namespace) -> int:
    from embodied.config import check_output_dir, load_config
    from embodied.console import ConsoleLog
    from embodied.experiment import run_episode

    cfg = load_config(args.config, args.overrides)
    if args.run_dir is not None:
        check_output_dir(args.run_dir, file="<command line>", field="--run-dir")
    else:
        check_output_dir(cfg.run.out_dir, file=str(args.config))
    if args.quiet:
        cfg.run.quiet = True
    result = run_episode(cfg, args.run_dir, config_dir=args.config.resolve().parent,
                         console=ConsoleLog(show_code=args.show_code))
    if cfg.run.quiet:
        print(json.dumps({"success": result.success, "claimed_success": result.claimed_success,
                          "truth": result.truth, "wall_time_s": result.wall_time_s,
                          "repairs": result.repairs, "failure": result.failure}))
    # No ground truth (success None): the exit status follows the agent's own claim, which the
    # summary and the console mark as unverified.
    return 0 if result.success or (result.success is None and result.claimed_success) else 1


def _cmd_check(args: argparse.Namespace) -> int:
    """Everything ``run`` (or ``sweep``, for a config with a sweep: section) would refuse."""
    from embodied.config import check_output_dir, load_config, load_config_data

    data, _ = load_config_data(args.config, args.overrides)
    if "sweep" in data:
        from embodied.sweep import plan_sweep

        plan = plan_sweep(args.config, args.overrides)
        check_output_dir(plan.run_dir.parent, file=str(args.config))
        print(f"{args.config}: ok (sweep of {len(plan.jobs())} episodes: {len(plan.cells)} variant x task, "
              f"{len(plan.seeds)} seed(s))")
        return 0
    cfg = load_config(args.config, args.overrides)
    check_output_dir(cfg.run.out_dir, file=str(args.config))
    monitors = ", ".join(cfg.agent.monitors) if cfg.agent.monitors is not None else "the domain kit's"
    print(f"{args.config}: ok ({cfg.env.kind}, planner {cfg.agent.planner}, monitors {monitors})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    for kind in backends.kinds():
        print(f"{kind}:")
        for entry in backends.registry(kind):
            print(f"  {entry.name:<12} {entry.summary}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from embodied.sweep import sweep_command

    return sweep_command(args.config, args.overrides, resume_dir=args.resume, run_dir=args.run_dir,
                         workers=args.workers, executor=args.executor, progress=not args.no_progress)


def _cmd_report(args: argparse.Namespace) -> int:
    from embodied.report import write_report

    print(write_report(args.run_dir, max_episodes=args.max_episodes))
    return 0


def _cmd_serve_model(args: argparse.Namespace) -> int:
    from embodied.config import load_models
    from embodied.models.llamacpp import serve_settings
    from embodied.models.llamacpp_server import serve_forever

    # only models: is read, so a preset (configs/presets/*.yaml: no task, no world) can be served
    serve_forever(serve_settings(load_models(args.config), args.model, host=args.host, port=args.port))
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from embodied.replay import replay_command

    return replay_command(args.episode_dir)




def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = backends.registry("command")
    try:
        if argv and argv[0] in commands:  # a backend package's command parses its own arguments
            return commands.get(argv[0])(argv[1:])
        parser = _parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        handlers = {"run": _cmd_run, "check": _cmd_check, "list": _cmd_list, "sweep": _cmd_sweep,
                    "report": _cmd_report, "replay": _cmd_replay, "serve-model": _cmd_serve_model}
        return handlers[args.command](args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        print("  (run `embodied check CONFIG` to validate, `embodied list` for backend names)", file=sys.stderr)
        return 2
    except EmbodiedError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("\ninterrupted: the trace written so far is kept in the run directory", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
