"""Ask a model, parse its answer, and send parse errors back to it a bounded number of times.

Errors caused by the model's output go back to the model (as a user turn naming the problem);
after ``retries`` feedback rounds the caller gets a typed :class:`ModelOutputError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from embodied.models.base import ChatModel, Message
from embodied.models.prompting import PromptLibrary
from planners.llm.errors import ModelOutputError, OutputRejected

T = TypeVar("T")


@dataclass
class Exchange:
    """One model call of a component, for the trace: what it answered and why it was rejected."""

    task: str
    answer: str
    problem: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float


@dataclass(frozen=True)
class Sampling:
    """``repeat_temperature``: the temperature of the next attempt after the model repeated an
    answer it was already told is wrong (greedy decoding of a near-identical prompt gives the same
    answer again: a 1.5B sent the same rejected program back three times)."""

    max_tokens: int
    temperature: float = 0.0
    retries: int = 2
    repeat_temperature: float = 0.7


def ask(model: ChatModel, messages: Sequence[Message], parse: Callable[[str], T], *, task: str,
        sampling: Sampling, prompts: PromptLibrary, reminder: str,
        log: list[Exchange] | None = None, error: type[ModelOutputError] = ModelOutputError,
        schema: Mapping[str, Any] | None = None) -> T:
    """Return ``parse(answer)``. When ``parse`` raises :class:`OutputRejected`, the answer and
    the ``feedback`` template (problem + ``reminder`` of the expected format) are appended and
    the model asked again, at most ``sampling.retries`` times; then ``error`` (a
    :class:`ModelOutputError` class) with every answer and problem. ``schema``: a JSON schema
    the answer is decoded under (backends that support it). Every answer, accepted or not, is
    also reported to the model's listeners (:meth:`ChatModel.report`) for the trace."""
    if sampling.retries < 0:
        raise ValueError(f"retries must be >= 0, got {sampling.retries}")
    convo = list(messages)
    answers: list[str] = []
    problems: list[str] = []
    temperature = sampling.temperature
    for attempt in range(sampling.retries + 1):
        response = model.chat(convo, max_tokens=sampling.max_tokens, temperature=temperature, schema=schema)
        repeated = any(_same(response.text, a) for a in answers)  # every earlier answer was rejected
        answers.append(response.text)
        try:
            result = parse(response.text)
        except OutputRejected as exc:
            problem = str(exc)
            if repeated:
                temperature = max(temperature, sampling.repeat_temperature)
            problems.append(problem)
            model.report(task=task, attempt=attempt + 1, answer=response.text, rejected=problem)
            if log is not None:
                log.append(Exchange(task, response.text, problem, response.prompt_tokens,
                                    response.completion_tokens, response.latency_s))
            if attempt < sampling.retries:
                said = problem + (" (the same answer as before: write it differently)" if repeated else "")
                convo += [Message.assistant(response.text or "(empty answer)"),
                          Message.user(prompts.fill("feedback", problem=said, reminder=reminder))]
            continue
        if log is not None:
            log.append(Exchange(task, response.text, None, response.prompt_tokens, response.completion_tokens,
                                response.latency_s))
        model.report(task=task, attempt=attempt + 1, answer=response.text, rejected=None)
        return result
    raise error(task, answers, problems)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())
