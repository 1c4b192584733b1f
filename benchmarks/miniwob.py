"""Success of the model-free GUI agent on MiniWoB++ tasks, and its per-step latency.

Runs the closed loop (GUI rule planner, template writer, category repairer, trace + screen
monitors: the parts named in ``configs/gui/miniwob.yaml``) on each task for each seed, in one
headless Chromium per task, and prints a table: success rate, mean steps (input actions sent to
the page) and seconds per step (the agent loop's wall time divided by its actions: planning,
writing, the sandbox, the action, the checkpoint observation and the monitors; no model time,
there is no model). With ``--desktop`` it also runs the Tk form of ``configs/gui/desktop_form.yaml``
under Xvfb and reports the OCR per-step latency.

    .venv/bin/python benchmarks/miniwob.py                     # the 20 tasks x 10 seeds
    .venv/bin/python benchmarks/miniwob.py --tasks click-tab,enter-date --seeds 3 --desktop

With ``--planner hybrid`` the grammar reads what it can and a language model (the model of
configs/presets/qwen_coder.yaml, Qwen2.5-Coder-1.5B on llama.cpp, or ``--model NAME``) reads the
rest (``--use-model always``: every instruction) and writes the code for steps the GUI has no typed
action for; the table then adds model calls and seconds, and how many episodes the model planned:

    .venv/bin/python benchmarks/miniwob.py --planner hybrid --seeds 1
    .venv/bin/python benchmarks/miniwob.py --planner hybrid --model qwen2.5-coder-0.5b --use-model always \
        --tasks click-button,enter-text --seeds 1 -v

It also compares the agent's own verdict (every step and the final check passed) with the page's
reward: ``false success: K of N episodes`` counts episodes the agent called a success that the
page scored 0 or -1, with the confusion table of claims against truth.

Goals: mean success >= 90 %, false success <= 2 % of episodes, browser step <= 100 ms, desktop
(OCR) step <= 300 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# This file is named like the `miniwob` package: keep its folder off the import path so that
# `import miniwob` finds the package, not this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from embodied.assembly import RunLog, assemble  # noqa: E402
from embodied.config import ExperimentConfig, load_config, load_config_data, load_models, validate  # noqa: E402
from embodied.experiment import build_models  # noqa: E402
from embodied.results import confusion, format_confusion  # noqa: E402
from embodied.trace import TraceWriter  # noqa: E402
from sim.gui.env import GuiAgentEnv  # noqa: E402

TASKS = ("click-button", "click-button-sequence", "click-checkboxes", "click-link", "click-option", "click-tab",
         "click-test", "click-test-2", "click-dialog", "click-dialog-2", "enter-text", "enter-text-2",
         "enter-password", "focus-text", "focus-text-2", "login-user", "choose-list", "click-collapsible",
         "use-autocomplete", "enter-date")


@dataclass
class TaskResult:
    task: str
    successes: int = 0
    episodes: int = 0
    steps: list[int] = field(default_factory=list)
    loop_s: list[float] = field(default_factory=list)
    env_s: list[float] = field(default_factory=list)  # time in the backend: actions + observations
    failures: list[str] = field(default_factory=list)
    outcomes: list[tuple[bool, bool | None]] = field(default_factory=list)  # (claimed, true) per episode
    false_successes: list[str] = field(default_factory=list)
    planned_by_model: int = 0  # episodes whose first plan the model made (hybrid planner)
    model_calls: int = 0
    model_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    @property
    def s_per_step(self) -> float:
        total = sum(self.steps)
        return sum(self.loop_s) / total if total else 0.0

    @property
    def env_per_step(self) -> float:
        total = sum(self.steps)
        return sum(self.env_s) / total if total else 0.0


class ModelLog:
    """Sends a model's exchanges to the log of the episode running now (one model serves them all)."""

    def __init__(self) -> None:
        self.log: RunLog | None = None

    def __call__(self, kind: str, **data: Any) -> None:
        if self.log is not None:
            self.log.event(kind, **data)


def run_task(base: ExperimentConfig, task: str | None, seeds: list[int], verbose: bool,
             trace_dir: Path | None = None, models: dict[str, Any] | None = None,
             model_log: ModelLog | None = None) -> TaskResult:
    """Episodes of one task (a MiniWoB task name, or None for the config's own env) in one env.
    ``models``: built once for all tasks; ``model_log`` forwards their exchanges to each episode."""
    cfg = base.model_copy(deep=True)
    if task is not None:
        cfg.env = cfg.env.model_copy(update={"task": task})
    name = task or cfg.name
    result = TaskResult(name)
    env = GuiAgentEnv.from_config(cfg.env)
    try:
        for seed in seeds:
            first = env.reset(seed)
            trace = TraceWriter(trace_dir / f"{task}-{seed}", save_images=False) if trace_dir else None
            log = RunLog(trace, None)
            agent = assemble(env, cfg.agent, cfg.sandbox, log, models=models)
            if model_log is not None:
                model_log.log = log
            usage0 = [m.usage() for m in (models or {}).values()]
            before = env.gui.stats()
            t0 = time.perf_counter()
            run = agent.run(cfg.task.instruction or first.task, env)  # "": the task's own utterance
            elapsed = time.perf_counter() - t0
            after = env.gui.stats()
            usage1 = [m.usage() for m in (models or {}).values()]
            result.model_calls += sum(b.calls - a.calls for a, b in zip(usage0, usage1, strict=True))
            result.model_s += sum(b.model_time_s - a.model_time_s for a, b in zip(usage0, usage1, strict=True))
            planned_by = "model" if run.first_plan and run.first_plan.note.startswith("planned by model") else \
                "grammar"
            result.planned_by_model += planned_by == "model"
            ok, info = env.success([])
            claimed = run.claimed_success
            if trace is not None:
                trace.event("result", success=ok, claimed_success=claimed, details=info, planned_by=planned_by)
                trace.close()
            result.episodes += 1
            result.successes += int(bool(ok))
            result.outcomes.append((claimed, ok))
            if claimed and not ok:
                utterance = run.plan.instruction if run.plan else ""
                result.false_successes.append(f"seed {seed}: {utterance!r}: reward {info.get('raw_reward')}; "
                                              f"plan: {[s.description for s in run.plan.subgoals] if run.plan else []}")
            result.steps.append(int(after["actions"] - before["actions"]))
            result.loop_s.append(elapsed)
            result.env_s.append(after["act_s"] + after["observe_s"] - before["act_s"] - before["observe_s"])
            if not ok:
                why = " / ".join(run.failure.splitlines()[:3]) or f"reward {info.get('raw_reward')}"
                utterance = run.plan.instruction if run.plan else ""
                result.failures.append(f"seed {seed}: {utterance!r}: {why}")
            if verbose:
                print(f"  {name} seed {seed}: {'ok' if ok else 'FAIL'} (claimed {'ok' if claimed else 'fail'}) "
                      f"{result.steps[-1]} steps {elapsed:.2f} s" + (f", planned by {planned_by}" if models else ""),
                      flush=True)
    finally:
        env.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=[",".join(TASKS)],
                        help="MiniWoB++ task names, comma- or space-separated (default: the 20 dev tasks)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per task")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "gui" / "miniwob.yaml")
    parser.add_argument("--desktop", action="store_true", help="also time the Tk form under Xvfb (OCR)")
    parser.add_argument("--desktop-config", type=Path, default=ROOT / "configs" / "gui" / "desktop_form.yaml")
    parser.add_argument("--desktop-episodes", type=int, default=3)
    parser.add_argument("--trace", type=Path, metavar="DIR", help="write each episode's trace under DIR")
    parser.add_argument("--planner", choices=("rule", "hybrid"), default="rule",
                        help="rule: the GUI grammar alone; hybrid: the grammar, and a language model where it cannot")
    parser.add_argument("--model", help="hybrid: a catalog model name (default: the model of "
                                        "configs/presets/qwen_coder.yaml, Qwen2.5-Coder-1.5B)")
    parser.add_argument("--use-model", choices=("fallback", "always"), default="fallback",
                        help="hybrid: the model reads an instruction only when the grammar cannot (fallback) "
                             "or every one (always)")
    parser.add_argument("--episode-time-s", type=float, default=1800.0,
                        help="hybrid: the page's own time limit per episode, seconds (a CPU model may take minutes)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    if args.planner == "hybrid":
        base = hybrid_config(args.config, args.model, args.use_model, args.episode_time_s)
    else:
        base = load_config(args.config, ["run.quiet=true"])
    models = build_models(base, ROOT) if base.models else {}
    model_log = ModelLog()
    for model in models.values():  # every exchange lands in the episode's trace (with --trace)
        model.listen(model_log)
    seeds = list(range(args.seeds))
    tasks = [t for chunk in args.tasks for t in chunk.split(",") if t.strip()]
    results = []
    t0 = time.perf_counter()
    try:
        for task in tasks:
            results.append(run_task(base, task, seeds, args.verbose, args.trace, models, model_log))
    finally:
        for model in models.values():
            model.close()
    wall = time.perf_counter() - t0

    agent = "model-free GUI agent" if not models else \
        f"hybrid GUI agent, model {models['coder'].name} ({args.use_model})"
    print(f"\nMiniWoB++ with the {agent} ({len(seeds)} seeds per task, {wall:.0f} s in all)")
    print("steps: input actions per episode; s/step: agent loop wall time per action (planning, code, sandbox,")
    print("action, checkpoint observation, monitors" + ("; model time included" if models else "; no model")
          + "); env s/step: the backend's share (action + observation)")
    header = f"{'task':<24}{'success':>9}{'steps':>8}{'s/step':>9}{'env s/step':>12}"
    print(header)
    for r in results:
        steps = statistics.mean(r.steps) if r.steps else 0.0
        print(f"{r.task:<24}{r.rate:>8.0%}{steps:>8.1f}{r.s_per_step:>9.3f}{r.env_per_step:>12.3f}")
    mean_rate = statistics.mean(r.rate for r in results) if results else 0.0
    all_steps = [s for r in results for s in r.steps]
    per_step = sum(s for r in results for s in r.loop_s) / max(1, sum(all_steps))
    env_step = sum(s for r in results for s in r.env_s) / max(1, sum(all_steps))
    print(f"{'mean':<24}{mean_rate:>8.1%}{statistics.mean(all_steps) if all_steps else 0:>8.1f}{per_step:>9.3f}"
          f"{env_step:>12.3f}")
    matrix = confusion(o for r in results for o in r.outcomes)
    episodes = sum(r.episodes for r in results)
    print(f"\nmean success: {100 * mean_rate:.1f}%")
    print(f"false success: {matrix.false_success} of {episodes} episodes "
          f"({100 * matrix.false_success / max(1, episodes):.1f}%; goal <= 2 %: "
          f"{'met' if matrix.false_success <= 0.02 * episodes else 'NOT met'})")
    print(format_confusion(matrix))
    print(f"goal: success >= 90 % ({'met' if mean_rate >= 0.9 else 'NOT met'}); browser step <= 0.100 s "
          f"({'met' if per_step <= 0.1 else 'NOT met'})")
    if models:
        episodes_all = sum(r.episodes for r in results)
        calls = sum(r.model_calls for r in results)
        print(f"hybrid: the model planned {sum(r.planned_by_model for r in results)} of {episodes_all} episodes "
              f"(the grammar the rest); {calls} model calls, {sum(r.model_s for r in results):.1f} s of model time")
    for r in results:
        for f in r.false_successes:
            print(f"  FALSE SUCCESS {r.task} {f}")
        for f in r.failures:
            print(f"  fail {r.task} {f}")
    if args.desktop:
        desktop = load_config(args.desktop_config, ["run.quiet=true"])
        d = run_task(desktop, None, list(range(args.desktop_episodes)), args.verbose, args.trace)
        dm = confusion(d.outcomes)
        print(f"desktop Tk form under Xvfb (OCR): {d.successes}/{d.episodes} succeeded "
              f"({dm.false_success} false success), "
              f"{statistics.mean(d.steps):.1f} steps, {d.s_per_step:.3f} s/step (env {d.env_per_step:.3f}); "
              f"goal <= 0.300 s: {'met' if d.s_per_step <= 0.3 else 'NOT met'}")
    return 0


def hybrid_config(path: Path, model: str | None, use_model: str, episode_time_s: float) -> ExperimentConfig:
    """``path`` with the hybrid planner, writer and repairer, and the live model of
    configs/presets/qwen_coder.yaml (its llama.cpp options, never its cassette: every call is
    measured), ``model`` naming another catalog model. The page's own timer gets
    ``episode_time_s`` (seconds): the reward then scores what the agent did, not CPU speed."""
    data, lines = load_config_data(path, ["run.quiet=true", f"env.options.episode_time_s={episode_time_s:g}"])
    entry = load_models(ROOT / "configs" / "presets" / "qwen_coder.yaml")["coder"]
    backend, options = entry.backend, dict(entry.options)
    while backend == "replay":
        inner = options.get("inner") or {}
        backend, options = inner["backend"], dict(inner.get("options") or {})
    if model:
        options["model"] = model
    data["models"] = {"coder": {"backend": backend, "options": options}}
    agent = data.setdefault("agent", {})
    agent.update({"planner": "hybrid", "writer": "rule_or_llm", "repairer": "rule_or_llm", "model": "coder"})
    agent["planner_options"] = {**agent.get("planner_options", {}), "use_model": use_model}
    return validate(data, lines, str(path))


if __name__ == "__main__":
    sys.exit(main())
