"""The tabletop kit: a robot arm picking, placing and pushing objects on a table seen by cameras.

Predicates are judged on object boxes detected in the observation (:mod:`perception.predicates`)
with the geometry that also scores ground truth (:mod:`embodied.geometry`)."""

from __future__ import annotations

from pathlib import Path

from embodied.domain import DomainKit, PredicateResult, PredicateSpec
from embodied.types import Condition, Observation
from perception.monitors import GeometricEvidence, TraceEvidence
from perception.vlm import VlmEvidence
from planners.kits.tabletop.actions import ACTIONS

PREDICATES = (
    PredicateSpec("on", 2, "a rests on b (b may be the table)"),
    PredicateSpec("inside", 2, "a is inside the container b (a bowl or tray)"),
    PredicateSpec("near", 2, "a is within 0.12 m of b"),
    PredicateSpec("left_of", 2, "a is to the robot's left of b (+y)"),
    PredicateSpec("right_of", 2, "a is to the robot's right of b (-y)"),
    PredicateSpec("behind", 2, "a is farther from the robot than b (+x)"),
    PredicateSpec("in_front_of", 2, "a is nearer the robot than b (-x)"),
    PredicateSpec("grasped", 1, "the gripper holds a"),
    PredicateSpec("upright", 1, "a stands on its base"),
    PredicateSpec("at", 1, "a is at the table point (x, y) in metres", {"x": 0.55, "y": 0.10}, ("x", "y")),
    PredicateSpec("moved", 1, "a moved by (dx, dy) metres from where it started", {"dx": 0.10, "dy": 0.0}),
    PredicateSpec("aligned", None, "the objects stand in a straight row"),
)


def evaluate(condition: Condition, observation: Observation) -> PredicateResult:
    """One condition on the detected objects. ``moved`` needs a start pose the observation does
    not carry: it is undecided here (the geometric monitor reads it from the subgoal)."""
    from embodied.geometry import evaluate as judge
    from perception.predicates import MONITOR_TOLERANCES, observation_boxes, resolver

    if condition.predicate == "moved":
        return PredicateResult(None, "moved() needs the start pose")
    boxes = observation_boxes(observation)
    holds, why = judge(condition, boxes, resolver(list(boxes)), MONITOR_TOLERANCES)
    return PredicateResult(bool(holds), why)


KIT = DomainKit(
    name="tabletop",
    summary="a robot arm over a table: pick, place, push objects seen by cameras",
    primitives=("get_objects", "get_pose", "pick", "place_on", "place_at", "move_to", "push", "open_gripper",
                "close_gripper", "holding", "home"),
    predicates=PREDICATES,
    evaluate=evaluate,
    actions=ACTIONS,
    planner="planners.rule:RulePlanner",
    writer="planners.rule:TemplateWriter",
    repairer="planners.rule:CategoryRepairer",
    monitors=("trace", "geometric"),
    evidence={"trace": TraceEvidence, "geometric": GeometricEvidence, "vlm": VlmEvidence},
    folder=Path(__file__).resolve().parent,
)
