"""Intents -> subgoals, grounded on the screen the planner sees now.

Each intent of :mod:`planners.gui.grammar` becomes one or more subgoals of
:mod:`planners.gui.subgoals`. The screen decides what an ambiguous verb means: "select X" ticks
X when X is a checkbox, picks it when it is a radio button, chooses a suggestion when X is not on
screen yet but starts with what was just typed, and taps it otherwise. Composite intents
expand here: "log in as U with password P" is type, type, tap; "search for X" is type + enter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from embodied.types import Subgoal, UIElement
from perception.screen import nearest_label
from perception.ui_query import text_score
from planners.errors import PlanningError
from planners.gui import lexicon as lx
from planners.gui import subgoals as sg
from planners.gui.grammar import Intent, Target
from planners.gui.ground import BOX_ROLES, FIELD_ROLES, Grounded, Grounder
from planners.gui.similarity import WordSimilarity

_BOX_QUERY_ROLE = {"checkbox": "checkbox", "switch": "switch", "radio": "radio button"}
#: A value that names something to read off the screen rather than text to type.
_REFERENCE = re.compile(r"(?:the\s+)?(?:value|text|number|content|contents|entry|answer|amount|word|words)\s+"
                        r"(?:of|for|in|next to|beside)\s+(?:the\s+)?(.+)", re.I)
#: A value that points at text shown somewhere ("the text below") without naming a label.
_POINTER = re.compile(r"(?:the\s+)?(?:value|text|number|content|contents|entry|answer|amount|word|words)\s+"
                      r"(?:below|above|shown|displayed|given|here|on (?:the )?screen)(?:\s.*)?", re.I)
_OPTION_ROLES = ("checkbox", "radio", "switch", "option", "menuitem")


def _submit_like(g: Grounded) -> bool:
    """Whether a grounded tap presses a form's commit button ("Submit", "Save", "Log in"): then
    the page or a dialog must change afterwards, or the submit did nothing."""
    if not g.found or g.element.role != "button":
        return False
    shown = " ".join((g.element.text or g.element.description).lower().split()).strip(" .!")
    return shown in lx.SUBMIT_LABELS or shown in lx.COMMIT_WORDS


def cased(text: str, case: str) -> str:
    return {"upper": text.upper(), "lower": text.lower(), "title": text.title()}.get(case, text)


_NAVIGATING = (lx.OPEN, lx.BACK, lx.HOME)


class Interpreter:
    """Builds the subgoals of one plan; ``notes`` says what was reinterpreted and why."""

    def __init__(self, grounder: Grounder, elements: Sequence[UIElement], similarity: WordSimilarity) -> None:
        self.g = grounder
        self.elements = list(elements)
        self.similarity = similarity
        self.notes: list[str] = []
        self.subgoals: list[Subgoal] = []

    def interpret(self, intents: Sequence[Intent]) -> list[Subgoal]:
        for intent in intents:
            handler = getattr(self, f"_{intent.kind}", None)
            if handler is None:
                raise PlanningError(f"no plan for {intent.clause!r} ({intent.kind})")
            handler(intent)
            if intent.kind in _NAVIGATING:
                # later steps act on a screen not seen yet: they are grounded there (the planner's
                # revision), never on look-alikes of this one ("Send" is no "Sign in")
                self.elements = []
        if intents:
            self._implied_commit(intents[-1])
        return self.subgoals

    # ------------------------------------------------------------------ helpers

    def _add(self, subgoal: Subgoal) -> None:
        self.subgoals.append(subgoal)

    def _note(self, grounded: Grounded) -> Grounded:
        if grounded.note and grounded.note not in self.notes:
            self.notes.append(grounded.note)
        return grounded

    def _targets(self, intent: Intent) -> list[Target]:
        """The listed targets, or the whole phrase when it matches an element and a part does not
        ("Terms and Conditions")."""
        if len(intent.targets) > 1 and intent.whole is not None and self._named(intent.whole) and not all(
                self._named(t) for t in intent.targets):
            return [intent.whole]
        return list(intent.targets)

    def _named(self, target: Target) -> bool:
        """Some element on screen is named exactly by ``target``'s label."""
        element = self.g.find(target.query(), self.elements)
        return element is not None and (not target.label or self.g.names(target.label, element, self.elements))

    @staticmethod
    def _shown(g: Grounded) -> str:
        return sg.q(g.label) if g.label else g.query

    def _box_target(self, g: Grounded) -> Grounded:
        """Name the role in a box's description so the policy finds the box, not its label."""
        if g.found and not g.target.role and g.element.role in _BOX_QUERY_ROLE:
            t = replace(g.target, role=_BOX_QUERY_ROLE[g.element.role])
            return replace(g, target=t, query=t.query())
        return g

    # ------------------------------------------------------------------ taps

    def _tap(self, intent: Intent) -> None:
        purpose = intent.purpose.lower()
        for t in self._targets(intent):
            g = self._note(self._commit_button(self.g.ground(t, self.elements)))
            if purpose.startswith(("close", "dismiss", "exit")):
                self._add(sg.close_dialog(g.query, f"{intent.purpose} (click {self._shown(g)})", label=g.label))
                continue
            role = g.element.role if g.found else ""
            self._add(sg.tap((f"#{g.element_id}" if g.element_id else g.query), f"{intent.verb} {self._shown(g)}",
                             label=g.label, role=role, element=g.element_id, expand=intent.kind == lx.EXPAND,
                             opens=intent.kind == lx.OPEN, submits=_submit_like(g)))

    _open = _tap
    _expand = _tap

    def _commit_button(self, g: Grounded) -> Grounded:
        """"press login" / "hit submit" on a form whose button says something else ("OK"): a
        commit word that names no element means the form's commit button."""
        label = " ".join(g.target.label.lower().split())
        if (g.found and not g.loose) or label not in lx.COMMIT_WORDS:
            return g
        button = self.g.first_of(lx.SUBMIT_LABELS, self.elements, roles=("button",))
        if button is None:
            return g
        shown = button.text or button.description
        t = Target(shown, label=shown, role="button", quoted=True)
        return Grounded(t, t.query(), button, note=f"no element says {g.target.label!r}: using the form's "
                                                   f"{shown!r} button")

    def _long_press(self, intent: Intent) -> None:
        for t in self._targets(intent):
            g = self._note(self.g.ground(t, self.elements))
            self._add(sg.long_press(g.query, f"long-press {self._shown(g)}", label=g.label))

    def _focus(self, intent: Intent) -> None:
        for t in self.g.expand(intent.targets[0], self.elements):
            g = self._note(self.g.ground_field(t, self.elements))
            self._add(sg.focus(g.query, f"focus {g.query}", label=g.label))

    def _close(self, intent: Intent) -> None:
        button = self.g.first_of(lx.DISMISS_LABELS, self.elements)
        if button is not None:
            label = button.text or button.description
            target = Target(label, label=label, role="button", quoted=True)
            self._add(sg.close_dialog(target.query(), f"close the dialog (click {sg.q(label)})", label=label))
            return
        t = intent.targets[0]
        if t.label and t.label.lower() not in lx.CONTAINERS and t.quoted:
            g = self._note(self.g.ground(t, self.elements))
            self._add(sg.close_dialog(g.query, f"close {self._shown(g)}", label=g.label))
            return
        target = Target("close", label="close", role="button")
        self._add(sg.close_dialog(target.query(), "close the dialog (click its close button)", label="close"))

    # ------------------------------------------------------------------ select / boxes

    def _select(self, intent: Intent) -> None:
        for t in self._targets(intent):
            g = self._note(self.g.ground(t, self.elements, _OPTION_ROLES if not t.role else ()))
            if g.found and g.element.role in BOX_ROLES:
                g = self._box_target(g)
                self._add(sg.check(g.query, True, f"select {self._shown(g)}", label=g.label))
                continue
            typed = self._last_typed()
            if (not g.found or g.loose) and typed is not None and t.label.lower().startswith(
                    typed.args.get("text", "").lower()):
                field = typed.args.get("into", "")
                self.notes.append(f"{t.label!r} is not on screen: choosing it among the suggestions for "
                                  f"{typed.args.get('text')!r}")
                self._add(sg.choose(field, f"choose the suggestion {sg.q(t.label)}", equals=t.label))
                continue
            self._add(sg.tap((f"#{g.element_id}" if g.element_id else g.query), f"select {self._shown(g)}",
                             label=g.label, element=g.element_id, role=g.element.role if g.found else ""))

    def _boxes(self, intent: Intent, on: bool | None) -> None:
        for t in self._targets(intent):
            g = self._note(self.g.ground(t, self.elements, BOX_ROLES if not t.role else ()))
            if intent.kind == lx.CLEAR and g.found and (g.element.editable or g.element.role in FIELD_ROLES):
                self._add(sg.type_text("", g.query, f"clear {g.query}", label=g.label))
                continue
            g = self._box_target(g)
            if on is None:
                state = g.element.checked if g.found else None
                self._add(sg.toggle(g.query, state, f"toggle {self._shown(g)}", label=g.label))
            else:
                verb = intent.verb if intent.verb else ("check" if on else "uncheck")
                self._add(sg.check(g.query, on, f"{verb} {self._shown(g)}", label=g.label))

    def _check(self, intent: Intent) -> None:
        self._boxes(intent, True)

    def _turn_on(self, intent: Intent) -> None:
        self._boxes(intent, True)

    def _uncheck(self, intent: Intent) -> None:
        self._boxes(intent, False)

    def _turn_off(self, intent: Intent) -> None:
        self._boxes(intent, False)

    def _clear(self, intent: Intent) -> None:
        self._boxes(intent, False)

    def _toggle(self, intent: Intent) -> None:
        self._boxes(intent, None)

    def _similar(self, intent: Intent) -> None:
        labels = [e.text for e in self.elements if e.role in _OPTION_ROLES and e.text]
        if not labels:
            raise PlanningError(f"{intent.clause!r}: no checkboxes or options on screen to compare the words with")
        chosen = self.similarity.assign(intent.similar_to, labels)
        missing = [w for w in intent.similar_to if w not in chosen]
        if missing:
            self.notes.append("no option is similar enough to " + ", ".join(repr(w) for w in missing))
        for word in intent.similar_to:
            if word in chosen:
                label = chosen[word]
                t = Target(label, label=label, quoted=True)
                g = self._box_target(self.g.ground(t, self.elements, _OPTION_ROLES))
                self._add(sg.check(g.query, True, f"select {sg.q(label)} (similar to {sg.q(word)})", label=label))

    def _select_option(self, intent: Intent) -> None:
        source = intent.source or Target("the list", role="dropdown")
        dropdown = self._note(self.g.ground_dropdown(source, self.elements))
        option = intent.targets[0].label or intent.targets[0].text
        self._add(sg.select_option(option, dropdown.query, f"select {sg.q(option)} from {dropdown.query}"))

    # ------------------------------------------------------------------ text

    def _field(self, target: Target | None) -> list[Grounded]:
        if target is None:
            fields = [e for e in self.elements if e.editable]
            if len(fields) == 1:
                t = Target("the text field", role="text field")
                return [Grounded(t, t.query(), fields[0])]
            return []
        return [self._note(self.g.ground_field(t, self.elements)) for t in self.g.expand(target, self.elements)]

    def _slide(self, intent: Intent) -> None:
        target = intent.into or Target("the slider", role="slider")
        grounded = self._note(self.g.ground(target, self.elements, ("slider",)))
        if not grounded.found or grounded.element.role != "slider":
            sliders = [e for e in self.elements if e.role == "slider"]
            if len(sliders) == 1 and not target.label:
                only = Target(target.text, role="slider")
                grounded = Grounded(only, only.query(), sliders[0])
        self._set_slider(intent.value or "", grounded)

    def _set_slider(self, value: str, slider: Grounded) -> None:
        try:
            number = float(value.strip().rstrip("%").strip())
        except ValueError as exc:
            raise PlanningError(f"a slider is set to a number, not {value!r}") from exc
        self._add(sg.set_slider(number, slider.query, f"set the slider {slider.query} to {number:g}",
                                label=slider.label))

    def _type_into(self, value: str, fields: list[Grounded], secret: str = "") -> None:
        if not fields:
            self._add(sg.type_text(value, "", f"type {sg.q(value)}", secret=secret))
            return
        for f in fields:
            password = f.found and f.element.role == "password"
            shown = "the configured " + secret if secret else sg.q(value)
            self._add(sg.type_text(value, f.query, f"type {shown} into {f.query}", label=f.label, secret=secret,
                                   password=password))

    def _last_typed(self) -> Subgoal | None:
        for s in reversed(self.subgoals):
            if s.action == sg.TYPE and s.args.get("text"):
                return s
        return None

    def _referenced(self, value: str) -> str:
        """``value`` itself, or, when it refers to something on screen ("the value of Language",
        "the number next to Total"), the text shown beside that label. A reference that cannot be
        read is a planning error: typing its words would only look like doing the task."""
        if _POINTER.fullmatch(value.strip()):
            raise PlanningError(f"{value!r} points at text on screen without saying which: typing these words "
                                f"would not do the task")
        m = _REFERENCE.fullmatch(value.strip())
        if m is None:
            return value
        label = m.group(1).strip(" .:'\"")
        texts = [e for e in self.elements if e.text and not e.editable]
        named = [e for e in texts if text_score(label, e.text) >= 0.9]
        for key in named:
            h = max(1, key.bounds[3] - key.bounds[1])
            beside = nearest_label(key.bounds, [e for e in texts if e is not key], "right", 20 * h) or \
                nearest_label(key.bounds, [e for e in texts if e is not key], "below", 2 * h)
            if beside is not None:
                self.notes.append(f"{value!r} reads {beside.text!r} beside {key.text!r}")
                return beside.text
        raise PlanningError(f"{value!r} refers to a value on screen, but no text beside a {label!r} label was found")

    def _type(self, intent: Intent) -> None:
        if intent.pairs:
            plural = intent.into is not None and intent.into.plural and len(intent.pairs) == 1
            for field, value in intent.pairs:
                fields = self._field(intent.into if plural else field)
                if not plural and not any(f.found for f in fields) and intent.into is not None:
                    fields = self._field(intent.into)
                self._type_into(cased(value, intent.case), fields)
            return
        value = cased(self._referenced(intent.value or ""), intent.case)
        if intent.into is not None and not intent.into.plural:
            slider = self.g.ground(intent.into, self.elements, ("slider",))
            if slider.found and slider.element.role == "slider" and not slider.loose:
                self._note(slider)
                self._set_slider(value, slider)  # "set Volume to 30" where Volume is a slider: typing does nothing
                return
        self._type_into(value, self._field(intent.into))

    def _choose(self, intent: Intent) -> None:
        fields = self._field(None) or self._field(Target("the text field", role="text field"))
        field = fields[0].query if fields else ""
        start = cased(intent.starts_with, intent.case)
        self._type_into(start, fields[:1])
        what = f"starting with {sg.q(start)}" + (f" and ending with {sg.q(intent.ends_with)}" if intent.ends_with
                                                   else "")
        self._add(sg.choose(field, f"choose the suggestion {what}", starts_with=start, ends_with=intent.ends_with))

    def _search(self, intent: Intent) -> None:
        if intent.into is not None:
            fields = self._field(intent.into)
        else:
            box = next((e for e in self.elements if e.role == "search"), None)
            t = Target("search", label="search")
            fields = [Grounded(t, "search field", box)] if box else []
            if not fields:
                g = self.g.ground_field(t, self.elements)
                fields = [g] if g.found else self._field(None)
        self._type_into(intent.value or "", fields)
        self._add(sg.key("enter", f"press enter to search for {sg.q(intent.value or '')}"))

    def _login(self, intent: Intent) -> None:
        if intent.user:
            user_field = None
            for label in ("username", "user name", "email", "login", "user"):
                g = self.g.ground_field(Target(label, label=label), self.elements)
                if g.found and g.element.role != "password":
                    user_field = g
                    break
            if user_field is None:
                first = next((e for e in self.elements if e.editable and e.role != "password"), None)
                t = Target("the first text field", role="text field", ordinal=1)
                user_field = Grounded(t, t.query(), first)
            self._type_into(intent.user, [user_field])
        if intent.password is not None or intent.secret:
            box = next((e for e in self.elements if e.role == "password"), None)
            t = Target("password", label="password", role="" if box is None else "text field")
            g = self.g.ground_field(t, self.elements)
            if box is not None and (not g.found or g.element.role != "password"):
                t = Target("the password field", role="text field", label="password")
                g = Grounded(t, t.query(), box)
            self._type_into(intent.password or "", [g], secret=intent.secret)
        self._commit(("log in", "login", "sign in", "submit", "continue", "next", "ok"), "log in")

    def _submit(self, intent: Intent) -> None:
        self._commit(lx.SUBMIT_LABELS, "submit")

    def _commit(self, labels: Sequence[str], what: str) -> None:
        button = self.g.first_of(labels, self.elements)
        if button is None:
            self._add(sg.key("enter", f"press enter to {what}", submits=True))
            return
        label = button.text or button.description
        t = Target(label, label=label, quoted=True)
        g = self.g.ground(t, self.elements)
        self._add(sg.tap(g.query, f"{what}: click {sg.q(label)}", label=label, role=button.role, submits=True))

    def _implied_commit(self, last: Intent) -> None:
        """"Enter X" as the last words, with nothing said about submitting: a person would
        commit the entry, so tap the form's submit button (or press enter)."""
        if last.verb != "enter" or last.kind not in (lx.TYPE, "choose"):
            return
        button = self.g.first_of(("submit", "done", "ok", "go", "save", "search"), self.elements)
        if button is not None:
            self.notes.append(f"'enter' commits the entry: clicking {sg.q(button.text or button.description)}")
            self._commit(("submit", "done", "ok", "go", "save", "search"), "commit the entry")

    # ------------------------------------------------------------------ the rest

    def _key(self, intent: Intent) -> None:
        self._add(sg.key(intent.key))

    def _scroll(self, intent: Intent) -> None:
        self._add(sg.scroll(intent.direction or "down"))

    def _scroll_to(self, intent: Intent) -> None:
        t = intent.targets[0]
        self._add(sg.scroll_to(t.label or t.text, intent.direction or "down"))

    def _wait(self, intent: Intent) -> None:
        self._add(sg.wait(intent.value or "", intent.seconds))

    def _back(self, intent: Intent) -> None:
        self._add(sg.back())

    def _home(self, intent: Intent) -> None:
        self._add(sg.home())
