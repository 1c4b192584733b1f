"""A third domain that exists only in the tests: a token on a small grid. Everything it needs to
run through the whole loop is its own kit (``KIT``) plus its world; nothing in the agent, the
runner, the model parts or the sandbox knows it.

- Two primitives: ``step(direction)`` moves the token one cell (``Blocked`` at the edge) and
  ``position()`` reads where it is.
- Two predicates: ``on_cell(a, x=, y=)`` and ``next_to(a, b)`` (neighbouring cells).
- One typed action, ``GoTo(x, y)``; a rule planner that reads "go to 3, 2" and "go next to the
  flag", a template writer, and a repairer that turns a counted walk into a walk that looks.
- ``slips``: the first N steps are lost (the token does not move, no error): an open-loop policy
  then ends on the wrong cell, a closed loop sees it and repairs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from embodied.config import StrictModel
from embodied.domain import ActionSet, DomainKit, PredicateResult, PredicateSpec, SubgoalAction, subgoal_of
from embodied.errors import PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.types import (
    Condition,
    Execution,
    FailureCategory,
    Observation,
    Plan,
    Policy,
    SceneObject,
    Subgoal,
    SubgoalOutcome,
    Verdict,
)
from planners.errors import PlanningError

SIZE = 5  # cells per side
MOVES = {"right": (1, 0), "left": (-1, 0), "up": (0, 1), "down": (0, -1)}


class Blocked(PrimitiveError):
    category = FailureCategory.UNREACHABLE


class GridConfig(StrictModel):
    domain: ClassVar[str] = "grid"
    kind: Literal["grid"] = "grid"
    seed: int = 0
    start: tuple[int, int] = (0, 0)
    flag: tuple[int, int] = (3, 2)
    slips: int = 0


class GridWorld:
    """Environment of domain ``grid``. Cells are integers; the observation shows the token and the
    flag as scene objects at their cells (position x, y)."""

    domain = "grid"

    def __init__(self, config: GridConfig) -> None:
        self.config = config
        self.token = config.start
        self.slips = config.slips
        self.steps = 0

    def reset(self, seed: int | None = None) -> Observation:
        self.token, self.slips, self.steps = self.config.start, self.config.slips, 0
        return self.observe("reset")

    def observe(self, label: str = "") -> Observation:
        fx, fy = self.config.flag
        return Observation(objects=[SceneObject("token", position=(float(self.token[0]), float(self.token[1]), 0.0)),
                                    SceneObject("flag", position=(float(fx), float(fy), 0.0))], label=label)

    def primitives(self) -> PrimitiveSet:
        api = PrimitiveSet("grid", errors=(Blocked,))

        def step(direction: str) -> list[int]:
            """Move the token one cell: "right" (+x), "left", "up" (+y) or "down". Returns its cell
            [x, y]. Raises Blocked at the edge of the 5x5 grid."""
            if direction not in MOVES:
                raise Blocked(f"no direction {direction!r} (right, left, up, down)")
            dx, dy = MOVES[direction]
            x, y = self.token[0] + dx, self.token[1] + dy
            if not (0 <= x < SIZE and 0 <= y < SIZE):
                raise Blocked(f"the edge of the grid is in the way at {list(self.token)}")
            self.steps += 1
            if self.slips > 0:
                self.slips -= 1
            else:
                self.token = (x, y)
            return list(self.token)

        def position() -> list[int]:
            """The token's cell [x, y]."""
            return list(self.token)

        api.add(step)
        api.add(position)
        return api

    def success(self, goal: Sequence[Condition]) -> tuple[bool | None, dict[str, Any]]:
        """The goal on the true grid; None without a goal (the grid has no task of its own)."""
        obs = self.observe("score")
        results = [evaluate(c, obs).holds for c in goal]
        return (all(results) if goal else None), {"token": list(self.token), "results": results}

    def stats(self) -> dict[str, Any]:
        return {"sim_steps": self.steps, "sim_time_s": 0.0}

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# The kit


def _cell(observation: Observation, name: str) -> tuple[int, int] | None:
    for o in observation.objects:
        if o.name == name.strip().lower():
            return round(o.position[0]), round(o.position[1])
    return None


def evaluate(condition: Condition, observation: Observation) -> PredicateResult:
    cells = [_cell(observation, a) for a in condition.args]
    if any(c is None for c in cells):
        return PredicateResult(False, f"not on the grid: {condition.args}")
    if condition.predicate == "on_cell":
        want = (round(float(condition.params["x"])), round(float(condition.params["y"])))
        holds = cells[0] == want
        why = f"{condition.args[0]} is at {cells[0]}, wanted {want}"
    elif condition.predicate == "next_to":
        (ax, ay), (bx, by) = cells  # type: ignore[misc]
        holds = abs(ax - bx) + abs(ay - by) == 1
        why = f"{condition.args[0]} at {(ax, ay)}, {condition.args[1]} at {(bx, by)}"
    else:
        return PredicateResult(None, f"no grid predicate {condition.predicate!r}")
    return PredicateResult(holds != condition.negated, why)


@dataclass(frozen=True)
class GoTo(SubgoalAction):
    """Walk the token to cell (x, y)."""

    action: ClassVar[str] = "go_to"
    x: int
    y: int
    checked: bool = False  # look at the position after every step instead of counting steps


ACTIONS = ActionSet([GoTo])


class GridPlanner:
    """Reads "go to X, Y" and "go next to the flag" (the cell left of it)."""

    def decompose(self, instruction: str, observation: Observation) -> Plan:
        m = re.search(r"(\d+)\s*,\s*(\d+)", instruction)
        if m:
            x, y = int(m.group(1)), int(m.group(2))
            cond = Condition("on_cell", ("token",), {"x": x, "y": y})
        elif "flag" in instruction:
            flag = _cell(observation, "flag")
            if flag is None:
                raise PlanningError("no flag on the grid")
            x, y = flag[0] - 1 if flag[0] > 0 else flag[0] + 1, flag[1]
            cond = Condition("next_to", ("token", "flag"))
        else:
            raise PlanningError(f"cannot read {instruction!r}: say 'go to X, Y' or 'go next to the flag'")
        return Plan(instruction, [subgoal_of(GoTo(x, y), f"walk the token to ({x}, {y})", [cond])], goal=[cond])

    def revise(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        return plan

    def replan(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        return Plan(plan.instruction, [], plan.revision + 1, "no other way")


class GridWriter:
    def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy:
        return Policy(self.render(ACTIONS.parse(subgoal), observation), origin="grid_rule")  # type: ignore[arg-type]

    def render(self, goal: GoTo, observation: Observation) -> str:
        if goal.checked:
            return (f"x, y = position()\n"
                    f"while (x, y) != ({goal.x}, {goal.y}):\n"
                    f"    if x != {goal.x}:\n"
                    f"        x, y = step('right' if x < {goal.x} else 'left')\n"
                    f"    else:\n"
                    f"        x, y = step('up' if y < {goal.y} else 'down')\n")
        start = _cell(observation, "token") or (0, 0)
        dx, dy = goal.x - start[0], goal.y - start[1]
        lines = [f"step({'right' if dx > 0 else 'left'!r})" for _ in range(abs(dx))]
        lines += [f"step({'up' if dy > 0 else 'down'!r})" for _ in range(abs(dy))]
        return "\n".join(lines or ["position()"]) + "\n"


class GridRepairer:
    """A wrong cell: walk again, looking at the position after every step (once)."""

    def repair(self, subgoal: Subgoal, policy: Policy, execution: Execution, verdict: Verdict,
               observation: Observation, api: PrimitiveSet) -> Policy | None:
        goal = ACTIONS.parse(subgoal)
        if verdict.category is not FailureCategory.WRONG_STATE or not isinstance(goal, GoTo) or goal.checked:
            return None
        source = GridWriter().render(GoTo(goal.x, goal.y, checked=True), observation)
        return Policy(source, policy.subgoal_index, policy.version + 1, "repair:wrong_state", policy.version)


KIT = DomainKit(
    name="grid",
    summary="a token on a 5x5 grid (test-only domain)",
    primitives=("step", "position"),
    predicates=(PredicateSpec("on_cell", 1, "a is on the cell (x, y)", {"x": 2, "y": 1}, ("x", "y")),
                PredicateSpec("next_to", 2, "a and b are on neighbouring cells")),
    evaluate=evaluate,
    actions=ACTIONS,
    planner=f"{__name__}:GridPlanner",
    writer=f"{__name__}:GridWriter",
    repairer=f"{__name__}:GridRepairer",
    monitors=("trace", "conditions"),
    folder=Path(__file__).resolve().parent / "grid_kit",
)
