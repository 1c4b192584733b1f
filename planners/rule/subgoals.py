"""Subgoal constructors: one object movement each, with the conditions that say it worked.

The ``action`` and ``args`` written here are the contract with :class:`TemplateWriter`:

- ``pick``: {object} -> grasped(object)
- ``place_on``: {object, target, dx, dy} -> on(object, target), inside() for a bowl/tray
- ``place_at``: {object, x, y[, temporary]} a fixed spot -> at(object, x, y); or {object, relative_to, dx, dy}
  an offset from another object's pose read at run time; or {object, between: [a, b]}
- ``push``: {object, dx, dy, start} -> moved(object, dx, dy); or {object, towards, gap} -> near()

Positions are metres in the table frame. ``speed`` (a fraction of the default) is optional.
"""

from __future__ import annotations

import math
from typing import Any

from embodied.types import Condition, Subgoal
from planners.rule.scene import Thing

RELATION_WORDS = {"near": "next to", "left_of": "to the left of", "right_of": "to the right of",
                  "in_front_of": "in front of", "behind": "behind"}


def _args(speed: float, **kwargs: Any) -> dict[str, Any]:
    out = dict(kwargs)
    if speed != 1.0:
        out["speed"] = speed
    return out


def pick(obj: Thing, speed: float = 1.0) -> Subgoal:
    return Subgoal(f"pick up the {obj.name}", "pick", _args(speed, object=obj.name),
                   [Condition("grasped", (obj.name,))], [f"holding {obj.name}"])


def place_on(obj: Thing, target: Thing, dx: float = 0.0, dy: float = 0.0, speed: float = 1.0) -> Subgoal:
    into = target.container
    pred = "inside" if into else "on"
    word = "in" if into else "on"
    return Subgoal(f"put the {obj.name} {word} the {target.name}", "place_on",
                   _args(speed, object=obj.name, target=target.name, dx=round(dx, 3), dy=round(dy, 3)),
                   [Condition(pred, (obj.name, target.name))], [f"{obj.name} {word} {target.name}"])


def place_at(obj: Thing, x: float, y: float, why: str = "", speed: float = 1.0, temporary: bool = False) -> Subgoal:
    """Put ``obj`` at a fixed spot. ``temporary``: only to get it out of the way (the planner
    may move it again later without calling that an undo)."""
    what = why or f"move the {obj.name} to ({x:.2f}, {y:.2f})"
    args = _args(speed, object=obj.name, x=round(x, 3), y=round(y, 3))
    if temporary:
        args["temporary"] = True
    return Subgoal(what, "place_at", args,
                   [Condition("at", (obj.name,), {"x": round(x, 3), "y": round(y, 3), "tolerance": 0.05})],
                   [f"{obj.name} at ({x:.2f}, {y:.2f})"])


def place_relative(obj: Thing, ref: Thing, relation: str, dx: float, dy: float, speed: float = 1.0,
                   conditions: list[Condition] | None = None, description: str = "") -> Subgoal:
    """Put ``obj`` at ``ref``'s position (read when the policy runs) plus (dx, dy) metres."""
    words = RELATION_WORDS.get(relation, relation.replace("_", " "))
    conds = conditions if conditions is not None else [Condition(relation, (obj.name, ref.name))]
    return Subgoal(description or f"put the {obj.name} {words} the {ref.name}", "place_at",
                   _args(speed, object=obj.name, relative_to=ref.name, dx=round(dx, 3), dy=round(dy, 3),
                         relation=relation),
                   conds, [f"{obj.name} {words} {ref.name}"])


def place_between(obj: Thing, a: Thing, b: Thing, speed: float = 1.0) -> Subgoal:
    half = math.hypot(a.position[0] - b.position[0], a.position[1] - b.position[1]) / 2
    reach = round(half + 0.06, 3)
    mid = {"x": round((a.position[0] + b.position[0]) / 2, 3), "y": round((a.position[1] + b.position[1]) / 2, 3),
           "tolerance": 0.04}
    return Subgoal(f"put the {obj.name} between the {a.name} and the {b.name}", "place_at",
                   _args(speed, object=obj.name, between=[a.name, b.name]),
                   [Condition("near", (obj.name, a.name), {"distance": reach}),
                    Condition("near", (obj.name, b.name), {"distance": reach}),
                    Condition("at", (obj.name,), mid)],
                   [f"{obj.name} between {a.name} and {b.name}"])


def displace(obj: Thing, dx: float, dy: float, words: str, speed: float = 1.0) -> Subgoal:
    """Pick ``obj`` and put it down (dx, dy) metres from where it was."""
    return Subgoal(f"move the {obj.name} {words}", "place_at",
                   _args(speed, object=obj.name, relative_to=obj.name, dx=round(dx, 3), dy=round(dy, 3),
                         start=[round(v, 4) for v in obj.position]),
                   [Condition("moved", (obj.name,), {"dx": round(dx, 3), "dy": round(dy, 3)})],
                   [f"moved {obj.name} {words}"])


def push(obj: Thing, dx: float, dy: float, words: str, speed: float = 1.0) -> Subgoal:
    return Subgoal(f"push the {obj.name} {words}", "push",
                   _args(speed, object=obj.name, dx=round(dx, 3), dy=round(dy, 3),
                         start=[round(v, 4) for v in obj.position]),
                   [Condition("moved", (obj.name,), {"dx": round(dx, 3), "dy": round(dy, 3)})],
                   [f"pushed {obj.name} {words}"])


def push_towards(obj: Thing, target: Thing, speed: float = 1.0) -> Subgoal:
    gap = round(obj.radius + target.radius + 0.01, 3)
    return Subgoal(f"push the {obj.name} towards the {target.name}", "push",
                   _args(speed, object=obj.name, towards=target.name, gap=gap),
                   [Condition("near", (obj.name, target.name))], [f"pushed {obj.name} to {target.name}"])


def moved_objects(subgoal: Subgoal) -> list[str]:
    """Names the subgoal moves (its ``object`` arg)."""
    obj = subgoal.args.get("object")
    return [obj] if isinstance(obj, str) else []


def referenced(subgoal: Subgoal) -> list[str]:
    """Every object name a subgoal depends on: the moved one and its targets/references."""
    names = moved_objects(subgoal)
    for key in ("target", "relative_to", "towards"):
        value = subgoal.args.get(key)
        if isinstance(value, str):
            names.append(value)
    names.extend(v for v in subgoal.args.get("between", []) if isinstance(v, str))
    return names
