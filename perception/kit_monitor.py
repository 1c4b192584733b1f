"""The conditions monitor: judges a subgoal's conditions with its domain kit's own predicate
evaluator on the checkpoint observation. Any world whose kit can evaluate its predicates gets a
monitor with no monitor code of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from embodied.domain import DomainKit
from embodied.types import Evidence, Execution, FailureCategory, Observation, Subgoal, Verdict


@dataclass
class ConditionEvidence(Evidence):
    """What the conditions monitor writes: the failed ``condition`` (empty when none failed) and
    every condition's result (``holds`` is None when the observation could not decide it)."""

    condition: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)


class ConditionMonitor:
    """Monitor ``conditions``: a condition that does not hold fails the subgoal as ``wrong_state``,
    localised to the last primitive call; undecidable conditions do not fail it."""

    name = "conditions"

    def __init__(self, kit: DomainKit) -> None:
        self.kit = kit

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        results: list[dict[str, Any]] = []
        for cond in subgoal.conditions:
            result = self.kit.evaluate(cond, observation)
            results.append({"condition": str(cond), "holds": result.holds, "why": result.why})
            if result.holds is False:
                last = execution.calls[-1] if execution.calls else None
                return Verdict(False, self.name, FailureCategory.WRONG_STATE, why=f"{cond} does not hold: {result.why}",
                               failed_call=last.index if last else None, failed_line=last.line if last else None,
                               primitive=last.name if last else None,
                               evidence=ConditionEvidence(condition=str(cond), results=results))
        why = "; ".join(r["why"] for r in results if r["holds"]) or "no condition to check"
        return Verdict(True, self.name, why=why, evidence=ConditionEvidence(results=results))
