"""In-process models through Hugging Face transformers: text LMs (a checkpoint directory or a GGUF
file) and vision-language models (AutoModelForImageTextToText + AutoProcessor).

CPU and greedy decoding by default, so a run is deterministic. torch and transformers are
imported lazily: the rest of the framework runs without them. Nothing is downloaded: ``path``
must be a local directory (or ``package:NAME`` for a model shipped inside a Python package).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from embodied.errors import ModelError
from embodied.models.base import (
    DEFAULT_DEADLINE_S,
    ChatModel,
    ChatRequest,
    ChatResponse,
    Message,
    apply_stop,
    check_deadline,
)
from embodied.models.images import to_pil
from embodied.models.local import resolve_model_path

Kind = Literal["auto", "text", "vision"]


class _FirstTokenTimer:
    """A generate() streamer that only notes when the first new token arrives (the first
    ``put`` is the prompt). Synchronous: no thread, no text decoding."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first_token_s: float | None = None
        self._puts = 0

    def put(self, value: Any) -> None:
        self._puts += 1
        if self._puts == 2 and self.first_token_s is None:
            self.first_token_s = time.perf_counter() - self.start

    def end(self) -> None:
        pass


class TransformersChatModel(ChatModel):
    """A local transformers model.

    ``path``: checkpoint directory, or the directory holding ``gguf_file``; ``package:NAME``
    means the directory of installed package NAME. ``kind``: ``auto`` detects a vision-language
    model from its config (a ``vision_config``). ``dtype``: torch dtype name, default float32.
    ``seed``: used only when ``temperature`` > 0, re-applied on every call so that equal
    requests give equal answers. ``deadline_s``: the most one call may take in all (encoding
    and generation); a longer answer is cut there and ends with finish reason ``length``, so a
    slow machine cannot hold an episode for tens of minutes on one call.
    """

    path_options: ClassVar[tuple[str, ...]] = ("path",)

    def __init__(self, path: str, gguf_file: str | None = None, kind: Kind = "auto", device: str = "cpu",
                 dtype: str = "float32", seed: int = 0, trust_remote_code: bool = False,
                 deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        super().__init__()
        self.deadline_s = check_deadline(deadline_s)
        if kind not in ("auto", "text", "vision"):
            raise ValueError(f"kind must be auto, text or vision, got {kind!r}")
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise ModelError("the transformers backend needs torch and transformers: "
                             "pip install 'embodied[hf]' (torch==2.13.0)") from exc
        self._torch = torch
        self.path = resolve_model_path(path)
        self.gguf_file = gguf_file
        self.device = device
        self.seed = seed
        if gguf_file is not None and not (self.path / gguf_file).exists():
            raise ModelError(f"GGUF file {gguf_file!r} not found in {self.path}")
        try:
            self.dtype = getattr(torch, dtype)
        except AttributeError:
            raise ModelError(f"unknown torch dtype {dtype!r} (e.g. float32, bfloat16)") from None
        load: dict[str, Any] = {"trust_remote_code": trust_remote_code}
        if gguf_file is not None:
            load["gguf_file"] = gguf_file
        if kind == "auto":
            kind = "text" if gguf_file is not None else self._detect_kind(transformers, load)
        self.kind = kind
        try:
            if kind == "vision":
                self.processor = transformers.AutoProcessor.from_pretrained(self.path, **load)
                self.tokenizer = self.processor.tokenizer
                self.model = transformers.AutoModelForImageTextToText.from_pretrained(
                    self.path, dtype=self.dtype, **load)
            else:
                self.processor = None
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.path, **load)
                self.model = transformers.AutoModelForCausalLM.from_pretrained(self.path, dtype=self.dtype, **load)
        except ImportError as exc:  # e.g. gguf or accelerate missing for a GGUF file
            raise ModelError(f"cannot load {self.path}: {exc} (pip install 'embodied[hf]')") from exc
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load {kind} model from {self.path}"
                             f"{' (' + gguf_file + ')' if gguf_file else ''}: {exc}") from exc
        self.model.to(device)
        self.model.eval()
        if self.tokenizer.chat_template is None:
            raise ModelError(f"the tokenizer in {self.path} has no chat template: this backend needs an "
                             "instruction-tuned model with one (tokenizer_config.json or chat_template.jinja)")

    @property
    def name(self) -> str:
        return f"transformers:{self.path.name}{'/' + self.gguf_file if self.gguf_file else ''}"

    def _detect_kind(self, transformers: Any, load: dict[str, Any]) -> Kind:
        try:
            config = transformers.AutoConfig.from_pretrained(self.path, **load)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot read the model config in {self.path}: {exc}") from exc
        return "vision" if getattr(config, "vision_config", None) is not None else "text"

    # -----------------------------------------------------------------------------------------

    def _chat(self, request: ChatRequest) -> ChatResponse:
        if self.model is None:
            raise ModelError(f"{self.name} was closed")
        t0 = time.perf_counter()
        inputs = self._encode(request.messages)
        prompt_len = int(inputs["input_ids"].shape[1])
        gen = copy.deepcopy(self.model.generation_config)
        sampling = request.temperature > 0
        gen.max_new_tokens = request.max_tokens
        # generate() counts max_time from its own start: give it what the encoding left over
        gen.max_time = max(1e-3, self.deadline_s - (time.perf_counter() - t0))
        gen.do_sample = sampling
        if sampling:
            gen.temperature = request.temperature
        else:  # greedy: drop sampling knobs from the checkpoint's defaults so they cannot apply
            gen.temperature, gen.top_p, gen.top_k = None, None, None
        if gen.pad_token_id is None:
            gen.pad_token_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None \
                else self.tokenizer.eos_token_id
        extra: dict[str, Any] = {}
        if request.stop:
            gen.stop_strings = list(request.stop)
            extra["tokenizer"] = self.tokenizer
        timer = _FirstTokenTimer()
        torch = self._torch
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            output = self.model.generate(**inputs, generation_config=gen, streamer=timer, **extra)
        new_ids = output[0, prompt_len:].tolist()
        completion_ids, ended = self._trim(new_ids, gen)
        text = self.tokenizer.decode(completion_ids, skip_special_tokens=True)
        text, stopped = apply_stop(text, request.stop)
        finish = "stop" if ended or stopped else "length"
        latency = time.perf_counter() - t0
        cut = finish == "length" and len(completion_ids) < request.max_tokens
        return ChatResponse(text=text, prompt_tokens=prompt_len, completion_tokens=len(completion_ids),
                            latency_s=latency, time_to_first_token_s=timer.first_token_s, finish_reason=finish,
                            raw={"backend": "transformers", "kind": self.kind, "cut_by_deadline": cut})

    def _trim(self, ids: list[int], gen: Any) -> tuple[list[int], bool]:
        """Generated ids up to and including the first end-of-turn token (padding after it is not
        part of the answer)."""
        eos = gen.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        for i, tok in enumerate(ids):
            if tok in eos_ids:
                return ids[: i + 1], True
        return ids, False

    def _encode(self, messages: Sequence[Message]) -> Any:
        if self.kind == "vision":
            return self._encode_vision(messages)
        if any(m.images for m in messages):
            raise ModelError(f"{self.name} is a text-only model but the request contains images; "
                             "use a vision-language model for image inputs")
        turns = [{"role": m.role, "content": m.text} for m in messages]
        inputs = self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, return_dict=True,
                                                    return_tensors="pt")
        return inputs.to(self.device)

    def _encode_vision(self, messages: Sequence[Message]) -> Any:
        turns: list[dict[str, Any]] = []
        images = []
        for m in messages:
            content: list[dict[str, Any]] = []
            for part in m.parts:
                if isinstance(part, str):
                    content.append({"type": "text", "text": part})
                else:
                    content.append({"type": "image"})
                    images.append(to_pil(part))
            turns.append({"role": m.role, "content": content})
        processor = self.processor
        prompt = processor.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
        inputs = processor(images=images or None, text=prompt, return_tensors="pt")
        inputs = inputs.to(self.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        return inputs

    def close(self) -> None:
        self.model = None
        self.processor = None
