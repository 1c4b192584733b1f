"""``embodied replay RUN_DIR``: run an episode again from its run directory and check that it
does the same thing.

The episode is re-executed from its resolved ``config.yaml`` (which carries the seed). Models that
record to a cassette are switched to replay mode when their cassette exists, so a model-driven
episode is re-run without calling the model. The original and the new trace are reduced to the
sequence that defines the behaviour: policy sources, primitive calls with their arguments,
verdicts, and the final success. Timings, images and free-text explanations are left out. The
first difference is reported with its position.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import yaml

from embodied.config import ExperimentConfig, validate
from embodied.errors import EmbodiedError
from embodied.models.replay import CASSETTE_OPTION, INNER_OPTION, MODE_OPTION, REPLAY_BACKEND, REPLAY_MODE
from embodied.trace import EPISODE_FILE, read_trace


class ReplayError(EmbodiedError):
    """The directory cannot be replayed (no config.yaml or no trace.jsonl)."""


@dataclass(frozen=True)
class Step:
    """One behaviour-defining item of an episode."""

    kind: str  # "policy", "call", "verdict" or "success"
    subgoal: int | None
    data: dict[str, Any]

    def describe(self) -> str:
        d = self.data
        where = f"subgoal {self.subgoal + 1}: " if self.subgoal is not None else ""
        if self.kind == "policy":
            first = next((ln for ln in str(d.get("source", "")).splitlines() if ln.strip()), "")
            return f"{where}policy v{d.get('version')} ({len(str(d.get('source', '')).splitlines())} lines, " \
                   f"first: {first.strip()!r})"
        if self.kind == "call":
            args = [repr(a) for a in d.get("args") or []]
            args += [f"{k}={v!r}" for k, v in (d.get("kwargs") or {}).items()]
            error = f" -> {d['error_type']}" if d.get("error_type") else ""
            return f"{where}call {d.get('name')}({', '.join(args)}){error}"
        if self.kind == "verdict":
            ok = "ok" if d.get("ok") else f"failed ({d.get('category')}, line {d.get('failed_line')})"
            return f"{where}verdict {ok} by {d.get('monitor')}"
        return f"success={d.get('success')}"


def behaviour(events: Sequence[dict[str, Any]]) -> list[Step]:
    """Reduce trace events to the comparable sequence of steps."""
    steps: list[Step] = []
    for ev in events:
        kind = ev.get("event")
        index = ev.get("index")
        if kind in ("policy", "repair"):
            steps.append(Step("policy", index, {"version": ev.get("version"), "source": ev.get("source")}))
        elif kind == "execution":
            for call in ev.get("calls") or []:
                steps.append(Step("call", index, {"name": call.get("name"), "args": call.get("args"),
                                                  "kwargs": call.get("kwargs"), "error_type": call.get("error_type")}))
        elif kind == "verdict":
            v = ev.get("verdict") or {}
            steps.append(Step("verdict", index, {"ok": v.get("ok"), "category": v.get("category"),
                                                 "monitor": v.get("monitor"), "failed_call": v.get("failed_call"),
                                                 "failed_line": v.get("failed_line")}))
        elif kind == "result":
            steps.append(Step("success", None, {"success": bool((ev.get("result") or {}).get("success"))}))
    return steps


def same(a: Any, b: Any, rel: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    """Equal, with floats compared to a relative tolerance (JSON and numpy may differ in the last bit)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], rel, abs_tol) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y, rel, abs_tol) for x, y in zip(a, b))
    return a == b


@dataclass
class Difference:
    position: int  # index into the step sequences
    original: Step | None  # None: the original ended here
    replay: Step | None

    def describe(self) -> str:
        orig = self.original.describe() if self.original else "(the original ends here)"
        new = self.replay.describe() if self.replay else "(the replay ends here)"
        return f"first difference at step {self.position + 1}:\n  original: {orig}\n  replay:   {new}"


def first_difference(original: Sequence[Step], replay: Sequence[Step]) -> Difference | None:
    for i in range(max(len(original), len(replay))):
        a = original[i] if i < len(original) else None
        b = replay[i] if i < len(replay) else None
        if a is None or b is None or a.kind != b.kind or a.subgoal != b.subgoal or not same(a.data, b.data):
            return Difference(i, a, b)
    return None


@dataclass
class ReplayResult:
    original_dir: Path
    replay_dir: Path
    original: list[Step]
    replay: list[Step]
    difference: Difference | None
    live_models: list[str]  # models that had no cassette: their answers may differ

    @property
    def matches(self) -> bool:
        return self.difference is None

    def summary(self) -> str:
        counts = {k: sum(s.kind == k for s in self.original) for k in ("policy", "call", "verdict")}
        success = next((s.data["success"] for s in reversed(self.original) if s.kind == "success"), None)
        head = (f"{counts['policy']} policies, {counts['call']} primitive calls, {counts['verdict']} verdicts, "
                f"success={success}")
        lines = [f"replay MATCHES the original ({head})" if self.matches else f"replay DIFFERS from the original "
                 f"({head} originally)"]
        if self.difference is not None:
            lines.append(self.difference.describe())
        if self.live_models:
            lines.append(f"note: model(s) {', '.join(self.live_models)} had no cassette and were called live")
        lines.append(f"replay run directory: {self.replay_dir}")
        return "\n".join(lines)


def replay_config(cfg: ExperimentConfig, base_dir: Path) -> list[str]:
    """Switch every recording model whose cassette exists to replay mode, in place (its inner model
    is dropped: playback never calls it, and building it may load weights or need a server).
    Returns the names of models left live (not recording, or no cassette file)."""
    live = []
    for name, model in cfg.models.items():
        cassette = model.options.get(CASSETTE_OPTION)
        path = Path(str(cassette)) if model.backend == REPLAY_BACKEND and cassette else None
        if path is not None and not path.is_absolute():
            path = base_dir / path
        if path is not None and path.is_file():
            options = {k: v for k, v in model.options.items() if k != INNER_OPTION}
            model.options = {**options, CASSETTE_OPTION: str(path), MODE_OPTION: REPLAY_MODE}
        else:
            live.append(name)
    return live


def _config_dir(episode_dir: Path) -> Path:
    """Where the episode's config named its files from, as the episode recorded it when it started
    (``episode.json``; ``summary.json`` for runs written before that file existed), else the
    current directory."""
    for name in (EPISODE_FILE, "summary.json"):
        path = episode_dir / name
        if path.is_file():
            recorded = json.loads(path.read_text(encoding="utf-8")).get("config_dir")
            if recorded:
                return Path(recorded)
    return Path.cwd()


def replay_episode(episode_dir: Path, *, out_dir: Path | None = None, config_dir: Path | None = None) -> ReplayResult:
    """Re-run the episode in ``episode_dir`` into ``out_dir`` (default ``episode_dir/replays/<time>``)
    and compare behaviours."""
    from embodied.experiment import run_episode  # the heavy part: builds the env and the agent

    episode_dir = Path(episode_dir)
    config_file, trace_file = episode_dir / "config.yaml", episode_dir / "trace.jsonl"
    if not config_file.is_file() or not trace_file.is_file():
        raise ReplayError(f"{episode_dir} is not an episode run directory (needs config.yaml and trace.jsonl)")
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    cfg = validate(data, file=str(config_file))
    base = config_dir or _config_dir(episode_dir)
    live = replay_config(cfg, base)
    out_dir = out_dir or episode_dir / "replays" / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    run_episode(cfg, out_dir, config_dir=base, console=False)
    original = behaviour(read_trace(trace_file))
    replayed = behaviour(read_trace(out_dir / "trace.jsonl"))
    return ReplayResult(episode_dir, out_dir, original, replayed, first_difference(original, replayed), live)


def replay_command(episode_dir: Path, out: TextIO | None = None) -> int:
    """``embodied replay``: exit status 0 when the replay matches, 1 when it differs."""
    result = replay_episode(episode_dir)
    print(result.summary(), file=out or sys.stdout)
    return 0 if result.matches else 1
