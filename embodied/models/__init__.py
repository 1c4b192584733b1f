"""Language and vision-language models behind one :class:`ChatModel` interface.

Backends (chosen by name through the ``model`` registry): ``openai`` (any OpenAI-compatible
endpoint), ``transformers`` (a local checkpoint or GGUF file, text or vision), ``replay``
(records to / replays from a JSONL cassette). torch, transformers and httpx are imported only by
the backends that need them. This package imports nothing from planners, sim, perception or
robots.
"""

from embodied.errors import ModelError
from embodied.models.base import ChatModel, ChatRequest, ChatResponse, Message, Usage
from embodied.models.factory import build_model

__all__ = ["ChatModel", "ChatRequest", "ChatResponse", "Message", "ModelError", "Usage", "build_model"]
