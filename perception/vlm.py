"""VLMMonitor: a vision-language model judges a checkpoint from its images.

It sends the checkpoint image(s) (``<camera>/rgb`` keys, or ``screen``), the subgoal and a short
numbered trace, asks for a JSON verdict (passed, failed_step, category, why) and parses it
robustly: JSON anywhere in the answer, else yes/no keywords. An answer it cannot read gives
``ok=False`` with category ``unknown``, the raw answer in the evidence, and
``evidence["decisive"]`` False by default so that a hybrid monitor can fall through to others.

On a failure it can also describe what changed between the first and the last checkpoint
image (``evidence["visual_diff"]``) for the repairer: by asking the VLM, or with a cheap pixel
difference that needs no model.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from embodied.models.base import ChatModel, Message
from embodied.models.images import fit_within, to_rgb_array
from embodied.models.prompting import PromptLibrary
from embodied.models.text import find_json
from embodied.types import Evidence, Execution, FailureCategory, Observation, Subgoal, Verdict
from perception.colors import DEFAULT_PALETTE

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
DiffMode = Literal["off", "pixels", "model"]

_CATEGORY_SYNONYMS = {
    "ok": FailureCategory.NONE, "success": FailureCategory.NONE, "passed": FailureCategory.NONE,
    "missed_grasp": FailureCategory.GRASP_MISSED, "grasp_failed": FailureCategory.GRASP_MISSED,
    "grasp": FailureCategory.GRASP_MISSED, "not_grasped": FailureCategory.GRASP_MISSED,
    "drop": FailureCategory.DROPPED, "slipped": FailureCategory.DROPPED, "fell": FailureCategory.DROPPED,
    "wrong_position": FailureCategory.WRONG_PLACE, "misplaced": FailureCategory.WRONG_PLACE,
    "wrong_location": FailureCategory.WRONG_PLACE, "wrong_target": FailureCategory.WRONG_PLACE,
    "missing": FailureCategory.NOT_FOUND, "not_visible": FailureCategory.NOT_FOUND,
    "hit": FailureCategory.COLLISION, "knocked_over": FailureCategory.COLLISION,
    "out_of_reach": FailureCategory.UNREACHABLE, "error": FailureCategory.EXCEPTION,
}
_YES = re.compile(r"\b(yes|passed|pass|succeeded|success|successful|achieved|accomplished|done|completed?)\b", re.I)
_NO = re.compile(r"\b(no|not|failed|fail|fails|failure|unsuccessful|didn't|did not|wasn't|isn't)\b", re.I)
_PASSED_KEYS = ("passed", "ok", "success", "achieved", "done", "completed")
_TRUE_WORDS = {"true", "yes", "passed", "pass", "ok", "success", "1"}
_FALSE_WORDS = {"false", "no", "failed", "fail", "0"}


@dataclass
class VLMAnswer:
    """What a VLM answer says, once read."""

    passed: bool
    failed_step: int | None = None
    category: FailureCategory = FailureCategory.UNKNOWN
    why: str = ""
    parsed_from: str = "json"  # or "keywords"


def parse_category(value: Any) -> FailureCategory:
    """A category name as a model writes it (``"Wrong place"``, ``"dropped"``, ``"grasp_failed"``)."""
    if not isinstance(value, str) or not value.strip():
        return FailureCategory.UNKNOWN
    key = re.sub(r"[^a-z]+", "_", value.strip().lower()).strip("_")
    values = [c.value for c in FailureCategory]
    if key in values:
        return FailureCategory(key)
    if key in _CATEGORY_SYNONYMS:
        return _CATEGORY_SYNONYMS[key]
    close = difflib.get_close_matches(key, values + list(_CATEGORY_SYNONYMS), n=1, cutoff=0.75)
    if close:
        return FailureCategory(close[0]) if close[0] in values else _CATEGORY_SYNONYMS[close[0]]
    return FailureCategory.UNKNOWN


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = re.search(r"-?\d+", value)
        return int(m.group(0)) if m else None
    return None


def parse_answer(text: str) -> VLMAnswer | None:
    """Read a VLM answer: a JSON object with a ``passed``-like key anywhere in the text, else
    exactly one of yes/no keyword families in the first sentence. None when unreadable."""
    data = find_json(text)
    if isinstance(data, list):
        data = next((d for d in data if isinstance(d, dict)), None)
    if isinstance(data, dict):
        lowered = {str(k).lower(): v for k, v in data.items()}
        passed = next((b for k in _PASSED_KEYS if k in lowered and (b := _as_bool(lowered[k])) is not None), None)
        if passed is not None:
            category = FailureCategory.NONE if passed else parse_category(lowered.get("category"))
            if not passed and category is FailureCategory.NONE:
                category = FailureCategory.UNKNOWN
            why = lowered.get("why") or lowered.get("reason") or lowered.get("explanation") or ""
            return VLMAnswer(passed, _as_int(lowered.get("failed_step")), category, str(why).strip(), "json")
    first = re.split(r"(?<=[.!?\n])\s", text.strip(), maxsplit=1)[0] if text.strip() else ""
    yes, no = bool(_YES.search(first)), bool(_NO.search(first))
    if yes != no:
        return VLMAnswer(yes, None, FailureCategory.NONE if yes else FailureCategory.UNKNOWN, first.strip(),
                         "keywords")
    return None


# ---------------------------------------------------------------------------------------------
# Visual differencing without a model


def _colour_name(rgb: np.ndarray) -> str:
    names = list(DEFAULT_PALETTE)
    protos = np.array([DEFAULT_PALETTE[n] for n in names]) * 255.0
    return names[int(np.argmin(np.linalg.norm(protos - rgb[None, :], axis=1)))]


def _where(cx: float, cy: float, w: int, h: int) -> str:
    col = "left" if cx < w / 3 else "right" if cx > 2 * w / 3 else "centre"
    row = "top" if cy < h / 3 else "bottom" if cy > 2 * h / 3 else "middle"
    return "centre" if (row, col) == ("middle", "centre") else f"{row} {col}"


def pixel_diff_summary(before: Any, after: Any, *, threshold: int = 30, min_area_fraction: float = 0.0005,
                       max_regions: int = 4) -> str:
    """A one-paragraph description of where two images differ: the changed regions (a pixel
    changes when a channel moves by more than ``threshold`` of 255), their place and their
    colour before and after. No model needed; a few milliseconds for a VGA frame."""
    a = to_rgb_array(before)
    b = to_rgb_array(after)
    if a.shape != b.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    h, w = a.shape[:2]
    changed = (np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > threshold).astype(np.uint8)
    changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(changed, connectivity=8)
    min_area = max(4, int(min_area_fraction * h * w))
    regions = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= min_area]
    if not regions:
        return "no visible change between the first and the last checkpoint image"
    regions.sort(key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    total = sum(int(stats[i, cv2.CC_STAT_AREA]) for i in regions) / (h * w)
    parts = []
    for i in regions[:max_regions]:
        x, y, rw, rh = (int(stats[i, k]) for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH,
                                                   cv2.CC_STAT_HEIGHT))
        mask = labels == i
        was, now = _colour_name(a[mask].mean(axis=0)), _colour_name(b[mask].mean(axis=0))
        colours = f"{was} -> {now}" if was != now else f"{was}, changed shade or texture"
        parts.append(f"{_where(*centroids[i], w, h)} (x {x}-{x + rw}, y {y}-{y + rh} px): {colours}")
    more = f" (+{len(regions) - max_regions} smaller)" if len(regions) > max_regions else ""
    return (f"{len(regions)} region(s) changed, {100 * total:.1f}% of the image{more}: " + "; ".join(parts))


# ---------------------------------------------------------------------------------------------


def checkpoint_images(observation: Observation, cameras: list[str] | None = None) -> dict[str, np.ndarray]:
    """Colour images of an observation: ``<camera>/rgb`` keys and ``screen`` (or only the
    named ``cameras``: a camera name or a full image key)."""
    images = observation.images
    if cameras:
        keys = [k for c in cameras for k in (f"{c}/rgb", c) if k in images]
    else:
        keys = [k for k in sorted(images) if k.endswith("/rgb") or k in ("rgb", "screen")]
    return {k: images[k] for k in dict.fromkeys(keys)}


@dataclass
class VlmEvidence(Evidence):
    """What the VLM monitor writes: the raw ``answer``, the part it was read from, the image keys
    sent, and (for failures) a sentence on what changed between checkpoint images."""

    answer: str = ""
    parsed_from: str = ""
    images: list[str] = field(default_factory=list)
    visual_diff: str = ""


def verdict_from_answer(text: str, execution: Execution, *, monitor: str = "vlm",
                        unparseable_is_decisive: bool = False) -> Verdict:
    """A verdict from a VLM's answer. A failure is localised to the step the VLM names, else to
    the first failed primitive call. ``evidence``: the raw ``answer``, ``decisive`` (False for
    an unreadable answer unless ``unparseable_is_decisive``) and ``parsed_from``."""
    answer = parse_answer(text)
    if answer is None:
        return Verdict(ok=False, monitor=monitor, category=FailureCategory.UNKNOWN, why="unparseable VLM answer",
                       evidence=VlmEvidence(decisive=unparseable_is_decisive, answer=text))
    evidence = VlmEvidence(decisive=True, answer=text, parsed_from=answer.parsed_from)
    if answer.passed:
        return Verdict(ok=True, monitor=monitor, why=answer.why or "the VLM sees the subgoal achieved",
                       evidence=evidence)
    calls = execution.calls
    step = answer.failed_step if answer.failed_step is not None and 0 <= answer.failed_step < len(calls) \
        else next((c.index for c in calls if not c.ok), None)
    call = calls[step] if step is not None and 0 <= step < len(calls) else None
    return Verdict(ok=False, monitor=monitor, category=answer.category,
                   why=answer.why or "the VLM sees the subgoal not achieved", failed_call=step,
                   failed_line=call.line if call else execution.line, primitive=call.name if call else None,
                   evidence=evidence)


class VLMMonitor:
    """Monitor backend ``vlm``.

    ``cameras``: which images to send (default: every colour image), at most ``max_images``,
    downscaled to ``image_max_side`` pixels. ``unparseable_is_decisive``: whether an unreadable
    answer may fail a checkpoint on its own. ``visual_diff``: ``pixels`` (cheap, no model),
    ``model`` (ask the VLM) or ``off``; computed only for failed verdicts. ``trace_calls``: how
    many of the last primitive calls the prompt lists.
    """

    name = "vlm"

    def __init__(self, model: ChatModel, *, cameras: list[str] | None = None, max_images: int = 2,
                 image_max_side: int = 448, max_tokens: int = 200, temperature: float = 0.0,
                 unparseable_is_decisive: bool = False, visual_diff: DiffMode = "pixels", trace_calls: int = 12,
                 prompts_dir: str | Path | None = None) -> None:
        if visual_diff not in ("off", "pixels", "model"):
            raise ValueError(f"visual_diff must be off, pixels or model, got {visual_diff!r}")
        if max_images < 1:
            raise ValueError("max_images must be >= 1")
        self.model = model
        self.cameras = cameras
        self.max_images = max_images
        self.image_max_side = image_max_side
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.unparseable_is_decisive = unparseable_is_decisive
        self.visual_diff = visual_diff
        self.trace_calls = trace_calls
        self.prompts = PromptLibrary(PROMPTS_DIR, prompts_dir)

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        images = dict(list(checkpoint_images(observation, self.cameras).items())[: self.max_images])
        if not images:
            return Verdict(ok=False, monitor=self.name, category=FailureCategory.UNKNOWN,
                           why="no checkpoint image for the VLM", evidence=VlmEvidence(decisive=False))
        prompt = self.prompts.fill(
            "vlm_check", subgoal=subgoal.description,
            conditions=", ".join(str(c) for c in subgoal.conditions) or "(judge by the subgoal)",
            trace=self._trace(execution), categories=", ".join(c.value for c in FailureCategory),
            image_note=f" ({', '.join(images)})")
        parts = [fit_within(img, self.image_max_side) for img in images.values()]
        response = self.model.chat([Message.user(*parts, prompt)], max_tokens=self.max_tokens,
                                   temperature=self.temperature)
        verdict = verdict_from_answer(response.text, execution, monitor=self.name,
                                      unparseable_is_decisive=self.unparseable_is_decisive)
        evidence = verdict.evidence if isinstance(verdict.evidence, VlmEvidence) else VlmEvidence()
        verdict.evidence = evidence
        evidence.images = list(images)
        if not verdict.ok and self.visual_diff != "off":
            evidence.visual_diff = self._visual_diff(subgoal, execution, observation, next(iter(images)))
        return verdict

    def _trace(self, execution: Execution) -> str:
        calls = execution.calls[-self.trace_calls:]
        lines = [f"({len(execution.calls) - len(calls)} earlier calls not shown)"] if len(calls) < len(
            execution.calls) else []
        for c in calls:
            args = ", ".join([repr(a)[:40] for a in c.args] + [f"{k}={v!r}"[:40] for k, v in c.kwargs.items()])
            outcome = "ok" if c.ok else f"error: {c.error_type}: {(c.error or '')[:100]}"
            lines.append(f"{c.index}. {c.name}({args}) -> {outcome}")
        if not calls:
            lines.append("(no primitive was called)")
        if execution.error and not any(not c.ok for c in calls):
            lines.append(f"the program stopped: {execution.error_type}: {execution.error[:150]}")
        return "\n".join(lines)

    def _visual_diff(self, subgoal: Subgoal, execution: Execution, observation: Observation, key: str) -> str:
        """Change between the first checkpoint's image and the current one (same camera)."""
        first = execution.checkpoints[0].observation if execution.checkpoints else None
        if first is None or first is observation or key not in first.images:
            return ""
        before, after = first.images[key], observation.images[key]
        if self.visual_diff == "pixels":
            return pixel_diff_summary(before, after)
        prompt = self.prompts.fill("vlm_diff", subgoal=subgoal.description)
        response = self.model.chat([Message.user(fit_within(before, self.image_max_side),
                                                 fit_within(after, self.image_max_side), prompt)],
                                   max_tokens=120, temperature=self.temperature)
        return response.text.strip()
