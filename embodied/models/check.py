"""A contract checker for model backends, like gymnasium's ``check_env``: one small request (and
one with an image for vision models) and checks on what comes back and on usage accounting."""

from __future__ import annotations

import numpy as np

from embodied.models.base import ChatModel, ChatResponse, Message


def check_model(model: ChatModel, *, image: bool = False, max_tokens: int = 4) -> list[str]:
    """Problems found (empty when the backend honours the contract). Makes one or two real
    calls; ``image`` also sends a small image (for vision-language models)."""
    problems: list[str] = []
    requests = [[Message.system("Answer briefly."), Message.user("Say hello.")]]
    if image:
        picture = np.zeros((32, 32, 3), np.uint8)
        picture[8:24, 8:24] = (220, 30, 30)
        requests.append([Message.user(picture, "What colour is the square?")])
    for messages in requests:
        before = model.usage()
        response = model.chat(messages, max_tokens=max_tokens)
        after = model.usage()
        problems += [f"{model.name}: {p}" for p in _response_problems(response, max_tokens)]
        if after.calls != before.calls + 1:
            problems.append(f"{model.name}: usage().calls went from {before.calls} to {after.calls} for one call")
        if after.prompt_tokens - before.prompt_tokens != response.prompt_tokens or \
                after.completion_tokens - before.completion_tokens != response.completion_tokens:
            problems.append(f"{model.name}: usage() token counts do not add up to the response's")
    return problems


def _response_problems(r: ChatResponse, max_tokens: int) -> list[str]:
    problems = []
    if not isinstance(r, ChatResponse):
        return [f"chat() returned {type(r).__name__}, not ChatResponse"]
    if not isinstance(r.text, str):
        problems.append(f"text is {type(r.text).__name__}, not str")
    for name in ("prompt_tokens", "completion_tokens"):
        value = getattr(r, name)
        if not isinstance(value, int) or value < 0:
            problems.append(f"{name} is {value!r}, not a count")
    if isinstance(r.completion_tokens, int) and r.completion_tokens > max_tokens:
        problems.append(f"completion_tokens {r.completion_tokens} exceeds max_tokens {max_tokens}")
    if not r.latency_s > 0:
        problems.append(f"latency_s is {r.latency_s!r}, not positive")
    if r.time_to_first_token_s is not None and not 0 <= r.time_to_first_token_s <= r.latency_s:
        problems.append(f"time_to_first_token_s {r.time_to_first_token_s} is outside [0, latency_s]")
    if not isinstance(r.finish_reason, str):
        problems.append(f"finish_reason is {type(r.finish_reason).__name__}, not str")
    return problems
