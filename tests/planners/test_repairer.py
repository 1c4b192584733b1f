"""CategoryRepairer: the repair follows the failure category, retries differ, and it gives up
(None) when there is nothing new to try."""

from __future__ import annotations

import re

import pytest
from rule_fakes import KinematicTable, main_scene, obj

from embodied.sandbox import Sandbox, check
from embodied.types import (
    Evidence,
    Execution,
    ExecutionStatus,
    FailureCategory,
    Observation,
    Policy,
    Subgoal,
    Verdict,
)
from perception.monitors import GeometricEvidence
from planners.rule import CategoryRepairer, RulePlanner, TemplateWriter

C = FailureCategory


def subgoal(instruction: str = "put the red block on the blue block", scene: Observation | None = None) -> Subgoal:
    (sub,) = RulePlanner().decompose(instruction, scene or main_scene()).subgoals
    return sub


def failed(category: FailureCategory, primitive: str | None = None,
           evidence: Evidence | None = None) -> tuple[Execution, Verdict]:
    execution = Execution(status=ExecutionStatus.ERROR, category=category, error="failed", line=2)
    verdict = Verdict(ok=False, monitor="test", category=category, why=f"{category} happened", failed_line=2,
                      primitive=primitive, evidence=evidence or Evidence())
    return execution, verdict


def first_policy(sub: Subgoal, table: KinematicTable) -> Policy:
    return TemplateWriter().write(sub, table.primitives(), table.observe())


def repair(policy: Policy, sub: Subgoal, category: FailureCategory, scene: Observation,
           primitive: str | None = None, evidence: Evidence | None = None) -> Policy | None:
    table = KinematicTable.from_observation(scene)
    execution, verdict = failed(category, primitive, evidence)
    return CategoryRepairer().repair(sub, policy, execution, verdict, scene, table.primitives())


def chain(sub: Subgoal, category: FailureCategory, scene: Observation, n: int) -> list[Policy | None]:
    """Repair the same failure n times in a row, each time repairing the last repair."""
    table = KinematicTable.from_observation(scene)
    policy: Policy | None = first_policy(sub, table)
    out: list[Policy | None] = []
    for _ in range(n):
        assert policy is not None
        policy = repair(policy, sub, category, scene)
        out.append(policy)
        if policy is None:
            break
    return out


def pick_args(source: str) -> str:
    line = next(ln for ln in source.splitlines() if ln.strip().startswith("pick("))
    return line.strip()


def assert_valid(policy: Policy, scene: Observation) -> None:
    assert check(policy.source, KinematicTable.from_observation(scene).primitives()) == []


def test_grasp_missed_regrasps_slower_with_varying_offsets() -> None:
    sub = subgoal()
    repairs = chain(sub, C.GRASP_MISSED, main_scene(), 5)
    policies = [p for p in repairs if p is not None]
    assert len(policies) == 4 and repairs[-1] is None  # capped at 4 attempts
    for i, p in enumerate(policies):
        assert p.version == i + 1 and p.parent_version == i and p.origin == "repair:grasp_missed"
        assert p.source.startswith(f"# repair {i + 1} (grasp_missed): grasp_missed happened at line 2\n")
        assert "home()" in p.source and "get_objects()" in p.source  # re-detect
        assert "speed=" in pick_args(p.source)
        assert_valid(p, main_scene())
    grasps = [pick_args(p.source) for p in policies]
    assert len(set(grasps)) == len(grasps)  # every retry grasps differently
    assert "dx=" not in grasps[0] and ("dx=" in grasps[1] or "dy=" in grasps[1])


def test_dropped_picks_again_from_where_it_lies() -> None:
    scene = main_scene()
    scene.objects[0] = obj("red block", "red", "cube", 0.58, 0.02, 0.04)  # fell on the way
    sub = subgoal()
    new = repair(first_policy(sub, KinematicTable.from_observation(scene)), sub, C.DROPPED, scene)
    assert new is not None and new.origin == "repair:dropped"
    assert "if holding() is None:" in new.source and "get_objects()" in new.source
    table = KinematicTable.from_observation(scene)
    assert Sandbox().run(new.source, table.primitives()).ok
    red, blue = table.objects["red block"].position, table.objects["blue block"].position
    assert red[:2] == pytest.approx(blue[:2]) and red[2] > blue[2]


def test_wrong_place_corrects_the_aim_and_slows_down() -> None:
    scene = main_scene()
    blue = scene.objects[2]
    scene.objects[0] = obj("red block", "red", "cube", blue.position[0] + 0.03, blue.position[1], 0.04,
                           z=0.045 + 0.02)  # landed 3 cm too far
    sub = subgoal()
    new = repair(first_policy(sub, KinematicTable.from_observation(main_scene())), sub, C.WRONG_PLACE, scene)
    assert new is not None
    place = next(ln for ln in new.source.splitlines() if ln.startswith("place_on("))
    assert float(re.search(r"dx=([-0-9.]+)", place).group(1)) < 0
    assert "speed=" in place
    assert_valid(new, scene)


def obstructed_scene() -> Observation:
    scene = main_scene()
    blue = scene.objects[2]
    scene.objects[1] = obj("green block", "green", "cube", blue.position[0], blue.position[1], 0.035,
                           z=0.045 + 0.0175)  # something landed on the target
    return scene


def test_collision_moves_what_sits_on_the_target_first() -> None:
    scene = obstructed_scene()
    sub = subgoal()
    new = repair(first_policy(sub, KinematicTable.from_observation(scene)), sub, C.COLLISION, scene)
    assert new is not None and new.origin == "repair:collision"
    body = [ln for ln in new.source.splitlines() if not ln.startswith("#")]
    assert body[2].startswith('pick("green block"') and body[3].startswith("place_at(")
    table = KinematicTable.from_observation(scene)
    assert Sandbox().run(new.source, table.primitives()).ok
    red, blue, green = (table.objects[n].position for n in ("red block", "blue block", "green block"))
    assert red[:2] == pytest.approx(blue[:2]) and green[2] == pytest.approx(0.0175)


def test_collision_uses_the_obstruction_named_in_the_evidence() -> None:
    sub = subgoal()
    scene = main_scene()
    new = repair(first_policy(sub, KinematicTable.from_observation(scene)), sub, C.COLLISION, scene,
                 evidence=GeometricEvidence(obstructions=["yellow block"]))
    assert new is not None and 'pick("yellow block")' in new.source


def test_collision_without_an_obstruction_retries_once_then_gives_up() -> None:
    repairs = chain(subgoal(), C.COLLISION, main_scene(), 3)
    assert repairs[0] is not None and repairs[1] is None


def test_not_found_redetects_and_uses_the_current_name() -> None:
    scene = main_scene()
    scene.objects[2] = obj("blue block 1", "blue", "cube", 0.55, -0.12, 0.045)
    sub = subgoal()
    new = repair(first_policy(sub, KinematicTable.from_observation(main_scene())), sub, C.NOT_FOUND, scene)
    assert new is not None
    assert new.source.index("home()") < new.source.index("get_objects()") < new.source.index("pick(")
    assert 'place_on("blue block 1"' in new.source


def test_not_found_gives_up_when_the_object_is_still_missing() -> None:
    scene = main_scene()
    del scene.objects[0]
    sub = subgoal()
    assert repair(first_policy(sub, KinematicTable.from_observation(main_scene())), sub, C.NOT_FOUND, scene) is None
    assert repair(first_policy(sub, KinematicTable.from_observation(main_scene())), sub, C.GRASP_MISSED,
                  scene) is None


def test_unreachable_pushes_into_reach_when_close_and_gives_up_when_far() -> None:
    sub = subgoal()
    near = main_scene()
    near.objects[0] = obj("red block", "red", "cube", 0.78, 0.12, 0.04)  # 8 cm beyond the workspace
    policy = first_policy(sub, KinematicTable.from_observation(near))
    assert repair(policy, sub, C.UNREACHABLE, near, primitive="place_on") is None  # the target is the problem
    new = repair(policy, sub, C.UNREACHABLE, near, primitive="pick")
    assert new is not None
    push = next(ln for ln in new.source.splitlines() if ln.startswith("push("))
    assert push.startswith('push("red block", -0.11')
    assert new.source.index("push(") < new.source.index("pick(")
    far = main_scene()
    far.objects[0] = obj("red block", "red", "cube", 1.2, 0.12, 0.04)
    assert repair(first_policy(sub, KinematicTable.from_observation(far)), sub, C.UNREACHABLE, far,
                  primitive="pick") is None
    inside = main_scene()  # the object is reachable: the place is the problem, nothing to push
    assert repair(first_policy(sub, KinematicTable.from_observation(inside)), sub, C.UNREACHABLE, inside,
                  primitive="pick") is None


@pytest.mark.parametrize("category", [C.TIMEOUT, C.EXCEPTION])
def test_timeout_and_exception_regenerate_from_the_template(category: FailureCategory) -> None:
    sub = subgoal()
    broken = Policy(source="while True:\n    pass\n", version=0, origin="llm")
    new = repair(broken, sub, category, main_scene())
    assert new is not None and "while True" not in new.source and 'place_on("blue block"' in new.source
    assert "speed=0.5" in new.source
    again = repair(new, sub, category, main_scene())
    assert again is not None and "speed=0.4" in again.source
    assert repair(again, sub, category, main_scene()) is None


def test_unknown_retries_once() -> None:
    repairs = chain(subgoal(), C.UNKNOWN, main_scene(), 2)
    assert repairs[0] is not None and repairs[1] is None


def test_nothing_to_repair() -> None:
    sub = subgoal()
    policy = first_policy(sub, KinematicTable.from_observation(main_scene()))
    assert repair(policy, sub, C.NONE, main_scene()) is None
    odd = Subgoal("wave at the camera", action="wave")
    assert repair(policy, odd, C.UNKNOWN, main_scene()) is None


def test_push_wrong_place_pushes_again() -> None:
    sub = subgoal("push the red block left")
    new = repair(first_policy(sub, KinematicTable.from_observation(main_scene())), sub, C.WRONG_PLACE,
                 main_scene())
    assert new is not None and "pick(" not in new.source and 'push("red block"' in new.source
