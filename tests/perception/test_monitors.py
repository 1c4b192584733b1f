"""TraceMonitor and GeometricMonitor on hand-built executions and observations, plus one check of
on(a, b) from rendered pixels."""

from __future__ import annotations

import math
from typing import Any

import pytest
from rgbd_scenes import Scene

from embodied.conditions import parse_condition
from embodied.types import (
    Checkpoint,
    Execution,
    ExecutionStatus,
    FailureCategory,
    Observation,
    PrimitiveCall,
    SceneObject,
    Subgoal,
)
from perception.detection import RGBDDetector
from perception.monitors import GeometricMonitor, TraceMonitor
from perception.predicates import box_of

CUBE = (0.04, 0.04, 0.04)


def call(index: int, name: str, *args: Any, line: int | None = None, error: type | None = None,
         category: FailureCategory = FailureCategory.NONE, **kwargs: Any) -> PrimitiveCall:
    c = PrimitiveCall(index=index, name=name, args=list(args), kwargs=kwargs, line=line if line else index + 1)
    if error is not None:
        c.error_type, c.error, c.category = error.__name__, f"{name} failed on purpose", category
    return c


def execution(*calls: PrimitiveCall, status: ExecutionStatus = ExecutionStatus.OK, **kw: Any) -> Execution:
    return Execution(status=status, calls=list(calls), checkpoints=[Checkpoint("end", len(calls))], **kw)


def cube(name: str, x: float, y: float, z: float = 0.02, shape: str = "cube", size: tuple = CUBE) -> SceneObject:
    color = name.split()[0]
    return SceneObject(name=name, color=color, shape=shape, position=(x, y, z), size=size)


def subgoal(*conditions: str, **args: Any) -> Subgoal:
    return Subgoal("test", "place_on", args, [parse_condition(c) for c in conditions])


class GraspMissed(Exception):
    pass


class ObjectDropped(Exception):
    pass


# --- TraceMonitor ---------------------------------------------------------------------------


def test_trace_ok_when_nothing_failed():
    v = TraceMonitor().check(subgoal(), execution(call(0, "pick", "red block"), call(1, "place_on", "blue block")),
                             Observation())
    assert v.ok and v.monitor == "trace" and v.category is FailureCategory.NONE


@pytest.mark.parametrize("status", [ExecutionStatus.SYNTAX_ERROR, ExecutionStatus.REFUSED])
def test_trace_policy_that_did_not_run(status):
    ex = Execution(status=status, error_type="SyntaxError", error="SyntaxError: bad (line 3)", line=3,
                   category=FailureCategory.EXCEPTION)
    v = TraceMonitor().check(subgoal(), ex, Observation())
    assert not v.ok and v.category is FailureCategory.EXCEPTION
    assert v.failed_line == 3 and v.failed_call is None and "did not run" in v.why


def test_trace_timeout_points_at_last_call():
    ex = execution(call(0, "pick", "red block"), call(1, "move_to", 0.5, 0.0, 0.2), status=ExecutionStatus.TIMEOUT,
                   error="PolicyBudgetExceeded: 5 s", category=FailureCategory.TIMEOUT)
    v = TraceMonitor().check(subgoal(), ex, Observation())
    assert not v.ok and v.category is FailureCategory.TIMEOUT
    assert v.failed_call == 1 and v.primitive == "move_to"


def test_trace_error_raised_by_a_primitive():
    calls = [call(0, "pick", "red block", line=2, error=GraspMissed, category=FailureCategory.GRASP_MISSED)]
    ex = execution(*calls, status=ExecutionStatus.ERROR, error_type="GraspMissed", line=2,
                   error="GraspMissed: closed on nothing (line 2)", category=FailureCategory.GRASP_MISSED)
    v = TraceMonitor().check(subgoal(), ex, Observation())
    assert not v.ok and v.category is FailureCategory.GRASP_MISSED
    assert (v.failed_call, v.failed_line, v.primitive) == (0, 2, "pick")
    assert v.evidence.call["args"] == ["red block"] and "on purpose" in v.evidence.error
    assert "\n" not in v.why and "pick('red block')" in v.why


def test_trace_error_in_policy_code_names_the_line():
    ex = execution(call(0, "pick", "red block"), status=ExecutionStatus.ERROR, error_type="NameError",
                   error="NameError: name 'plce' is not defined (line 3)", line=3, category=FailureCategory.EXCEPTION)
    v = TraceMonitor().check(subgoal(), ex, Observation())
    assert not v.ok and v.category is FailureCategory.EXCEPTION
    assert v.failed_line == 3 and v.failed_call is None and v.primitive is None


def test_trace_caught_failure_without_recovery_is_reported():
    ex = execution(call(0, "pick", "red block", error=GraspMissed, category=FailureCategory.GRASP_MISSED),
                   call(1, "home"))
    v = TraceMonitor().check(subgoal(), ex, Observation())
    assert not v.ok and v.category is FailureCategory.GRASP_MISSED
    assert v.failed_call == 0 and v.evidence.caught is True
    assert TraceMonitor(report_caught=False).check(subgoal(), ex, Observation()).ok


def test_trace_caught_failure_recovered_by_retry_is_fine():
    ex = execution(call(0, "pick", "red block", error=GraspMissed, category=FailureCategory.GRASP_MISSED),
                   call(1, "pick", "red block", dx=0.01), call(2, "place_on", "blue block"))
    v = TraceMonitor().check(subgoal(), ex, Observation())
    assert v.ok and "recovered" in v.why


def test_trace_recovery_must_concern_the_same_object():
    failed = call(0, "pick", "purple block", error=GraspMissed, category=FailureCategory.NOT_FOUND)
    other = execution(failed, call(1, "pick", "red block"))
    assert not TraceMonitor().check(subgoal(), other, Observation()).ok
    synonym = execution(failed, call(1, "pick", "the purple cube"))
    assert TraceMonitor().check(subgoal(), synonym, Observation()).ok


def test_trace_terminal_error_wins_and_lists_earlier_failures():
    ex = execution(call(0, "pick", "red block", error=GraspMissed, category=FailureCategory.GRASP_MISSED),
                   call(1, "place_on", "blue block", error=ObjectDropped, category=FailureCategory.DROPPED),
                   status=ExecutionStatus.ERROR, error_type="ObjectDropped", line=2,
                   category=FailureCategory.DROPPED, error="ObjectDropped: nothing held")
    v = TraceMonitor().check(subgoal(), ex, Observation())
    assert v.category is FailureCategory.DROPPED and v.failed_call == 1
    assert [e["name"] for e in v.evidence.earlier_failures] == ["pick"]


# --- GeometricMonitor -----------------------------------------------------------------------

PICK_PLACE = (call(0, "pick", "red block", line=1), call(1, "place_on", "blue block", line=2), call(2, "home", line=3))


def test_detected_boxes_are_axis_aligned_like_ground_truth():
    turned = SceneObject("red block", "red", "cube", (0.5, 0.0, 0.02), (0.04, 0.04, 0.04), yaw=math.pi / 4)
    assert box_of(turned).size[0] == pytest.approx(0.04 * math.sqrt(2))
    tray = SceneObject("gray tray", "gray", "tray", (0.55, 0.16, 0.02), (0.18, 0.18, 0.04), yaw=math.pi / 4)
    in_tray = box_of(turned, frame=tray)
    assert box_of(tray, frame=tray).size[0] == pytest.approx(0.18)  # exact in its own frame
    assert in_tray.size[0] == pytest.approx(0.04)  # turned with the tray: square again


def test_geometric_inside_a_turned_tray_is_judged_in_its_frame():
    """A tray turned 45 degrees: a block in its corner is inside; a block beside it, within its
    world-axis-aligned bounding box but off the tray, is not."""
    tray = SceneObject("gray tray", "gray", "tray", (0.55, 0.16, 0.02), (0.18, 0.18, 0.04), yaw=math.pi / 4)
    ex = execution(call(0, "pick", "red block"), call(1, "place_on", "gray tray"))
    sg = subgoal("inside(red block, gray tray)")
    in_corner = SceneObject("red block", "red", "cube", (0.55 + 0.085, 0.16, 0.028), CUBE, yaw=math.pi / 4)
    assert GeometricMonitor().check(sg, ex, Observation(objects=[tray, in_corner])).ok
    beside = SceneObject("red block", "red", "cube", (0.65, 0.26, 0.028), CUBE, yaw=math.pi / 4)
    v = GeometricMonitor().check(sg, ex, Observation(objects=[tray, beside]))
    assert not v.ok and v.category is FailureCategory.WRONG_PLACE


def test_geometric_no_conditions():
    v = GeometricMonitor().check(Subgoal("look around"), execution(), Observation())
    assert v.ok and v.why == "no conditions to check"


def test_geometric_on_holds_with_a_few_mm_of_noise():
    obs = Observation(objects=[cube("blue block", 0.5, 0.0), cube("red block", 0.508, -0.006, 0.0635)])
    v = GeometricMonitor().check(subgoal("on(red cube, blue block)"), execution(*PICK_PLACE), obs)
    assert v.ok and v.monitor == "geometric", v.why


def test_geometric_not_found_localises_the_last_call_on_it():
    obs = Observation(objects=[cube("blue block", 0.5, 0.0)])
    v = GeometricMonitor().check(subgoal("on(red block, blue block)"), execution(*PICK_PLACE), obs)
    assert not v.ok and v.category is FailureCategory.NOT_FOUND
    assert v.failed_call == 1 and v.primitive == "place_on"  # placing it while held concerns it too
    assert "not visible" in v.why


def test_geometric_still_held_is_wrong_place():
    obs = Observation(objects=[cube("blue block", 0.5, 0.0), cube("red block", 0.5, 0.0, 0.2)],
                      gripper={"holding": "red block", "position": [0.5, 0.0, 0.2]})
    ex = execution(call(0, "pick", "red block"), call(1, "move_to", 0.5, 0.0, 0.2))
    v = GeometricMonitor().check(subgoal("on(red block, blue block)"), ex, obs)
    assert not v.ok and v.category is FailureCategory.WRONG_PLACE and "never released" in v.why
    assert v.evidence.holding == "red block" and v.evidence.boxes["red block"]["grasped"] is True


def test_geometric_held_but_invisible_object_gets_a_box_at_the_gripper():
    obs = Observation(objects=[cube("blue block", 0.5, 0.0)],
                      gripper={"holding": "white block", "position": [0.45, 0.1, 0.25]})
    v = GeometricMonitor().check(subgoal("grasped(white block)"), execution(call(0, "pick", "white block")), obs)
    assert v.ok


def test_geometric_dropped_when_picked_and_never_put_down():
    obs = Observation(objects=[cube("blue block", 0.5, 0.0), cube("red block", 0.42, 0.12)])
    ex = execution(call(0, "pick", "red block"), call(1, "home"))
    v = GeometricMonitor().check(subgoal("on(red block, blue block)"), ex, obs)
    assert not v.ok and v.category is FailureCategory.DROPPED
    assert v.failed_call == 0 and v.primitive == "pick"


def test_geometric_dropped_when_the_place_call_failed():
    obs = Observation(objects=[cube("blue block", 0.5, 0.0), cube("red block", 0.42, 0.12)])
    ex = execution(call(0, "pick", "red block"),
                   call(1, "place_on", "blue block", error=ObjectDropped, category=FailureCategory.DROPPED))
    v = GeometricMonitor().check(subgoal("on(red block, blue block)"), ex, obs)
    assert v.category is FailureCategory.DROPPED and v.failed_call == 1 and v.primitive == "place_on"


def test_geometric_wrong_place_after_a_successful_place():
    obs = Observation(objects=[cube("blue block", 0.5, 0.0), cube("red block", 0.5, 0.06)])
    v = GeometricMonitor().check(subgoal("on(red block, blue block)"), execution(*PICK_PLACE), obs)
    assert not v.ok and v.category is FailureCategory.WRONG_PLACE
    assert (v.failed_call, v.failed_line, v.primitive) == (1, 2, "place_on")
    assert v.evidence.condition == "on(red block, blue block)"
    assert set(v.evidence.boxes) == {"red block", "blue block"} and "is not on" in v.evidence.explanation


def test_geometric_synonyms_in_condition_and_calls():
    obs = Observation(objects=[cube("blue block", 0.5, 0.0), cube("red block", 0.5, 0.06)])
    ex = execution(call(0, "pick", "the red cube"), call(1, "place_on", "blue box"))
    v = GeometricMonitor().check(subgoal("on(red cube, blue block)"), ex, obs)
    assert v.category is FailureCategory.WRONG_PLACE and v.failed_call == 1


def test_geometric_place_at_after_pick_concerns_the_held_object():
    obs = Observation(objects=[cube("red block", 0.5, 0.06)])
    ex = execution(call(0, "pick", "red block"), call(1, "place_at", 0.40, 0.10))
    v = GeometricMonitor().check(subgoal("at(red block, x=0.4, y=0.1)"), ex, obs)
    assert v.category is FailureCategory.WRONG_PLACE and v.primitive == "place_at" and v.failed_call == 1


def test_geometric_obstructed_target_is_collision():
    obs = Observation(objects=[cube("blue block", 0.5, 0.0), cube("green block", 0.5, 0.0, 0.06),
                               cube("red block", 0.55, 0.07)])
    v = GeometricMonitor().check(subgoal("on(red block, blue block)"), execution(*PICK_PLACE), obs)
    assert v.category is FailureCategory.COLLISION and "green block" in v.why and v.primitive == "place_on"


def test_geometric_calls_on_other_objects_are_not_blamed():
    """A failed pick of a purple block says nothing about the red block (no fuzzy name match)."""
    obs = Observation(objects=[cube("blue block", 0.5, 0.0), cube("red block", 0.4, 0.15)])
    ex = execution(call(0, "pick", "purple block", error=GraspMissed, category=FailureCategory.NOT_FOUND),
                   call(1, "home"))
    v = GeometricMonitor().check(subgoal("on(red block, blue block)"), ex, obs)
    assert v.category is FailureCategory.WRONG_PLACE and v.failed_call is None


def test_geometric_grasped_fails_after_failed_pick_or_slip():
    obs = Observation(objects=[cube("red block", 0.5, 0.0)], gripper={"holding": None})
    missed = execution(call(0, "pick", "red block", error=GraspMissed, category=FailureCategory.GRASP_MISSED))
    v = GeometricMonitor().check(subgoal("grasped(red block)"), missed, obs)
    assert v.category is FailureCategory.GRASP_MISSED and v.failed_call == 0
    slipped = GeometricMonitor().check(subgoal("grasped(red block)"), execution(call(0, "pick", "red block")), obs)
    assert slipped.category is FailureCategory.DROPPED


def test_geometric_inside_container():
    bowl = cube("yellow bowl", 0.6, 0.15, 0.025, shape="bowl", size=(0.14, 0.14, 0.05))
    inside = Observation(objects=[bowl, cube("yellow block", 0.61, 0.14, 0.028)])
    assert GeometricMonitor().check(subgoal("inside(yellow block, yellow bowl)"), execution(), inside).ok
    outside = Observation(objects=[bowl, cube("yellow block", 0.45, 0.14)])
    v = GeometricMonitor().check(subgoal("inside(yellow block, yellow bowl)"),
                                 execution(call(0, "pick", "yellow block"), call(1, "place_on", "yellow bowl")),
                                 outside)
    assert v.category is FailureCategory.WRONG_PLACE


def test_geometric_moved_uses_the_start_pose_from_the_subgoal():
    obs = Observation(objects=[cube("cyan cylinder", 0.5, 0.1, 0.025, shape="cylinder")])
    ok = subgoal("moved(cyan cylinder, dy=0.1)", object="cyan cylinder", start=[0.5, 0.0, 0.025])
    assert GeometricMonitor().check(ok, execution(call(0, "push", "cyan cylinder", 0.0, 0.1)), obs).ok
    short = subgoal("moved(cyan cylinder, dy=0.2)", object="cyan cylinder", start=[0.5, 0.0, 0.025])
    v = GeometricMonitor().check(short, execution(call(0, "push", "cyan cylinder", 0.0, 0.2)), obs)
    assert v.category is FailureCategory.WRONG_PLACE and v.primitive == "push"
    unchecked = GeometricMonitor().check(subgoal("moved(cyan cylinder, dy=0.1)"), execution(), obs)
    assert unchecked.ok and unchecked.evidence.conditions[0]["holds"] is None


def test_geometric_reports_the_first_failing_condition_and_all_results():
    obs = Observation(objects=[cube("blue block", 0.5, 0.0), cube("red block", 0.5, 0.0, 0.06)])
    sg = subgoal("on(red block, blue block)", "left_of(red block, blue block)")
    v = GeometricMonitor().check(sg, execution(*PICK_PLACE), obs)
    assert not v.ok and v.evidence.condition == "left_of(red block, blue block)"
    assert [r["holds"] for r in v.evidence.conditions] == [True, False]


def test_geometric_monitor_on_rendered_pixels():
    """on(red, blue) from a real render: true when stacked, false when side by side."""
    detector, monitor = RGBDDetector(), GeometricMonitor()
    sg = subgoal("on(red block, blue block)")
    with Scene.create() as stacked:
        stacked.add("cube", "blue", (0.5, 0.0))
        stacked.add("cube", "red", (0.506, 0.004), z_bottom=0.04, yaw=0.4)
        images, cameras = stacked.render()
        obs = Observation(objects=detector.detect(images, cameras), images=images, cameras=cameras)
    assert monitor.check(sg, execution(*PICK_PLACE), obs).ok
    with Scene.create() as apart:
        apart.add("cube", "blue", (0.5, 0.0))
        apart.add("cube", "red", (0.5, 0.07), yaw=0.4)
        images, cameras = apart.render()
        obs = Observation(objects=detector.detect(images, cameras), images=images, cameras=cameras)
    v = monitor.check(sg, execution(*PICK_PLACE), obs)
    assert not v.ok and v.category is FailureCategory.WRONG_PLACE and v.primitive == "place_on"
