"""Contract tests: one checker per kind (:mod:`embodied.checks`), run over every registered
backend of the kind, in the manner of gymnasium's ``check_env``. A registered backend without a
way to build it here fails (never a silent pass); a skip names what is missing. Models are checked
in tests/models/test_model_contract.py (they share the real model fixtures there)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "planners"))  # scripted screens, rule scenes

from gui_screens import ScriptedScreen, el
from rule_fakes import main_scene

from embodied import backends, checks
from embodied.assembly import build
from embodied.config import AgentConfig
from embodied.domain import DomainKit
from embodied.sandbox import check
from embodied.types import Observation
from robots.check import check_robot


def kit(name: str) -> DomainKit:
    return backends.registry("domain").get(name)


def page() -> list:
    return [el("e0", "label", "Name", 20, width=60), el("e1", "textbox", "", 20, left=100, description="Name"),
            el("e2", "checkbox", "I agree", 60, width=80, checked=False), el("e3", "button", "Submit", 100)]


def _tabletop_env() -> Any:
    from sim.tabletop.config import TabletopConfig
    from sim.tabletop.env import TabletopEnv

    return TabletopEnv(TabletopConfig(oracle=True, objects=[
        {"name": "red block", "color": "red", "position": [0.45, 0.1]},
        {"name": "blue block", "color": "blue", "position": [0.55, -0.1]}]))


def _gui_env() -> Any:
    from sim.gui.config import GuiConfig
    from sim.gui.env import GuiAgentEnv

    return GuiAgentEnv(GuiConfig(backend="desktop", semantic=False, success={"conditions": ["text_visible(Submit)"]}),
                       gui=ScriptedScreen(page()))


def _robot_env() -> Any:
    """A robot cell with the real-time stand-in arm as an in-process driver."""
    from embodied.config import load_config
    from perception.detection import RGBDDetector
    from robots.real_env import RobotEnv

    configs = Path(__file__).resolve().parents[2] / "configs"
    cfg = load_config(configs / "robot" / "stack.yaml",
                      ["env.connect=null", "env.driver={kind: sim_panda, options: {scene: ../tabletop/stack.yaml}}"])
    return RobotEnv(cfg.env, RGBDDetector(), base_dir=configs / "robot", confirm=lambda plan: True)


ENVS: dict[str, Callable[[], Any]] = {"tabletop": _tabletop_env, "gui": _gui_env, "robot": _robot_env}
# What each kit's rule planner is asked, on what it sees.
SCENES: dict[str, tuple[str, Callable[[], Observation]]] = {
    "tabletop": ("put the red block on the blue block, then the green block next to it", main_scene),
    "gui": ("type Ada into Name, tick I agree, then click Submit", lambda: Observation(elements=page())),
}


@pytest.mark.parametrize("name", backends.registry("domain").names())
def test_domain_kit_contract(name: str) -> None:
    checks.check_kit(kit(name), name)


@pytest.mark.parametrize("name", backends.registry("domain").names())
def test_kit_plan_schema_accepts_its_examples_and_refuses_other_actions(name: str) -> None:
    import jsonschema

    schema = kit(name).plan_schema(max_subgoals=6)
    jsonschema.Draft202012Validator.check_schema(schema)
    for example in kit(name).examples():
        jsonschema.validate({"subgoals": example["subgoals"]}, schema)
        wrong = [{**example["subgoals"][0], "action": "juggle"}]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"subgoals": wrong}, schema)
        extra = [{**example["subgoals"][0], "args": {**example["subgoals"][0]["args"], "colour": "red"}}]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"subgoals": extra}, schema)


SLOW_ENVS = {"tabletop", "robot"}  # physics settling and camera rendering: seconds per reset


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_ENVS else n
                                  for n in backends.registry("env").names()])
def test_env_contract(name: str) -> None:
    if name not in ENVS:
        pytest.fail(f"env {name!r} is registered but this test cannot build it: add it to ENVS")
    env = ENVS[name]()
    try:
        checks.check_env(env, kit(env.domain), name)
    finally:
        env.close()


@pytest.mark.parametrize("name", backends.registry("robot").names())
def test_robot_contract(name: str) -> None:
    from sim.tabletop.config import TabletopConfig
    from sim.tabletop.world import TabletopWorld

    world = TabletopWorld(TabletopConfig(robot={"kind": name}, objects=[
        {"name": "red block", "color": "red", "position": [0.6, 0.25]}]), 0)
    try:
        check_robot(world.robot, name)
    finally:
        world.close()


@pytest.fixture(params=backends.registry("domain").names())
def domain(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param not in SCENES:
        pytest.fail(f"domain {request.param!r} is registered but this test has no scene for it: add it to SCENES")
    yield request.param


@pytest.mark.parametrize("name", backends.registry("monitor").names())
def test_monitor_contract(name: str, domain: str) -> None:
    if name == "vlm":
        from embodied.models.replay import ReplayChatModel

        # No image in the observation: the VLM monitor must decline without asking its model, and
        # a replay model with an empty cassette raises if it is asked anything.
        empty = Path(__file__).resolve().parents[1] / "fixtures" / "cassettes" / "empty.jsonl"
        monitor = build("monitor", name, {"model": ReplayChatModel(empty, mode="replay"), "kit": kit(domain)})
    else:
        monitor = build("monitor", name, {"model": None, "kit": kit(domain), "policy": None})
    checks.check_monitor(monitor, kit(domain), name, SCENES[domain][1]())


@pytest.mark.parametrize("name", backends.registry("planner").names())
def test_planner_contract(name: str, domain: str) -> None:
    if name == "llm":
        pytest.skip("needs a model that plans reliably (a 135M model does not); the llm planner runs on "
                    "SmolLM2 in tests/planners/test_llm.py and tests/embodied/test_third_domain.py")
    instruction, scene = SCENES[domain]
    policy = "checkpoint('given')\n" if name == "fixed" else None
    planner = build("planner", name, {"model": None, "kit": kit(domain), "policy": policy})
    plan = checks.check_planner(planner, kit(domain), name, instruction, scene(), typed=name != "fixed")
    if name == "rule":
        env = ENVS[domain]()
        try:
            writer = build("writer", name, {"kit": kit(domain)})
            checks.check_writer(writer, name, plan, env.primitives(), scene(), check)
        finally:
            env.close()


def test_every_kind_has_a_contract_test() -> None:
    tested = {"env", "robot", "domain", "monitor", "planner", "model"}
    # checked through the loop tests; cameras and drivers in tests/robots (test_cameras, test_xarm_driver, test_server)
    composed = {"writer", "repairer", "executor", "gui", "detector", "command", "camera", "driver"}
    assert set(backends.kinds()) <= tested | composed, set(backends.kinds()) - tested - composed
    assert AgentConfig().monitors is None  # a config without monitors gets the kit's
