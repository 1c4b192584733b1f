"""The typed subgoal actions of the tabletop: one object movement each (metres in the table frame;
``speed`` is a fraction of the default). The rule planner emits them through
:mod:`planners.rule.subgoals`; :class:`planners.rule.TemplateWriter` renders them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from embodied.domain import ActionSet, SubgoalAction


@dataclass(frozen=True)
class Pick(SubgoalAction):
    """Grasp ``object`` and lift it."""

    action: ClassVar[str] = "pick"
    object: str
    speed: float = 1.0


@dataclass(frozen=True)
class PlaceOn(SubgoalAction):
    """Put ``object`` on (or into) ``target``, offset (dx, dy) from its centre."""

    action: ClassVar[str] = "place_on"
    object: str
    target: str
    dx: float = 0.0
    dy: float = 0.0
    speed: float = 1.0


@dataclass(frozen=True)
class PlaceAt(SubgoalAction):
    """Put ``object`` at a fixed spot (``x``, ``y``), at an offset (dx, dy) from ``relative_to``'s
    pose read at run time (``relation`` names it), or ``between`` two objects. ``start``: the
    object's pose when planned (for ``moved``); ``temporary``: only out of the way."""

    action: ClassVar[str] = "place_at"
    object: str
    x: float | None = None
    y: float | None = None
    relative_to: str = ""
    relation: str = ""
    dx: float = 0.0
    dy: float = 0.0
    between: list[str] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    temporary: bool = False
    speed: float = 1.0


@dataclass(frozen=True)
class Push(SubgoalAction):
    """Push ``object`` by (dx, dy) from ``start``, or ``towards`` another until ``gap`` metres apart."""

    action: ClassVar[str] = "push"
    object: str
    dx: float = 0.0
    dy: float = 0.0
    start: list[float] = field(default_factory=list)
    towards: str = ""
    gap: float = 0.0
    speed: float = 1.0


ACTIONS = ActionSet([Pick, PlaceOn, PlaceAt, Push])
