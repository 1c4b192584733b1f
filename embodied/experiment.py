"""Run one episode from a config: build every part by name, run the loop, score, write the run
directory (resolved config, JSONL trace, checkpoint images, summary.json)."""

from __future__ import annotations

import inspect
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from embodied import backends
from embodied.agent import Agent, AgentRun, HybridMonitor, LoopBudgets
from embodied.conditions import parse_condition
from embodied.config import ExperimentConfig, resolved_dict
from embodied.console import ConsoleLog
from embodied.errors import ConfigError, EmbodiedError, EpisodeAborted
from embodied.protocols import Environment
from embodied.registry import did_you_mean
from embodied.sandbox import Sandbox
from embodied.trace import TraceWriter, write_json_atomic
from embodied.types import Condition, EpisodeResult, Observation, to_jsonable


def build(kind: str, name: str, available: dict[str, Any], options: dict[str, Any] | None = None,
          field: str = "", models: dict[str, Any] | None = None) -> Any:
    """Instantiate backend ``name`` of ``kind``, passing the shared objects its constructor asks
    for by parameter name (``model``, ``policy``, ``domain``) and the config's ``options`` for it
    (an option ``model: NAME`` picks another configured model). Unknown options are config errors."""
    cls = backends.registry(kind).get(name)
    params = inspect.signature(cls).parameters
    kwargs = {k: v for k, v in available.items() if k in params}
    for key, value in (options or {}).items():
        if key not in params or params[key].kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            known = [p for p in params if p not in available]
            guess = did_you_mean(key, known)
            raise ConfigError(f"{kind} {name!r} has no option {key!r}", field=f"{field}.{key}",
                              hint=f"did you mean {guess!r}?" if guess else f"options: {', '.join(known) or 'none'}")
        kwargs[key] = (models or {})[value] if key == "model" else value
    return cls(**kwargs)


def build_env(cfg: ExperimentConfig) -> Environment:
    cls = backends.registry("env").get(cfg.env.kind)
    factory = getattr(cls, "from_config", None)
    return factory(cfg.env) if factory is not None else cls(cfg.env)


def build_models(cfg: ExperimentConfig, base_dir: Path) -> dict[str, Any]:
    if not cfg.models:
        return {}
    from embodied.models import build_model  # only runs that name models need the model code

    return {name: build_model(m.backend, m.options, base_dir=base_dir) for name, m in cfg.models.items()}


@dataclass
class Parts:
    planner: Any
    writer: Any
    repairer: Any
    monitor: HybridMonitor | None


def build_parts(cfg: ExperimentConfig, models: dict[str, Any], domain: str) -> Parts:
    """Planner, writer, repairer and monitors by name. Constructors receive what they ask for
    by parameter name: ``model`` (the configured model), ``policy`` (task.policy), ``domain``."""
    model = models.get(cfg.agent.model) if cfg.agent.model else next(iter(models.values()), None)
    available = {"model": model, "policy": cfg.task.policy, "domain": domain}
    if cfg.task.policy is not None:
        names = ("fixed", "fixed", "fixed")  # a given policy replaces planning; it is still checked
    else:
        names = (cfg.agent.planner, cfg.agent.writer or cfg.agent.planner, cfg.agent.repairer or cfg.agent.planner)
    a = cfg.agent
    planner = build("planner", names[0], available, a.planner_options, "agent.planner_options", models)
    writer = build("writer", names[1], available, a.writer_options, "agent.writer_options", models)
    repairer = build("repairer", names[2], available, a.repairer_options, "agent.repairer_options", models)
    monitor = None
    if a.closed_loop:
        monitor = HybridMonitor([build("monitor", m, available, a.monitor_options.get(m), f"agent.monitor_options.{m}",
                                       models) for m in a.monitors])
    return Parts(planner, writer, repairer, monitor)


class RunLog:
    """Fans loop events out to the trace file and the console, through the world's redaction
    (typed secrets such as passwords never reach a file or the terminal)."""

    def __init__(self, trace: TraceWriter, console: ConsoleLog | None) -> None:
        self.trace, self.console = trace, console
        self.redact: Callable[[Any], Any] = lambda value: value

    def event(self, kind: str, **data: Any) -> None:
        data = self.redact(to_jsonable(data))
        self.trace.event(kind, **data)
        if self.console is not None:
            self.console.event(kind, **data)

    def images(self, observation: Observation | None, label: str) -> dict[str, str]:
        return self.trace.images(observation, label)


def new_run_dir(cfg: ExperimentConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    name = cfg.run.name or cfg.name or "run"
    return Path(cfg.run.out_dir) / f"{name}-{stamp}"


def goal_conditions(cfg: ExperimentConfig, run: AgentRun) -> tuple[list[Condition], str]:
    if cfg.task.goal:
        return [parse_condition(g) for g in cfg.task.goal], "config"
    if run.plan is not None:
        return run.plan.goal or [c for s in run.plan.subgoals for c in s.conditions], "plan"
    return [], "none"


def run_episode(cfg: ExperimentConfig, run_dir: Path | None = None, *, config_dir: Path | None = None,
                console: ConsoleLog | bool = True,
                on_env: Callable[[Environment], None] | None = None) -> EpisodeResult:
    """Run one episode end to end and return its scored result (also written to summary.json)."""
    run_dir = run_dir or new_run_dir(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    trace = TraceWriter(run_dir, save_images=cfg.run.save_images)
    printer = (console if isinstance(console, ConsoleLog) else ConsoleLog()) if console and not cfg.run.quiet else None
    log = RunLog(trace, printer)
    models = build_models(cfg, config_dir or Path.cwd())
    for model in models.values():  # every model exchange, accepted or rejected, lands in the trace
        model.listen(log.event)
    env = build_env(cfg)
    try:
        log.redact = env.primitives().redact
        (run_dir / "config.yaml").write_text(yaml.safe_dump(log.redact(resolved_dict(cfg)), sort_keys=False),
                                             encoding="utf-8")
        parts = build_parts(cfg, models, env.domain)
        if on_env is not None:
            on_env(env)
        first = env.reset(seed=getattr(cfg.env, "seed", None))
        instruction = cfg.task.instruction or first.text
        if not instruction:
            raise ConfigError("no instruction: this world gives no task text of its own",
                              field="task.instruction", hint="set task.instruction in the config")
        log.event("episode_start", instruction=instruction, seed=getattr(cfg.env, "seed", None),
                  run_dir=str(run_dir))
        agent = Agent(parts.planner, parts.writer, parts.repairer, parts.monitor,
                      Sandbox(max_steps=cfg.sandbox.max_steps, timeout_s=cfg.sandbox.timeout_s),
                      LoopBudgets(cfg.agent.repair_budget, cfg.agent.replan_budget, cfg.agent.max_subgoals,
                                  cfg.agent.max_wall_s), log)
        run = agent.run(instruction, env)
        library = getattr(parts.writer, "library", None)
        if library is not None and agent.closed_loop:  # the skill library learns only monitor-verified policies
            from planners.llm import render
            from planners.llm.skills import record_run

            stored = record_run(library, env.domain, run.outcomes, run.attempts, render.scene(first))
            log.event("skills_stored", count=stored, library=str(library.path))
        goal, goal_source = goal_conditions(cfg, run)
        try:  # always asked: a world may have its own criterion (a MiniWoB reward, a file an app writes)
            success, details = env.success(goal)
        except EmbodiedError as exc:
            success, details = False, {"why": f"cannot score: {exc}"}
        if not run.finished and success:
            details = {**details, "note": "goal holds although the agent stopped early"}
        stats = env.stats()
        final = env.observe("final")
        log.event("final", images=log.images(final, "final"), objects=final.objects)
        usage = _model_usage(models)
        result = EpisodeResult(
            success=bool(success), instruction=instruction,
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
                       revisions=run.revisions, stats=stats, perturbations=events)
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


def _write_summary(cfg: ExperimentConfig, run_dir: Path, config_dir: Path | None, log: RunLog,
                   result: EpisodeResult, **extra: Any) -> None:
    """summary.json, written atomically and through the world's redaction, on every way out."""
    summary = {**to_jsonable(result), **extra, "seed": getattr(cfg.env, "seed", None), "run_dir": str(run_dir),
               "config_dir": str((config_dir or Path.cwd()).resolve())}
    write_json_atomic(run_dir / "summary.json", log.redact(to_jsonable(summary)))


def _aborted(cfg: ExperimentConfig, run_dir: Path, config_dir: Path | None, log: RunLog, t0: float,
             models: dict[str, Any], reason: str, tb: str = "") -> EpisodeResult:
    result = EpisodeResult(success=False, instruction=cfg.task.instruction,
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
