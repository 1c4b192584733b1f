"""The screen monitor: judges a GUI subgoal from the UI elements (accessibility tree, DOM or OCR)
seen at the checkpoint, using the GUI predicates of :mod:`perception.screen_predicates`.

Conditions it does not know (geometric ones) are left to other monitors; a subgoal without GUI
conditions passes here. A condition that cannot be decided from the screen (a password value,
``screen_changed()`` with nothing to compare) does not fail the subgoal; it is listed in the
verdict's evidence as ``undecided``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from embodied.types import Evidence, Execution, FailureCategory, Observation, Subgoal, Verdict
from perception.screen_predicates import evaluate, is_gui_condition
from perception.ui_query import ElementMatcher, Embedder


@dataclass
class ScreenEvidence(Evidence):
    """What the screen monitor writes: the failed ``condition`` (empty when none failed), the
    first texts visible on the checkpoint screen, and conditions it could not decide."""

    condition: str = ""
    visible_text: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)


class ScreenMonitor:
    """Monitor ``"screen"``. ``screen_changed()`` compares with the first checkpoint of the same
    execution when there are several, else with the screen this monitor saw last time."""

    name = "screen"

    def __init__(self, embedder: Embedder | None = None, max_texts: int = 30) -> None:
        self.matcher = ElementMatcher(embedder)
        self.max_texts = max_texts
        self._previous: Observation | None = None

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        conditions = [c for c in subgoal.conditions if is_gui_condition(c)]
        seen = [c.observation for c in execution.checkpoints if c.observation is not None]
        previous = seen[0] if len(seen) >= 2 and seen[0] is not observation else self._previous
        self._previous = observation
        texts = [e.text for e in observation.elements if e.text][: self.max_texts]
        if not conditions:
            return Verdict(ok=True, monitor=self.name, why="no screen conditions to check",
                           evidence=ScreenEvidence(visible_text=texts))
        undecided: list[str] = []
        passed: list[str] = []
        for cond in conditions:
            result = evaluate(cond, observation, previous, self.matcher)
            if result.holds is None:
                undecided.append(f"{cond}: {result.why}")
                continue
            if not result.holds:
                last = len(execution.calls) - 1 if execution.calls else None
                return Verdict(ok=False, monitor=self.name, category=result.category or FailureCategory.UNKNOWN,
                               why=f"{cond} does not hold: {result.why}", failed_call=last,
                               failed_line=execution.calls[last].line if last is not None else None,
                               primitive=execution.calls[last].name if last is not None else None,
                               evidence=ScreenEvidence(condition=str(cond), visible_text=texts,
                                                        undecided=undecided))
            passed.append(str(cond))
        return Verdict(ok=True, monitor=self.name, why="; ".join(passed) + (" hold" if passed else "nothing decided"),
                       evidence=ScreenEvidence(visible_text=texts, undecided=undecided))
