"""The GUI subgoals the planner emits: one action each, with the conditions the screen monitor
checks afterwards (:mod:`perception.screen_predicates`).

``Subgoal.action`` is one of the constants below; ``Subgoal.args`` holds element descriptions
for the primitives (``target``, ``into``, ``dropdown``) and the label to look for on screen
(``label``). Conditions are attached only where the result persists and is visible: a ticked
box (``checked``), a field's value (``field_value``), a dropdown's choice, a closed dialog
(``element_absent``), an expanded section (``screen_changed``). A plain tap has none: what it does
(navigate, end a task, open a menu) is not known in advance.
"""

from __future__ import annotations

import re
from typing import Any

from embodied.types import Condition, Subgoal

TAP, TYPE, CHECK, UNCHECK, TOGGLE, SELECT_OPTION, CHOOSE, KEY = (
    "tap", "type", "check", "uncheck", "toggle", "select_option", "choose", "key")
SCROLL, SCROLL_TO, WAIT, BACK, HOME, LONG_PRESS, CLOSE_DIALOG, FOCUS, SET_SLIDER = (
    "scroll", "scroll_to", "wait", "back", "home", "long_press", "close_dialog", "focus", "set_slider")
ACTIONS = (TAP, TYPE, CHECK, UNCHECK, TOGGLE, SELECT_OPTION, CHOOSE, KEY, SCROLL, SCROLL_TO, WAIT, BACK, HOME,
           LONG_PRESS, CLOSE_DIALOG, FOCUS, SET_SLIDER)
#: Actions whose subject element is args["target"] (looked for on screen before they run).
TARGETED = (TAP, CHECK, UNCHECK, TOGGLE, LONG_PRESS, CLOSE_DIALOG, FOCUS, SET_SLIDER)

_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})|(\d{4})-(\d{1,2})-(\d{1,2})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp])?\.?\s*[Mm]?\.?")


def segment_keys(text: str) -> str:
    """The keys that fill a segmented date or time field (browser date/time inputs, phone pickers)
    from its first segment: each part zero-padded, no separators, "AM"/"PM" as letters:
    "7:55 PM" -> "0755PM", "3/5/2016" -> "03052016", "2016-03-05" -> "03052016" (month/day/year
    order). "" when ``text`` is not a date or time."""
    text = text.strip()
    m = _DATE.fullmatch(text)
    if m:
        month, day, year = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(5), m.group(6), m.group(4))
        return f"{int(month):02d}{int(day):02d}{year}"
    m = _TIME.fullmatch(text)
    if m:
        keys = f"{int(m.group(1)):02d}{m.group(2)}{m.group(3) or ''}"
        return keys + (f"{m.group(4).upper()}M" if m.group(4) else "")
    return ""


def q(text: str) -> str:
    """Text quoted for a description: 'click "OK"'."""
    return f'"{text}"'


def _subgoal(description: str, action: str, conditions: list[Condition] | None = None, **args: Any) -> Subgoal:
    return Subgoal(description=description, action=action, args={k: v for k, v in args.items() if v not in (None, "")},
                   conditions=conditions or [])


def tap(target: str, description: str, *, label: str = "", element: str = "", role: str = "",
        expand: bool = False, opens: bool = False, submits: bool = False) -> Subgoal:
    """Tap an element. ``expand``: it opens/expands something, so the screen must change.
    ``opens``: the instruction said "open X", which may also name an app to start. ``submits``:
    a submit-like button: the page or a dialog must change (a submit that does nothing fails)."""
    conditions = [Condition("screen_changed")] if expand or submits else []
    return _subgoal(description, TAP, conditions, target=target, label=label, element=element, role=role,
                    expand=expand or None, opens=opens or None, submits=submits or None)


def long_press(target: str, description: str, *, label: str = "") -> Subgoal:
    return _subgoal(description, LONG_PRESS, target=target, label=label)


def focus(target: str, description: str, *, label: str = "") -> Subgoal:
    return _subgoal(description, FOCUS, target=target, label=label)


def type_text(text: str, into: str, description: str, *, label: str = "", secret: str = "",
              password: bool = False) -> Subgoal:
    """Type ``text`` (or the configured secret named ``secret``) into the field ``into`` ("" = the
    focused one). The value is checked unless it is secret, a password, or a date or time (such
    fields show their own format)."""
    keys = "" if secret else segment_keys(text)
    checkable = into and not secret and not password and not keys
    conditions = [Condition("field_value", (into, text))] if checkable else []
    return _subgoal(description, TYPE, conditions, text=None if secret else text, into=into, label=label,
                    secret=secret, segments=keys, password=password or None)


def check(target: str, on: bool, description: str, *, label: str = "") -> Subgoal:
    """Tick (``on``) or untick a checkbox, switch or radio button: tapped only when needed."""
    return _subgoal(description, CHECK if on else UNCHECK, [Condition("checked", (target,), negated=not on)],
                    target=target, label=label)


def toggle(target: str, now_checked: bool | None, description: str, *, label: str = "") -> Subgoal:
    """Flip a switch; when its state is known now, the opposite state is the condition."""
    conditions = [] if now_checked is None else [Condition("checked", (target,), negated=now_checked)]
    return _subgoal(description, TOGGLE, conditions, target=target, label=label)


def set_slider(value: float, target: str, description: str, *, label: str = "") -> Subgoal:
    """Drag a slider to a number; afterwards it must read that number."""
    return _subgoal(description, SET_SLIDER, [Condition("slider_value", (target, f"{value:g}"))], target=target,
                    value=value, label=label)


def select_option(option: str, dropdown: str, description: str) -> Subgoal:
    return _subgoal(description, SELECT_OPTION, [Condition("field_value", (dropdown, option))], option=option,
                    dropdown=dropdown, label=option)


def choose(field: str, description: str, *, starts_with: str = "", ends_with: str = "", equals: str = "") -> Subgoal:
    """Pick a suggestion (autocomplete) whose text fits: the field's value afterwards must fit."""
    return _subgoal(description, CHOOSE, field=field, starts_with=starts_with, ends_with=ends_with, equals=equals,
                    label=equals or starts_with)


def key(name: str, description: str = "", *, submits: bool = False) -> Subgoal:
    """Press a key; ``submits``: it commits a form, so the page or a dialog must change."""
    conditions = [Condition("screen_changed")] if submits else []
    return _subgoal(description or f"press the {name} key", KEY, conditions, name=name, submits=submits or None)


def scroll(direction: str) -> Subgoal:
    return _subgoal(f"scroll {direction}", SCROLL, direction=direction)


def scroll_to(text: str, direction: str = "down", *, inserted: bool = False) -> Subgoal:
    """Scroll until ``text`` shows. Inserted by the planner before a step whose target is off
    screen: then it carries no condition (the step after it is the check)."""
    conditions = [] if inserted else [Condition("text_visible", (text,))]
    step = _subgoal(f"scroll {direction} until {q(text)} is visible", SCROLL_TO, conditions, text=text,
                    direction=direction, label=text)
    step.inserted = inserted
    return step


def wait(text: str = "", seconds: float = 0.0) -> Subgoal:
    if text:
        return _subgoal(f"wait for {q(text)}", WAIT, [Condition("text_visible", (text,))], text=text,
                        timeout_s=seconds or 10.0, label=text)
    return _subgoal(f"wait {seconds:g} s", WAIT, seconds=seconds)


def back() -> Subgoal:
    return _subgoal("go back", BACK)


def home() -> Subgoal:
    return _subgoal("go to the home screen", HOME)


def close_dialog(target: str, description: str, *, label: str = "", inserted: bool = False) -> Subgoal:
    """Tap a dismiss button; afterwards it must be gone."""
    step = _subgoal(description, CLOSE_DIALOG, [Condition("element_absent", (target,))], target=target, label=label)
    step.inserted = inserted
    return step


def key_of(subgoal: Subgoal) -> tuple[str, ...]:
    """What a subgoal does, for loop detection and plan comparison (not its wording)."""
    args = subgoal.args
    parts = [str(args.get(k, "")) for k in ("target", "text", "value", "secret", "into", "option", "dropdown", "name",
                                               "direction", "starts_with", "ends_with", "equals")]
    return (subgoal.action, *parts)
