"""TemplateWriter: every action's policy passes the sandbox's static check, and running it against a
recording kinematic table calls the right primitives with the right names and numbers."""

from __future__ import annotations

import ast

import pytest
from rule_fakes import KinematicTable, main_scene

from embodied.primitives import PrimitiveSet
from embodied.sandbox import Sandbox, check
from embodied.types import Subgoal
from planners.errors import WritingError
from planners.rule import PolicyOptions, RulePlanner, TemplateWriter
from planners.rule.scene import Scene

# One instruction per template variant: place_on (block, container), place_at (relative, fixed,
# between, displacement), push (by a vector, towards), pick.
INSTRUCTIONS = [
    "put the red block on the blue block",
    "put the green block in the tray",
    "move red next to blue",
    "put the red block in the middle of the table",
    "put the yellow block between the red block and the blue one",
    "move the red block to the left by 5 cm",
    "push the green block 5 cm to the right",
    "push the red block towards the green block",
    "pick up the green block",
    "slowly put the yellow block on the green plate",
]


def plan_subgoals(instruction: str) -> list[Subgoal]:
    return RulePlanner().decompose(instruction, main_scene()).subgoals


@pytest.fixture
def table() -> KinematicTable:
    return KinematicTable.from_observation(main_scene())


@pytest.mark.parametrize("instruction", INSTRUCTIONS)
def test_policies_pass_the_sandbox_check_and_run(instruction: str, table: KinematicTable) -> None:
    writer = TemplateWriter()
    api = table.primitives()
    for subgoal in plan_subgoals(instruction):
        policy = writer.write(subgoal, api, table.observe())
        tree = ast.parse(policy.source)
        assert not any(isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(tree))
        assert not any(n.id.startswith("_") for n in ast.walk(tree) if isinstance(n, ast.Name))
        assert not any(n.attr.startswith("_") for n in ast.walk(tree) if isinstance(n, ast.Attribute))
        assert check(policy.source, api) == []
        assert policy.source.startswith(f"# {subgoal.description}\n")
        execution = Sandbox(max_steps=10_000, timeout_s=10).run(policy.source, api)
        assert execution.ok, execution.error
        assert execution.checkpoints[-1].label == subgoal.checkpoints[-1]
        holds = [Scene(table.observe()).holds(c) for c in subgoal.conditions if c.predicate != "moved"]
        assert all(h is not False for h in holds), (subgoal.description, table.objects)


def names(table: KinematicTable) -> list[str]:
    return [c.name for c in table.calls if c.name != "holding"]


def run(subgoal: Subgoal, table: KinematicTable, options: PolicyOptions | None = None) -> None:
    api = table.primitives()
    source = TemplateWriter().render(subgoal, options or PolicyOptions(), api)
    execution = Sandbox(max_steps=10_000, timeout_s=10).run(source, api)
    assert execution.ok, (execution.error, source)


def test_place_on_calls_pick_then_place_on_with_the_names(table: KinematicTable) -> None:
    (sub,) = plan_subgoals("put the red block on the blue block")
    run(sub, table)
    assert names(table) == ["pick", "place_on", "home"]
    assert table.calls[0].args == ("red block",) and table.calls[1].args == ("blue block",)


def test_slots_and_speed_are_passed(table: KinematicTable) -> None:
    subs = plan_subgoals("put everything in the tray")
    run(subs[1], table)
    place = table.calls[1]
    assert place.name == "place_on" and place.args == ("gray tray",)
    assert (place.kwargs["dx"], place.kwargs["dy"]) == (subs[1].args["dx"], subs[1].args["dy"]) != (0.0, 0.0)
    (slow,) = plan_subgoals("slowly put the yellow block on the green plate")
    table.calls.clear()
    run(slow, table)
    assert [c.kwargs.get("speed") for c in table.calls if c.name in ("pick", "place_on")] == [0.5, 0.5]


def test_relative_places_are_computed_when_the_policy_runs(table: KinematicTable) -> None:
    (sub,) = plan_subgoals("move red next to blue")
    blue = table.objects["blue block"]
    table._move("blue block", 0.60, 0.05, blue.position[2])  # the target moved after planning
    run(sub, table)
    place = next(c for c in table.calls if c.name == "place_at")
    assert place.args == pytest.approx((0.60 + sub.args["dx"], 0.05 + sub.args["dy"]))
    assert names(table) == ["pick", "get_pose", "place_at", "home"]


def test_a_displacement_reads_the_pose_before_picking(table: KinematicTable) -> None:
    (sub,) = plan_subgoals("move the red block to the left by 5 cm")
    run(sub, table)
    assert names(table)[:3] == ["get_pose", "pick", "place_at"]
    assert table.objects["red block"].position[:2] == pytest.approx((0.45, 0.17))


def test_push_towards_stops_short_of_the_target(table: KinematicTable) -> None:
    (sub,) = plan_subgoals("push the red block towards the green block")
    run(sub, table)
    push = next(c for c in table.calls if c.name == "push")
    assert push.args[0] == "red block"
    red, green = table.objects["red block"].position, table.objects["green block"].position
    gap = ((red[0] - green[0]) ** 2 + (red[1] - green[1]) ** 2) ** 0.5
    assert gap == pytest.approx(sub.args["gap"], abs=1e-6)


def test_between_uses_the_midpoint(table: KinematicTable) -> None:
    (sub,) = plan_subgoals("put the yellow block between the red block and the blue one")
    run(sub, table)
    assert table.objects["yellow block"].position[:2] == pytest.approx((0.50, 0.0))


def test_repair_options_change_the_code(table: KinematicTable) -> None:
    (sub,) = plan_subgoals("put the red block on the blue block")
    opts = PolicyOptions(speed=0.4, pick_dx=0.008, pick_dy=-0.004, redetect=True, resume=True,
                         clear_first=[("green block", 0.6, 0.0)], header=["repair 1 (test)"])
    source = TemplateWriter().render(sub, opts, table.primitives())
    assert source.startswith("# repair 1 (test)\n")
    assert 'pick("red block", dx=0.008, dy=-0.004, speed=0.4)' in source
    assert "if holding() is None:" in source
    run(sub, table, opts)
    assert names(table) == ["home", "get_objects", "pick", "place_at", "pick", "place_on", "home"]
    assert table.calls[2].args == ("green block",)


def test_resume_skips_the_pick_when_still_holding(table: KinematicTable) -> None:
    (sub,) = plan_subgoals("put the red block on the blue block")
    table.primitives()["pick"].fn("red block")  # already in the gripper
    table.calls.clear()
    run(sub, table, PolicyOptions(resume=True))
    assert names(table) == ["place_on", "home"]


def test_rename_uses_the_names_seen_now(table: KinematicTable) -> None:
    (sub,) = plan_subgoals("put the red block on the blue block")
    source = TemplateWriter().render(sub, PolicyOptions(rename={"blue block": "blue block 1"}))
    assert 'place_on("blue block 1")' in source


def test_unknown_action_is_a_typed_error() -> None:
    with pytest.raises(WritingError, match=r"unknown action .dance."):
        TemplateWriter().write(Subgoal("dance", action="dance"), PrimitiveSet("tabletop"), main_scene())


def test_missing_primitives_are_reported(table: KinematicTable) -> None:
    api = PrimitiveSet("tabletop")
    full = table.primitives()
    api.add(full["pick"].fn)
    (sub,) = plan_subgoals("put the red block on the blue block")
    with pytest.raises(WritingError, match="place_on"):
        TemplateWriter().write(sub, api, main_scene())


def test_no_home_when_asked(table: KinematicTable) -> None:
    (sub,) = plan_subgoals("put the red block on the blue block")
    policy = TemplateWriter(home_at_end=False).write(sub, table.primitives(), main_scene())
    assert "home()" not in policy.source and policy.origin == "template"
