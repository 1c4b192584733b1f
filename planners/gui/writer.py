"""GuiTemplateWriter: one short, readable Python policy per GUI subgoal.

Policies call only the GUI primitives (``tap``, ``type_text``, ``find``, ``key``, ``elements``,
``read_text``, ``scroll_until``, ``wait_for`` ...) and end with a ``checkpoint`` that the monitors
judge. Elements are always looked up by description when the policy runs, never by a position
fixed at planning time, so a screen that moved in between still works.

Repairs render the same subgoal with :class:`GuiPolicyOptions`: a preamble (scroll to the target,
wait for it), another description of the target, or an alternative way to act (tap a checkbox's
label instead of the box, press enter instead of the button, choose a dropdown option by
typing). Secrets are typed with ``secret(name)`` so their value never appears in the code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from embodied.domain import SubgoalAction
from embodied.errors import DomainError
from embodied.primitives import PrimitiveSet
from embodied.types import Observation, Policy, Subgoal
from planners.errors import WritingError
from planners.kits.gui import actions as act

#: Ways to act that repairs may ask for.
DEFAULT, LABEL, NEAR_LABEL, KEYBOARD, TYPE_OPTION, RETAP, SLOW = (
    "default", "label", "near_label", "keyboard", "type_option", "retap", "slow")


def lit(value: Any) -> str:
    """A Python literal for a string or number (JSON strings are valid Python)."""
    return json.dumps(value, ensure_ascii=False)


@dataclass
class GuiPolicyOptions:
    """How to render a subgoal. Defaults give the plain policy; repairs change some fields."""

    target: str | None = None  # another description of the subgoal's element
    preamble: list[str] = field(default_factory=list)  # lines run first (scroll_until / wait_for)
    variant: str = DEFAULT
    wait_s: float = 0.0  # wait this long for the target to show before acting
    header: list[str] = field(default_factory=list)  # comment lines at the top


class GuiTemplateWriter:
    """The GUI kit's `rule` writer. ``model`` is accepted and unused (template-based)."""

    def __init__(self, model: Any = None) -> None:
        self.model = model
        self._templates: dict[type[SubgoalAction], Callable[[Subgoal, str, GuiPolicyOptions], list[str]]] = {
            act.Tap: self._tap, act.LongPress: self._long_press, act.Focus: self._focus,
            act.CloseDialog: self._close_dialog, act.Check: self._check, act.Uncheck: self._uncheck,
            act.Toggle: self._toggle, act.Type: self._type, act.SetSlider: self._set_slider,
            act.SelectOption: self._select_option,
            act.Choose: self._choose, act.Key: self._key, act.Scroll: self._scroll, act.ScrollTo: self._scroll_to,
            act.Wait: self._wait, act.Back: self._back, act.Home: self._home,
        }

    def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy:
        return Policy(source=self.render(subgoal, GuiPolicyOptions()), origin="gui_rule")

    def render(self, subgoal: Subgoal, options: GuiPolicyOptions) -> str:
        try:
            action = act.ACTIONS.parse(subgoal)
        except DomainError as exc:
            raise WritingError(f"no GUI policy for this subgoal: {exc}") from exc
        render = self._templates[type(action)]
        lines = [f"# {subgoal.description}", *(f"# {h}" for h in options.header)]
        target = options.target or subgoal.args.get("target", "")
        label = subgoal.args.get("label", "")
        if options.wait_s and (label or target):
            lines.append(f"wait_for({lit(label or target)}, timeout_s={options.wait_s:g})")
        lines += options.preamble
        body = render(subgoal, target, options)
        if subgoal.conditions and any(c.predicate == "screen_changed" for c in subgoal.conditions):
            body = ['checkpoint("before")', *body]  # the screen monitor compares with this view
        lines += body
        lines.append(f"checkpoint({lit(_short(subgoal.description))})")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ templates

    def _tap(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        if o.variant == KEYBOARD:
            return ['key("enter")  # the keyboard instead of the button: enter submits the focused form']
        if o.variant == RETAP:
            return [f"tap({lit(target)})", f"wait_for({lit(s.args.get('label') or target)}, timeout_s=1)"]
        if s.args.get("opens"):
            return [f"open_target({lit(target)})  # an app of that name when nothing on screen is called so"]
        return [f"tap({lit(target)})"]

    def _long_press(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        return [f"long_press({lit(target)})"]

    def _focus(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        return [f"tap({lit(target)})"]

    def _close_dialog(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        if o.variant == KEYBOARD:
            return ['key("escape")']
        return [f"tap({lit(target)})"]

    def _check(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        return self._tick(s, target, o, on=True)

    def _tick(self, s: Subgoal, target: str, o: GuiPolicyOptions, on: bool) -> list[str]:
        label = s.args.get("label", "")
        want = "not " if on else ""
        if o.variant == LABEL and label:
            press = f"tap({lit(label + ' text')})  # the label, which toggles its box"
        elif o.variant == NEAR_LABEL and label:
            press = f"tap({lit('checkbox next to ' + label)})"
        else:
            # the widget itself (or the one in the described label's row), tapped only when needed and read back
            return [f"set_checked({lit(target)}, {on})"]
        return [f"if {want}is_checked({lit(target)}):",
                f"    {press}"]

    def _uncheck(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        return self._tick(s, target, o, on=False)

    def _toggle(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        if o.variant == LABEL and s.args.get("label"):
            return [f"tap({lit(s.args['label'] + ' text')})"]
        return [f"set_checked({lit(target)}, not is_checked({lit(target)}))"]

    def _type(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        into = o.target or s.args.get("into", "")
        text = f"secret({lit(s.args['secret'])})" if s.args.get("secret") else lit(s.args.get("text", ""))
        if not into:
            return [f"type_text({text})"]
        if s.args.get("segments") and o.variant != SLOW:
            shown = " ".join(s.args.get("text", "").lower().split())
            return [f"type_text({text}, into={lit(into)})",
                    f"if \" \".join(read_text({lit(into)}).lower().split()) != {lit(shown)}:",
                    "    # a segmented date/time field: type its parts in order from its first segment",
                    f"    field = find({lit(into)})",
                    '    tap_xy(field["bounds"][0] + 4, field["center"][1])',
                    f"    type_text({lit(s.args['segments'])})"]
        if o.variant == SLOW:
            return [f"tap({lit(into)})", f"type_text(\"\", into={lit(into)})", f"type_text({text})"]
        return [f"type_text({text}, into={lit(into)})"]

    def _set_slider(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        # the real widget, dragged and nudged with its keys; a tick label beside it is not the slider
        return [f"set_slider({lit(target)}, {float(s.args['value']):g})"]

    def _select_option(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        dropdown = o.target or s.args.get("dropdown", "")
        option = s.args.get("option", "")
        open_list = f"tap({lit(dropdown)})"
        if o.variant == TYPE_OPTION:
            return [open_list, "# choose by typing its name, then confirm", f"type_text({lit(option)})",
                    'key("enter")']
        return [open_list,
                'shown = [e for e in elements() if not e["editable"] and e["role"] not in ("select", "combobox")',
                f'         and e["text"].strip().lower() == {lit(option.strip().lower())}]',
                "if shown:",
                '    tap("#" + shown[0]["id"])',
                "else:",
                "    # a native list that draws no options on screen: type the name to pick it",
                f"    type_text({lit(option)})",
                '    key("enter")']

    def _choose(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        a = s.args
        field_query = o.target or a.get("field", "")
        tests = []
        if a.get("equals"):
            tests.append(f"value.strip().lower() == {lit(a['equals'].strip().lower())}")
        if a.get("starts_with"):
            tests.append(f"value.startswith({lit(a['starts_with'])})")
        if a.get("ends_with"):
            tests.append(f"value.endswith({lit(a['ends_with'])})")
        fits = " and ".join(tests) or "True"
        item_fits = fits.replace("value", 'e["text"]')
        if not field_query:
            wanted = lit(_wanted(a))
            return [f'items = [e for e in elements() if e["clickable"] and not e["editable"] and {item_fits}]',
                    "if items:",
                    '    tap("#" + items[0]["id"])',
                    "else:",
                    f"    raise ElementNotFound({wanted})"]
        read = f"read_text({lit(field_query)})"
        return ["# suggestion lists refresh a moment after typing (they debounce keys): let it settle",
                "wait_idle(timeout_s=1.5)",
                "# walk the suggestions with the arrow keys until the field holds a fitting one",
                'key("down")',
                f"value = {read}",
                "steps = 1",
                f"while not ({fits}) and steps < 12:",
                '    key("down")',
                f"    value = {read}",
                "    steps += 1",
                f"if {fits}:",
                '    key("enter")',
                "else:",
                "    # no list to walk: tap a fitting suggestion shown on screen",
                f"    items = [e for e in elements() if e[\"clickable\"] and not e[\"editable\"] and {item_fits}]",
                "    if items:",
                '        tap("#" + items[0]["id"])',
                "    else:",
                f"        raise ElementNotFound({lit(_wanted(a))})"]

    def _key(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        return [f"key({lit(s.args.get('name', 'enter'))})"]

    def _scroll(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        return [f"scroll({lit(s.args.get('direction', 'down'))})"]

    def _scroll_to(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        text = lit(s.args.get("text", ""))
        direction = s.args.get("direction", "down")
        other = {"down": "up", "up": "down", "left": "right", "right": "left"}[direction]
        return [f"if not scroll_until({text}, direction={lit(direction)}):",
                f"    scroll_until({text}, direction={lit(other)})"]

    def _wait(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        if s.args.get("text"):
            timeout = max(float(s.args.get("timeout_s", 10.0)), o.wait_s)
            return [f"wait_for({lit(s.args['text'])}, timeout_s={timeout:g})"]
        seconds = float(s.args.get("seconds", 1.0))
        return [f"wait_for({lit(_NEVER_SHOWN)}, timeout_s={seconds:g})  # no screen shows this text: a plain pause"]

    def _back(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        return ["back()"]

    def _home(self, s: Subgoal, target: str, o: GuiPolicyOptions) -> list[str]:
        return ["home()"]


def _wanted(args: dict[str, Any]) -> str:
    if args.get("equals"):
        return f"a suggestion {args['equals']!r}"
    text = f"a suggestion starting with {args.get('starts_with', '')!r}"
    return text + (f" and ending with {args['ends_with']!r}" if args.get("ends_with") else "")


_NEVER_SHOWN = "\u2063"  # an invisible separator: waiting for it is a pause of timeout_s seconds


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
