"""Checkpoint monitors: what the execution trace says, and what the scene's geometry says.

Both implement :class:`embodied.protocols.Monitor`. A verdict names the failure category (the
repairer keys on it), localises the failed step (index into ``Execution.calls``, its policy line
and primitive) and carries its evidence.

TraceMonitor: the execution's own failures.
  - The policy did not run (syntax error, refused) or ran out of budget (timeout): decisive.
  - The policy ended in an error: the primitive call that raised it (its category: grasp_missed,
    dropped, not_found, unreachable, ...), or the policy line when its own code raised.
  - The policy caught a failed call and carried on: reported when it did not recover, i.e. no
    later call of the same primitive on the same object succeeded (a failed pick retried
    successfully is fine, also as pick("red cube") after pick("red block"); a failed pick followed
    by nothing is not). Listed first in a hybrid monitor, this verdict wins over the scene's;
    ``report_caught=False`` ignores caught failures and leaves the judgement to the geometric
    monitor.

GeometricMonitor: every condition of the subgoal on boxes estimated from the checkpoint's
detected objects (:mod:`perception.predicates`), with :func:`embodied.geometry.evaluate`, the code
that scores ground truth. A failure is classified from the evidence:
  - an object the condition names is not visible -> not_found;
  - the moved object is still held -> wrong_place (never released);
  - grasped(x) fails -> dropped if x was picked successfully, else grasp_missed;
  - on/inside(x, target) fails and something else occupies the target -> collision (obstruction);
  - x is not where it should be: wrong_place if a place/push call on it succeeded, dropped if it
    was picked and never put down, the pick's category if the pick failed;
  - upright(x) fails -> dropped if it fell from the gripper, else collision (knocked over).
``moved(x, dx, dy)`` needs the start pose: planners put it in ``subgoal.args["start"]`` next to
``args["object"]``; without it the condition is reported as not checked (and does not fail).
The failed step is the last call that concerns the object: one naming it, or a place call while
it was held (``place_at(x, y)`` after ``pick("red block")`` concerns the red block).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from embodied import naming
from embodied.geometry import CONTAINERS, Box, Tolerances, evaluate, on
from embodied.types import (
    Condition,
    Evidence,
    Execution,
    ExecutionStatus,
    FailureCategory,
    Observation,
    PrimitiveCall,
    Subgoal,
    Verdict,
)
from perception.config import MOVE_PRIMITIVES, PICK_PRIMITIVES, RELEASE_PRIMITIVES
from perception.predicates import (
    MONITOR_TOLERANCES,
    SUPPORT_PREDICATES,
    held_name,
    observation_boxes,
    resolver,
    start_boxes,
)

TABLE_WORDS = ("table", "the table")
MAX_WHY = 200


def _one_line(text: str | None, limit: int = MAX_WHY) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _call_text(call: PrimitiveCall) -> str:
    parts = [repr(a) for a in call.args] + [f"{k}={v!r}" for k, v in call.kwargs.items()]
    return f"{call.name}({', '.join(parts)})"


@dataclass
class TraceEvidence(Evidence):
    """What the trace monitor writes. ``call``: the failed call it localised (index, name, args,
    kwargs, line, error_type, error, category); ``caught``: whether the policy caught that failure
    and went on; ``failed_calls``/``earlier_failures``: the other failed calls."""

    status: str = ""
    error_type: str | None = None
    error: str | None = None
    call: dict[str, Any] | None = None
    caught: bool | None = None
    calls: int = 0
    failed_calls: list[dict[str, Any]] = field(default_factory=list)
    earlier_failures: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class GeometricEvidence(Evidence):
    """What the geometric monitor writes: the failed ``condition`` and why, the boxes of the objects
    it names (``position``/``size`` in metres, ``shape``, ``grasped``), the name of the object the
    gripper holds, every condition's result, which tracked object each name was judged on, and the
    call the failure was localised to."""

    condition: str = ""
    explanation: str = ""
    boxes: dict[str, dict[str, Any]] = field(default_factory=dict)
    holding: str | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    obstructions: list[str] = field(default_factory=list)  # what occupies the target of a failed on/inside
    objects: dict[str, str | None] = field(default_factory=dict)  # each name in the subgoal -> the object judged
    call: dict[str, Any] | None = None


def _call_evidence(call: PrimitiveCall) -> dict[str, Any]:
    return {"index": call.index, "name": call.name, "args": list(call.args), "kwargs": dict(call.kwargs),
            "line": call.line, "error_type": call.error_type, "error": call.error, "category": call.category}


# ---------------------------------------------------------------------------------------------


class TraceMonitor:
    """Failures the execution itself reports (see the module docstring)."""

    name = "trace"

    def __init__(self, *, report_caught: bool = True) -> None:
        self.report_caught = report_caught

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        status = execution.status
        if status in (ExecutionStatus.SYNTAX_ERROR, ExecutionStatus.REFUSED):
            return Verdict(False, self.name, _category(execution.category, FailureCategory.EXCEPTION),
                           why=f"the policy did not run ({status}): {_one_line(execution.error)}",
                           failed_line=execution.line,
                           evidence=TraceEvidence(status=str(status), error_type=execution.error_type,
                                                  error=execution.error))
        failed = [c for c in execution.calls if not c.ok]
        if status is ExecutionStatus.TIMEOUT:
            last = execution.calls[-1] if execution.calls else None
            return Verdict(False, self.name, FailureCategory.TIMEOUT,
                           why=f"the policy ran out of its budget: {_one_line(execution.error)}",
                           failed_call=last.index if last else None,
                           failed_line=execution.line if execution.line is not None else (last.line if last else None),
                           primitive=last.name if last else None,
                           evidence=TraceEvidence(status=str(status), error=execution.error,
                                                  call=_call_evidence(last) if last else None,
                                                  failed_calls=[_call_evidence(c) for c in failed]))
        if status is ExecutionStatus.ERROR:
            return self._ended_in_error(execution, failed)
        unrecovered = [c for c in failed if not _recovered(c, execution.calls)]
        if self.report_caught and unrecovered:
            call = unrecovered[0]
            return Verdict(False, self.name, _category(call.category, FailureCategory.EXCEPTION),
                           why=(f"call {call.index} {_call_text(call)} at line {call.line} failed ({call.category}) "
                                f"and the policy went on without recovering: {_one_line(call.error)}"),
                           failed_call=call.index, failed_line=call.line, primitive=call.name,
                           evidence=TraceEvidence(status=str(status), call=_call_evidence(call), caught=True,
                                                  failed_calls=[_call_evidence(c) for c in failed]))
        why = "no primitive failed" if not failed else f"{len(failed)} failed call(s), each recovered by a retry"
        return Verdict(True, self.name, why=why, evidence=TraceEvidence(
            status=str(status), calls=len(execution.calls), failed_calls=[_call_evidence(c) for c in failed]))

    def _ended_in_error(self, execution: Execution, failed: list[PrimitiveCall]) -> Verdict:
        # the call that raised is the last failed one with the execution's error type, and no call
        # ran after it (a primitive error the policy caught is followed by other calls)
        raised = next((c for c in reversed(failed) if c.error_type == execution.error_type
                       and c.index == len(execution.calls) - 1), None)
        earlier = [_call_evidence(c) for c in failed if c is not raised]
        if raised is None:
            return Verdict(False, self.name, _category(execution.category, FailureCategory.EXCEPTION),
                           why=f"the policy raised at line {execution.line}: {_one_line(execution.error)}",
                           failed_line=execution.line,
                           evidence=TraceEvidence(status=str(execution.status), error_type=execution.error_type,
                                                  error=execution.error, earlier_failures=earlier))
        category = _category(raised.category, _category(execution.category, FailureCategory.EXCEPTION))
        return Verdict(False, self.name, category,
                       why=(f"call {raised.index} {_call_text(raised)} at line {raised.line} failed ({category}): "
                            f"{_one_line(raised.error)}"),
                       failed_call=raised.index, failed_line=raised.line, primitive=raised.name,
                       evidence=TraceEvidence(status=str(execution.status), error_type=raised.error_type,
                                              error=raised.error, call=_call_evidence(raised), caught=False,
                                              earlier_failures=earlier))


def _category(value: FailureCategory, fallback: FailureCategory) -> FailureCategory:
    return fallback if value is FailureCategory.NONE else value


def _recovered(call: PrimitiveCall, calls: Sequence[PrimitiveCall]) -> bool:
    """A later successful call of the same primitive on the same object: the first arguments, when
    both are descriptions, have the same canonical words ("red cube" = "red block"); other first
    arguments (coordinates) may differ: a retry elsewhere is a recovery."""
    def target(c: PrimitiveCall) -> str | None:
        first = c.args[0] if c.args else None
        return naming.canonical(first) if isinstance(first, str) else None

    want = target(call)
    return any(c.ok and c.name == call.name and (want is None or target(c) == want) for c in calls[call.index + 1:])


# ---------------------------------------------------------------------------------------------


@dataclass
class _CallRoles:
    """Which object each call concerns, tracking what the gripper holds through the trace."""

    concerns: list[set[str]] = field(default_factory=list)
    picks: list[bool] = field(default_factory=list)
    places: list[bool] = field(default_factory=list)


class GeometricMonitor:
    """Subgoal conditions on object poses estimated from images (see the module docstring).

    Keyword options: the :class:`~embodied.geometry.Tolerances` fields (metres; defaults in
    ``perception.predicates.MONITOR_TOLERANCES``), ``min_confidence`` (ignore detections below
    it), and the primitive names that pick, that release the held object, and that move a named
    object without holding it (they tie calls to objects; see the module docstring).
    """

    name = "geometric"

    def __init__(self, *, contact_z: float = MONITOR_TOLERANCES.contact_z,
                 xy_margin: float = MONITOR_TOLERANCES.xy_margin, relation: float = MONITOR_TOLERANCES.relation,
                 near: float = MONITOR_TOLERANCES.near, at: float = MONITOR_TOLERANCES.at,
                 aligned: float = MONITOR_TOLERANCES.aligned, min_confidence: float = 0.0,
                 pick_primitives: Sequence[str] = PICK_PRIMITIVES,
                 release_primitives: Sequence[str] = RELEASE_PRIMITIVES,
                 move_primitives: Sequence[str] = MOVE_PRIMITIVES) -> None:
        self.tolerances = Tolerances(contact_z=contact_z, xy_margin=xy_margin, relation=relation, near=near, at=at,
                                     aligned=aligned)
        self.min_confidence = min_confidence
        self.pick_primitives = tuple(pick_primitives)
        self.release_primitives = tuple(release_primitives)
        self.move_primitives = tuple(move_primitives)

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        if not subgoal.conditions:
            return Verdict(True, self.name, why="no conditions to check", evidence=GeometricEvidence())
        boxes = observation_boxes(observation, self.min_confidence)
        resolve = resolver(list(boxes))
        start = start_boxes(subgoal, boxes)
        results: list[dict[str, Any]] = []
        first_failure: tuple[Condition, str] | None = None
        for cond in subgoal.conditions:
            if cond.predicate == "moved" and not start:
                results.append({"condition": str(cond), "holds": None, "why": "no start pose: not checked"})
                continue
            holds, why = evaluate(cond, self._view(cond, observation, boxes, resolve), resolve, self.tolerances,
                                  start or None, world=boxes)
            results.append({"condition": str(cond), "holds": holds, "why": why})
            if not holds and first_failure is None:
                first_failure = (cond, why)
        # Which tracked object each description of the subgoal names (identities survive a move
        # and a relabel; see perception.tracking), so the evidence says which object was judged.
        meant = {a: resolve(a) for c in subgoal.conditions for a in c.args if a.strip().lower() not in TABLE_WORDS}
        if first_failure is None:
            checked = [r for r in results if r["holds"] is not None]
            why = "; ".join(r["why"] for r in checked) or "no condition could be checked"
            named = ", ".join(f"{a!r} = {k}" for a, k in meant.items() if k and k != a)
            if named:
                why = f"{why} (judged on {named})"
            return Verdict(True, self.name, why=_one_line(why, 2 * MAX_WHY),
                           evidence=GeometricEvidence(conditions=results, objects=meant))
        cond, explanation = first_failure
        held = held_name(observation, list(boxes))
        key_of = self._keys(boxes, cond)
        roles = self._roles(execution.calls, key_of)
        category, subject, reason = self._classify(cond, self._view(cond, observation, boxes, resolve), resolve,
                                                   execution.calls, roles, key_of)
        call = self._localise(category, subject, execution.calls, roles)
        obstructions: list[str] = []
        if category is FailureCategory.COLLISION and cond.predicate in ("on", "inside") and len(cond.args) == 2:
            view = self._view(cond, observation, boxes, resolve)
            subject_key, target_key = resolve(cond.args[0]), resolve(cond.args[1])
            if subject_key in view and target_key in view:
                obstructions = self._blockers(view[subject_key], view[target_key], view)
        involved = {k: _box_evidence(boxes[k]) for k in (resolve(a) for a in cond.args
                                                          if a.strip().lower() not in TABLE_WORDS) if k in boxes}
        return Verdict(False, self.name, category, why=_one_line(f"{cond}: {explanation}; {reason}"),
                       failed_call=call.index if call else None, failed_line=call.line if call else None,
                       primitive=call.name if call else None,
                       evidence=GeometricEvidence(condition=str(cond), explanation=explanation, boxes=involved,
                                                  holding=held, conditions=results, obstructions=obstructions,
                                                  objects=meant, call=_call_evidence(call) if call else None))

    def _view(self, cond: Condition, observation: Observation, boxes: dict[str, Box],
              resolve: Callable[[str], str | None]) -> dict[str, Box]:
        """The boxes a condition is judged on: for on/inside, in the support's yaw frame (as
        ground truth does), so a turned plate or tray is exact; otherwise in the world frame."""
        if cond.predicate in SUPPORT_PREDICATES and len(cond.args) == 2:
            support = resolve(cond.args[1])
            if support is not None and support in boxes:
                return observation_boxes(observation, self.min_confidence, frame=support)
        return boxes

    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _keys(boxes: dict[str, Box], cond: Condition) -> Callable[[str], str | None]:
        """Map any description (a call argument, a condition argument) to one key, so that
        "the red cube" in a call and "red block" in a condition land on the same object."""
        universe = list(boxes)
        for arg in cond.args:  # a missing object still needs a key; synonyms of a seen one do not
            seen = {naming.canonical(n) for n in universe}
            if arg.strip().lower() not in TABLE_WORDS and naming.canonical(arg) not in seen:
                universe.append(arg)
        return lambda text: strict_match(text, universe)

    def _roles(self, calls: Sequence[PrimitiveCall], key_of: Callable[[str], str | None]) -> _CallRoles:
        roles = _CallRoles()
        held: str | None = None
        for call in calls:
            texts = [a for a in [*call.args, *call.kwargs.values()] if isinstance(a, str)]
            named = [k for k in (key_of(t) for t in texts) if k is not None]
            concerns = set(named)
            is_pick, is_release = call.name in self.pick_primitives, call.name in self.release_primitives
            if is_release and held is not None:
                concerns.add(held)
            if is_pick and call.ok and named:
                held = named[0]
            elif is_release and call.ok:
                held = None
            roles.concerns.append(concerns)
            roles.picks.append(is_pick)
            roles.places.append(is_release or call.name in self.move_primitives)
        return roles

    def _classify(self, cond: Condition, boxes: dict[str, Box], resolve: Callable[[str], str | None],
                  calls: Sequence[PrimitiveCall], roles: _CallRoles,
                  key_of: Callable[[str], str | None]) -> tuple[FailureCategory, str | None, str]:
        """(category, the object the failure is about, a short reason)."""
        for arg in cond.args:
            if arg.strip().lower() in TABLE_WORDS:
                continue
            if resolve(arg) not in boxes:
                return FailureCategory.NOT_FOUND, key_of(arg), f"the {arg} is not visible"
        if not cond.args:
            return FailureCategory.UNKNOWN, None, "the condition names no object"
        subject = resolve(cond.args[0])
        a = boxes[subject]  # type: ignore[index]  # resolved above
        picked, pick_failed, placed = _history(subject, calls, roles)
        if cond.predicate == "grasped":
            if cond.negated:
                return FailureCategory.WRONG_PLACE, subject, f"the {subject} is still held"
            if picked:
                return FailureCategory.DROPPED, subject, f"the {subject} was picked but is no longer held"
            category = pick_failed.category if pick_failed is not None else FailureCategory.GRASP_MISSED
            return _category(category, FailureCategory.GRASP_MISSED), subject, f"the {subject} was not grasped"
        if a.grasped and not cond.negated:
            return FailureCategory.WRONG_PLACE, subject, f"the {subject} is still held: never released"
        if cond.predicate == "upright":
            if picked and not placed:
                return FailureCategory.DROPPED, subject, f"the {subject} fell from the gripper"
            return FailureCategory.COLLISION, subject, f"the {subject} was knocked over"
        if cond.predicate in ("on", "inside") and not cond.negated and len(cond.args) == 2 \
                and cond.args[1].strip().lower() not in TABLE_WORDS:
            target = boxes[resolve(cond.args[1])]  # type: ignore[index]
            blockers = self._blockers(a, target, boxes)
            if blockers:
                return FailureCategory.COLLISION, subject, f"the {target.name} is occupied by the {blockers[0]}"
        if placed:
            return FailureCategory.WRONG_PLACE, subject, f"the {subject} was put down in the wrong place"
        if picked:
            return FailureCategory.DROPPED, subject, f"the {subject} was picked but never put down: it fell"
        if pick_failed is not None:
            return _category(pick_failed.category, FailureCategory.GRASP_MISSED), subject, \
                f"picking the {subject} failed"
        return FailureCategory.WRONG_PLACE, subject, f"the {subject} was not moved there"

    def _blockers(self, a: Box, target: Box, boxes: dict[str, Box]) -> list[str]:
        """Objects other than ``a`` resting on ``target`` (not a container): what occupies it."""
        return [b.name for b in boxes.values()
                if b.name not in (a.name, target.name) and not b.grasped and target.shape not in CONTAINERS
                and on(b, target, self.tolerances)]

    def _localise(self, category: FailureCategory, subject: str | None, calls: Sequence[PrimitiveCall],
                  roles: _CallRoles) -> PrimitiveCall | None:
        """The last call concerning ``subject``; for wrong places and obstructions, the last
        successful place call concerning it (the one that put it there)."""
        if subject is None:
            return None
        mine = [c for c in calls if subject in roles.concerns[c.index]]
        if category in (FailureCategory.WRONG_PLACE, FailureCategory.COLLISION):
            placed = [c for c in mine if roles.places[c.index] and c.ok]
            if placed:
                return placed[-1]
        if category is FailureCategory.GRASP_MISSED:
            picks = [c for c in mine if roles.picks[c.index]]
            if picks:
                return picks[-1]
        return mine[-1] if mine else None


def strict_match(text: str, names: Sequence[str]) -> str | None:
    """The name whose canonical words contain the description's or are contained in them ("red"
    or "the red cube" -> "red block"), best by :func:`embodied.naming.match_score`; None when
    none or a tie. Unlike :func:`embodied.naming.resolve` it never matches on spelling alone, so
    "purple block" is not taken for "red block" when tying calls to objects."""
    query = set(naming.words(text))
    if not query:
        return None
    scored = sorted(((naming.match_score(text, n), n) for n in names
                     if query <= set(naming.words(n)) or set(naming.words(n)) <= query), reverse=True)
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None
    return scored[0][1]


def _history(subject: str | None, calls: Sequence[PrimitiveCall],
             roles: _CallRoles) -> tuple[bool, PrimitiveCall | None, bool]:
    """(picked: the last pick of ``subject`` succeeded, the last failed pick of it if the last pick
    failed, placed: a place call concerning it succeeded after its last successful pick)."""
    picks = [c for c in calls if roles.picks[c.index] and subject in roles.concerns[c.index]]
    last_pick = picks[-1] if picks else None
    picked = last_pick is not None and last_pick.ok
    pick_failed = last_pick if last_pick is not None and not last_pick.ok else None
    after = last_pick.index if picked else -1  # type: ignore[union-attr]
    placed = any(roles.places[c.index] and c.ok and subject in roles.concerns[c.index]
                 for c in calls[after + 1:])
    return picked, pick_failed, placed


def _box_evidence(box: Box) -> dict[str, Any]:
    return {"position": [round(v, 4) for v in box.position], "size": [round(v, 4) for v in box.size],
            "shape": box.shape, "grasped": box.grasped}
