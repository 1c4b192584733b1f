"""The compact action history of dynamic planning (D-PoT) and loop detection.

Instead of the whole dialogue, the planner keeps one line per subgoal run: what was done, how it
ended, and a signature of the screen afterwards. Two uses:

* :meth:`ActionHistory.lines` renders it for notes and prompts ("3. tap "Submit" -> ok");
* :meth:`ActionHistory.loop` reports a loop: the same action run ``repeats`` times in a row
  while the screen stayed the same. Such an action changes nothing; the planner must try
  something else (replan) instead of running it again.

The screen signature hashes each element's role, text, state and bounds (rounded to 4 px), with
digits masked, so a ticking clock or counter does not make two identical screens look different.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from embodied.types import FailureCategory, Observation, SubgoalOutcome
from planners.gui.subgoals import key_of

_DIGITS = re.compile(r"\d")


def screen_signature(observation: Observation) -> str:
    """A short hash of what the screen shows (see the module docstring)."""
    items = sorted((e.role, _DIGITS.sub("#", e.text), e.checked, e.selected, tuple(v // 4 for v in e.bounds))
                   for e in observation.elements)
    return hashlib.sha1(repr(items).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Step:
    """One subgoal run as the planner remembers it."""

    index: int
    action: str
    description: str
    key: tuple[str, ...]
    ok: bool
    category: FailureCategory
    screen: str

    def line(self) -> str:
        how = "ok" if self.ok else f"failed ({self.category})"
        return f"{self.index + 1}. {self.description} -> {how}"


@dataclass(frozen=True)
class Loop:
    """The same action ``count`` times in a row on an unchanged screen."""

    key: tuple[str, ...]
    description: str
    count: int
    screen: str

    def __str__(self) -> str:
        return f"{self.description!r} ran {self.count} times in a row on an unchanged screen"


@dataclass
class ActionHistory:
    """Steps of one episode. ``repeats``: runs of one action on one screen that make a loop."""

    repeats: int = 3
    steps: list[Step] = field(default_factory=list)
    loops: list[Loop] = field(default_factory=list)

    def reset(self) -> None:
        self.steps.clear()
        self.loops.clear()

    def record(self, outcome: SubgoalOutcome, observation: Observation) -> Step:
        step = Step(len(self.steps), outcome.subgoal.action, outcome.subgoal.description, key_of(outcome.subgoal),
                    outcome.ok, outcome.category, screen_signature(observation))
        self.steps.append(step)
        return step

    def loop(self) -> Loop | None:
        """A loop ending at the last step, recorded in ``loops`` when found (once per run)."""
        if len(self.steps) < self.repeats:
            return None
        tail = self.steps[-self.repeats:]
        first = tail[0]
        if any(s.key != first.key or s.screen != first.screen for s in tail[1:]):
            return None
        found = Loop(first.key, first.description, self.repeats, first.screen)
        if not self.loops or self.loops[-1] != found:
            self.loops.append(found)
        return found

    def failures(self, key: tuple[str, ...]) -> int:
        return sum(1 for s in self.steps if s.key == key and not s.ok)

    def lines(self, last: int = 8) -> list[str]:
        return [s.line() for s in self.steps[-last:]]
