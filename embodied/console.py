"""Live, readable progress of one episode on the terminal (plan, attempts, verdicts, result)."""

from __future__ import annotations

import sys
from typing import Any, TextIO


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def outcome_label(success: bool | None, claimed: bool) -> str:
    """The headline of a result: ground truth first, the agent's claim beside it, never one for
    the other."""
    if success is None:
        return ("✔ CLAIMED SUCCESS (unverified: no ground truth)" if claimed
                else "✘ FAILURE (by the agent's own checks; no ground truth)")
    if success:
        return "✔ SUCCESS" + ("" if claimed else " (although the agent did not claim it)")
    return "✘ FAILURE (the agent claimed success: a FALSE SUCCESS)" if claimed else "✘ FAILURE"


class ConsoleLog:
    """Prints the events of the loop that a person watching wants to see, one line each."""

    def __init__(self, stream: TextIO | None = None, show_code: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.show_code = show_code
        self.run_dir = ""

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def event(self, kind: str, **d: Any) -> None:
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(d)

    def _on_episode_start(self, d: dict[str, Any]) -> None:
        self.run_dir = str(d.get("run_dir") or "")
        self._say(f"▶ {d['instruction']}  (seed {d.get('seed')}, run dir {d.get('run_dir')})")

    def _on_plan(self, d: dict[str, Any]) -> None:
        subgoals = d.get("subgoals", [])
        self._say(f"  plan ({len(subgoals)} subgoal{'s' * (len(subgoals) != 1)}):")
        for i, s in enumerate(subgoals, 1):
            self._say(f"    {i}. {_get(s, 'description')}")
        if d.get("note"):
            self._say(f"    ({d['note']})")

    def _on_plan_failed(self, d: dict[str, Any]) -> None:
        self._say(f"  ✗ could not plan: {d.get('error')}")

    def _on_subgoal_start(self, d: dict[str, Any]) -> None:
        self._say(f"  [{d['index'] + 1}] {_get(d['subgoal'], 'description')}")

    def _on_policy(self, d: dict[str, Any]) -> None:
        if self.show_code:
            for line in str(d.get("source", "")).splitlines():
                self._say(f"        | {line}")

    def _on_verdict(self, d: dict[str, Any]) -> None:
        v = d["verdict"]
        mark = "✓" if _get(v, "ok") else "✗"
        cat = _get(v, "category")
        cat = getattr(cat, "value", cat)
        where = f" at line {_get(v, 'failed_line')}" if _get(v, "failed_line") else ""
        label = "ok" if _get(v, "ok") else f"{cat}{where}"
        self._say(f"      attempt v{d.get('version')}: {mark} {label} [{_get(v, 'monitor')}] {_get(v, 'why', '')}")

    def _on_repair(self, d: dict[str, Any]) -> None:
        self._say(f"      repair → v{d.get('version')} ({d.get('origin')})")

    def _on_repair_declined(self, d: dict[str, Any]) -> None:
        self._say("      no repair left for this failure")

    def _on_plan_revised(self, d: dict[str, Any]) -> None:
        self._say(f"  ↻ plan revised: {d.get('note') or 'changed'} "
                  f"({len(d.get('subgoals', []))} subgoal(s) left)")

    def _on_replan(self, d: dict[str, Any]) -> None:
        self._say(f"  ↻ replanned: {d.get('note') or ''} ({len(d.get('subgoals', []))} subgoal(s))")

    def _on_budget_exhausted(self, d: dict[str, Any]) -> None:
        self._say(f"  ! {d.get('budget')} budget used up")

    def _on_final_check(self, d: dict[str, Any]) -> None:
        v = d["verdict"]
        mark = "✓" if _get(v, "ok") else "✗"
        self._say(f"  final check of the whole instruction: {mark} {_get(v, 'why', '')}")

    def _on_result(self, d: dict[str, Any]) -> None:
        r = d["result"]
        ok = _get(r, "success")
        self._say(f"{outcome_label(ok, bool(_get(r, 'claimed_success')))}: {_get(r, 'subgoals')} subgoal run(s), "
                  f"{_get(r, 'repairs')} repair(s), {_get(r, 'replans')} replan(s), "
                  f"{_get(r, 'primitive_calls')} primitive calls, {_get(r, 'wall_time_s')} s")
        if _get(r, "failure"):
            self._say(f"  reason: {_get(r, 'failure')}")
        elif ok is False:
            self._say(f"  goal not met: {d.get('goal_details')}")
        if self.run_dir:
            self._say(f"  trace, images, summary.json in {self.run_dir}; "
                      f"`embodied report {self.run_dir}` writes an HTML report")
