"""Malformed configs must fail with one clear ConfigError naming file, line, field and a fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from embodied.config import load_config
from embodied.errors import ConfigError, UnknownBackendError
from embodied.registry import Registry

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name: t
task:
  instruction: put the red block on the blue block
  goal: ["on(red block, blue block)"]
env:
  kind: tabletop
  seed: 1
  objects:
    - {name: red block, shape: cube, color: red, region: left}
    - {name: blue block, shape: cube, color: blue, region: right}
agent:
  planner: rule
"""


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_good_config_loads_with_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.env.seed == 1
    assert cfg.env.physics_hz == 240
    assert cfg.env.cameras[0].width == 320
    assert cfg.agent.monitors is None  # the domain kit's monitors
    assert cfg.env.objects[0].dims() == (0.04, 0.04, 0.04)


def test_overrides_set_nested_fields_and_list_items(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD), ["env.seed=7", "env.objects.0.color=green", "agent.repair_budget=5"])
    assert (cfg.env.seed, cfg.env.objects[0].color, cfg.agent.repair_budget) == (7, "green", 5)


def test_override_values_are_yaml_scalars_or_flow_collections_only(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD), ["task.instruction=line them up: red, green, blue",
                                              "task.goal=[]", "agent.monitors=[trace]"])
    assert cfg.task.instruction == "line them up: red, green, blue"
    assert cfg.task.goal == [] and cfg.agent.monitors == ["trace"]


def test_include_composes_presets_and_file_wins(tmp_path: Path) -> None:
    write(tmp_path, "agent: {planner: rule, repair_budget: 9}\nenv: {kind: tabletop, seed: 4}\n", "preset.yaml")
    cfg = load_config(write(tmp_path, "include: preset.yaml\n" + GOOD))
    assert cfg.agent.repair_budget == 9  # from the preset
    assert cfg.env.seed == 1  # the including file overrides


def test_every_shipped_config_is_valid() -> None:
    configs = sorted((ROOT / "configs").rglob("*.yaml"))
    runnable = [c for c in configs if "presets" not in c.parts and "sweeps" not in c.parts]  # sweeps: test_sweep.py
    assert runnable, "no configs shipped"
    for path in runnable:
        top = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "server" in top or "driver" in top:  # `embodied robot serve` configs (maybe by include)
            from robots.server import load_server_config

            load_server_config(path)
        elif "board" in top:  # `embodied robot calibrate` configs
            from robots.calibration import load_calibrate_config

            load_calibrate_config(path)
        else:
            load_config(path)


# (description, yaml text or override, expected fragments of the message, expected line or None)
BAD_FILES = [
    ("yaml syntax", GOOD.replace("seed: 1", "seed: [1"), ["invalid YAML"], None),
    ("unknown top-level key", GOOD + "agnet: {}\n", ["agnet", "did you mean 'agent'"], 13),
    ("unknown nested key", GOOD.replace("shape: cube, color: red", "shape: cube, colour: red"),
     ["env.objects.0.colour", "did you mean 'color'"], 9),
    ("missing task", GOOD.replace("task:\n  instruction: put the red block on the blue block\n"
                                  "  goal: [\"on(red block, blue block)\"]\n", ""), ["task", "required"], None),
    ("wrong type", GOOD.replace("seed: 1", "seed: one"), ["env.seed", "integer"], 7),
    ("unknown backend", GOOD.replace("planner: rule", "planner: rules"), ["agent.planner", "did you mean 'rule'"],
     12),
    ("unknown env kind", GOOD.replace("kind: tabletop", "kind: tabeltop"), ["env.kind", "did you mean 'tabletop'"],
     6),
    ("bad shape literal", GOOD.replace("shape: cube, color: red", "shape: sphere, color: red"),
     ["env.objects.0.shape", "sphere"], 9),
    ("unknown colour", GOOD.replace("color: blue", "color: bleu"), ["bleu", "did you mean 'blue'"], 10),
    ("unknown region", GOOD.replace("region: left", "region: lfet"), ["lfet", "did you mean 'left'"], None),
    ("duplicate object names", GOOD.replace("name: blue block", "name: red block"), ["unique"], None),
    ("out of range", GOOD.replace("seed: 1", "seed: 1\n  physics_hz: 5"), ["env.physics_hz", "greater than"], 8),
    ("bad goal syntax", GOOD.replace('"on(red block, blue block)"', '"onn(red block, blue block)"'),
     ["task.goal", "did you mean 'on'"], None),
    ("top level is a list", "- a\n- b\n", ["mapping"], 1),
    ("empty file", "", ["empty"], None),
    ("missing env kind", GOOD.replace("  kind: tabletop\n", ""), ["env.kind", "tabletop"], None),
    ("negative budget", GOOD + "  repair_budget: -1\n", ["agent.repair_budget", "greater than or equal"], 13),
    ("both position and region", GOOD.replace("region: left", "region: left, position: [0.5, 0.1]"),
     ["position or region"], None),
    ("policy file missing", GOOD.replace("  goal:", "  policy_file: nope.py\n  goal:"), ["nope.py", "not found"],
     None),
]


@pytest.mark.parametrize(("kind", "text", "fragments", "line"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_malformed_config_gives_one_clear_error(tmp_path: Path, kind: str, text: str, fragments: list[str],
                                                line: int | None) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    if line is not None:
        assert info.value.line == line, message
        assert f"{path}:{line}" in message


BAD_OVERRIDES = [
    ("env.objects.9.color=red", ["index 9 is out of range"]),
    ("seed", ["not key=value"]),
    ("agent.planer=rule", ["agent.planer", "did you mean 'planner'"]),
    ("env.objects.x.color=red", ["number index"]),
    ("agent.monitors=[trace, geometrc]", ["geometrc", "did you mean 'geometric'"]),
]


@pytest.mark.parametrize(("override", "fragments"), BAD_OVERRIDES)
def test_bad_override_names_the_command_line(tmp_path: Path, override: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, GOOD), [override])
    message = str(info.value)
    assert "<command line>" in message
    for fragment in fragments:
        assert fragment in message, message


def test_include_errors_name_the_including_file(tmp_path: Path) -> None:
    path = write(tmp_path, "include: missing.yaml\n" + GOOD)
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_config(path)
    write(tmp_path, "include: b.yaml\n", "a.yaml")
    write(tmp_path, "include: a.yaml\n", "b.yaml")
    with pytest.raises(ConfigError, match="include cycle"):
        load_config(tmp_path / "a.yaml")


def test_error_in_preset_points_into_the_preset(tmp_path: Path) -> None:
    preset = write(tmp_path, "env:\n  kind: tabletop\n  gravity: 9.8\n", "preset.yaml")
    path = write(tmp_path, "include: preset.yaml\n" + GOOD.replace("  kind: tabletop\n", ""))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(preset.resolve()) or info.value.file == str(preset)
    assert info.value.line == 3
    assert "gravity" in str(info.value)


def test_registry_unknown_name_suggests_and_is_typed() -> None:
    reg = Registry("widget")
    reg.register("alpha", "json:dumps", summary="x")
    assert reg.get("alpha").__name__ == "dumps"
    with pytest.raises(UnknownBackendError, match="did you mean 'alpha'"):
        reg.entry("alpah")
    with pytest.raises(ValueError, match="twice"):
        reg.register("alpha", "json:loads")


def test_policy_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "policy.py").write_text('pick("red block")\n', encoding="utf-8")
    cfg = load_config(write(tmp_path, GOOD.replace("  goal:", "  policy_file: policy.py\n  goal:")))
    assert cfg.task.policy == 'pick("red block")\n'


def test_part_options_reach_the_constructor_and_typos_are_config_errors(tmp_path: Path) -> None:
    from embodied import backends
    from embodied.assembly import build_parts

    kit = backends.registry("domain").get("tabletop")
    good = load_config(write(tmp_path, GOOD + "  monitor_options: {trace: {report_caught: false}}\n"))
    parts = build_parts(good.agent, kit, {})
    assert parts.monitor is not None and parts.monitor.monitors[0].report_caught is False
    with pytest.raises(ConfigError, match=r"exp.yaml:\d+: agent.monitor_options.trace.report_cauhgt: .*did you mean "
                                          "'report_caught'"):  # typed configs: caught when the config loads
        load_config(write(tmp_path, GOOD + "  monitor_options: {trace: {report_cauhgt: false}}\n"))
    with pytest.raises(ConfigError, match=r"agent.monitor_options.geometric.near: Input should be a valid number"):
        load_config(write(tmp_path, GOOD + "  monitor_options: {geometric: {near: far}}\n"))
    with pytest.raises(ConfigError, match=r"agent.planner_options.max_tokens: planner 'rule' has no options"):
        load_config(write(tmp_path, GOOD + "  planner_options: {max_tokens: 3}\n"))
    with pytest.raises(ConfigError, match=r"not in agent\.monitors"):
        load_config(write(tmp_path, GOOD + "  monitors: [trace]\n  monitor_options: {vlm: {}}\n"))
    with pytest.raises(ConfigError, match="not an entry of models"):
        load_config(write(tmp_path, GOOD + "  writer_options: {model: big}\n"))


def test_unnamed_writer_and_repairer_follow_the_planner_or_fall_back_to_rule(tmp_path: Path) -> None:
    """``hybrid`` has no writer of its own: its typed subgoals go to the rule parts. ``llm`` does."""
    hybrid = load_config(write(tmp_path, GOOD.replace("planner: rule", "planner: hybrid")))
    assert (hybrid.agent.part_name("writer"), hybrid.agent.part_name("repairer")) == ("rule", "rule")
    llm = load_config(write(tmp_path, GOOD.replace("planner: rule", "planner: llm")))
    assert (llm.agent.part_name("writer"), llm.agent.part_name("repairer")) == ("llm", "llm")
    mixed = load_config(write(tmp_path, GOOD.replace("planner: rule", "planner: hybrid\n  writer: llm\n"
                                                     "  writer_options: {library: skills, library_k: 3}")))
    assert mixed.agent.part_name("writer") == "llm" and mixed.agent.writer_options["library_k"] == 3
    with pytest.raises(ConfigError, match=r"agent.writer_options.library_k"):
        load_config(write(tmp_path, GOOD.replace("planner: rule", "planner: hybrid\n  writer: llm\n"
                                                 "  writer_options: {library_k: many}")))


def test_the_models_of_a_preset_load_without_a_task(tmp_path: Path) -> None:
    """serve-model reads models: only, so the preset the README serves needs no task or world."""
    from embodied.config import load_models

    models = load_models(ROOT / "configs" / "presets" / "qwen_coder.yaml")
    assert list(models) == ["coder"] and models["coder"].backend == "replay"
    assert models["coder"].options["inner"]["options"]["model"] == "qwen2.5-coder-1.5b"
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: {instruction: x}\nmodels:\n  coder: {backend: llamacp}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="llamacp") as err:
        load_models(bad)
    assert err.value.line == 3 and "models.coder.backend" in str(err.value)
