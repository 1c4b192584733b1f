"""Compact text views of the loop's data for prompts: scene, plan, history, trace, verdict.

Compact on purpose (D-PoT): the model sees the current state and a short history, never the
whole transcript, so prompts stay small however long the episode runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from embodied.types import Execution, Observation, PlanView, Subgoal, SubgoalOutcome, Verdict
from perception.vlm import VlmEvidence
from planners.llm.parsing import numbered

MAX_ELEMENTS = 60
MAX_VALUE_CHARS = 160

def short(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _num(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") if v else "0"


def scene(observation: Observation) -> str:
    """Objects (tabletop) or UI elements (GUI), one per line, plus gripper state and text."""
    lines: list[str] = []
    for o in observation.objects:
        x, y, z = o.position
        sx, sy, sz = o.size
        kind = " ".join(p for p in (o.color, o.shape) if p)
        line = f"- {o.name}" + (f" ({kind})" if kind and kind != o.name else "")
        line += f" at x={_num(x)} y={_num(y)} z={_num(z)} m, size {_num(sx)}x{_num(sy)}x{_num(sz)} m"
        if o.confidence < 1.0:
            line += f", confidence {o.confidence:.2f}"
        lines.append(line)
    for e in observation.elements[:MAX_ELEMENTS]:
        flags = [f for f, on in (("clickable", e.clickable), ("editable", e.editable)) if on]
        if e.checked is not None:
            flags.append("checked" if e.checked else "unchecked")
        if e.selected:
            flags.append("selected")
        label = short(e.text or e.description, 60)
        cx, cy = e.center
        lines.append(f"- [{e.id}] {e.role or 'element'} {label!r} at ({cx}, {cy})" + (f" {' '.join(flags)}"
                                                                                      if flags else ""))
    if len(observation.elements) > MAX_ELEMENTS:
        lines.append(f"- ... {len(observation.elements) - MAX_ELEMENTS} more elements not shown")
    if observation.gripper:
        lines.append("gripper: " + ", ".join(f"{k}={short(v, 60)}" for k, v in sorted(observation.gripper.items())))
    if observation.task.strip():
        lines.append("screen text: " + short(observation.task, 400))
    return "\n".join(lines) if lines else "(nothing detected)"


def subgoal_line(subgoal: Subgoal) -> str:
    conds = ", ".join(str(c) for c in subgoal.conditions)
    return subgoal.description + (f" [{conds}]" if conds else "")


def plan_list(subgoals: Sequence[Subgoal]) -> str:
    if not subgoals:
        return "(empty)"
    return "\n".join(f"{i}. {subgoal_line(s)}" for i, s in enumerate(subgoals, 1))


def plan_view(view: PlanView) -> str:
    """The instruction and the whole plan, one line per subgoal (descriptions only: the subgoal
    being written is stated in full elsewhere), the one being written marked."""
    lines = [f"Instruction: {short(view.instruction, 400)}", "The whole plan:"]
    for i, s in enumerate(view.subgoals, 1):
        mark = " (done)" if i <= len(view.done) else " <- this program" if i == len(view.done) + 1 else ""
        lines.append(f"{i}. {short(s.description, 120)}{mark}")
    lines.append("Write the program for the marked subgoal only: the others have programs of their own.")
    return "\n".join(lines)


def history(outcomes: Sequence[SubgoalOutcome], limit: int = 12) -> str:
    """One line per finished subgoal; only the last ``limit`` (older ones are counted)."""
    if not outcomes:
        return "(nothing done yet)"
    shown = outcomes[-limit:]
    lines = [f"({len(outcomes) - len(shown)} earlier subgoals not shown)"] if len(outcomes) > limit else []
    for o in shown:
        tries = f"{o.attempts} attempt{'s' if o.attempts != 1 else ''}"
        if o.ok:
            lines.append(f"- done: {subgoal_line(o.subgoal)} ({tries})")
        else:
            lines.append(f"- FAILED: {subgoal_line(o.subgoal)} ({tries}; {o.category}: {short(o.why)})")
    return "\n".join(lines)


def conditions(subgoal: Subgoal) -> str:
    return ", ".join(str(c) for c in subgoal.conditions) or "(none stated: judge by the description)"


def call_line(call: Any) -> str:
    args = [short(repr(a), 60) for a in call.args] + [f"{k}={short(repr(v), 60)}" for k, v in call.kwargs.items()]
    where = f"line {call.line}" if call.line is not None else "line ?"
    text = f"#{call.index} {where}: {call.name}({', '.join(args)})"
    if call.ok:
        return text + (f" -> {short(repr(call.result), 100)}" if call.result is not None else " -> ok")
    return text + f" -> ERROR {call.error_type} ({call.category}): {short(call.error)}"


def trace(execution: Execution, focus: int | None, before: int = 4, after: int = 2) -> str:
    """The primitive calls around ``focus`` (the failed call, else the last), plus the run's
    status, error and the tail of what it printed."""
    calls = execution.calls
    lines = [f"status: {execution.status}" + (f", stopped at line {execution.line}" if execution.line else "")]
    if execution.error:
        lines.append(f"error: {execution.error_type}: {short(execution.error, 300)}")
    if calls:
        center = focus if focus is not None and 0 <= focus < len(calls) else len(calls) - 1
        lo, hi = max(0, center - before), min(len(calls), center + after + 1)
        if lo > 0:
            lines.append(f"({lo} earlier calls not shown)")
        lines.extend(call_line(c) for c in calls[lo:hi])
        if hi < len(calls):
            lines.append(f"({len(calls) - hi} later calls not shown)")
    else:
        lines.append("(no primitive was called)")
    if execution.stdout.strip():
        tail = execution.stdout.strip().splitlines()[-5:]
        lines.append("printed (last lines): " + " | ".join(short(t, 100) for t in tail))
    return "\n".join(lines)


def verdict(v: Verdict) -> str:
    parts = [f"monitor {v.monitor}: {'passed' if v.ok else 'FAILED'}"]
    if not v.ok:
        parts.append(f"category: {v.category}")
    if v.why:
        parts.append(f"why: {short(v.why, 400)}")
    if v.failed_line is not None:
        parts.append(f"failed line: {v.failed_line}")
    if v.primitive:
        parts.append(f"primitive: {v.primitive}")
    diff = v.evidence.visual_diff if isinstance(v.evidence, VlmEvidence) else ""
    if diff:
        parts.append(f"what changed in the images: {short(diff, 400)}")
    return "\n".join(parts)


def code(source: str) -> str:
    return numbered(source)
