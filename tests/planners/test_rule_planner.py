"""RulePlanner.revise / replan (dynamic planning) and the fixed backends; plus the rule parts run
end to end in the agent loop over a kinematic table with scripted faults."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rule_fakes import GraspMissed, KinematicTable, main_scene

from embodied.agent import Agent, HybridMonitor, LoopBudgets
from embodied.errors import PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.sandbox import Sandbox
from embodied.types import (
    Execution,
    FailureCategory,
    Observation,
    Plan,
    Subgoal,
    SubgoalOutcome,
    Verdict,
)
from planners.errors import PlanningError, WritingError
from planners.fixed import FixedPlanner, FixedWriter, NoRepair
from planners.rule import CategoryRepairer, RulePlanner, TemplateWriter
from planners.rule.scene import Scene


def put(scene: Observation, name: str, x: float, y: float, z: float | None = None) -> None:
    """Move an object of a hand-built observation."""
    for i, o in enumerate(scene.objects):
        if o.name == name:
            scene.objects[i] = replace(o, position=(x, y, o.size[2] / 2 if z is None else z))
            return
    raise KeyError(name)


def achieved(plan: Plan, k: int) -> list[SubgoalOutcome]:
    return [SubgoalOutcome(s, True, 1) for s in plan.subgoals[:k]]


def stacked_scene() -> Observation:
    """red on the table, green on red, blue on green (the tower of "stack red, green and blue")."""
    scene = main_scene()
    put(scene, "green block", 0.45, 0.12, 0.04 + 0.0175)
    put(scene, "blue block", 0.45, 0.12, 0.04 + 0.035 + 0.0225)
    return scene


# ---------------------------------------------------------------------------------------------- revise


def test_revise_takes_off_the_achieved_head_and_keeps_the_rest() -> None:
    planner = RulePlanner()
    plan = planner.decompose("stack red, green and blue", main_scene())
    scene = main_scene()
    put(scene, "green block", 0.45, 0.12, 0.04 + 0.0175)
    revised = planner.revise(plan, achieved(plan, 1), scene)
    assert [s.description for s in revised.subgoals] == ["put the blue block on the green block"]
    assert revised.revision == 1
    same = planner.revise(revised, achieved(plan, 1), scene)  # the agent's way: head already taken off
    assert same.subgoals == revised.subgoals and same.revision == revised.revision


def test_revise_puts_back_what_was_knocked_off() -> None:
    planner = RulePlanner()
    plan = planner.decompose("stack red, green and blue", main_scene())
    scene = stacked_scene()
    put(scene, "green block", 0.60, 0.05)  # knocked off; blue fell with it
    put(scene, "blue block", 0.62, -0.02)
    revised = planner.revise(Plan(plan.instruction, []), achieved(plan, 2), scene)
    assert [s.description for s in revised.subgoals] == ["put the green block on the red block",
                                                         "put the blue block on the green block"]
    assert "undone" in revised.note and revised.revision == 1


def test_revise_does_not_undo_deliberate_moves() -> None:
    planner = RulePlanner()
    plan = planner.decompose("put the red block on the blue block, then put the red block in the tray",
                             main_scene())
    scene = main_scene()
    put(scene, "red block", 0.37, -0.20, 0.004 + 0.02)  # in the tray now, no longer on blue: on purpose
    revised = planner.revise(Plan(plan.instruction, []), achieved(plan, 2), scene)
    assert revised.subgoals == []


def test_revise_drops_what_already_holds() -> None:
    planner = RulePlanner()
    plan = planner.decompose("put the red block in the bowl, then put the green block in the tray", main_scene())
    scene = main_scene()
    put(scene, "red block", 0.36, 0.20, 0.004 + 0.02)
    put(scene, "green block", 0.37, -0.20, 0.004 + 0.0175)  # someone already did it
    revised = planner.revise(plan, achieved(plan, 1), scene)
    assert revised.subgoals == [] and "already true" in revised.note


def test_revise_clears_what_landed_on_the_next_object() -> None:
    planner = RulePlanner()
    plan = planner.decompose("put the red block in the bowl, then put the green block in the tray", main_scene())
    scene = main_scene()
    put(scene, "red block", 0.36, 0.20, 0.004 + 0.02)
    put(scene, "yellow block", 0.50, 0.0, 0.035 + 0.025)  # a block dropped onto the green one
    revised = planner.revise(plan, achieved(plan, 1), scene)
    assert [s.args["object"] for s in revised.subgoals] == ["yellow block", "green block"]
    assert revised.subgoals[0].description == "move the yellow block out of the way"
    spot = (revised.subgoals[0].args["x"], revised.subgoals[0].args["y"])
    assert Scene(scene).clearance(*spot, exclude=("yellow block",)) > 0.02


def test_revise_gives_up_redoing_after_max_reinserts() -> None:
    planner = RulePlanner(max_reinserts=1)
    plan = planner.decompose("stack red and green", main_scene())
    scene = main_scene()  # green is never on red when checked
    history = achieved(plan, 1)
    assert planner.revise(Plan(plan.instruction, []), history, scene).subgoals  # first time: redo
    history = history * 2
    revised = planner.revise(Plan(plan.instruction, []), history, scene)
    assert revised.subgoals == [] and "gave up" in revised.note


# ---------------------------------------------------------------------------------------------- replan


def failure(sub: Subgoal, times: int = 1) -> list[SubgoalOutcome]:
    return [SubgoalOutcome(sub, False, 3, FailureCategory.WRONG_PLACE, "missed") for _ in range(times)]


def test_replan_tries_another_spot_then_gives_up() -> None:
    planner = RulePlanner(max_failures=2)
    plan = planner.decompose("put the red block in the middle of the table", main_scene())
    (sub,) = plan.subgoals
    new = planner.replan(plan, failure(sub), main_scene())
    (variant,) = new.subgoals
    assert (variant.args["x"], variant.args["y"]) != (sub.args["x"], sub.args["y"])
    assert variant.conditions[0].params["x"] == variant.args["x"]
    assert new.revision == plan.revision + 1 and "another" in new.note
    gave_up = planner.replan(new, failure(sub) + failure(variant), main_scene())
    assert gave_up.subgoals == [] and "gave up" in gave_up.note and "nothing sensible" in gave_up.note


def test_replan_uses_another_slot_of_a_container() -> None:
    planner = RulePlanner()
    plan = planner.decompose("put the red block in the tray", main_scene())
    (sub,) = plan.subgoals
    (variant,) = planner.replan(plan, failure(sub), main_scene()).subgoals
    assert variant.args["target"] == "gray tray" and (variant.args["dx"], variant.args["dy"]) != (0.0, 0.0)


def test_replan_does_the_rest_first_when_nothing_depends_on_the_failure() -> None:
    planner = RulePlanner()
    plan = planner.decompose("put the red block on the blue block, then put the green block in the tray",
                             main_scene())
    first = plan.subgoals[0]
    new = planner.replan(plan, failure(first), main_scene())
    assert [s.args["object"] for s in new.subgoals] == ["green block", "red block"]
    assert "rest first" in new.note


def test_replan_drops_what_depends_on_a_lost_object() -> None:
    planner = RulePlanner(max_failures=2)
    plan = planner.decompose("stack red, green and blue", main_scene())
    first = plan.subgoals[0]  # green on red
    scene = main_scene()
    del scene.objects[1]  # the green block is gone (fell off the table)
    once = planner.replan(plan, failure(first), scene)  # one view without it may be a flicker
    assert [s.description for s in once.subgoals] == [s.description for s in plan.subgoals]
    assert "not visible now" in once.note
    twice = planner.replan(plan, failure(first, 2), scene)
    assert twice.subgoals == [] and "not visible" in twice.note and "depends" in twice.note


def test_replan_after_success_with_nothing_left_is_empty() -> None:
    planner = RulePlanner()
    assert planner.replan(Plan("x", []), [], main_scene()).subgoals == []


# ---------------------------------------------------------------------------------------------- fixed


def test_fixed_backends_run_the_given_policy() -> None:
    source = 'pick("red block")\n'
    planner = FixedPlanner(policy=source)
    plan = planner.decompose("do it", main_scene())
    (sub,) = plan.subgoals
    assert sub.description == "do it" and sub.action == "policy"
    policy = FixedWriter(policy=source).write(sub, PrimitiveSet("tabletop"), main_scene())
    assert policy.source == source and policy.origin == "given"
    assert planner.revise(plan, [], main_scene()) is plan
    assert planner.replan(plan, [], main_scene()).subgoals == []
    assert NoRepair().repair(sub, policy, Execution("error"), Verdict(False, "t"), main_scene(),
                             PrimitiveSet("tabletop")) is None
    with pytest.raises(PlanningError, match=r"task\.policy"):
        FixedPlanner().decompose("do it", main_scene())
    with pytest.raises(WritingError):
        FixedWriter().write(Subgoal("x", action="place_on"), PrimitiveSet("tabletop"), main_scene())


# ---------------------------------------------------------------------------------------------- loop


class TableEnv:
    """The kinematic table behind the Environment protocol; ``after`` runs a fault after the
    n-th checkpoint (a perturbation the planner has to notice)."""

    domain = "tabletop"

    def __init__(self, scene: Observation, after: dict[int, object] | None = None) -> None:
        self.table = KinematicTable.from_observation(scene)
        self.after = after or {}
        self.checkpoints = 0

    def reset(self, seed: int | None = None) -> Observation:
        return self.observe()

    def observe(self, label: str = "") -> Observation:
        if label not in ("", "start", "after"):
            self.checkpoints += 1
            fault = self.after.get(self.checkpoints)
            if fault is not None:
                fault(self.table)  # type: ignore[operator]
        return self.table.observe(label)

    def primitives(self) -> PrimitiveSet:
        return self.table.primitives()

    def success(self, goal: object) -> tuple[bool, dict]:
        return True, {}

    def stats(self) -> dict:
        return {"sim_steps": 0, "sim_time_s": 0.0}

    def close(self) -> None:
        pass


class ConditionMonitor:
    """Judges a subgoal by its conditions on the checkpoint's objects (like the geometric monitor)."""

    name = "conditions"

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        if not execution.ok:
            return Verdict(False, self.name, execution.category, execution.error or "", failed_line=execution.line)
        scene = Scene(observation)
        for cond in subgoal.conditions:
            if cond.predicate != "moved" and scene.holds(cond) is False:
                return Verdict(False, self.name, FailureCategory.WRONG_PLACE, f"{cond} does not hold")
        return Verdict(True, self.name)


def agent(budgets: LoopBudgets | None = None) -> Agent:
    return Agent(RulePlanner(), TemplateWriter(), CategoryRepairer(), HybridMonitor([ConditionMonitor()]),
                 Sandbox(max_steps=20_000, timeout_s=10), budgets or LoopBudgets())


def test_loop_rebuilds_a_knocked_over_stack() -> None:
    def knock(table: KinematicTable) -> None:
        table._move("blue block", 0.62, -0.02, 0.0225)
        table._move("green block", 0.60, 0.05, 0.0175)

    env = TableEnv(main_scene(), after={2: knock})  # right after blue lands on green
    run = agent().run("stack red, green and blue", env)
    assert run.finished and run.revisions >= 1
    red, green, blue = (env.table.objects[n].position for n in ("red block", "green block", "blue block"))
    assert green[:2] == pytest.approx(red[:2]) and blue[:2] == pytest.approx(red[:2])
    assert red[2] < green[2] < blue[2]


def test_wall_time_budget_ends_the_episode_with_a_clear_result() -> None:
    env = TableEnv(main_scene())
    run = agent(LoopBudgets(max_wall_s=1e-6)).run("stack red, green and blue", env)
    assert not run.finished and not run.outcomes  # checked before the first subgoal ran
    assert "agent.max_wall_s" in run.failure
    unlimited = agent(LoopBudgets(max_wall_s=600)).run("stack red, green and blue", TableEnv(main_scene()))
    assert unlimited.finished


def test_loop_repairs_missed_grasps() -> None:
    env = TableEnv(main_scene())
    env.table.fail["pick"] = [GraspMissed("closed on nothing"), GraspMissed("closed on nothing")]
    run = agent().run("put the red block in the bowl", env)
    assert run.finished and run.repairs == 2
    assert [a.policy.origin for a in run.attempts] == ["template", "repair:grasp_missed", "repair:grasp_missed"]
    assert Scene(env.table.observe()).holds(run.plan.subgoals[0].conditions[0]) is True


def test_loop_ends_when_a_subgoal_keeps_failing() -> None:
    env = TableEnv(main_scene())
    env.table.fail["place_on"] = [PrimitiveError("the gripper jammed") for _ in range(100)]
    run = agent(LoopBudgets(repair=2, replan=5, max_subgoals=30)).run(
        "put the red block in the bowl, then put the green block on the blue block", env)
    assert not run.finished and len(run.outcomes) < 30
    assert run.replans >= 1 and run.failure


def test_steps_that_stack_objects_in_a_circle_are_refused_with_the_chain() -> None:
    """A reading that puts red on blue, green on red and blue on green (a 1.5B's reading of
    "largest at the bottom") has no arrangement that satisfies it: the planner says so, and the
    model reader sends that back, instead of a plan that shuffles blocks out of the way forever."""
    instruction = ("put the red block on the blue block, put the green block on the red block "
                   "and put the blue block on the green block")
    with pytest.raises(PlanningError, match="red block on blue block, blue block on green block, green block on "
                                            "red block: red block would end up under itself"):
        RulePlanner().decompose(instruction, main_scene())
    plan = RulePlanner().decompose("put the red block on the blue block and the green block on the red block",
                                   main_scene())
    assert [str(c) for c in plan.goal] == ["on(red block, blue block)", "on(green block, red block)"]


def test_steps_named_top_down_run_bottom_up() -> None:
    """The goal is every step's conditions at the end, so "red on green, then green on blue"
    builds from the bottom: no block is moved out of the way and back (a reader, grammar or
    model, may name the steps in either order)."""
    instruction = "put the red block on the green block, then put the green block on the blue block"
    plan = RulePlanner().decompose(instruction, main_scene())
    assert [s.description for s in plan.subgoals] == ["put the green block on the blue block",
                                                       "put the red block on the green block"]
    assert "reordered bottom-up" in plan.note
    assert [str(c) for c in plan.goal] == ["on(red block, green block)", "on(green block, blue block)"]
    env = TableEnv(main_scene())
    run = agent().run(instruction, env)
    assert run.finished
    assert [o.subgoal.description for o in run.outcomes] == [s.description for s in plan.subgoals]
    red, green, blue = (env.table.objects[n].position for n in ("red block", "green block", "blue block"))
    assert red[:2] == pytest.approx(blue[:2]) and green[:2] == pytest.approx(blue[:2])
    assert blue[2] < green[2] < red[2]
    bottom_first = "put the green block on the blue block, then put the red block on the green block"
    in_order = RulePlanner().decompose(bottom_first, main_scene())
    assert "reordered" not in in_order.note


def test_a_doubted_plan_runs_but_is_not_claimed_a_success() -> None:
    """The model's reading never used the tray the instruction names: the steps run (nothing is
    lost), the final check says why the run is not a success, and the agent does not claim one."""
    from recording_model import RecordingDouble

    from planners.hybrid import HybridPlanner
    from planners.kits.tabletop.kit import KIT

    reading = '{"steps": [{"action": "place_in_area", "object": "red block", "area": "center"}]}'
    planner = HybridPlanner(RecordingDouble([reading]), KIT, use_model="always")
    loop = Agent(planner, TemplateWriter(), CategoryRepairer(), HybridMonitor([ConditionMonitor()]),
                 Sandbox(max_steps=20_000, timeout_s=10))
    run = loop.run("tuck the red block away in the tray", TableEnv(main_scene()))
    assert run.first_plan is not None and run.first_plan.doubts
    assert run.finished and all(o.ok for o in run.outcomes)
    assert not run.claimed_success and run.final is not None and not run.final.ok
    assert "speaks of 'tray' (gray tray), but no step uses it" in run.failure
    open_loop = Agent(HybridPlanner(RecordingDouble([reading]), KIT, use_model="always"), TemplateWriter(),
                      CategoryRepairer(), None, Sandbox(max_steps=20_000, timeout_s=10))
    run = open_loop.run("tuck the red block away in the tray", TableEnv(main_scene()))
    assert run.finished and not run.failure and not run.claimed_success


def test_what_a_failed_step_left_in_the_gripper_is_put_down_first() -> None:
    """A program that picked the red block and failed before placing it leaves it held; the
    next subgoal moves another object, so the plan sets the red block down first."""
    planner = RulePlanner()
    plan = planner.decompose("put the red block in the bowl, then put the green block in the tray", main_scene())
    holding = replace(main_scene(), gripper={"holding": "red block"})
    put(holding, "red block", 0.45, 0.12, 0.2)  # lifted
    replanned = planner.replan(plan, [SubgoalOutcome(plan.subgoals[0], False, 3)], holding)
    assert replanned.subgoals[0].description == "put down the red block (still in the gripper)"
    assert replanned.subgoals[0].args["object"] == "red block" and replanned.subgoals[0].args["temporary"]
    assert "put down the red block" in replanned.note
    same = planner.revise(plan, [], replace(main_scene(), gripper={"holding": "red block"}))
    assert same.subgoals[0].description == "put the red block in the blue bowl"  # it moves the held one: as is
