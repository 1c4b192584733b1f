"""Safety of GUI actions: risky actions need a confirmation, and dry runs act on nothing.

:class:`SafetyGuard` wraps the GUI primitives (:class:`sim.gui.skills.GuiSkills`) that act on
the screen. Before an action runs it is described as a :class:`ProposedAction` (the primitive,
the description the policy gave, the text of the element it resolves to, the text typed):

* **Risky actions** are those whose element or typed text contains a risky word or phrase
  (:data:`DEFAULT_RISKY`: send, pay, buy, purchase, order, delete, remove, uninstall, transfer,
  format, reset, confirm payment, ...; whole words, case-insensitive; configurable). They run
  only when the ``confirm`` callback allows them. The default callback asks on the terminal when
  stdin is a TTY and denies otherwise (batch runs, sweeps, CI). A denied action raises
  :class:`ConfirmationDenied`, a primitive error of category ``denied``: it is recorded in the
  trace like any failed call, no repair retries it, and the planner stops.
* **Dry runs** (``dry_run: true``) record the intended actions in :attr:`SafetyGuard.intended`
  and the log instead of sending them; observations (``find``, ``elements``, ``read_text``,
  ``wait_for``) still work, so a description that matches nothing still fails.

Typed text shows as ``***`` in a proposed action when it is a secret or goes into a password
field, so a confirmation prompt never prints a password.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TextIO

from pydantic import Field

from embodied.config import StrictModel
from embodied.errors import PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.types import FailureCategory, UIElement
from perception.screen_predicates import visible_text
from sim.gui.errors import ElementNotFound
from sim.gui.secrets import MASK, Secret

if TYPE_CHECKING:  # the config model is read by sim.gui.config, which should stay light to import
    from sim.gui.skills import GuiSkills

log = logging.getLogger(__name__)

DEFAULT_RISKY = ("send", "pay", "pay now", "buy", "buy now", "purchase", "order", "place order", "checkout",
                 "check out", "delete", "remove", "uninstall", "transfer", "format", "reset", "factory reset",
                 "erase", "wipe", "confirm payment", "confirm purchase", "subscribe", "donate")
#: Primitives that change the screen; the others only look.
ACTIONS = ("tap", "tap_xy", "long_press", "type_text", "key", "scroll", "scroll_until", "back", "home", "launch",
           "set_checked", "set_slider", "swipe", "drag", "open_target")
_FIELD_ROLES = ("textbox", "password", "search", "textarea")


class SafetyConfig(StrictModel):
    """``env.safety`` of a GUI config."""

    risky: list[str] = Field(default_factory=lambda: list(DEFAULT_RISKY),
                             description="words/phrases that make an action risky (whole words, any case)")
    also_risky: list[str] = Field(default_factory=list, description="added to risky")
    never_risky: list[str] = Field(default_factory=list,
                                   description="element texts that are never risky, e.g. 'Remove filter'")
    confirm: Literal["auto", "prompt", "deny", "allow"] = Field(
        default="auto", description="auto: ask on the terminal when stdin is a TTY, else deny")
    dry_run: bool = Field(default=False, description="record the intended actions without sending them")


class ConfirmationDenied(PrimitiveError):
    """A risky action was not confirmed, so it was not sent."""

    category = FailureCategory.DENIED


@dataclass(frozen=True)
class ProposedAction:
    """An action about to be sent. ``shown``: the text of the element it acts on; ``typed``: the
    text to type (``***`` when secret); ``risk``: the risky phrase it matched ("" when none)."""

    primitive: str
    target: str = ""
    shown: str = ""
    typed: str = ""
    risk: str = ""

    def describe(self) -> str:
        what = self.primitive.replace("_", " ")
        on = self.shown or self.target
        text = f"{what} {on!r}" if on else what
        if self.typed:
            text = f"{what} {self.typed!r}" + (f" into {on!r}" if on else "")
        return text


@dataclass(frozen=True)
class Decision:
    action: ProposedAction
    allowed: bool
    by: str  # which callback decided


Confirm = Callable[[ProposedAction], bool]


def deny_all(action: ProposedAction) -> bool:
    """Batch runs: no one is there to confirm."""
    return False


def allow_all(action: ProposedAction) -> bool:
    return True


def terminal_confirm(action: ProposedAction, stdin: TextIO | None = None, stdout: TextIO | None = None) -> bool:
    """Ask on the terminal; only "y" or "yes" allows the action."""
    out = stdout or sys.stderr
    inp = stdin or sys.stdin
    out.write(f"\nRisky action: {action.describe()} (matches {action.risk!r}). Allow it? [y/N] ")
    out.flush()
    answer = inp.readline().strip().lower()
    return answer in ("y", "yes")


def confirm_for(mode: str, stdin: TextIO | None = None) -> Confirm:
    """The callback for a ``confirm`` mode (see :class:`SafetyConfig`)."""
    if mode == "allow":
        return allow_all
    if mode == "deny":
        return deny_all
    if mode == "prompt" or (mode == "auto" and (stdin or sys.stdin).isatty()):
        return terminal_confirm
    return deny_all


class RiskRules:
    """Risky words and phrases as whole-word, case-insensitive patterns."""

    def __init__(self, risky: Sequence[str], never: Sequence[str] = ()) -> None:
        words = sorted({w.strip().lower() for w in risky if w.strip()}, key=len, reverse=True)
        self.pattern = re.compile(r"(?<![\w])(" + "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
                                  + r")(?![\w])", re.I) if words else None
        self.never = {" ".join(n.lower().split()) for n in never}

    def risk(self, texts: Sequence[str]) -> str:
        """The first risky phrase found in ``texts``, or ""."""
        if self.pattern is None:
            return ""
        for text in texts:
            if not text or " ".join(text.lower().split()) in self.never:
                continue
            m = self.pattern.search(text)
            if m:
                return " ".join(m.group(1).lower().split())
        return ""


class SafetyGuard:
    """Wraps the acting primitives of ``skills`` (see the module docstring). ``confirm``
    overrides the callback chosen by ``config.confirm``."""

    def __init__(self, skills: GuiSkills, config: SafetyConfig | None = None, confirm: Confirm | None = None) -> None:
        self.skills = skills
        self.config = config or SafetyConfig()
        self.confirm = confirm or confirm_for(self.config.confirm)
        self.rules = RiskRules([*self.config.risky, *self.config.also_risky], self.config.never_risky)
        self.decisions: list[Decision] = []
        self.intended: list[ProposedAction] = []

    def stats(self) -> dict[str, int]:
        """Counts for the episode summary: risky actions confirmed and denied, dry-run actions."""
        allowed = sum(d.allowed for d in self.decisions)
        return {"risky_confirmed": allowed, "risky_denied": len(self.decisions) - allowed,
                "dry_run_actions": len(self.intended)}

    def primitive_set(self) -> PrimitiveSet:
        """The skills' primitives with the acting ones guarded; same names, signatures and docs."""
        base = self.skills.primitive_set()
        guarded = PrimitiveSet(base.domain, sim_time=base.sim_time, redact=base.redact,
                               errors=(*base.errors, ConfirmationDenied),
                               policy_deadline=base.policy_deadline)  # the skills see the policy's budget
        for p in base:
            guarded.add(self._guard(p.name, p.fn) if p.name in ACTIONS else p.fn, p.name)
        return guarded

    # ------------------------------------------------------------------ wrapping

    def _guard(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            action = self.propose(name, bound.arguments)
            if action.risk:
                self._ask(action)
            if self.config.dry_run:
                return self._pretend(name, bound.arguments, action)
            return fn(*args, **kwargs)

        return guarded

    def propose(self, name: str, arguments: dict[str, Any]) -> ProposedAction:
        """Describe an action (resolving its element on the current screen) and rate its risk.
        A description that matches nothing raises ElementNotFound, as the action itself would."""
        target, shown, typed, texts = "", "", "", []
        if name in ("tap", "long_press", "set_checked", "set_slider") or (name == "drag" and "source" in arguments):
            target = str(arguments.get("target" if name != "drag" else "source", ""))
            el = self.skills.locate(target).element
            shown = el.text or el.description
            texts = [target, el.text, el.description]
        elif name == "tap_xy":
            el = self._at(*self.skills.pixel(arguments["x"], arguments["y"]))
            target = f"({arguments['x']}, {arguments['y']})"
            shown = (el.text or el.description) if el is not None else ""
            texts = [el.text, el.description] if el is not None else []
        elif name == "type_text":
            value = arguments.get("text", "")
            into = str(arguments.get("into", "") or "")
            field = self.skills.locate(into, prefer_roles=_FIELD_ROLES).element if into else None
            secret = isinstance(value, Secret) or value in self.skills.env.secrets or (
                field is not None and field.role == "password")
            typed = MASK if secret else str(self.skills.redact(value))
            target = into
            if field is not None:
                shown = "password field" if field.role == "password" else (field.description or field.text)
            texts = [into, shown] + ([] if secret else [typed])
        elif name == "launch":
            target = str(arguments.get("app", ""))
            texts = [target]
        elif name == "open_target":
            target = str(arguments.get("target", ""))
            try:
                el = self.skills.locate(target).element
            except ElementNotFound:  # an app to start by that name
                texts = [target]
            else:
                shown = el.text or el.description
                texts = [target, el.text, el.description]
        elif name == "key":
            target = str(arguments.get("name", ""))
        return ProposedAction(name, target, shown, typed, self.rules.risk([t for t in texts if t]))

    def _at(self, x: int, y: int) -> UIElement | None:
        hits = [e for e in self.skills.observation().elements
                if e.bounds[0] <= x < e.bounds[2] and e.bounds[1] <= y < e.bounds[3]]
        return min(hits, key=lambda e: (e.bounds[2] - e.bounds[0]) * (e.bounds[3] - e.bounds[1]), default=None)

    def _ask(self, action: ProposedAction) -> None:
        allowed = bool(self.confirm(action))
        by = getattr(self.confirm, "__name__", type(self.confirm).__name__)
        self.decisions.append(Decision(action, allowed, by))
        log.warning("risky action %s (matches %r): %s by %s", action.describe(), action.risk,
                    "allowed" if allowed else "DENIED", by)
        if not allowed:
            raise ConfirmationDenied(f"{action.describe()} is risky (matches {action.risk!r}) and was not confirmed "
                                     f"({by}); it was not sent")

    def _pretend(self, name: str, arguments: dict[str, Any], action: ProposedAction) -> Any:
        self.intended.append(action)
        log.info("dry run: would %s", action.describe())
        if name == "scroll_until":
            return visible_text(str(arguments.get("text", "")), self.skills.observation(fresh=True).elements) \
                is not None
        if name in ("tap", "long_press", "type_text", "set_checked", "open_target"):
            return True
        return None
