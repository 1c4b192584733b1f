"""Options of the model-backed planner, writer and repairer (``agent.*_options`` of a config),
registered with them in :mod:`embodied.backends` and validated when the config is loaded.
``model: NAME`` in those options picks a configured model instead of ``agent.model``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LLMPlannerConfig:
    """``max_parse_retries``: how often an unusable answer is sent back with the problem.
    ``max_subgoals``: a longer plan is sent back. ``revise_after_success``: False keeps the remaining
    plan after a success without a model call. ``images``: also send camera/screen images (VLMs),
    downscaled to ``image_max_side`` pixels. ``prompts_dir``: templates overriding the packaged ones."""

    max_parse_retries: int = 2
    max_tokens: int = 512
    temperature: float = 0.0
    max_subgoals: int = 12
    revise_after_success: bool = True
    images: bool = False
    image_max_side: int = 512
    prompts_dir: str | None = None


@dataclass(frozen=True)
class LLMCoderConfig:
    """Options of the ``llm`` writer and repairer (see :class:`LLMPlannerConfig`). With
    ``images`` the repairer sends the views before and after the failed step, labelled."""

    max_parse_retries: int = 2
    max_tokens: int = 768
    temperature: float = 0.0
    images: bool = False
    image_max_side: int = 512
    prompts_dir: str | None = None


@dataclass(frozen=True)
class LLMWriterConfig(LLMCoderConfig):
    """Options of the ``llm`` writer: those of :class:`LLMCoderConfig` plus the skill library.
    ``library``: a directory shared by runs and sweep workers (true: the default one under the
    user's cache; unset: none); ``library_k``: verified programs shown per write; ``reuse_verified``:
    a verified program of the very same subgoal runs again without a model call."""

    library: str | bool | None = None
    library_k: int = 2
    reuse_verified: bool = True


@dataclass(frozen=True)
class LLMRepairerConfig(LLMCoderConfig):
    """Options of the ``llm`` repairer: those of :class:`LLMCoderConfig` plus ``world_retries``:
    after a fault of the world (a slip, a missed grasp) the same program runs again this many
    times before the model is asked (0: always ask)."""

    world_retries: int = 1


@dataclass(frozen=True)
class HybridPlannerConfig:
    """Options of the ``hybrid`` planner: ``use_model`` ``fallback`` (the grammar first) or
    ``always`` (the model first); ``replan_with_model``: ask the model when the grammar has nothing
    left to try; ``max_steps``: the longest reading accepted (see :class:`LLMPlannerConfig`)."""

    use_model: str = "fallback"
    replan_with_model: bool = True
    max_parse_retries: int = 2
    max_tokens: int = 256
    temperature: float = 0.0
    max_steps: int = 8
    prompts_dir: str | None = None
