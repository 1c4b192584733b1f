"""Run one episode from a config: build every part by name, run the loop, score, write the run
directory (resolved config, JSONL trace, checkpoint images, summary.json)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from embodied import backends
from embodied.agent import AgentRun
from embodied.assembly import RunLog, assemble, kit_of
from embodied.conditions import ConditionSyntaxError
from embodied.config import ExperimentConfig, resolved_dict
from embodied.console import ConsoleLog
from embodied.domain import DomainKit
from embodied.errors import ConfigError, EmbodiedError, EpisodeAborted
from embodied.protocols import Environment
from embodied.trace import EPISODE_FILE, TraceWriter, redact_file, write_json_atomic
from embodied.types import Condition, EpisodeResult, to_jsonable


def build_env(cfg: ExperimentConfig) -> Environment:
    cls = backends.registry("env").get(cfg.env.kind)
    factory = getattr(cls, "from_config", None)
    return factory(cfg.env) if factory is not None else cls(cfg.env)


def build_models(cfg: ExperimentConfig, base_dir: Path) -> dict[str, Any]:
    if not cfg.models:
        return {}
    from embodied.models import build_model  # only runs that name models need the model code

    return {name: build_model(m.backend, m.options, base_dir=base_dir) for name, m in cfg.models.items()}


def new_run_dir(cfg: ExperimentConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    name = cfg.run.name or cfg.name or "run"
    return Path(cfg.run.out_dir) / f"{name}-{stamp}"


def config_goal_conditions(cfg: ExperimentConfig, kit: DomainKit) -> list[Condition]:
    """``task.goal`` read with the world's predicates; a name the kit does not know is a config error."""
    goal = []
    for i, text in enumerate(cfg.task.goal):
        try:
            goal.append(kit.parse_condition(text))
        except ConditionSyntaxError as exc:
            raise ConfigError(f"goal item {i}: {exc}", field="task.goal") from exc
    return goal


def goal_conditions(config_goal: list[Condition], run: AgentRun) -> tuple[list[Condition], str]:
    """What the run is scored against: the config's goal only. The plan's own conditions are never
    used (an agent would grade itself); a world may still have its own criterion (a MiniWoB
    reward, a file an app writes), else the episode has no ground truth (``success: None``)."""
    if config_goal:
        return config_goal, "config"
    return [], "none"


def ground_truth(env: Environment, goal: list[Condition], goal_source: str) -> tuple[bool | None, dict[str, Any], str]:
    """(success or None, details, where it came from)."""
    try:  # always asked: a world may have its own criterion (a MiniWoB reward, a file an app writes)
        success, details = env.success(goal)
    except EmbodiedError as exc:
        return None, {"why": f"cannot score: {exc}"}, "none"
    details = dict(details or {})
    if success is None:
        return None, details, "none"
    source = str(details.get("source") or "")
    return bool(success), details, ("config goal" if goal_source == "config" and source in ("", "world", "screen")
                                    else source or goal_source)


def run_episode(cfg: ExperimentConfig, run_dir: Path | None = None, *, config_dir: Path | None = None,
                console: ConsoleLog | bool = True,
                on_env: Callable[[Environment], None] | None = None) -> EpisodeResult:
    """Run one episode end to end and return its scored result (also written to summary.json)."""
    run_dir = run_dir or new_run_dir(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / EPISODE_FILE, {"config_dir": str((config_dir or Path.cwd()).resolve()),
                                               "seed": getattr(cfg.env, "seed", None)})
    t0 = time.perf_counter()
    trace = TraceWriter(run_dir, save_images=cfg.run.save_images)
    printer = (console if isinstance(console, ConsoleLog) else ConsoleLog()) if console and not cfg.run.quiet else None
    log = RunLog(trace, printer)
    models = build_models(cfg, config_dir or Path.cwd())
    for model in models.values():  # every model exchange, accepted or rejected, lands in the trace
        model.listen(log.event)
    env = build_env(cfg)
    try:
        agent = assemble(env, cfg.agent, cfg.sandbox, log, models=models, policy=cfg.task.policy)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(log.redact(resolved_dict(cfg)), sort_keys=False),
                                             encoding="utf-8")
        config_goal = config_goal_conditions(cfg, kit_of(env))
        if on_env is not None:
            on_env(env)
        first = env.reset(seed=getattr(cfg.env, "seed", None))
        instruction = cfg.task.instruction or first.task
        if not instruction:
            raise ConfigError("no instruction: this world states no task of its own",
                              field="task.instruction", hint="set task.instruction in the config")
        log.event("episode_start", instruction=instruction, seed=getattr(cfg.env, "seed", None),
                  run_dir=str(run_dir))
        run = agent.run(instruction, env)
        learn = getattr(agent.writer, "learn", None)  # a writer that keeps verified policies (skill library)
        if callable(learn) and agent.closed_loop:  # only monitor-checked attempts are worth keeping
            stored = learn(env.domain, run, first)
            if stored is not None:
                log.event("skills_stored", **stored)
        goal, goal_source = goal_conditions(config_goal, run)
        success, details, truth = ground_truth(env, goal, goal_source)
        if not run.finished and success:
            details = {**details, "note": "goal holds although the agent stopped early"}
        stats = env.stats()
        final = env.observe("final")
        log.event("final", images=log.images(final, "final"), objects=final.objects)
        usage = _model_usage(models)
        result = EpisodeResult(
            success=success, claimed_success=run.claimed_success, truth=truth, instruction=instruction,
            wall_time_s=round(time.perf_counter() - t0, 3), sim_steps=int(stats.get("sim_steps", 0)),
            primitive_calls=sum(len(a.execution.calls) for a in run.attempts),
            subgoals=len(run.outcomes), repairs=run.repairs, replans=run.replans,
            policies_written=run.policies_written, outcomes=[
                {"subgoal": o.subgoal.description, "ok": o.ok, "attempts": o.attempts, "category": o.category.value,
                 "why": o.why} for o in run.outcomes],
            failure=run.failure, goal=[str(c) for c in goal], **usage)
        events = env.events() if hasattr(env, "events") else []
        log.event("result", result=result, goal_source=goal_source, goal_details=details, stats=stats,
                  perturbations=events)
        _write_summary(cfg, run_dir, config_dir, log, result, goal_source=goal_source, goal_details=details,
                       revisions=run.revisions, stats=stats, perturbations=events, final_check=run.final)
        return result
    except EpisodeAborted as exc:
        # The world broke (simulator crash, device gone): the episode is a failure with a reason,
        # and everything recorded so far stays in the trace.
        return _aborted(cfg, run_dir, config_dir, log, t0, models, f"{type(exc).__name__}: {exc}")
    except ConfigError:
        raise
    except Exception as exc:
        _aborted(cfg, run_dir, config_dir, log, t0, models, f"internal error: {type(exc).__name__}: {exc}",
                 traceback.format_exc())
        raise
    finally:
        env.close()
        trace.close()
        redact_file(run_dir / "trace.jsonl", log.redact)  # secrets learned late are masked everywhere


def _write_summary(cfg: ExperimentConfig, run_dir: Path, config_dir: Path | None, log: RunLog,
                   result: EpisodeResult, **extra: Any) -> None:
    """summary.json, written atomically and through the world's redaction, on every way out."""
    summary = {**to_jsonable(result), **extra, "seed": getattr(cfg.env, "seed", None), "run_dir": str(run_dir),
               "config_dir": str((config_dir or Path.cwd()).resolve())}
    write_json_atomic(run_dir / "summary.json", log.redact(to_jsonable(summary)))


def _aborted(cfg: ExperimentConfig, run_dir: Path, config_dir: Path | None, log: RunLog, t0: float,
             models: dict[str, Any], reason: str, tb: str = "") -> EpisodeResult:
    result = EpisodeResult(success=False, claimed_success=False, truth="aborted", instruction=cfg.task.instruction,
                           wall_time_s=round(time.perf_counter() - t0, 3), sim_steps=0, primitive_calls=0,
                           failure=reason, **_model_usage(models))
    log.event("aborted", reason=reason, traceback=tb)
    log.event("result", result=result)
    _write_summary(cfg, run_dir, config_dir, log, result, aborted=True)
    return result


def _model_usage(models: dict[str, Any]) -> dict[str, Any]:
    usage = {"model_calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "model_time_s": 0.0}
    for model in models.values():
        u = model.usage()
        for key in usage:
            usage[key] += getattr(u, key, 0) if not isinstance(u, dict) else u.get(key, 0)
    usage["model_time_s"] = round(float(usage["model_time_s"]), 3)
    return usage
