"""Parse condition strings such as ``on(red block, blue block)`` or ``moved(red block, dy=0.1)``.

Config goals and plans use this one syntax."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from embodied.geometry import DIRECTIONS, PREDICATES
from embodied.registry import did_you_mean
from embodied.types import Condition

_CALL = re.compile(r"^\s*(not\s+)?([a-z_]+)\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)
ARITY = {"on": 2, "inside": 2, "near": 2, "left_of": 2, "right_of": 2, "behind": 2, "in_front_of": 2,
         "grasped": 1, "upright": 1, "at": 1, "moved": 1,
         "text_visible": 1, "checked": 1, "field_value": 2, "element_absent": 1, "screen_changed": 0,
         "slider_value": 2}
#: Predicates over a GUI screen (evaluated by perception.screen_predicates, not by geometry).
GUI_PREDICATES = ("text_visible", "checked", "field_value", "element_absent", "screen_changed", "slider_value")


@dataclass(frozen=True)
class PredicateSpec:
    """One condition predicate: ``arity`` names it takes (None: any number), the numeric
    ``params`` it accepts (an example each, for prompts), and what it means."""

    name: str
    arity: int | None
    doc: str
    params: Mapping[str, float] = field(default_factory=dict)
    required_params: tuple[str, ...] = ()

    def syntax(self) -> str:
        """An example call, e.g. ``at(a, x=0.55, y=0.1)``."""
        objects = ["a", "b", "c"][: self.arity if self.arity is not None else 3]
        parts = [*objects, *(f"{k}={v:g}" for k, v in self.params.items())]
        return f"{self.name}({', '.join(parts)}{', ...' if self.arity is None else ''})"


class ConditionSyntaxError(ValueError):
    """A condition string that cannot be read; the message says what is expected."""


def parse_condition(text: str, predicates: Sequence[PredicateSpec] | None = None, *,
                    any_predicate: bool = False) -> Condition:
    """Read ``text`` against ``predicates`` (a domain kit's), or against the tabletop and GUI
    predicates when none are given. ``any_predicate``: check the form only (for a config, before
    the world's kit is known; the kit checks the names when the episode starts)."""
    m = _CALL.match(text)
    if not m:
        raise ConditionSyntaxError(f"{text!r} is not of the form predicate(arg, ...), e.g. on(red block, blue block)")
    negated, name, inner = bool(m.group(1)), m.group(2).lower(), m.group(3)
    specs = {p.name: p for p in predicates} if predicates is not None else None
    known = tuple(specs) if specs is not None else (*PREDICATES, *GUI_PREDICATES)
    if any_predicate:
        specs, known = {}, (name,)
    if name not in known:
        guess = did_you_mean(name, list(known))
        hint = f"did you mean {guess!r}?" if guess else f"known: {', '.join(known)}"
        raise ConditionSyntaxError(f"unknown predicate {name!r} ({hint})")
    args: list[str] = []
    params: dict[str, float | str] = {}
    for part in (p.strip() for p in inner.split(",")):
        if not part:
            continue
        key, eq, value = part.partition("=")
        if eq:
            try:
                params[key.strip()] = float(value)
            except ValueError:
                params[key.strip()] = value.strip()
        else:
            args.append(part)
    if any_predicate:
        return Condition(name, tuple(args), params, negated)
    want = specs[name].arity if specs is not None else ARITY.get(name)
    if specs is not None:
        missing = [k for k in specs[name].required_params if k not in params]
        if missing:
            raise ConditionSyntaxError(f"{name} needs {', '.join(k + '=' for k in missing)}: {text!r}")
    if want is not None and len(args) != want:
        raise ConditionSyntaxError(f"{name} takes {want} object name(s), got {len(args)} in {text!r}")
    if name == "at" and not {"x", "y"} <= params.keys():
        raise ConditionSyntaxError(f"at() needs x= and y= in metres, e.g. at(red block, x=0.5, y=0.1): {text!r}")
    if name in ("aligned", "stacked") and len(args) < 2:
        raise ConditionSyntaxError(f"{name} needs at least two objects: {text!r}")
    if name == "moved" and "direction" in params and "min" not in params:
        raise ConditionSyntaxError(f"moved(..., direction=...) needs min= in metres, e.g. "
                                   f"moved(red block, min=0.05, direction=forward): {text!r}")
    if name == "moved" and "direction" in params and str(params["direction"]).lower() not in DIRECTIONS:
        raise ConditionSyntaxError(f"moved: unknown direction {params['direction']!r} "
                                   f"(known: {', '.join(DIRECTIONS)}): {text!r}")
    return Condition(name, tuple(args), params, negated)
