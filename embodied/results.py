"""Sweep results: one row per episode, stored as JSONL and CSV, and an aggregate table of success
rates with 95% Wilson confidence intervals per variant x task.

Rows are derived data: the episode directories (``summary.json`` / ``failure.json``) are the
source of truth, so the files here can always be rewritten from them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

# An episode's status in a sweep. Only "done" episodes have a summary.json and count in the table.
DONE, FAILED, INTERRUPTED, PENDING = "done", "failed", "interrupted", "pending"


@dataclass
class EpisodeRow:
    """One episode of a sweep. ``failure`` is the agent's failure text for a done episode, or why
    the episode did not finish (worker crash, exception, interrupt) otherwise."""

    variant: str
    task: str
    seed: int
    status: str = PENDING
    success: bool = False
    repairs: int = 0
    replans: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_time_s: float = 0.0
    sim_time_s: float = 0.0
    failure: str = ""
    run_dir: str = ""  # relative to the sweep directory


ROW_FIELDS = [f.name for f in fields(EpisodeRow)]


def row_from_summary(variant: str, task: str, seed: int, summary: dict[str, Any], *, physics_hz: float | None,
                     run_dir: str = "") -> EpisodeRow:
    """Build a done row from an episode's summary.json. Simulated time (seconds) is the env's own
    figure when it reports one, else steps / physics rate."""
    stats = summary.get("stats") or {}
    sim_time = stats.get("sim_time_s")
    if sim_time is None:
        steps = summary.get("sim_steps") or stats.get("sim_steps") or 0
        sim_time = steps / physics_hz if physics_hz else 0.0
    return EpisodeRow(
        variant=variant, task=task, seed=seed, status=DONE, success=bool(summary.get("success", False)),
        repairs=int(summary.get("repairs", 0)), replans=int(summary.get("replans", 0)),
        model_calls=int(summary.get("model_calls", 0)), prompt_tokens=int(summary.get("prompt_tokens", 0)),
        completion_tokens=int(summary.get("completion_tokens", 0)),
        wall_time_s=round(float(summary.get("wall_time_s", 0.0)), 3), sim_time_s=round(float(sim_time), 3),
        failure=str(summary.get("failure", "") or "") or _unmet_goal(summary), run_dir=run_dir)


def _unmet_goal(summary: dict[str, Any]) -> str:
    """Why a finished but unsuccessful episode failed, from the ground-truth goal check."""
    if summary.get("success"):
        return ""
    details = summary.get("goal_details")
    conditions = details.get("conditions") if isinstance(details, dict) else None
    unmet = [c for c in conditions or [] if isinstance(c, dict) and not c.get("ok", True)]
    if unmet:
        first = unmet[0]
        return f"goal not met: {first.get('condition', '?')}: {first.get('why', '')}".rstrip(": ")
    why = details.get("why") if isinstance(details, dict) else None
    return f"goal not met: {why}" if why else "goal not met"


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_rows(run_dir: Path, rows: Sequence[EpisodeRow]) -> None:
    """Write ``results.jsonl`` and ``results.csv`` atomically (readers never see half a file)."""
    _atomic_text(run_dir / "results.jsonl", "".join(json.dumps(asdict(r)) + "\n" for r in rows))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=ROW_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(asdict(r))
    _atomic_text(run_dir / "results.csv", buf.getvalue())


def read_rows(path: Path) -> list[EpisodeRow]:
    """Read ``results.jsonl``; unknown keys from newer versions are ignored."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            rows.append(EpisodeRow(**{k: v for k, v in data.items() if k in ROW_FIELDS}))
    return rows


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (z=1.96: 95%). Unlike the normal
    approximation it stays inside [0, 1] and is sensible for 0/n and n/n with small n."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class CellStats:
    """Aggregate of the done episodes of one variant x task."""

    variant: str
    task: str
    n: int  # done episodes
    successes: int
    ci_low: float
    ci_high: float
    failed: int  # episodes that did not finish (crash, exception, interrupt, not run)
    mean_repairs: float
    mean_replans: float
    mean_wall_time_s: float
    model_calls: int
    tokens: int

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else 0.0


def aggregate(rows: Iterable[EpisodeRow]) -> list[CellStats]:
    """One :class:`CellStats` per (variant, task), grouped by task so that the variants of a task
    sit together (tasks and variants each in first-seen order)."""
    groups: dict[tuple[str, str], list[EpisodeRow]] = {}
    for r in rows:
        groups.setdefault((r.variant, r.task), []).append(r)
    tasks = list(dict.fromkeys(t for _, t in groups))
    variants = list(dict.fromkeys(v for v, _ in groups))
    out = []
    for variant, task in sorted(groups, key=lambda k: (tasks.index(k[1]), variants.index(k[0]))):
        group = groups[(variant, task)]
        done = [r for r in group if r.status == DONE]
        k = sum(r.success for r in done)
        lo, hi = wilson_interval(k, len(done))
        n = max(len(done), 1)
        out.append(CellStats(
            variant=variant, task=task, n=len(done), successes=k, ci_low=lo, ci_high=hi,
            failed=len(group) - len(done), mean_repairs=sum(r.repairs for r in done) / n,
            mean_replans=sum(r.replans for r in done) / n, mean_wall_time_s=sum(r.wall_time_s for r in done) / n,
            model_calls=sum(r.model_calls for r in done),
            tokens=sum(r.prompt_tokens + r.completion_tokens for r in done)))
    return out


def format_table(stats: Sequence[CellStats]) -> str:
    """A plain-text table for the terminal: success rate with its 95% CI per variant x task."""
    header = ["variant", "task", "success", "95% CI", "done", "not finished", "repairs", "replans", "wall s"]
    body = [[s.variant, s.task, f"{s.successes}/{s.n} ({100 * s.rate:.0f}%)" if s.n else "-",
             f"[{100 * s.ci_low:.0f}%, {100 * s.ci_high:.0f}%]" if s.n else "-", str(s.n), str(s.failed),
             f"{s.mean_repairs:.2f}", f"{s.mean_replans:.2f}", f"{s.mean_wall_time_s:.1f}"] for s in stats]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body)
    return "\n".join(lines)
