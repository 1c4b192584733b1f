"""The typed subgoal actions of a screen: one GUI action each. ``target``/``into``/``dropdown``/
``field`` are element descriptions looked up when the policy runs; ``label`` is the text to look
for on screen. The GUI planner emits them through :mod:`planners.gui.subgoals`;
:class:`planners.gui.GuiTemplateWriter` renders them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from embodied.domain import ActionSet, SubgoalAction


@dataclass(frozen=True)
class Tap(SubgoalAction):
    """Tap an element. ``expand``: it opens something, so the screen must change. ``opens``: the
    instruction said "open X", which may name an app to start rather than something on screen.
    ``submits``: a submit-like button (a form's commit), so the page or a dialog must change."""

    action: ClassVar[str] = "tap"
    target: str
    label: str = ""
    element: str = ""
    role: str = ""
    expand: bool = False
    opens: bool = False
    submits: bool = False


@dataclass(frozen=True)
class LongPress(SubgoalAction):
    action: ClassVar[str] = "long_press"
    target: str
    label: str = ""


@dataclass(frozen=True)
class Focus(SubgoalAction):
    action: ClassVar[str] = "focus"
    target: str
    label: str = ""


@dataclass(frozen=True)
class CloseDialog(SubgoalAction):
    """Tap a dismiss button; afterwards it must be gone."""

    action: ClassVar[str] = "close_dialog"
    target: str
    label: str = ""


@dataclass(frozen=True)
class Check(SubgoalAction):
    """Tick a checkbox, switch or radio button (tapped only when needed)."""

    action: ClassVar[str] = "check"
    target: str
    label: str = ""


@dataclass(frozen=True)
class Uncheck(SubgoalAction):
    action: ClassVar[str] = "uncheck"
    target: str
    label: str = ""


@dataclass(frozen=True)
class Toggle(SubgoalAction):
    action: ClassVar[str] = "toggle"
    target: str
    label: str = ""


@dataclass(frozen=True)
class Type(SubgoalAction):
    """Type ``text`` (or the configured secret named ``secret``) into ``into`` ("" = the focused
    field). ``segments``: the keys that fill a segmented date/time field from its first part.
    ``password``: the field takes a password, so the typed value is masked in every record."""

    action: ClassVar[str] = "type"
    text: str = ""
    into: str = ""
    label: str = ""
    secret: str = ""
    segments: str = ""
    password: bool = False


@dataclass(frozen=True)
class SetSlider(SubgoalAction):
    """Drag the slider ``target`` to the number ``value`` (then nudge it with its arrow keys)."""

    action: ClassVar[str] = "set_slider"
    target: str
    value: float
    label: str = ""


@dataclass(frozen=True)
class SelectOption(SubgoalAction):
    action: ClassVar[str] = "select_option"
    option: str
    dropdown: str
    label: str = ""


@dataclass(frozen=True)
class Choose(SubgoalAction):
    """Pick a suggestion (autocomplete) of ``field`` whose text fits."""

    action: ClassVar[str] = "choose"
    field: str = ""
    starts_with: str = ""
    ends_with: str = ""
    equals: str = ""
    label: str = ""


@dataclass(frozen=True)
class Key(SubgoalAction):
    """Press a key. ``submits``: it commits a form (enter in place of a submit button), so the
    page or a dialog must change."""

    action: ClassVar[str] = "key"
    name: str = "enter"
    submits: bool = False


@dataclass(frozen=True)
class Scroll(SubgoalAction):
    action: ClassVar[str] = "scroll"
    direction: str = "down"


@dataclass(frozen=True)
class ScrollTo(SubgoalAction):
    """Scroll until ``text`` shows."""

    action: ClassVar[str] = "scroll_to"
    text: str
    direction: str = "down"
    label: str = ""


@dataclass(frozen=True)
class Wait(SubgoalAction):
    """Wait for ``text`` to show (up to ``timeout_s``), or pause ``seconds``."""

    action: ClassVar[str] = "wait"
    text: str = ""
    timeout_s: float | None = None
    seconds: float | None = None
    label: str = ""


@dataclass(frozen=True)
class Back(SubgoalAction):
    action: ClassVar[str] = "back"


@dataclass(frozen=True)
class Home(SubgoalAction):
    action: ClassVar[str] = "home"


ACTIONS = ActionSet([Tap, LongPress, Focus, CloseDialog, Check, Uncheck, Toggle, Type, SetSlider, SelectOption, Choose,
                     Key,
                     Scroll, ScrollTo, Wait, Back, Home])
