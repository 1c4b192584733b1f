"""A test double for the model side of the LLM parts: it records every request and answers
with the next of the texts a test scripted. It stands in for no model: tests use it to read
the prompts the parts build and to drive their feedback paths with answers chosen on purpose."""

from __future__ import annotations

from collections.abc import Sequence

from embodied.models.base import ChatModel, ChatRequest, ChatResponse


class RecordingDouble(ChatModel):
    """Answers ``answers`` in order (the last one again when they run out); ``requests`` holds
    every request it was sent. Token counts are the words of the prompt and the answer."""

    def __init__(self, answers: Sequence[str]) -> None:
        super().__init__()
        if not answers:
            raise ValueError("a recording double needs at least one scripted answer")
        self.answers = list(answers)
        self.requests: list[ChatRequest] = []

    def _chat(self, request: ChatRequest) -> ChatResponse:
        text = self.answers[min(len(self.requests), len(self.answers) - 1)]
        self.requests.append(request)
        words = sum(len(m.text.split()) for m in request.messages)
        return ChatResponse(text=text, prompt_tokens=words, completion_tokens=len(text.split()), latency_s=0.001)

    def prompt(self, index: int) -> str:
        """The text of the last user message of request ``index``."""
        return self.requests[index].messages[-1].text
