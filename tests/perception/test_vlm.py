"""VLM monitor: reading answers, pixel differencing, and the whole path with a real (tiny,
random-weight) vision-language model built here and loaded through the transformers backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_vlm import build_tiny_llava

from embodied.errors import ModelError
from embodied.models import Message, build_model
from embodied.models.check import check_model
from embodied.models.replay import ReplayChatModel
from embodied.types import (
    Checkpoint,
    Condition,
    Execution,
    ExecutionStatus,
    FailureCategory,
    Observation,
    PrimitiveCall,
    Subgoal,
)
from perception.vlm import (
    VLMMonitor,
    checkpoint_images,
    parse_answer,
    parse_category,
    pixel_diff_summary,
    verdict_from_answer,
)

SUBGOAL = Subgoal("put the red block on the blue block", conditions=[Condition("on", ("red block", "blue block"))])


def _execution(fail_at: int | None = None, checkpoints: list[Checkpoint] | None = None) -> Execution:
    calls = [PrimitiveCall(0, "pick", ["red block"], {}, line=1, result=True),
             PrimitiveCall(1, "place_on", ["red block", "blue block"], {}, line=2)]
    if fail_at is not None:
        calls[fail_at].error_type, calls[fail_at].error = "GraspMissed", "closed on nothing"
    status = ExecutionStatus.OK if fail_at is None else ExecutionStatus.ERROR
    return Execution(status, calls, checkpoints or [])


def _frame(block_at: tuple[int, int]) -> np.ndarray:
    img = np.full((96, 128, 3), 180, np.uint8)
    y, x = block_at
    img[y:y + 12, x:x + 12] = (220, 20, 20)
    return img


# ------------------------------------------------------------------------------ answers


@pytest.mark.parametrize(("text", "passed", "category", "step"), [
    ('{"passed": true, "failed_step": null, "category": "none", "why": "on top"}', True, FailureCategory.NONE, None),
    ('Looking at it... ```json\n{"passed": false, "failed_step": 1, "category": "Wrong place", "why": "beside"}\n```',
     False, FailureCategory.WRONG_PLACE, 1),
    ('{"success": "no", "category": "grasp failed", "failed_step": "step 0"}', False, FailureCategory.GRASP_MISSED, 0),
    ('{"passed": false, "category": "teleported"}', False, FailureCategory.UNKNOWN, None),
    ('{"passed": false, "category": "none"}', False, FailureCategory.UNKNOWN, None),
    ("Yes. The red block sits on the blue block.", True, FailureCategory.NONE, None),
    ("No, it was dropped next to it.", False, FailureCategory.UNKNOWN, None),
])
def test_parse_answer(text: str, passed: bool, category: FailureCategory, step: int | None) -> None:
    answer = parse_answer(text)
    assert answer is not None
    assert (answer.passed, answer.category, answer.failed_step) == (passed, category, step)


@pytest.mark.parametrize("text", ["", "The block is not there but it is done.", "a b c d", '{"why": "hm"}'])
def test_unreadable_answers(text: str) -> None:
    assert parse_answer(text) is None


def test_parse_category_is_tolerant() -> None:
    assert parse_category("DROPPED") is FailureCategory.DROPPED
    assert parse_category("not found") is FailureCategory.NOT_FOUND
    assert parse_category("colision") is FailureCategory.COLLISION
    assert parse_category(None) is FailureCategory.UNKNOWN


def test_verdict_localises_the_failure() -> None:
    named = verdict_from_answer('{"passed": false, "failed_step": 1, "category": "wrong_place", "why": "beside"}',
                                _execution())
    assert (named.ok, named.category, named.failed_call, named.failed_line, named.primitive) == \
           (False, FailureCategory.WRONG_PLACE, 1, 2, "place_on")
    assert named.evidence.decisive is True and named.why == "beside"
    unnamed = verdict_from_answer('{"passed": false}', _execution(fail_at=0))
    assert (unnamed.failed_call, unnamed.primitive) == (0, "pick")
    ok = verdict_from_answer('{"passed": true, "why": "stacked"}', _execution())
    assert ok.ok and ok.category is FailureCategory.NONE and ok.monitor == "vlm"


def test_unparseable_answer_is_unknown_and_by_default_not_decisive() -> None:
    v = verdict_from_answer("purple monkey dishwasher", _execution())
    assert (v.ok, v.category, v.why) == (False, FailureCategory.UNKNOWN, "unparseable VLM answer")
    assert (v.evidence.answer, v.evidence.decisive) == ("purple monkey dishwasher", False)
    assert verdict_from_answer("???", _execution(), unparseable_is_decisive=True).evidence.decisive is True


# ------------------------------------------------------------------------------ images


def test_pixel_diff_names_where_and_what_changed() -> None:
    before, after = _frame((10, 10)), _frame((60, 100))
    text = pixel_diff_summary(before, after)
    assert text.startswith("2 region(s) changed")
    assert "top left" in text and "red -> " in text and "bottom right" in text and "-> red" in text
    assert pixel_diff_summary(before, before.copy()) == \
        "no visible change between the first and the last checkpoint image"
    noisy = before.copy()
    noisy[50, 50] = 0  # a single pixel is noise, not a change
    assert pixel_diff_summary(before, noisy).startswith("no visible change")
    assert pixel_diff_summary(before, after[::2, ::2]).startswith("2 region(s)")  # other resolution


def test_checkpoint_images_picks_colour_images() -> None:
    img = np.zeros((4, 4, 3), np.uint8)
    obs = Observation(images={"front/rgb": img, "front/depth": np.zeros((4, 4)), "top/rgb": img, "screen": img})
    assert list(checkpoint_images(obs)) == ["front/rgb", "screen", "top/rgb"]
    assert list(checkpoint_images(obs, ["top", "screen", "side"])) == ["top/rgb", "screen"]


def test_no_image_means_no_model_call(tmp_path: Path) -> None:
    cassette = tmp_path / "empty.jsonl"
    cassette.write_text("", encoding="utf-8")
    model = ReplayChatModel(cassette, mode="replay")  # raises if it were asked anything
    v = VLMMonitor(model).check(SUBGOAL, _execution(), Observation())
    assert (v.ok, v.category, v.evidence.decisive) == (False, FailureCategory.UNKNOWN, False)
    assert model.usage().calls == 0


# ------------------------------------------------------------------------------ a real VLM


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory):
    path = build_tiny_llava(tmp_path_factory.mktemp("tiny_llava"))
    model = build_model("transformers", {"path": str(path)})
    yield model
    model.close()


@pytest.mark.slow
def test_transformers_backend_runs_a_vision_language_model(tiny_vlm) -> None:
    assert tiny_vlm.kind == "vision"
    image = _frame((10, 10))
    response = tiny_vlm.chat([Message.user(image, "Is the red block on the blue block?")], max_tokens=8)
    assert isinstance(response.text, str)
    assert response.prompt_tokens > 16  # 16 image tokens (4x4 patches) plus the text
    assert 0 < response.completion_tokens <= 8
    again = tiny_vlm.chat([Message.user(image, "Is the red block on the blue block?")], max_tokens=8)
    assert (again.text, again.completion_tokens) == (response.text, response.completion_tokens)
    two = tiny_vlm.chat([Message.user(image, _frame((60, 100)), "What changed?")], max_tokens=4)
    assert two.prompt_tokens > response.prompt_tokens + 10
    with pytest.raises(ValueError):
        tiny_vlm.chat([Message.user(image)], max_tokens=0)
    assert check_model(tiny_vlm, image=True) == []


@pytest.mark.slow
def test_vlm_monitor_with_a_real_model(tiny_vlm) -> None:
    first = Observation(images={"front/rgb": _frame((10, 10))})
    last = Observation(images={"front/rgb": _frame((60, 100)), "front/depth": np.zeros((96, 128))})
    execution = _execution(checkpoints=[Checkpoint("start", 0, None, first), Checkpoint("end", 2, None, last)])
    calls = tiny_vlm.usage().calls
    verdict = VLMMonitor(tiny_vlm, max_tokens=12).check(SUBGOAL, execution, last)
    assert tiny_vlm.usage().calls == calls + 1
    assert verdict.monitor == "vlm" and verdict.evidence.images == ["front/rgb"]
    # random weights answer noise: unreadable, so unknown and not decisive; the raw answer is kept
    assert parse_answer(verdict.evidence.answer) is None
    assert (verdict.ok, verdict.category, verdict.why) == (False, FailureCategory.UNKNOWN, "unparseable VLM answer")
    assert verdict.evidence.decisive is False
    assert verdict.evidence.visual_diff.startswith("2 region(s) changed")

    by_model = VLMMonitor(tiny_vlm, max_tokens=8, visual_diff="model", unparseable_is_decisive=True)
    verdict = by_model.check(SUBGOAL, execution, last)
    assert tiny_vlm.usage().calls == calls + 3  # the check and the description of the change
    assert isinstance(verdict.evidence.visual_diff, str) and verdict.evidence.decisive is True


def test_text_model_errors_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        build_model("transformers", {"path": str(tmp_path)})  # an empty directory is no model
