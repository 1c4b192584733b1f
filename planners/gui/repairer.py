"""GuiRepairer: repairs of GUI policies chosen by the verdict's failure category.

Each category has an ordered list of strategies; a subgoal gets each strategy at most once, the
next one on its next failure, and ``None`` when they are used up (the planner replans then).

* ``not_found``: match the label anew on the current screen (synonyms, then meaning; the
  closest visible text when it is close enough), scroll until it shows, wait for it, describe it
  more loosely (label only, no role or quotes);
* ``wrong_state``: act another way: a checkbox's label instead of the box (or the box next to the
  label), a dropdown option chosen by typing, a field cleared and typed again, enter instead of
  a button, escape instead of a close button;
* ``timeout``: wait longer for the target before acting;
* ``no_effect`` (a submit or expand left the screen as it was): press enter instead of the button;
* anything else (exceptions in the policy, a denied risky action): no repair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from embodied.primitives import PrimitiveSet
from embodied.types import Execution, FailureCategory, Observation, Policy, Subgoal, Verdict
from perception.ui_query import ElementMatcher, Embedder, MiniLmEmbedder, fragment_of, parse_query, text_score
from planners.gui import subgoals as sg
from planners.gui.grammar import Target
from planners.gui.ground import Grounder
from planners.gui.lexicon import DISMISS_LABELS
from planners.gui.writer import KEYBOARD, LABEL, NEAR_LABEL, SLOW, TYPE_OPTION, GuiPolicyOptions, GuiTemplateWriter, lit

Strategy = Callable[[Subgoal, Observation], GuiPolicyOptions | None]


@dataclass(frozen=True)
class _Named:
    name: str
    make: Strategy


class GuiRepairer:
    """The GUI kit's `rule` repairer. ``model`` is accepted and unused. ``closest_min`` is the text
    similarity above which the closest visible text may stand in for a missing label (0.7: a slip
    of a letter or two, or the label inside a longer text; never a fragment of the label, which
    would be another element: "Jinny" is not "Jinny>Lynett")."""

    def __init__(self, model: Any = None, *, writer: GuiTemplateWriter | None = None,
                 embedder: Embedder | None = None, semantic: bool = True, closest_min: float = 0.7) -> None:
        self.model = model
        self.writer = writer or GuiTemplateWriter()
        self.closest_min = closest_min
        self._embedder = embedder
        self._semantic = semantic
        self._tried: dict[tuple[int, tuple[str, ...]], set[str]] = {}
        self.strategies: dict[FailureCategory, tuple[_Named, ...]] = {
            FailureCategory.NOT_FOUND: (_Named("close dialog", self._close_dialog), _Named("reground", self._reground),
                                        _Named("scroll", self._scroll), _Named("wait", self._wait),
                                        _Named("looser", self._looser)),
            FailureCategory.WRONG_STATE: (_Named("alternative", self._alternative),
                                          _Named("second alternative", self._second_alternative)),
            FailureCategory.TIMEOUT: (_Named("wait longer", self._wait_longer),),
            # a submit or expand that changed nothing: act another way (enter instead of the button)
            FailureCategory.NO_EFFECT: (_Named("alternative", self._alternative),),
        }

    def repair(self, subgoal: Subgoal, policy: Policy, execution: Execution, verdict: Verdict,
               observation: Observation, api: PrimitiveSet) -> Policy | None:
        key = (policy.subgoal_index, sg.key_of(subgoal))
        if policy.version == 0 or key not in self._tried:
            self._tried[key] = set()
        tried = self._tried[key]
        for strategy in self.strategies.get(verdict.category, ()):
            if strategy.name in tried:
                continue
            tried.add(strategy.name)
            options = strategy.make(subgoal, observation)
            if options is None:
                continue
            options.header.insert(0, f"repair ({verdict.category}): {strategy.name}")
            source = self.writer.render(subgoal, options)
            if source == policy.source:
                continue
            return Policy(source=source, subgoal_index=policy.subgoal_index, version=policy.version + 1,
                          origin=f"gui_rule repair: {strategy.name}", parent_version=policy.version)
        return None

    # ------------------------------------------------------------------ not found

    def embedder(self) -> Embedder | None:
        if self._embedder is None and self._semantic and MiniLmEmbedder.available():
            self._embedder = MiniLmEmbedder()
        return self._embedder

    def _close_dialog(self, subgoal: Subgoal, observation: Observation) -> GuiPolicyOptions | None:
        """A dialog hides the target: close it first (its dismiss button is on screen, the
        target is not, and the step is not about the dialog itself)."""
        current = _subject(subgoal)
        if not current or subgoal.action == sg.CLOSE_DIALOG:
            return None
        grounder = Grounder()
        if grounder.find(current, observation.elements) is not None:
            return None
        button = grounder.first_of(DISMISS_LABELS, observation.elements)
        if button is None:
            return None
        label = button.text or button.description
        query = Target(label, label=label, quoted=True).query()
        return GuiPolicyOptions(preamble=[f"tap({lit(query)})  # close the dialog in the way"],
                                header=[f"a dialog ({label!r}) hides the target"])

    def _reground(self, subgoal: Subgoal, observation: Observation) -> GuiPolicyOptions | None:
        label = subgoal.args.get("label", "")
        current = _subject(subgoal)
        if not label or not current:
            return None
        target = Target(label, label=label)
        for semantic in (False, True):
            grounder = Grounder(ElementMatcher(self.embedder() if semantic else None))
            g = grounder.ground(target, observation.elements)
            if g.found and g.query != current and not fragment_of(g.element.text or g.element.description, label):
                shown = g.element.text or g.element.description or label
                return GuiPolicyOptions(target=Target(shown, label=shown, quoted=True).query(),
                                        header=[f"{label!r} is shown as {shown!r}"])
        closest = ElementMatcher().closest_texts(label, observation.elements, 1)
        if closest and text_score(label, closest[0]) >= self.closest_min and closest[0] != label \
                and not fragment_of(closest[0], label):
            return GuiPolicyOptions(target=Target(closest[0], label=closest[0], quoted=True).query(),
                                    header=[f"closest visible text to {label!r}: {closest[0]!r}"])
        return None

    def _scroll(self, subgoal: Subgoal, observation: Observation) -> GuiPolicyOptions | None:
        label = subgoal.args.get("label", "")
        if not label or subgoal.action in (sg.SCROLL_TO, sg.WAIT):
            return None
        text = lit(label)
        return GuiPolicyOptions(preamble=[f"if not scroll_until({text}):", f'    scroll_until({text}, direction="up")'])

    def _wait(self, subgoal: Subgoal, observation: Observation) -> GuiPolicyOptions | None:
        label = subgoal.args.get("label", "")
        if not label and not _subject(subgoal):
            return None
        return GuiPolicyOptions(wait_s=5.0)

    def _looser(self, subgoal: Subgoal, observation: Observation) -> GuiPolicyOptions | None:
        current = _subject(subgoal)
        if not current:
            return None
        q = parse_query(current)
        label = q.label or q.anchor
        if not label or label == current:
            return None
        return GuiPolicyOptions(target=label, header=[f"described loosely as {label!r}"])

    # ------------------------------------------------------------------ wrong state

    def _alternative(self, subgoal: Subgoal, observation: Observation) -> GuiPolicyOptions | None:
        action = subgoal.action
        if action in (sg.CHECK, sg.UNCHECK, sg.TOGGLE):
            return GuiPolicyOptions(variant=LABEL) if subgoal.args.get("label") else None
        if action == sg.SELECT_OPTION:
            return GuiPolicyOptions(variant=TYPE_OPTION)
        if action == sg.TYPE:
            return GuiPolicyOptions(variant=SLOW) if subgoal.args.get("into") else None
        if action == sg.CLOSE_DIALOG:
            return GuiPolicyOptions(variant=KEYBOARD)
        if action == sg.TAP:
            return GuiPolicyOptions(variant=KEYBOARD) if subgoal.conditions else None
        return None

    def _second_alternative(self, subgoal: Subgoal, observation: Observation) -> GuiPolicyOptions | None:
        if subgoal.action in (sg.CHECK, sg.UNCHECK) and subgoal.args.get("label"):
            return GuiPolicyOptions(variant=NEAR_LABEL)
        if subgoal.action == sg.TYPE and subgoal.args.get("into"):
            return GuiPolicyOptions(wait_s=2.0)
        return None

    # ------------------------------------------------------------------ timeout

    def _wait_longer(self, subgoal: Subgoal, observation: Observation) -> GuiPolicyOptions | None:
        return GuiPolicyOptions(wait_s=15.0)


def _subject(subgoal: Subgoal) -> str:
    a = subgoal.args
    return str(a.get("target") or a.get("into") or a.get("dropdown") or a.get("field") or "")
