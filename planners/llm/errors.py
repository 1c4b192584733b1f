"""Errors of the LLM planner, writer and repairer."""

from __future__ import annotations

from collections.abc import Sequence

from planners.errors import PlanningError, WritingError


class OutputRejected(Exception):
    """The model's answer cannot be used. The message is written for the model: it goes back to
    it as feedback, so it says what was wrong and what is expected instead."""


class ModelOutputError(PlanningError):
    """The model gave no usable answer within its parse-retry budget. ``answers`` and
    ``problems`` hold every attempt (oldest first) for the trace."""

    def __init__(self, task: str, answers: Sequence[str], problems: Sequence[str]) -> None:
        self.task = task
        self.answers = list(answers)
        self.problems = list(problems)
        last = self.problems[-1] if self.problems else "no answer"
        super().__init__(f"the model gave no usable {task} in {len(self.answers)} attempt(s); last problem: {last}")


class ProgramOutputError(ModelOutputError, WritingError):
    """No usable program from the writer or repairer: both a ``ModelOutputError`` and the
    ``WritingError`` every writer raises when it cannot write a policy."""
