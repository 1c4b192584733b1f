"""RulePlanner: instruction + observation -> plan, and the dynamic part (revise, replan).

Model-free and deterministic. ``decompose`` tokenises and parses the instruction
(:mod:`planners.rule.grammar`), resolves it against the visible objects
(:mod:`planners.rule.semantics`) and orders the movements. ``revise`` runs after each achieved
subgoal: it re-checks what was achieved (a block knocked off a stack is put back), drops what
already holds and clears whatever sits on the next object to move. ``replan`` runs when repairs
ran out: it tries a variant (another spot, another slot, the rest of the plan first) and drops a
subgoal, with whatever depends on it, once it failed ``max_failures`` times, so it always ends.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from embodied.types import Condition, Observation, Plan, Subgoal, SubgoalOutcome
from planners.errors import PlanningError
from planners.rule import subgoals as sg
from planners.rule.grammar import FORMS, Grammar, Intent
from planners.rule.lexicon import Lexicon, tokenise
from planners.rule.scene import Scene, Thing, Workspace
from planners.rule.semantics import Interpreter
from planners.rule.upkeep import order_by_dependencies, prepare_head, prune, refresh_slots

RECHECKED = ("on", "inside", "near", "left_of", "right_of", "behind", "in_front_of", "at", "aligned")


def subgoal_key(subgoal: Subgoal) -> tuple[str, ...]:
    """Identity of a subgoal as planned (same movement, same conditions)."""
    return (subgoal.action, subgoal.description, *(str(c) for c in subgoal.conditions))


def goal_key(subgoal: Subgoal) -> tuple[str, ...]:
    """What a subgoal is about, ignoring spots and offsets: variants of one movement share it."""
    return (subgoal.action, *sg.referenced(subgoal))


def support_cycle(goal: Sequence[Condition]) -> list[str]:
    """Objects that the goal's ``on``/``inside`` conditions stack in a circle (``[a, b, c, a]``:
    a on b, b on c, c on a), which no arrangement satisfies; ``[]`` when there is none."""
    below = {}
    for c in goal:
        if c.predicate in ("on", "inside") and len(c.args) == 2 and not c.negated:
            below.setdefault(c.args[0], set()).add(c.args[1])
    for start in below:
        path, stack = [start], [iter(sorted(below[start]))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                path.pop()
            elif nxt == start:
                return [*path, start]
            elif nxt not in path and nxt in below:
                path.append(nxt)
                stack.append(iter(sorted(below[nxt])))
    return []


class RulePlanner:
    """Grammar-based planner for the tabletop (see the module docstring).

    ``workspace``: where objects may be put, metres. ``max_reinserts``: how often an achieved
    subgoal that was undone is put back into the plan. ``max_failures``: how often a subgoal may
    fail (repairs exhausted) before ``replan`` gives it up.
    """

    def __init__(self, workspace: Workspace | None = None, max_reinserts: int = 2, max_failures: int = 2) -> None:
        self.workspace = workspace or Workspace()
        self.max_reinserts = max_reinserts
        self.max_failures = max_failures
        self.lexicon = Lexicon.default()
        self.grammar = Grammar()

    # ------------------------------------------------------------------------------- decompose

    def decompose(self, instruction: str, observation: Observation) -> Plan:
        scene = Scene(observation, self.workspace)
        read = tokenise(instruction, self.lexicon, scene.names())
        if not read.tokens:
            problem = "the instruction is empty" if not instruction.strip() else \
                f"nothing to do in {instruction!r}: it names no action"
            raise PlanningError(problem, forms=FORMS)
        intents = self.grammar.parse(read.tokens)
        notes = [f"read {typed!r} as {fixed!r}" for typed, fixed in read.corrections]
        return self.plan_intents(instruction, intents, observation, notes)

    def plan_intents(self, instruction: str, intents: list[Intent], observation: Observation,
                     notes: Sequence[str] = ()) -> Plan:
        """The plan for intents read by the grammar or by another reader (a language model, see
        :mod:`planners.llm.reading`): resolved, laid out and ordered the same way. The goal is
        every step's conditions at the end, so steps run in dependency order (what a step puts
        something on or beside is moved first), whatever order the sentence named them in:
        "red on green, then green on blue" builds from the bottom instead of moving red out of
        the way and back."""
        scene = Scene(observation, self.workspace)
        interpreter = Interpreter(scene)
        subgoals = interpreter.interpret(intents)
        goal = [c for s in subgoals for c in s.conditions]  # before pruning what already holds
        cycle = support_cycle(goal)
        if cycle:
            chain = ", ".join(f"{a} on {b}" for a, b in itertools.pairwise(cycle))
            raise PlanningError(f"the steps put {chain}: {cycle[0]} would end up under itself. Name each "
                                "object once, in one order from the bottom up", forms=FORMS)
        notes = [*notes, *interpreter.ctx.notes]
        ordered = order_by_dependencies(subgoals)
        if any(a is not b for a, b in zip(ordered, subgoals, strict=True)):
            notes.append("reordered bottom-up: " + "; ".join(s.description for s in ordered))
        subgoals, dropped = prune(ordered, scene)
        if dropped:
            notes.append("already true: " + "; ".join(s.description for s in dropped))
        subgoals, cleared = prepare_head(subgoals, scene)
        notes += cleared
        if not subgoals:
            notes.append("nothing to do: the instruction already holds")
        return Plan(instruction, subgoals, 0, "; ".join(notes), goal)

    # ------------------------------------------------------------------------------- revise

    def revise(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        """``plan.subgoals`` are the remaining ones (the subgoal just achieved is ``history[-1]``;
        if it is still at the head of the plan it is taken off)."""
        scene = Scene(observation, self.workspace)
        remaining = list(plan.subgoals)
        if history and remaining and history[-1].ok and subgoal_key(remaining[0]) == subgoal_key(history[-1].subgoal):
            remaining = remaining[1:]
        notes: list[str] = []
        knocked, displaced = self._undone(history, remaining, scene, notes)
        new = order_by_dependencies(knocked + remaining + displaced)
        new, dropped = prune(new, scene)
        if dropped:
            notes.append("already true: " + "; ".join(s.description for s in dropped))
        new, cleared = prepare_head(new, scene)
        notes += cleared
        new, moved = refresh_slots(new, scene)
        notes += moved
        changed = [subgoal_key(s) for s in new] != [subgoal_key(s) for s in plan.subgoals]
        if not changed:
            return Plan(plan.instruction, new, plan.revision, "; ".join(notes) or plan.note)
        return Plan(plan.instruction, new, plan.revision + 1, "; ".join(notes) or "took off the achieved subgoal")

    def _undone(self, history: Sequence[SubgoalOutcome], remaining: list[Subgoal], scene: Scene,
                notes: list[str]) -> tuple[list[Subgoal], list[Subgoal]]:
        """Achieved subgoals whose conditions no longer hold, split in two: knocked (something
        undid them: redo first, the rest may build on them) and displaced (the planner moved the
        object out of someone's way: redo last, after whatever needed the space). What a later
        subgoal undid on purpose is not redone; neither is anything undone too often."""
        pending = {subgoal_key(s) for s in remaining}
        knocked: list[Subgoal] = []
        displaced: list[Subgoal] = []
        seen: set[tuple[str, ...]] = set()
        for i in range(len(history) - 1, -1, -1):
            outcome = history[i]
            s = outcome.subgoal
            key = subgoal_key(s)
            if not outcome.ok or key in seen or key in pending or s.args.get("temporary"):
                continue
            seen.add(key)
            later = [o.subgoal for o in history[i + 1:] if o.ok]
            refs = set(sg.referenced(s))
            if any(refs & set(sg.moved_objects(o)) for o in later if not o.args.get("temporary")):
                continue  # moved again on purpose since (e.g. into its next place)
            conds = [c for c in s.conditions if c.predicate in RECHECKED]
            if not conds or not any(scene.holds(c) is False for c in conds):
                continue
            times = sum(1 for o in history if o.ok and subgoal_key(o.subgoal) == key)
            if times > self.max_reinserts:
                notes.append(f"gave up re-doing {s.description!r} (undone {times} times)")
                continue
            if any(set(sg.moved_objects(s)) & set(sg.moved_objects(o)) for o in later if o.args.get("temporary")):
                displaced.insert(0, s)
            else:
                knocked.insert(0, s)
        if knocked or displaced:
            notes.append("undone, doing again: " + "; ".join(s.description for s in knocked + displaced))
        return knocked, displaced

    # ------------------------------------------------------------------------------- replan

    def replan(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        """After repairs ran out on ``history[-1]`` (normally also ``plan.subgoals[0]``)."""
        scene = Scene(observation, self.workspace)
        remaining = list(plan.subgoals)
        if history and not history[-1].ok:
            failed = history[-1].subgoal
        elif remaining:
            failed = remaining[0]
        else:
            return Plan(plan.instruction, [], plan.revision + 1, "nothing left to replan")
        if remaining and subgoal_key(remaining[0]) == subgoal_key(failed):
            remaining = remaining[1:]
        fails = sum(1 for o in history if not o.ok and goal_key(o.subgoal) == goal_key(failed))
        notes: list[str] = []
        obj = scene.find(failed.args.get("object", "")) if failed.args.get("object") else None
        missing = [n for n in sg.referenced(failed) if scene.find(n) is None]
        if missing and fails < self.max_failures:
            # not seen in this one view (occluded, or a detection flicker): the rest first
            notes.append(f"{', '.join(missing)} not visible now: doing the rest first, then "
                         f"{failed.description!r} again")
            new = [*remaining, failed]
        elif missing or fails >= self.max_failures or obj is None:
            reason = (f"{', '.join(missing)} not visible" if missing else
                      f"failed {fails} times" if fails >= self.max_failures else "unknown object")
            dependents = self._dependents(failed, remaining)
            remaining = [s for s in remaining if s not in dependents]
            notes.append(f"gave up {failed.description!r} ({reason})")
            if dependents:
                notes.append("and what depends on it: " + "; ".join(s.description for s in dependents))
            new = remaining
        else:
            variant = self._variant(failed, obj, scene, fails)
            if variant is not failed:
                notes.append(f"trying another way: {variant.description}")
            if self._dependents(failed, remaining) or not remaining:
                new = [variant, *remaining]
            else:
                new = [*remaining, variant]
                notes.append(f"doing the rest first, then {variant.description!r} again")
        knocked, displaced = self._undone(history, new, scene, notes)
        new, dropped = prune(order_by_dependencies(knocked + new + displaced), scene)
        if dropped:
            notes.append("already true: " + "; ".join(s.description for s in dropped))
        new, cleared = prepare_head(new, scene)
        notes += cleared
        new, moved = refresh_slots(new, scene)
        notes += moved
        if not new:
            notes.append("nothing sensible is left to try")
        return Plan(plan.instruction, new, plan.revision + 1, "; ".join(notes))

    @staticmethod
    def _dependents(failed: Subgoal, remaining: list[Subgoal]) -> list[Subgoal]:
        """Later subgoals that build on the failed one (they use its object as a reference)."""
        moved = set(sg.moved_objects(failed))
        out: list[Subgoal] = []
        for s in remaining:
            refs = set(sg.referenced(s)) - set(sg.moved_objects(s))
            if refs & moved:
                out.append(s)
                moved |= set(sg.moved_objects(s))
        return out

    def _variant(self, failed: Subgoal, obj: Thing, scene: Scene, fails: int) -> Subgoal:
        """The same movement with a different spot, slot or side; or the same subgoal again."""
        args = failed.args
        speed = float(args.get("speed", 1.0))
        if failed.action == "place_at" and "x" in args:
            old = (float(args["x"]), float(args["y"]))  # near the old spot (same intent), not on it
            spot = scene.free_spot(obj.radius, near=old, exclude=(obj.name,),
                                   reserved=[(old[0], old[1], obj.radius + 0.03)])
            if spot is not None:
                new = sg.place_at(obj, *spot, speed=speed)
                new.description = f"{failed.description} (another spot)"
                new.conditions = [c if c.predicate != "at" else Condition("at", c.args, {**c.params, "x": spot[0],
                                                                                        "y": spot[1]})
                                  for c in failed.conditions]
                return new
        if failed.action == "place_on":
            target = scene.find(args.get("target", ""))
            if target is not None and target.receptacle:
                old = (target.position[0] + float(args.get("dx", 0.0)), target.position[1] + float(args.get("dy", 0.0)))
                dx, dy = scene.slot(target, obj, [old])
                if (dx, dy) != (args.get("dx"), args.get("dy")):
                    return sg.place_on(obj, target, dx, dy, speed=speed)
        if failed.action == "place_at" and args.get("relation") == "near":
            ref = scene.find(args.get("relative_to", ""))
            if ref is not None:
                d = math.hypot(float(args.get("dx", 0.0)), float(args.get("dy", 0.0)))
                angle = math.atan2(float(args.get("dy", 0.0)), float(args.get("dx", 0.0))) + math.pi / 2 * fails
                return sg.place_relative(obj, ref, "near", d * math.cos(angle), d * math.sin(angle), speed=speed)
        if failed.action == "push" and "start" in args and "dx" in args:
            sx, sy = float(args["start"][0]), float(args["start"][1])
            dx = sx + float(args["dx"]) - obj.position[0]
            dy = sy + float(args["dy"]) - obj.position[1]
            if math.hypot(dx, dy) > 0.02:
                new = sg.push(obj, dx, dy, "the rest of the way", speed=speed)
                new.conditions = failed.conditions
                new.args["start"] = list(args["start"])
                return new
        return failed
