"""Typed errors of the planners, writers and repairers. Nothing branches on their text."""

from __future__ import annotations

from collections.abc import Sequence

from embodied.errors import EmbodiedError


class PlanningError(EmbodiedError):
    """An instruction the planner cannot turn into a plan.

    The message is for the person who wrote the instruction: what was understood, what was not,
    and which forms the planner does understand, with "did you mean" suggestions for names.
    The parts are kept as attributes so callers (and tests) need not parse the text.
    """

    def __init__(
        self,
        problem: str,
        *,
        understood: Sequence[str] = (),
        not_understood: Sequence[str] = (),
        suggestions: Sequence[str] = (),
        forms: Sequence[str] = (),
    ) -> None:
        self.problem = problem
        self.understood = list(understood)
        self.not_understood = list(not_understood)
        self.suggestions = list(suggestions)
        self.forms = list(forms)
        lines = [problem]
        if self.understood:
            lines.append("understood: " + "; ".join(self.understood))
        if self.not_understood:
            lines.append("not understood: " + ", ".join(repr(w) for w in self.not_understood))
        if self.suggestions:
            lines.append("did you mean: " + ", ".join(repr(s) for s in self.suggestions) + "?")
        if self.forms:
            lines.append("instructions I understand, for example:")
            lines.extend(f"  - {form}" for form in self.forms)
        super().__init__("\n".join(lines))


class WritingError(EmbodiedError):
    """A writer was given a subgoal it has no policy template for."""
