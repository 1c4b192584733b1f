"""The typed subgoal actions of the tabletop: one object movement each (metres in the table frame;
``speed`` is a fraction of the default). The rule planner emits them through
:mod:`planners.rule.subgoals`; :class:`planners.rule.TemplateWriter` renders them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from embodied.domain import NOT_FOR_MODEL, ActionSet, SubgoalAction


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
    position read at run time, or midway ``between`` two objects.

    Bookkeeping (not shown to a model): ``relation`` names the offset; ``start`` is the object's
    pose when planned (for ``moved``); ``temporary``: only out of the way."""

    action: ClassVar[str] = "place_at"
    object: str
    x: float | None = None
    y: float | None = None
    relative_to: str = ""
    relation: str = field(default="", metadata=NOT_FOR_MODEL)
    dx: float = 0.0
    dy: float = 0.0
    between: list[str] = field(default_factory=list)
    start: list[float] = field(default_factory=list, metadata=NOT_FOR_MODEL)
    temporary: bool = field(default=False, metadata=NOT_FOR_MODEL)
    speed: float = 1.0


@dataclass(frozen=True)
class Push(SubgoalAction):
    """Push ``object`` by (dx, dy), or ``towards`` another until ``gap`` metres apart.

    Bookkeeping (not shown to a model): ``start``, the object's pose when planned."""

    action: ClassVar[str] = "push"
    object: str
    dx: float = 0.0
    dy: float = 0.0
    start: list[float] = field(default_factory=list, metadata=NOT_FOR_MODEL)
    towards: str = ""
    gap: float = 0.0
    speed: float = 1.0


ACTIONS = ActionSet([Pick, PlaceOn, PlaceAt, Push])
