"""The language-model path on the tabletop families, with Qwen2.5-Coder-1.5B on llama.cpp.

Variants (each a set of agent settings on top of the task config, faults of
configs/presets/perturbed.yaml on, the model of configs/presets/qwen_coder.yaml):

- ``llm``: the model reads every instruction (hybrid planner, ``use_model: always``), writes and
  repairs every policy (writers ``llm``), with the skill library. Closed loop.
- ``llm-open``: the same, open loop (no monitors, no repairs). One seed.
- ``llm-nolib``: the same, closed loop, without the skill library. One seed.
- ``hybrid``: grammar first, the model reads only what the grammar cannot; template writer and
  rule repairer act on the typed subgoals.
- ``rule``: the grammar alone (no model).

``--paraphrases`` runs benchmarks/paraphrases.yaml (30 instructions written before tuning, each
with its goal) with ``hybrid`` and ``rule`` instead of the families.

Prints per variant: success, model calls, prompt/completion tokens and model seconds per
successful episode, share of prompt tokens served from llama.cpp's prefix cache. Episodes run one
after another in this process (the model server is shared anyway); an episode of a few minutes is
expected on a 2-core machine, so use ``--families``/``--seeds``/``--variants`` to run a part.

    .venv/bin/python benchmarks/llm.py --families stack,relation --seeds 1 --variants llm,hybrid
    .venv/bin/python benchmarks/llm.py --paraphrases --limit 10
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from embodied.config import load_config
from embodied.experiment import run_episode
from embodied.results import confusion, format_confusion

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("pick_place", "stack", "stack_size", "sort", "sort_bowls", "push", "line_up", "relation", "clear_table")
# max_wall_s: an episode the model cannot finish ends with a clear result after 10 minutes
LLM_PATH = {"planner": "hybrid", "planner_options": {"use_model": "always", "max_tokens": 256}, "max_wall_s": 600,
            "writer": "llm", "repairer": "llm", "writer_options": {"max_tokens": 256},
            "repairer_options": {"max_tokens": 256}}
VARIANTS: dict[str, dict[str, Any]] = {
    "llm": {**LLM_PATH, "writer_options": {"max_tokens": 256, "library": "LIBRARY"}},
    "llm-open": {**LLM_PATH, "closed_loop": False, "writer_options": {"max_tokens": 256, "library": "LIBRARY"}},
    "llm-nolib": LLM_PATH,
    "hybrid": {"planner": "hybrid", "writer": "rule", "repairer": "rule"},
    "rule": {"planner": "rule", "writer": "rule", "repairer": "rule"},
}
ONE_SEED = ("llm-open", "llm-nolib")


@dataclass
class Row:
    variant: str
    task: str
    seed: int
    success: bool
    failure: str
    model_calls: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    model_time_s: float
    wall_time_s: float
    planned_by: str
    claimed: bool | None = None  # what the agent's own checks concluded (None: not recorded)


def _config(task: str, variant: str, seed: int, library: Path, instruction: dict[str, Any] | None,
            out: Path) -> Path:
    agent = json.loads(json.dumps(VARIANTS[variant]).replace('"LIBRARY"', json.dumps(str(library))))
    data: dict[str, Any] = {
        "include": [str(ROOT / f"configs/tabletop/{task}.yaml"), str(ROOT / "configs/presets/perturbed.yaml")],
        "name": f"llm-{task}-{variant}", "agent": agent, "env": {"seed": seed}, "run": {"quiet": True},
    }
    if variant != "rule":  # the live engine, never the preset's cassette: every call is measured
        data["models"] = {"coder": _live_model()}
        agent.setdefault("model", "coder")
    if instruction is not None:
        data["task"] = {"instruction": instruction["instruction"], "goal": instruction["goal"]}
    path = out / f"{task}-{variant}-{seed}-{abs(hash(json.dumps(data))) % 10**8}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _live_model() -> dict[str, Any]:
    """The model of configs/presets/qwen_coder.yaml without its record/replay wrapper."""
    preset = yaml.safe_load((ROOT / "configs/presets/qwen_coder.yaml").read_text(encoding="utf-8"))
    model = preset["models"]["coder"]
    return model["options"]["inner"] if model["backend"] == "replay" else model


def _trace_figures(run_dir: Path) -> tuple[int, str]:
    """Cached prompt tokens (from the trace's model_call events) and who planned."""
    cached, planned_by = 0, ""
    trace = run_dir / "trace.jsonl"
    if not trace.exists():
        return 0, ""
    for line in trace.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event.get("event") == "model_call":
            cached += int(event.get("cached_tokens") or 0)
        elif event.get("event") == "plan" and not planned_by:
            note = str(event.get("note") or "")
            planned_by = "model" if note.startswith("planned by model") else "grammar"
    return cached, planned_by


def run_one(task: str, variant: str, seed: int, library: Path, work: Path,
            instruction: dict[str, Any] | None = None) -> Row:
    config = _config(task, variant, seed, library, instruction, work)
    cfg = load_config(config)
    run_dir = work / config.stem
    # paths inside the presets (the cassette) are relative to a config two levels below the root
    result = run_episode(cfg, run_dir, config_dir=ROOT / "configs" / "llm", console=False)
    cached, planned_by = _trace_figures(run_dir)
    return Row(variant, task if instruction is None else f"{task}: {instruction['instruction']}", seed,
               result.success, result.failure, result.model_calls, result.prompt_tokens, result.completion_tokens,
               cached, result.model_time_s, result.wall_time_s, planned_by, result.claimed_success)


def _per_success(rows: list[Row], key: str) -> str:
    wins = sum(r.success for r in rows)
    total = sum(getattr(r, key) for r in rows)
    return f"{total / wins:.1f}" if wins else "-"


def report(rows: list[Row], out: Any = sys.stdout) -> None:
    by_variant: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_variant[r.variant].append(r)
    print(f"\n{'variant':<10} {'success':>9} {'calls/succ':>10} {'prompt/succ':>11} {'compl/succ':>10} "
          f"{'model s/succ':>12} {'cache share':>11} {'by model':>8} {'wall s/ep':>9}", file=out)
    for variant, vrows in by_variant.items():
        wins = sum(r.success for r in vrows)
        prompt = sum(r.prompt_tokens for r in vrows)
        cached = sum(r.cached_tokens for r in vrows)
        share = f"{cached / prompt:.0%}" if prompt else "-"
        by_model = sum(r.planned_by == "model" for r in vrows)
        print(f"{variant:<10} {wins:>5}/{len(vrows):<3} {_per_success(vrows, 'model_calls'):>10} "
              f"{_per_success(vrows, 'prompt_tokens'):>11} {_per_success(vrows, 'completion_tokens'):>10} "
              f"{_per_success(vrows, 'model_time_s'):>12} {share:>11} {by_model:>8} "
              f"{statistics.fmean(r.wall_time_s for r in vrows):>9.1f}", file=out)
    for variant, vrows in by_variant.items():
        known = [(r.claimed, r.success) for r in vrows if r.claimed is not None]
        if known:
            print("\n" + format_confusion(confusion(known), f"{variant}: claimed vs true success"), file=out)
    print("\nper episode:", file=out)
    for r in rows:
        mark = "ok  " if r.success else "FAIL"
        why = f" -- {r.failure.splitlines()[0][:110]}" if r.failure and not r.success else ""
        print(f"  {mark} {r.variant:<9} seed {r.seed} {r.task[:70]:<70} calls {r.model_calls:>2} "
              f"planned by {r.planned_by or '-'} {r.wall_time_s:6.0f} s{why}", file=out)


def _numbers(spec: str, count: int) -> list[int]:
    """``"28-30,3"`` as [28, 29, 30, 3], each within 1..count."""
    out: list[int] = []
    for part in spec.split(","):
        low, _, high = part.strip().partition("-")
        out += range(int(low), int(high or low) + 1)
    bad = [k for k in out if not 1 <= k <= count]
    if bad:
        raise SystemExit(f"--items: {bad} outside 1..{count}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated task families")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per family (1 for llm-open and llm-nolib)")
    parser.add_argument("--variants", default="llm,llm-open,llm-nolib", help=f"of {', '.join(VARIANTS)}")
    parser.add_argument("--paraphrases", action="store_true", help="benchmarks/paraphrases.yaml, hybrid vs rule")
    parser.add_argument("--limit", type=int, help="only the first N paraphrases")
    parser.add_argument("--items", help="only these paraphrases, 1-based: e.g. 28-30 or 3,7")
    parser.add_argument("--library", type=Path, help="skill library directory (default: a fresh one)")
    parser.add_argument("--json", type=Path, help="also write the rows here (updated after every episode)")
    parser.add_argument("--runs", type=Path, help="keep each episode's run directory (trace.jsonl, "
                        "report.html) here instead of deleting it at the end")
    parser.add_argument("--report", type=Path, help="only print the tables of rows written earlier with --json")
    args = parser.parse_args()
    if args.report:
        report([Row(**r) for path in str(args.report).split(",")
                for r in json.loads(Path(path).read_text(encoding="utf-8"))])
        return 0

    jobs: list[tuple[str, str, int, dict[str, Any] | None]] = []
    if args.paraphrases:
        items = yaml.safe_load((ROOT / "benchmarks/paraphrases.yaml").read_text(encoding="utf-8"))
        items = items[: args.limit] if args.limit else items
        if args.items:
            items = [items[k - 1] for k in _numbers(args.items, len(items))]
        variants = args.variants.split(",") if args.variants != parser.get_default("variants") else ["hybrid", "rule"]
        jobs = [(item["task"], v, 0, item) for item in items for v in variants]
    else:
        families = [f for f in args.families.split(",") if f]
        unknown = [f for f in families if f not in FAMILIES] + [v for v in args.variants.split(",")
                                                                if v not in VARIANTS]
        if unknown:
            parser.error(f"unknown family or variant: {', '.join(unknown)}")
        # family by family, so a run cut short still compares the variants on the families it did
        for family in families:
            for variant in args.variants.split(","):
                seeds = 1 if variant in ONE_SEED else args.seeds
                jobs += [(family, variant, s, None) for s in range(seeds)]

    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        if args.runs:
            args.runs.mkdir(parents=True, exist_ok=True)
            work = args.runs
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        library = args.library or work / "skills"
        t0 = time.perf_counter()
        for k, (task, variant, seed, item) in enumerate(jobs, 1):
            row = run_one(task, variant, seed, library, work, item)
            rows.append(row)
            if args.json:  # after every episode: a cut-short run keeps what it measured
                args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1), encoding="utf-8")
            done = sum(r.success for r in rows)
            bar = "#" * (20 * k // len(jobs))
            print(f"\r[{bar:<20}] {k}/{len(jobs)} {done} ok, {time.perf_counter() - t0:6.0f} s  last: {variant} "
                  f"{task} seed {seed} {'ok' if row.success else 'FAIL'}", file=sys.stderr, flush=True)
    report(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
