"""CategoryRepairer: a new policy version chosen by the failure category, never by message text.

Each category has one kind of repair, rendered from the same templates as the original policy
(:class:`planners.rule.writer.TemplateWriter`) with different :class:`PolicyOptions`, and a cap
on attempts; past the cap, or when nothing new can be tried, it returns None and the agent
replans. Repairs vary with the attempt number (grasp offsets, speeds), so retries differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from embodied.primitives import PrimitiveSet
from embodied.types import Execution, FailureCategory, Observation, Policy, Subgoal, Verdict
from perception.monitors import GeometricEvidence
from planners.rule.scene import Scene, Thing, Workspace
from planners.rule.writer import PolicyOptions, TemplateWriter, num

# Grasp offset directions by attempt: the first retry re-grasps at the centre, later ones
# walk around it. Metres.
GRASP_STEP = 0.008
_SPIRAL = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0), (1.0, 1.0), (-1.0, -1.0))
DEFAULT_LIMITS = {
    FailureCategory.GRASP_MISSED: 4,
    FailureCategory.DROPPED: 3,
    FailureCategory.WRONG_PLACE: 3,
    FailureCategory.COLLISION: 2,
    FailureCategory.NOT_FOUND: 2,
    FailureCategory.UNREACHABLE: 1,
    FailureCategory.TIMEOUT: 2,
    FailureCategory.EXCEPTION: 2,
    FailureCategory.UNKNOWN: 1,
}
PUSH_REACH = 0.15  # metres beyond the workspace edge from which a push can bring an object back


@dataclass
class _Case:
    subgoal: Subgoal
    policy: Policy
    execution: Execution
    verdict: Verdict
    scene: Scene
    attempt: int  # 1 for the first repair of this subgoal's policy


def _slower(attempt: int) -> float:
    return max(0.25, round(0.6 - 0.1 * attempt, 2))


class CategoryRepairer:
    """Repairer backend "rule". ``limits`` caps the repairs per failure category."""

    def __init__(self, writer: TemplateWriter | None = None, limits: dict[FailureCategory, int] | None = None,
                 workspace: Workspace | None = None) -> None:
        self.writer = writer or TemplateWriter()
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.workspace = workspace or Workspace()
        self._repairs: dict[FailureCategory, Callable[[_Case], tuple[PolicyOptions, str] | None]] = {
            FailureCategory.GRASP_MISSED: self._grasp_missed,
            FailureCategory.DROPPED: self._dropped,
            FailureCategory.WRONG_PLACE: self._wrong_place,
            FailureCategory.COLLISION: self._collision,
            FailureCategory.NOT_FOUND: self._not_found,
            FailureCategory.UNREACHABLE: self._unreachable,
            FailureCategory.TIMEOUT: self._regenerate,
            FailureCategory.EXCEPTION: self._regenerate,
            FailureCategory.UNKNOWN: self._unknown,
        }

    def repair(self, subgoal: Subgoal, policy: Policy, execution: Execution, verdict: Verdict,
               observation: Observation, api: PrimitiveSet) -> Policy | None:
        category = FailureCategory(verdict.category)
        handler = self._repairs.get(category)
        attempt = policy.version + 1
        if handler is None or attempt > self.limits.get(category, 0) or subgoal.action not in self.writer.actions():
            return None
        case = _Case(subgoal, policy, execution, verdict, Scene(observation, self.workspace), attempt)
        planned = handler(case)
        if planned is None:
            return None
        options, what = planned
        where = f" at line {verdict.failed_line}" if verdict.failed_line else ""
        why = " ".join((verdict.why or str(category)).split())
        options.header = [f"repair {attempt} ({category}): {why}{where}", f"so: {what}"]
        source = self.writer.render(subgoal, options, api)
        if _body(source) == _body(policy.source):
            return None
        return Policy(source=source, subgoal_index=policy.subgoal_index, version=policy.version + 1,
                      origin=f"repair:{category}", parent_version=policy.version)

    # ------------------------------------------------------------------------------- categories

    def _grasp_missed(self, case: _Case) -> tuple[PolicyOptions, str] | None:
        obj = self._object(case)
        if obj is None:
            return self._not_found(case)
        ux, uy = _SPIRAL[(case.attempt - 1) % len(_SPIRAL)]
        scale = GRASP_STEP * (1 + (case.attempt - 1) // len(_SPIRAL))
        dx, dy = ux * scale, uy * scale
        speed = _slower(case.attempt)
        options = PolicyOptions(speed=speed, pick_dx=round(dx, 4), pick_dy=round(dy, 4), redetect=True)
        return options, (f"detect the {obj.name} again and grasp it at {speed:.0%} speed, offset "
                         f"({num(dx)}, {num(dy)}) m from its detected centre")

    def _dropped(self, case: _Case) -> tuple[PolicyOptions, str] | None:
        obj = self._object(case)
        if obj is None:
            return self._not_found(case)
        speed = _slower(case.attempt)
        return (PolicyOptions(speed=speed, redetect=True, resume=True),
                f"pick the {obj.name} up again from where it lies now and carry it at {speed:.0%} speed")

    def _wrong_place(self, case: _Case) -> tuple[PolicyOptions, str] | None:
        obj = self._object(case)
        if obj is None:
            return self._not_found(case)
        speed = _slower(case.attempt)
        options = PolicyOptions(speed=speed, redetect=True, resume=True)
        what = f"pick the {obj.name} from where it is and place it again at {speed:.0%} speed"
        aim = self._aim(case)
        if aim is not None and case.subgoal.action in ("place_on", "place_at"):
            ex, ey = obj.position[0] - aim[0], obj.position[1] - aim[1]
            if 0.01 < math.hypot(ex, ey) < 0.05 and case.subgoal.action == "place_on":
                # the place landed off by (ex, ey): aim the opposite way, half as far (a bigger
                # error is no aiming error: the object fell or was knocked away)
                options.place_dx = round(max(-0.02, min(0.02, -ex / 2)), 4)
                options.place_dy = round(max(-0.02, min(0.02, -ey / 2)), 4)
                what += f", correcting the aim by ({num(options.place_dx)}, {num(options.place_dy)}) m"
        if case.subgoal.action == "push":
            options.resume = False
            options.redetect = False
        return options, what

    def _collision(self, case: _Case) -> tuple[PolicyOptions, str] | None:
        obj = self._object(case)
        holding = case.scene.holding
        if holding is not None and obj is not None and holding.name == obj.name:
            return None  # cannot move an obstruction with the object in the gripper: replan instead
        blockers = self._obstructions(case, obj)
        if not blockers:
            if case.attempt > 1:
                return None
            speed = _slower(case.attempt)
            return PolicyOptions(speed=speed, redetect=True, resume=True), f"found no obstruction; retry at {speed:.0%}"
        options = PolicyOptions(redetect=True, resume=False)
        reserved: list[tuple[float, float, float]] = []
        aim = self._aim(case)
        if aim is not None and obj is not None:
            reserved.append((aim[0], aim[1], obj.radius + 0.02))
        moved = []
        for b in blockers:
            spot = case.scene.free_spot(b.radius, near=b.xy, exclude=(b.name,), reserved=reserved)
            if spot is None:
                continue
            reserved.append((spot[0], spot[1], b.radius))
            options.clear_first.append((b.name, spot[0], spot[1]))
            moved.append(f"the {b.name} to ({num(spot[0])}, {num(spot[1])})")
        if not moved:
            return None
        return options, "first move " + ", ".join(moved) + ", then do the subgoal"

    def _not_found(self, case: _Case) -> tuple[PolicyOptions, str] | None:
        if case.attempt > self.limits[FailureCategory.NOT_FOUND]:
            return None
        rename: dict[str, str] = {}
        for key in ("object", "target", "relative_to", "towards"):
            name = case.subgoal.args.get(key)
            if not isinstance(name, str):
                continue
            seen = case.scene.find(name)
            if seen is None:
                return None  # still missing: nothing to repair, the planner must decide
            if seen.name != name:
                rename[name] = seen.name
        for name in case.subgoal.args.get("between", []):
            if case.scene.find(name) is None:
                return None
        what = "go home for a clear view, detect again and retry"
        if rename:
            what += " using the names seen now: " + ", ".join(f"{a} -> {b}" for a, b in rename.items())
        return PolicyOptions(redetect=True, resume=True, rename=rename, speed=_slower(case.attempt)), what

    def _unreachable(self, case: _Case) -> tuple[PolicyOptions, str] | None:
        obj = self._object(case)
        ws = self.workspace
        if obj is None or case.subgoal.action == "push" or case.verdict.primitive != "pick":
            return None  # only an object out of reach can be pushed closer; an unreachable target cannot
        x, y = obj.xy
        cx = min(max(x, ws.x[0] + 0.03), ws.x[1] - 0.03)
        cy = min(max(y, ws.y[0] + 0.03), ws.y[1] - 0.03)
        dx, dy = cx - x, cy - y
        if math.hypot(dx, dy) < 1e-3 or math.hypot(dx, dy) > PUSH_REACH:
            return None  # inside the workspace already (the target spot is the problem), or too far
        options = PolicyOptions(redetect=True, nudge_into_reach=(round(dx, 3), round(dy, 3)), speed=0.5)
        return options, f"push the {obj.name} by ({num(dx)}, {num(dy)}) m into reach, then do the subgoal"

    def _regenerate(self, case: _Case) -> tuple[PolicyOptions, str] | None:
        speed = _slower(case.attempt)
        return (PolicyOptions(speed=speed, resume=True),
                f"regenerate the policy from its template, at {speed:.0%} speed")

    def _unknown(self, case: _Case) -> tuple[PolicyOptions, str] | None:
        return PolicyOptions(speed=0.5, redetect=True, resume=True), "retry once, slower, after detecting again"

    # ------------------------------------------------------------------------------- helpers

    @staticmethod
    def _object(case: _Case) -> Thing | None:
        name = case.subgoal.args.get("object")
        return case.scene.find(name) if isinstance(name, str) else None

    @staticmethod
    def _aim(case: _Case) -> tuple[float, float] | None:
        """Where the subgoal meant to put its object, from the current view; None if unknown."""
        args = case.subgoal.args
        if case.subgoal.action == "place_on":
            target = case.scene.find(str(args.get("target", "")))
            if target is None:
                return None
            return (target.position[0] + float(args.get("dx", 0.0)), target.position[1] + float(args.get("dy", 0.0)))
        if case.subgoal.action == "place_at" and "x" in args:
            return (float(args["x"]), float(args["y"]))
        if case.subgoal.action == "place_at" and "relative_to" in args:
            ref = case.scene.find(str(args["relative_to"]))
            if ref is None or ref.name == args.get("object"):
                return None
            return (ref.position[0] + float(args.get("dx", 0.0)), ref.position[1] + float(args.get("dy", 0.0)))
        return None

    def _obstructions(self, case: _Case, obj: Thing | None) -> list[Thing]:
        """What is in the way: named in the geometric monitor's evidence, else whatever lies on the
        target or on the object to pick, else whatever sits on the spot the object should go to."""
        scene = case.scene
        evidence = case.verdict.evidence
        names = list(evidence.obstructions) if isinstance(evidence, GeometricEvidence) else []
        found = [t for t in (scene.find(n) for n in names) if t is not None]
        skip = {obj.name} if obj is not None else set()
        if not found:
            target = scene.find(str(case.subgoal.args.get("target", ""))) if case.subgoal.action == "place_on" else None
            if target is not None and not target.container:
                found += [t for t in scene.pile_above(target) if t.name not in skip]
            if obj is not None:
                found += [t for t in scene.pile_above(obj) if t not in found]
        if not found and obj is not None:
            aim = self._aim(case)
            if aim is not None:
                found = [t for t in scene.things if t.name not in skip and not t.receptacle and t.graspable
                         and math.dist(t.xy, aim) < t.radius + obj.radius]
        return [t for t in found if t.graspable and t.name not in skip]


def _body(source: str) -> str:
    """The code without comments: two policies that differ only in comments are the same."""
    return "\n".join(line.split("#", 1)[0].rstrip() for line in source.splitlines() if line.split("#", 1)[0].strip())
