"""Keeping a plan executable against the current view; shared by decompose, revise and replan.

- :func:`prune`: drop subgoals that clearly hold already;
- :func:`prepare_head`: empty the gripper of anything the next subgoal does not move, and clear
  what is stacked on the next object to move (or on its target);
- :func:`refresh_slots`: re-choose a container slot that something else took;
- :func:`order_by_dependencies`: rebuild bottom-up (a subgoal after those that move its target).
"""

from __future__ import annotations

import math

from embodied.types import Subgoal
from planners.errors import PlanningError
from planners.rule import subgoals as sg
from planners.rule.scene import STRICT, Scene, Thing


def refresh_slots(subgoals: list[Subgoal], scene: Scene) -> tuple[list[Subgoal], list[str]]:
    """Re-choose the slot of a pending "put X in/on a container or plate" whose planned spot is
    taken now (something fell there, or an earlier slot was not used as planned)."""
    out: list[Subgoal] = []
    notes: list[str] = []
    taken: dict[str, list[tuple[float, float]]] = {}
    for s in subgoals:
        target = scene.find(str(s.args.get("target", ""))) if s.action == "place_on" else None
        item = scene.find(str(s.args.get("object", ""))) if target is not None else None
        if target is None or item is None or not target.receptacle:
            out.append(s)
            continue
        point = (target.position[0] + float(s.args.get("dx", 0.0)), target.position[1] + float(s.args.get("dy", 0.0)))
        others = [t.xy for t in scene.resting_on(target) if t.name != item.name] + taken.get(target.name, [])
        if any(math.dist(point, o) < item.radius * 1.6 for o in others):
            dx, dy = scene.slot(target, item, taken.get(target.name, []))
            new = sg.place_on(item, target, dx, dy, speed=float(s.args.get("speed", 1.0)))
            new.description, new.conditions, new.checkpoints = s.description, s.conditions, s.checkpoints
            notes.append(f"{s.description}: its spot is taken, using ({dx:+.3f}, {dy:+.3f}) from the centre")
            point, s = (target.position[0] + dx, target.position[1] + dy), new
        taken.setdefault(target.name, []).append(point)
        out.append(s)
    return out, notes


def order_by_dependencies(subgoals: list[Subgoal]) -> list[Subgoal]:
    """Stable reorder so that a subgoal that uses an object as its target or reference comes
    after every subgoal that moves that object (a stack is rebuilt bottom-up). Cycles are left
    as they are: the number of passes is bounded."""
    out = list(subgoals)
    for _ in range(len(out)):
        moved = False
        for i, s in enumerate(out):
            refs = set(sg.referenced(s)) - set(sg.moved_objects(s))
            last = max((j for j in range(i + 1, len(out)) if set(sg.moved_objects(out[j])) & refs), default=None)
            if last is not None:
                out.insert(last, out.pop(i))
                moved = True
                break
        if not moved:
            break
    return out


def prune(subgoals: list[Subgoal], scene: Scene) -> tuple[list[Subgoal], list[Subgoal]]:
    """Drop subgoals whose conditions clearly hold (strict tolerances), unless an earlier subgoal
    of the plan moves one of their objects (then they may not hold any more by the time they
    run). Pushes and picks are never "already done": their conditions are about acting."""
    keep: list[Subgoal] = []
    dropped: list[Subgoal] = []
    moved_before: set[str] = set()
    for s in subgoals:
        refs = set(sg.referenced(s))
        relative = any(c.predicate in ("moved", "grasped") for c in s.conditions)  # true only after acting
        done = bool(s.conditions) and not relative and not (refs & moved_before) and all(
            scene.holds(c, tolerances=STRICT) is True for c in s.conditions)
        if done:
            dropped.append(s)
            continue
        keep.append(s)
        moved_before.update(sg.moved_objects(s))
    return keep, dropped


def prepare_head(subgoals: list[Subgoal], scene: Scene) -> tuple[list[Subgoal], list[str]]:
    """Make the first subgoal possible: an object a failed step left in the gripper is put down
    first; whatever is stacked on the object to pick, or on the block to place onto, goes first:
    by its own pending subgoal when that one can run now, else to a free spot nearby."""
    if not subgoals:
        return subgoals, []
    head = subgoals[0]
    held = scene.holding
    if held is not None and head.args.get("object") != held.name:
        # a failed step left something in the gripper: set it down before anything else is picked
        down = _set_aside(held, scene, f"put down the {held.name} (still in the gripper)",
                          f"the gripper holds the {held.name}", [])
        return [down, *subgoals], [f"inserted: {down.description} before {head.description!r}"]
    obj = scene.find(head.args.get("object", "")) if head.args.get("object") else None
    if obj is None:
        return subgoals, []
    pile = scene.pile_above(obj)
    target = scene.find(head.args.get("target", "")) if head.action == "place_on" else None
    if target is not None and not target.receptacle:
        pile += [t for t in scene.pile_above(target) if t.name != obj.name and t not in pile]
    if not pile:
        return subgoals, []
    rest = list(subgoals)
    front: list[Subgoal] = []
    notes: list[str] = []
    blocked = {obj.name} | ({target.name} if target and not target.receptacle else set()) | {t.name for t in pile}
    reserved: list[tuple[float, float, float]] = []
    for top in pile:
        own = next((s for s in rest if sg.moved_objects(s) == [top.name]), None)
        if own is not None and _can_run_now(own, rest, blocked - {top.name}):
            rest.remove(own)
            front.append(own)
            notes.append(f"first {own.description} (it is on top of what {head.description!r} needs)")
            continue
        move = _set_aside(top, scene, f"move the {top.name} out of the way", f"the {top.name} is in the way",
                          reserved)
        front.append(move)
        notes.append(f"inserted: {move.description} (it was on top of what {head.description!r} needs)")
    return front + rest, notes


def _set_aside(thing: Thing, scene: Scene, why: str, problem: str,
               reserved: list[tuple[float, float, float]]) -> Subgoal:
    """A temporary move of ``thing`` to a free spot near it, not on a spot in ``reserved`` (which
    gains the chosen one); ``problem`` starts the error when the table has no free spot."""
    spot = scene.free_spot(thing.radius, near=thing.xy, exclude=(thing.name,), reserved=reserved)
    if spot is None:
        raise PlanningError(f"{problem} and the table has no free spot for it")
    reserved.append((spot[0], spot[1], thing.radius))
    return sg.place_at(thing, *spot, why=why, temporary=True)


def _can_run_now(own: Subgoal, plan: list[Subgoal], blocked: set[str]) -> bool:
    """A pending subgoal may jump the queue when it does not need anything that is blocked or
    that an earlier subgoal still has to move."""
    refs = set(sg.referenced(own)) - set(sg.moved_objects(own))
    if refs & blocked:
        return False
    before = plan[:plan.index(own)]
    moved_earlier = {n for s in before for n in sg.moved_objects(s)}
    return not (refs & moved_earlier)
