"""Sweep results: one row per episode, stored as JSONL and CSV, an aggregate table of success
rates with 95% Wilson confidence intervals per variant x task, and the confusion of the agent's
claims with ground truth (:func:`confusion`, :func:`format_confusion`: every benchmark prints it).

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
    success: bool | None = False  # ground truth; None: the world gave none
    claimed_success: bool = False  # what the agent's own checks concluded
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
        variant=variant, task=task, seed=seed, status=DONE,
        success=None if summary.get("success", False) is None else bool(summary.get("success")),
        claimed_success=bool(summary.get("claimed_success", False)),
        repairs=int(summary.get("repairs", 0)), replans=int(summary.get("replans", 0)),
        model_calls=int(summary.get("model_calls", 0)), prompt_tokens=int(summary.get("prompt_tokens", 0)),
        completion_tokens=int(summary.get("completion_tokens", 0)),
        wall_time_s=round(float(summary.get("wall_time_s", 0.0)), 3), sim_time_s=round(float(sim_time), 3),
        failure=str(summary.get("failure", "") or "") or _unmet_goal(summary), run_dir=run_dir)


def _unmet_goal(summary: dict[str, Any]) -> str:
    """Why a finished but unsuccessful episode failed, from the ground-truth goal check."""
    if summary.get("success") or summary.get("success", False) is None:
        return ""  # succeeded, or no ground truth to fail against
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


@dataclass(frozen=True)
class Confusion:
    """The agent's claim against ground truth over episodes. A *false success* is an episode the
    agent called a success that the world does not show; episodes without ground truth are
    counted apart (``unverified``), never as successes."""

    true_success: int = 0
    false_success: int = 0  # claimed, not true
    false_failure: int = 0  # true, not claimed
    true_failure: int = 0
    unverified: int = 0  # no ground truth

    @property
    def scored(self) -> int:
        return self.true_success + self.false_success + self.false_failure + self.true_failure

    @property
    def false_success_rate(self) -> float:
        """False successes per scored episode (the share of all episodes where the agent lied)."""
        return self.false_success / self.scored if self.scored else 0.0

    @property
    def claim_precision(self) -> float:
        """Of the claimed successes, the share that were true."""
        claimed = self.true_success + self.false_success
        return self.true_success / claimed if claimed else 1.0


def confusion(outcomes: Iterable[tuple[bool, bool | None]]) -> Confusion:
    """Count (claimed_success, success) pairs; success None counts as unverified."""
    counts = {"ts": 0, "fs": 0, "ff": 0, "tf": 0, "un": 0}
    for claimed, true in outcomes:
        key = "un" if true is None else ("ts" if true else "fs") if claimed else ("ff" if true else "tf")
        counts[key] += 1
    return Confusion(counts["ts"], counts["fs"], counts["ff"], counts["tf"], counts["un"])


def row_confusion(rows: Iterable[EpisodeRow]) -> Confusion:
    """The confusion of the done episodes among ``rows``."""
    return confusion((r.claimed_success, r.success) for r in rows if r.status == DONE)


def format_confusion(c: Confusion, title: str = "claimed vs true success") -> str:
    """The confusion table as text, with the false-success rate."""
    n = c.scored
    pct = (lambda k: f"{100 * k / n:.1f}%") if n else (lambda k: "-")
    lines = [f"{title} ({n} scored episode(s){f', {c.unverified} without ground truth' if c.unverified else ''})",
             f"  {'':<16}{'true success':>14}{'true failure':>14}",
             f"  {'claimed success':<16}{c.true_success:>14}{c.false_success:>14}",
             f"  {'claimed failure':<16}{c.false_failure:>14}{c.true_failure:>14}",
             f"  true success {c.true_success} ({pct(c.true_success)}), false success {c.false_success} "
             f"({pct(c.false_success)}), false failure {c.false_failure} ({pct(c.false_failure)}), "
             f"true failure {c.true_failure} ({pct(c.true_failure)})",
             f"  false-success rate: {100 * c.false_success_rate:.1f}% ({c.false_success} of {n} episodes)"]
    return "\n".join(lines)


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
    false_successes: int = 0  # claimed, not true
    unverified: int = 0  # done episodes without ground truth (not in n)

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
        finished = [r for r in group if r.status == DONE]
        done = [r for r in finished if r.success is not None]  # scored: ground truth exists
        k = sum(bool(r.success) for r in done)
        lo, hi = wilson_interval(k, len(done))
        n = max(len(finished), 1)
        matrix = row_confusion(finished)
        out.append(CellStats(
            variant=variant, task=task, n=len(done), successes=k, ci_low=lo, ci_high=hi,
            false_successes=matrix.false_success, unverified=matrix.unverified,
            failed=len(group) - len(finished), mean_repairs=sum(r.repairs for r in finished) / n,
            mean_replans=sum(r.replans for r in finished) / n,
            mean_wall_time_s=sum(r.wall_time_s for r in finished) / n,
            model_calls=sum(r.model_calls for r in finished),
            tokens=sum(r.prompt_tokens + r.completion_tokens for r in finished)))
    return out


def format_table(stats: Sequence[CellStats]) -> str:
    """A plain-text table for the terminal: success rate with its 95% CI per variant x task."""
    header = ["variant", "task", "success", "95% CI", "false succ", "done", "no truth", "not finished", "repairs",
              "replans", "wall s"]
    body = [[s.variant, s.task, f"{s.successes}/{s.n} ({100 * s.rate:.0f}%)" if s.n else "-",
             f"[{100 * s.ci_low:.0f}%, {100 * s.ci_high:.0f}%]" if s.n else "-", str(s.false_successes), str(s.n),
             str(s.unverified), str(s.failed),
             f"{s.mean_repairs:.2f}", f"{s.mean_replans:.2f}", f"{s.mean_wall_time_s:.1f}"] for s in stats]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body)
    return "\n".join(lines)
