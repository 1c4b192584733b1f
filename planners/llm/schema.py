"""JSON schemas built for the scene at hand, so a model's plan cannot be unparseable or name an
object that is not there.

Domain-neutral: a domain describes its actions as :class:`ActionSpec` (parameter kinds), the
scene gives the names; :func:`steps_schema` builds ``{"steps": [<one action each>]}`` with the
action names as constants and perceived names as enums. A backend with constrained decoding
(``ChatModel.supports_schema``) can only produce answers of this shape; for others,
:func:`check_steps` finds what does not fit and says it in words the model can act on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from planners.llm.errors import OutputRejected

Kind = Literal["name", "names", "choice", "integer"]


@dataclass(frozen=True)
class Param:
    """One argument of an action. ``name``/``names``: perceived object or element names (one, or
    a list of at least ``min_items``); ``choice``: one of ``choices``; ``integer`` within
    ``minimum``..``maximum``. ``movable``: only names of things that can be carried (a plan
    cannot then pick up a tray), when the caller says which those are."""

    kind: Kind
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = 100
    min_items: int = 1
    doc: str = ""
    movable: bool = False


@dataclass(frozen=True)
class ActionSpec:
    """An action a plan step may take, with its parameters in the order the model writes them."""

    name: str
    params: Mapping[str, Param] = field(default_factory=dict)
    doc: str = ""

    def signature(self) -> str:
        """``place(object, relation: on|in|..., target)`` for prompts."""
        parts = []
        for key, p in self.params.items():
            if p.kind == "choice":
                parts.append(f"{key}: {'|'.join(p.choices)}")
            elif p.kind == "names":
                parts.append(f"{key}: [names]")
            elif p.kind == "integer":
                parts.append(f"{key}: {p.minimum}..{p.maximum}")
            else:
                parts.append(key)
        return f"{self.name}({', '.join(parts)})" + (f": {self.doc}" if self.doc else "")


def _names_for(param: Param, names: Sequence[str], movable: Sequence[str] | None) -> Sequence[str]:
    return movable if param.movable and movable else names


def _param_schema(param: Param, names: Sequence[str]) -> dict[str, Any]:
    if param.kind == "name":
        return {"type": "string", "enum": list(names)}
    if param.kind == "names":
        return {"type": "array", "items": {"type": "string", "enum": list(names)}, "minItems": param.min_items,
                "maxItems": max(param.min_items, len(names))}
    if param.kind == "choice":
        return {"type": "string", "enum": list(param.choices)}
    return {"type": "integer", "minimum": param.minimum, "maximum": param.maximum}


def action_schema(action: ActionSpec, names: Sequence[str], movable: Sequence[str] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"action": {"type": "string", "const": action.name}}
    for key, param in action.params.items():
        props[key] = _param_schema(param, _names_for(param, names, movable))
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def steps_schema(actions: Sequence[ActionSpec], names: Sequence[str], *, max_steps: int,
                 allow_empty: bool = False, movable: Sequence[str] | None = None) -> dict[str, Any]:
    """``{"steps": [...]}`` with 1 (0 when ``allow_empty``) to ``max_steps`` steps. ``movable``:
    the names a ``movable`` parameter may take (default: all ``names``)."""
    if not names:
        raise ValueError("a scene schema needs at least one perceived name")
    if max_steps < 1:
        raise ValueError("max_steps must be >= 1")
    items = {"anyOf": [action_schema(a, names, movable) for a in actions]}
    return {"type": "object",
            "properties": {"steps": {"type": "array", "items": items,
                                     "minItems": 0 if allow_empty else 1, "maxItems": max_steps}},
            "required": ["steps"], "additionalProperties": False}


def check_steps(data: Any, actions: Sequence[ActionSpec], names: Sequence[str], *, max_steps: int,
                allow_empty: bool = False, movable: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The steps of ``data`` when they fit the schema; else :class:`OutputRejected` naming the
    first problem (for backends that cannot decode under a schema)."""
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise OutputRejected('reply with one JSON object {"steps": [...]}')
    steps = data["steps"]
    if not steps and not allow_empty:
        raise OutputRejected("the plan has no steps")
    if len(steps) > max_steps:
        raise OutputRejected(f"the plan has {len(steps)} steps; give at most {max_steps}")
    by_name = {a.name: a for a in actions}
    for i, step in enumerate(steps, 1):
        if not isinstance(step, dict) or step.get("action") not in by_name:
            got = step.get("action") if isinstance(step, dict) else step
            raise OutputRejected(f"step {i}: action {got!r} is not one of {', '.join(by_name)}")
        spec = by_name[step["action"]]
        for key, param in spec.params.items():
            value = step.get(key)
            problem = _param_problem(param, value, _names_for(param, names, movable), names)
            if problem:
                raise OutputRejected(f"step {i} ({spec.name}): {key} {problem}")
    return steps


def _param_problem(param: Param, value: Any, allowed: Sequence[str], names: Sequence[str]) -> str:
    def why(bad: Any) -> str:
        many = isinstance(bad, list) and len(bad) > 1
        if all(b in names for b in (bad if isinstance(bad, list) else [bad])):
            return f"cannot be carried; things that can: {', '.join(allowed)}"
        return f"{'are' if many else 'is'} not visible; visible: {', '.join(allowed)}"

    if param.kind == "name":
        return "" if value in allowed else f"is {value!r}, which {why(value)}"
    if param.kind == "names":
        if not isinstance(value, list) or len(value) < param.min_items:
            return f"must be a list of at least {param.min_items} name(s)"
        bad = [v for v in value if v not in allowed]
        return f"names {bad!r}, which {why(bad)}" if bad else ""
    if param.kind == "choice":
        return "" if value in param.choices else f"must be one of {', '.join(param.choices)}"
    if not isinstance(value, int) or isinstance(value, bool) or not param.minimum <= value <= param.maximum:
        return f"must be a whole number from {param.minimum} to {param.maximum}"
    return ""
