"""A grammar for GUI instructions: text -> clauses -> :class:`Intent` records.

The parse is syntactic only: element descriptions stay descriptions (:class:`Target`) and are
matched against the screen later (:mod:`planners.gui.ground`). Informally::

    instruction := sentence (("." | ";") sentence)*
    sentence    := clause (SEP clause)*            # SEP: "then", ", then", "and then", "after that",
                                                   #      and "," / "and" when a verb follows
    clause      := ADVERB* VERB body [by GERUND body]      # "close the dialog by clicking the x"
                 | body                            # after "then": the previous verb ("open A then B")
    body        := target-list                     # click/tap/press/select/check/turn on ... A, B and C
                 | VALUE (into|in|to) target       # type/enter/write/fill in
                 | VALUE as target | target with VALUE | target to VALUE
                 | NOUN VALUE (and NOUN VALUE)* [into target]   # enter the username "x" and the password "y"
                 | X from target                   # select X from the list (a dropdown)
                 | words similar to W, W ...       # select words similar to "huge", "little"
                 | an item that starts with V [and ends with V]
                 | KEY                             # press enter
    target      := [both|all] [ORDINAL] [LABEL] [ROLE] [in CONTAINER] [labeled LABEL | next to ANCHOR]

Quoted text ("...", '...', “...”) is taken verbatim and never split. Nothing here depends on a
particular app: the same rules read MiniWoB utterances, phone instructions and form filling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from planners.errors import PlanningError
from planners.gui import lexicon as lx

FORMS = (
    'click/tap/press/hit X | click the "OK" button | click on the link "Help" | click the 2nd text field',
    'type/enter/write "hello" into/in Search | enter "bob" as the username | fill in Email with a@b.c',
    'enter the username "bob" and the password "pw" into the text fields | type "x" in all upper case',
    "check/tick/uncheck X | select A, B and C | turn on/off Wi-Fi | toggle Dark mode",
    "select Dalila from the list (a dropdown) | choose X | select words similar to big, small",
    'enter an item that starts with "Sa" and ends with "ino" (autocomplete)',
    "log in as alice with password secret (or: with the configured password) | sign in",
    "search for cats | scroll down to Privacy | wait for Done | go back | go home | press enter",
    "drag/move/slide the volume slider to 30 | set Brightness to 70 (a slider on screen)",
    "open Settings then Wi-Fi | expand the section | close the dialog (by clicking the x) | submit",
    "several steps: X, then Y | X and Y | X. Y",
)

_Q_OPEN, _Q_CLOSE = "\ue000", "\ue001"
_QUOTE = re.compile(r'"([^"]*)"|“([^”]*)”|‘([^’]*)’|(?<![\w])\'([^\']+)\'(?![\w])')
_PLACEHOLDER = re.compile(_Q_OPEN + r"(\d+)" + _Q_CLOSE)


def _alternation(phrases: object) -> str:
    return "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))  # type: ignore[arg-type]


_VERB_RE = re.compile(r"(?:" + _alternation(lx.VERBS) + r")(?![\w-])", re.I)
_ADVERB_RE = re.compile(r"^(?:(?:" + _alternation(lx.ADVERBS) + r")\b[\s,]*)+", re.I)
_ROLE_RE = re.compile(r"(?<![\w-])(?:" + _alternation(lx.ROLE_NOUNS) + r")(?![\w-])", re.I)
_CONTAINER_RE = re.compile(r"\s+(?:in|inside|within|on|of|from)\s+(?:the\s+|this\s+|that\s+|a\s+)?(?:"
                           + _alternation(lx.CONTAINERS) + r")(?![\w-])", re.I)
_FILLER_RE = re.compile(r"(?:\s+(?:" + _alternation(lx.PLACE_FILLERS) + r"))+\s*$", re.I)
_LABELED_RE = re.compile(r"\s*\b(?:labell?ed|called|named|titled|saying|that says|which says|with the text|"
                         r"with text|with the label|with label|reading)\s+(.+)$", re.I)
_RELATION_RE = re.compile(r"\s*\b(next to|beside|near|close to|to the left of|left of|to the right of|right of|"
                          r"below|under|underneath|beneath|above|over)\s+(.+)$", re.I)
_PLURAL_RE = re.compile(r"^(both|all(?: of)?(?: the)?|each(?: of the)?|every)\s+", re.I)
_ARTICLE_RE = re.compile(r"^(?:(?:the|a|an|on|onto|at|to|this|that)\s+)+", re.I)
_LIST_SPLIT = re.compile(r"\s*,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*&\s*", re.I)
_THEN_SPLIT = re.compile(r"\s*(?:,\s*)?(?:\band\s+)?\b(?:then|after that|afterwards|afterward|after this|"
                         r"and finally|finally)\b\s*,?\s*", re.I)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;])\s+|\s*;\s*")
_GERUND_RE = re.compile(r"\s+by\s+(" + _alternation(lx.GERUNDS) + r")\b\s*(.*)$", re.I)
_CONSTRAINT_RE = re.compile(
    r"^(?:(?:an?|the|one|some)\s+)?(?:(?:item|value|word|entry|option|name|country|thing|one|text)\s+)?"
    r"(?:(?:that|which)\s+)?(?:starts|begins|starting|beginning)\s+with\s+(.+?)"
    r"(?:\s*,?\s+and\s+(?:that\s+)?(?:ends|ending)\s+with\s+(.+?))?$", re.I)
_SIMILAR_RE = re.compile(r"^(?:all\s+)?(?:the\s+)?(?:words?|items?|options?|ones?|boxes|checkboxes)?\s*"
                         r"(?:that\s+are\s+|which\s+are\s+)?(?:similar|related|close)\s+(?:in\s+meaning\s+)?to\s+(.+)$",
                         re.I)
_TO_NUMBER_RE = re.compile(r"(?:the\s+)?(.+?)\s+(?:all\s+the\s+way\s+)?(?:to|at|until it (?:reads|shows))\s+"
                           r"(?:the\s+)?(?:value\s+|number\s+)?([-+]?\d+(?:\.\d+)?)\s*%?", re.I)
_SECONDS_RE = re.compile(r"^(?:for\s+)?(\d+(?:\.\d+)?)\s*(?:s|sec|secs|second|seconds)$", re.I)


@dataclass
class Target:
    """An element as the instruction describes it. ``query()`` renders it for the element matcher
    of :mod:`perception.ui_query`."""

    text: str  # the phrase as written
    label: str = ""  # words the element shows ("No", "Tab #1", "I agree")
    role: str = ""  # a ROLE_NOUNS value ("button", "text field", ...) or ""
    ordinal: int = 0  # 1-based, -1 = last, 0 = none
    quoted: bool = False
    relation: str = ""  # "next to", "below", ...
    anchor: str = ""
    container: str = ""  # "dialog box": where the element sits
    plural: str = ""  # "both", "all", ...: every element of the role
    pronoun: bool = False  # "it", "them": the previous clause's target

    def query(self) -> str:
        parts: list[str] = []
        if self.ordinal:
            parts.append(lx.ORDINAL_WORDS.get(self.ordinal, f"{self.ordinal}th"))
        if self.label:
            parts.append(f'"{self.label}"' if self.quoted else self.label)
        if self.role:
            parts.append(self.role)
        text = " ".join(parts)
        if self.relation and self.anchor:
            text = f"{text} {self.relation} {self.anchor}".strip()  # no label/role: anything near the anchor
        return text or self.text

    def with_label(self, label: str, quoted: bool | None = None) -> Target:
        return replace(self, label=label, quoted=self.quoted if quoted is None else quoted)


@dataclass
class Intent:
    """One clause read: ``kind`` is a verb class of :mod:`planners.gui.lexicon` or one of
    ``key``, ``select_option``, ``choose``, ``similar``, ``scroll_to``."""

    kind: str
    clause: str
    targets: list[Target] = field(default_factory=list)
    whole: Target | None = None  # the target list read as one description ("Terms and Conditions")
    value: str | None = None  # text to type, search for or wait for
    into: Target | None = None  # where the value goes
    pairs: list[tuple[Target, str]] = field(default_factory=list)  # (field, value): "the username 'bob'"
    source: Target | None = None  # "select X from <source>"
    case: str = ""  # "upper" | "lower" | "title"
    starts_with: str = ""
    ends_with: str = ""
    similar_to: list[str] = field(default_factory=list)
    direction: str = ""
    key: str = ""
    user: str = ""
    password: str | None = None
    secret: str = ""  # name of a configured secret to type instead of a literal
    seconds: float = 0.0
    purpose: str = ""  # "close the dialog box" in "close the dialog box by clicking the x"
    verb: str = ""  # the verb as written


class _Quotes:
    """Quoted spans of one instruction, replaced by placeholders while the text is split."""

    def __init__(self, text: str) -> None:
        self.values: list[str] = []

        def keep(m: re.Match[str]) -> str:
            self.values.append(next(g for g in m.groups() if g is not None))
            return f"{_Q_OPEN}{len(self.values) - 1}{_Q_CLOSE}"

        self.text = _QUOTE.sub(keep, text)

    def restore(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: self.values[int(m.group(1))], text)

    def only(self, text: str) -> str | None:
        """The quoted value when ``text`` is exactly one placeholder, else None."""
        m = _PLACEHOLDER.fullmatch(text.strip())
        return self.values[int(m.group(1))] if m else None

    def show(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: f'"{self.values[int(m.group(1))]}"', text)


def _clean(text: str) -> str:
    return " ".join(text.split()).strip(" ,")


class Grammar:
    """Reads an instruction into intents (see the module docstring)."""

    def parse(self, instruction: str) -> list[Intent]:
        """Raises :class:`PlanningError` naming the clauses it could not read."""
        if not instruction.strip():
            raise PlanningError("the instruction is empty", forms=FORMS)
        quotes = _Quotes(instruction)
        intents: list[Intent] = []
        failed: list[str] = []
        previous_verb = ""
        previous_start = 0
        for clause, inherits in self.clauses(quotes.text):
            early = _FIRST_RE.search(clause)
            if early:
                clause = clause[:early.start()]
            read = self._clause(clause, quotes, previous_verb if inherits else "")
            if read is None:
                failed.append(quotes.show(clause))
                continue
            for intent in read:
                if intent.targets and all(t.pronoun for t in intent.targets):
                    intent.targets = self._antecedent(intents) or intent.targets
            start = previous_start if early else len(intents)  # "X and Y first": Y goes before X
            intents[start:start] = read
            previous_start = start
            previous_verb = read[-1].verb if read and read[-1].verb else previous_verb
        if not failed and not intents:
            raise PlanningError(f"nothing to do in {instruction!r}: it names no action",
                                not_understood=[instruction], forms=FORMS)
        if failed:
            understood = [describe(i) for i in intents]
            raise PlanningError(
                "I cannot read " + ("this instruction" if not intents else "part of this instruction"),
                understood=understood, not_understood=failed, forms=FORMS)
        return intents

    # ------------------------------------------------------------------ splitting

    def clauses(self, text: str) -> list[tuple[str, bool]]:
        """Clauses in order, each with whether it may take the previous clause's verb
        (it followed "then": "open Settings then Wi-Fi")."""
        out: list[tuple[str, bool]] = []
        for sentence in _SENTENCE_SPLIT.split(text):
            sentence = sentence.strip().rstrip(".!?;").strip()
            if not sentence:
                continue
            for i, part in enumerate(_THEN_SPLIT.split(sentence)):
                part = part.strip(" ,")
                if not part:
                    continue
                for j, clause in enumerate(self._verb_split(part)):
                    out.append((clause, i > 0 and j == 0))
        return out

    def _verb_split(self, text: str) -> list[str]:
        """Split at "," or "and" when a verb follows: "select A, B and click Submit"."""
        cuts = [0]
        for m in re.finditer(r"\s*,\s*(?:and\s+)?|\s+and\s+", text, re.I):
            after = _ADVERB_RE.sub("", text[m.end():])
            if _VERB_RE.match(after) and not _CONSTRAINT_TAIL.match(after):
                cuts.append(m.start())
                cuts.append(m.end())
        cuts.append(len(text))
        parts = [text[cuts[i]:cuts[i + 1]] for i in range(0, len(cuts), 2)]
        return [p.strip(" ,") for p in parts if p.strip(" ,")]

    # ------------------------------------------------------------------ clauses

    def _clause(self, clause: str, quotes: _Quotes, inherited: str) -> list[Intent] | None:
        clause = _ADVERB_RE.sub("", clause.strip()).strip(" ,")
        if not clause:
            return []
        tool = _USE_RE.fullmatch(clause)
        if tool:  # "use the textbox to enter X": the tool is where the text goes
            inner = self._clause(tool.group(2), quotes, inherited)
            if inner is not None:
                where = self.target(tool.group(1), quotes)
                for intent in inner:
                    if intent.kind == lx.TYPE and intent.into is None and not intent.pairs:
                        intent.into = where
            return inner
        purpose = ""
        means = _GERUND_RE.search(clause)
        if means:
            purpose = quotes.show(clause[:means.start()])
            clause = f"{lx.GERUNDS[means.group(1).lower()]} {means.group(2)}"
        turned = re.fullmatch(r"(turn|switch|toggle|set)\s+(.+?)\s+(?:to\s+)?(on|off)", clause, re.I)
        if turned:
            verb, rest, kind = f"{turned.group(1)} {turned.group(3)}", turned.group(2), \
                lx.TURN_ON if turned.group(3).lower() == "on" else lx.TURN_OFF
        else:
            m = _VERB_RE.match(clause)
            if m is None:
                key = lx.KEY_NAMES.get(clause.lower())
                if key:
                    return [Intent("key", quotes.show(clause), key=key, verb="press")]
                if not inherited or not _looks_like_label(clause):
                    return None
                verb, rest = inherited, clause
            else:
                verb, rest = m.group(0), clause[m.end():]
            kind = lx.VERBS[verb.lower()]
        rest = _clean(rest)
        intents = self._body(kind, verb.lower(), rest, quotes)
        if intents is None:
            return None
        for intent in intents:
            intent.clause = quotes.show(clause if not purpose else f"{purpose} by {clause}")
            intent.purpose = purpose
            intent.verb = intent.verb or verb.lower()
        return intents

    def _body(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        low = rest.lower()
        if kind in (lx.TAP, lx.SELECT, lx.OPEN, lx.TYPE) and (low in lx.KEY_NAMES or low.endswith(" key")):
            key = lx.KEY_NAMES.get(low) or lx.KEY_NAMES.get(low.removeprefix("the ").removesuffix(" key"))
            if key:
                return [Intent("key", rest, key=key)]
        if kind in (lx.TAP, lx.OPEN) and low in lx.BACK_PHRASES:
            return [Intent(lx.BACK, rest)]
        if kind in (lx.TAP, lx.OPEN) and low in lx.HOME_PHRASES:
            return [Intent(lx.HOME, rest)]
        handler = {
            lx.TAP: self._tap, lx.SELECT: self._select, lx.OPEN: self._tap, lx.FOCUS: self._focus,
            lx.EXPAND: self._tap, lx.LONG_PRESS: self._tap, lx.CHECK: self._boxes, lx.UNCHECK: self._boxes,
            lx.TURN_ON: self._boxes, lx.TURN_OFF: self._boxes, lx.TOGGLE: self._boxes, lx.CLEAR: self._boxes,
            lx.TYPE: self._type, lx.SET: self._set, lx.SCROLL: self._scroll, lx.FIND: self._find,
            lx.SEARCH: self._search, lx.LOGIN: self._login, lx.SUBMIT: self._submit, lx.WAIT: self._wait,
            lx.BACK: self._bare, lx.HOME: self._bare, lx.CLOSE: self._close, lx.SLIDE: self._slide,
        }[kind]
        return handler(kind, verb, rest, quotes)

    # ------------------------------------------------------------------ verb classes

    def _tap(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        if not rest:
            return None
        targets, whole = self.target_list(rest, quotes)
        if not targets:
            return None
        return [Intent(kind, rest, targets=targets, whole=whole)]

    def _focus(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        target = self.target(rest, quotes) if rest else Target("the text field", role="text field")
        if not target.role and not target.label:
            target.role = "text field"
        return [Intent(kind, rest, targets=[target])]

    def _select(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        if not rest:
            return None
        if re.fullmatch(r"(?:nothing|none|none of them|no (?:items?|options?|boxes|checkboxes))", rest, re.I):
            return []  # "select nothing and click Submit": no selection step (not a label to look for)
        similar = _SIMILAR_RE.match(rest)
        if similar:
            words = [self._literal(w, quotes) for w in _LIST_SPLIT.split(similar.group(1)) if w.strip()]
            return [Intent("similar", rest, similar_to=[w for w in words if w])] if words else None
        constraint = self._constraint(rest, quotes)
        if constraint is not None:
            return [constraint]
        source = re.match(r"(.+?)\s+(?:from|out of|in|on)\s+(.+)$", rest, re.I)
        if source:
            src = self.target(source.group(2), quotes)
            is_list = src.role in ("dropdown", "option") or re.search(r"\bfrom\b|\bout of\b", rest[source.end(1):],
                                                                      re.I)
            if is_list and not src.container:
                option = self.target(source.group(1), quotes)
                return [Intent("select_option", rest, targets=[option], source=src)]
        targets, whole = self.target_list(rest, quotes)
        if not targets and re.fullmatch(r"(?:nothing|none|no(?:thing)? (?:items?|boxes|options?))", rest, re.I):
            return [Intent(kind, rest, targets=[])]
        if not targets:
            return None
        return [Intent(kind, rest, targets=targets, whole=whole)]

    def _boxes(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        if not rest:
            return None
        if re.fullmatch(r"(?:nothing|none)", rest, re.I):
            return [Intent(kind, rest, targets=[])]
        similar = _SIMILAR_RE.match(rest) if kind == lx.CHECK else None
        if similar:
            words = [self._literal(w, quotes) for w in _LIST_SPLIT.split(similar.group(1)) if w.strip()]
            return [Intent("similar", rest, similar_to=[w for w in words if w])]
        targets, whole = self.target_list(rest, quotes)
        return [Intent(kind, rest, targets=targets, whole=whole)] if targets else None

    def _type(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        if not rest:
            return [Intent("key", "", key="enter")] if verb == "enter" else None
        case = ""
        for pattern, name in lx.CASE_PATTERNS:
            if pattern.search(rest):
                case, rest = name, _clean(pattern.sub(" ", rest))
        constraint = self._constraint(rest, quotes)
        if constraint is not None:
            constraint.case = case
            return [constraint]
        if verb.startswith("fill"):
            # "fill in Name with A and the Email field with B": one intent per "FIELD with VALUE"
            chunks = re.split(r"\s*,\s*(?:and\s+)?(?=[^,]+?\s+with\s+)|\s+and\s+(?=[^,]+?\s+with\s+)", rest,
                              flags=re.I)
            fills = [re.fullmatch(r"(?:in\s+|out\s+)?(.+?)\s+with\s+(.+)", chunk, re.I) for chunk in chunks]
            if all(fills):
                return [Intent(kind, chunk, value=self._literal(m.group(2), quotes),
                               into=self.target(m.group(1), quotes), case=case)
                        for chunk, m in zip(chunks, fills) if m is not None]
        pairs, tail = self._pairs(rest, quotes)
        if pairs:
            into = None
            m = re.fullmatch(r"(?:into|in|to|in to|on)\s+(.+)", tail, re.I) if tail else None
            if tail and m is None:
                return None
            if m:
                into = self.target(m.group(1), quotes)
            return [Intent(kind, rest, pairs=pairs, into=into, case=case)]
        m = re.fullmatch(r"(.+?)\s+as\s+(?:the\s+|my\s+|your\s+)?(.+)", rest, re.I)
        if m:
            return [Intent(kind, rest, value=self._literal(m.group(1), quotes),
                           into=self.target(m.group(2), quotes), case=case)]
        split = self._value_target(rest)
        if split is not None:
            value, where = split
            return [Intent(kind, rest, value=self._literal(value, quotes), into=self.target(where, quotes),
                           case=case)]
        if re.match(r"(?:into|in|to|onto|on|as|with)\b", rest, re.I):
            return None  # a place but no text: "type into the box"
        return [Intent(kind, rest, value=self._literal(rest, quotes), case=case)]

    def _set(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        m = re.fullmatch(r"(?:the\s+)?(.+?)\s+to\s+(.+)", rest, re.I)
        if not m:
            return None
        state = m.group(2).lower().strip()
        target = self.target(m.group(1), quotes)
        if state in ("on", "enabled", "checked", "true", "yes"):
            return [Intent(lx.TURN_ON, rest, targets=[target])]
        if state in ("off", "disabled", "unchecked", "false", "no"):
            return [Intent(lx.TURN_OFF, rest, targets=[target])]
        return [Intent(lx.TYPE, rest, value=self._literal(m.group(2), quotes),
                       into=self.target(m.group(1), quotes))]

    def _slide(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        """"drag the volume slider to 30", "move the Brightness to 70 %": a slider set to a number
        (anything else moved somewhere is not read here)."""
        m = _TO_NUMBER_RE.fullmatch(rest)
        if not m:
            return None
        target = self.target(m.group(1), quotes)
        if not target.role and not target.label:
            target.role = "slider"
        return [Intent(kind, rest, value=m.group(2), into=target)]

    def _scroll(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        direction = next((d for d in ("down", "up", "left", "right") if verb.endswith(d)), "")
        m = re.match(r"(down|up|left|right)\b\s*", rest, re.I)
        if m:
            direction, rest = m.group(1).lower(), rest[m.end():]
        rest = re.sub(r"^(?:to|until|till|towards|for)\s+", "", rest, flags=re.I)
        rest = re.sub(r"\s+(?:is|are)\s+(?:visible|shown|on screen)$|\s+(?:appears?|shows up|comes into view)$", "",
                      rest, flags=re.I).strip()
        edge = re.fullmatch(r"(?:the\s+)?(bottom|end|top|beginning|start)(?:\s+of\s+.+)?", rest, re.I)
        if edge or not rest:
            if edge:
                direction = "down" if edge.group(1).lower() in ("bottom", "end") else "up"
            return [Intent(lx.SCROLL, rest, direction=direction or "down")]
        return [Intent("scroll_to", rest, targets=[self.target(rest, quotes)], direction=direction or "down")]

    def _find(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        if not rest:
            return []  # "find and click X": the finding is part of the next clause
        return [Intent("scroll_to", rest, targets=[self.target(rest, quotes)], direction="down")]

    def _search(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        rest = re.sub(r"^for\s+", "", rest, flags=re.I)
        if not rest:
            return None
        into = None
        split = self._value_target(rest, preps=("in", "on", "using", "with"))
        if split is not None:
            rest, where = split
            into = self.target(where, quotes)
        return [Intent(lx.SEARCH, rest, value=self._literal(rest, quotes), into=into)]

    def _login(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        user, password, secret = "", None, ""
        value = r"(\ue000\d+\ue001|[^\s,]+)"
        m = re.search(r"\bas\s+" + value, rest, re.I) or re.search(
            r"(?:\bwith|\busing|\band|^)\s*(?:the\s+|my\s+)?(?:username|user name|user|login|email)\s+" + value,
            rest, re.I)
        if m:
            user = self._literal(m.group(1), quotes)
        m = re.search(r"(?:\bwith|\busing|\band|,)\s*(?:the\s+)?(?:password|passcode|pin)\s+" + value, rest, re.I)
        if m:
            password = self._literal(m.group(1), quotes)
        else:
            m = re.search(r"(?:\bwith|\busing|\band|,)\s*(" + _alternation(lx.SECRET_WORDS) + r")?\s*"
                          r"(password|passcode|pin)\b", rest, re.I)
            if m:
                secret = m.group(2).lower()
        if not user and password is None and not secret and rest and not re.fullmatch(
                r"(?:to|into|on)\s+.+", rest, re.I):
            return None
        return [Intent(lx.LOGIN, rest, user=user, password=password, secret=secret)]

    def _submit(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        if rest and not re.fullmatch(r"(?:the\s+|this\s+)?(?:form|answer|page|it|entry|changes|data)", rest, re.I):
            return None
        return [Intent(lx.SUBMIT, rest)]

    def _wait(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        seconds = _SECONDS_RE.match(rest)
        if seconds:
            return [Intent(lx.WAIT, rest, seconds=float(seconds.group(1)))]
        rest = re.sub(r"^(?:for|until|till)\s+", "", rest, flags=re.I)
        rest = re.sub(r"\s+(?:to\s+)?(?:appear|appears|is visible|to be visible|shows up|to show up|loads|to load)$",
                      "", rest, flags=re.I).strip()
        if not rest:
            return None
        return [Intent(lx.WAIT, rest, value=self._literal(rest, quotes))]

    def _bare(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        return [Intent(kind, rest)] if not rest or re.fullmatch(r"(?:to\s+)?(?:the\s+)?(?:previous|last|home)"
                                                                r"(?:\s+(?:page|screen))?", rest, re.I) else None

    def _close(self, kind: str, verb: str, rest: str, quotes: _Quotes) -> list[Intent] | None:
        target = self.target(rest, quotes) if rest else Target("the dialog", container="dialog")
        return [Intent(lx.CLOSE, rest, targets=[target])]

    # ------------------------------------------------------------------ pieces

    def _constraint(self, rest: str, quotes: _Quotes) -> Intent | None:
        m = _CONSTRAINT_RE.match(rest)
        if not m:
            return None
        starts = self._literal(m.group(1), quotes)
        ends = self._literal(m.group(2), quotes) if m.group(2) else ""
        return Intent("choose", rest, starts_with=starts, ends_with=ends)

    def _pairs(self, rest: str, quotes: _Quotes) -> tuple[list[tuple[Target, str]], str]:
        """``the username "bob" and the password "pw" [into the text fields]``: field nouns each
        followed by a value (quoted, or one word after a known field noun)."""
        nouns = _alternation(lx.FIELD_NOUNS)
        item = re.compile(r"(?:the\s+|my\s+|your\s+|a\s+|an\s+)?((?:[\w-]+\s+){0,2}?[\w-]+)\s+"
                          r"(\ue000\d+\ue001)|(?:the\s+|my\s+|your\s+)?(" + nouns + r")\s+([^\s,\ue000]+)", re.I)
        pairs: list[tuple[Target, str]] = []
        pos = 0
        while True:
            m = item.match(rest, pos)
            if not m:
                break
            noun = m.group(1) or m.group(3)
            if noun.lower() in ("into", "in", "to", "as", "with", "and"):
                break
            if m.group(3) and m.group(4).lower() in ("into", "in", "to", "as", "with", "and", "field", "box"):
                break
            value = quotes.only(m.group(2)) if m.group(2) else m.group(4)
            if not m.group(2) and value.lower() in _NOT_A_VALUE:
                break  # "the text below": a place on screen, not text to type
            pairs.append((self.target(noun, quotes), value or ""))
            pos = m.end()
            sep = re.match(r"\s*(?:,\s*(?:and\s+)?|\s+and\s+)", rest[pos:], re.I)
            if not sep:
                break
            pos += sep.end()
        tail = rest[pos:].strip(" ,")
        if not pairs or (tail and not re.match(r"(?:into|in|to|on)\b", tail, re.I)):
            return [], rest
        return pairs, tail

    @staticmethod
    def _value_target(rest: str, preps: tuple[str, ...] = ("into", "in to", "onto", "in", "to", "on")
                      ) -> tuple[str, str] | None:
        """``VALUE into TARGET``: the last "into" wins, else the last of the other prepositions,
        so a value may contain "in" ("sign in page into Search")."""
        for group in (preps[:1], preps[1:]):
            best = None
            for prep in group:
                for m in re.finditer(rf"\s+{re.escape(prep)}\s+", rest, re.I):
                    if best is None or m.start() > best.start():
                        best = m
            if best is not None and best.start() > 0 and rest[best.end():].strip():
                return rest[:best.start()], rest[best.end():]
        return None

    @staticmethod
    def _literal(text: str, quotes: _Quotes) -> str:
        only = quotes.only(text)
        return only if only is not None else quotes.restore(_clean(text))

    def target_list(self, rest: str, quotes: _Quotes) -> tuple[list[Target], Target | None]:
        """``A, B and C`` as targets, plus the whole phrase as one target (a label may contain
        "and"); a trailing role noun is shared: "the Name and Email fields". A phrase that starts
        with a preposition names no element ("select from the list"): no targets."""
        if re.match(r"(?:from|into|in|with|as|by|for|of|to)\b", rest, re.I):
            return [], None
        whole = self.target(rest, quotes)
        if whole.container or whole.relation or whole.plural:
            return [whole], whole
        parts = [p for p in _LIST_SPLIT.split(rest) if p.strip()]
        if len(parts) <= 1:
            return [whole], whole
        targets = [self.target(p, quotes) for p in parts]
        if targets[-1].role and not any(t.role for t in targets[:-1]):
            for t in targets[:-1]:
                t.role = targets[-1].role
        return targets, whole

    def target(self, phrase: str, quotes: _Quotes) -> Target:
        """Read one element description (see :class:`Target`)."""
        text = quotes.show(_clean(phrase))
        s = _clean(phrase)
        if re.fullmatch(r"(?:it|them|this|that|these|those)", s, re.I):
            return Target(text, pronoun=True)
        s = _FILLER_RE.sub("", s)
        container = ""
        m = _CONTAINER_RE.search(s)
        if m:
            container = s[m.start():m.end()].split()[-1].lower()
            s = (s[:m.start()] + s[m.end():]).strip()
        label_text, relation, anchor = "", "", ""
        m = _LABELED_RE.search(s)
        if m:
            label_text, s = m.group(1), s[:m.start()]
        m = _RELATION_RE.search(s)
        if m and not label_text:
            relation, anchor, s = m.group(1).lower(), self._literal(m.group(2), quotes), s[:m.start()]
        s = _ARTICLE_RE.sub("", s.strip())
        plural = ""
        m = _PLURAL_RE.match(s)
        if m:
            plural, s = m.group(1).lower().split()[0], s[m.end():]
            s = _ARTICLE_RE.sub("", s)
        ordinal = 0
        words = s.split()
        for i, w in enumerate(words):
            if w.lower() in lx.ORDINALS:
                ordinal = lx.ORDINALS[w.lower()]
                del words[i]
                break
        s = " ".join(words)
        role = ""
        hits = list(_ROLE_RE.finditer(s))
        for hit in reversed(hits):
            after = s[hit.end():]
            if re.match(r"\s*#?\d+\b", after):
                continue  # "Tab #1", "Section 3": the noun is part of the label
            role = lx.ROLE_NOUNS[hit.group(0).lower()]
            s = (s[:hit.start()] + " " + after).strip()
            break
        s = _ARTICLE_RE.sub("", _clean(s))
        s = _GENERIC_TAIL.sub("", s)  # 'a "checkbox" widget': the label names the element
        if s.lower() in lx.EMPTY_NOUNS:
            s = ""
        if label_text:
            s = label_text
        quoted_value = quotes.only(s)
        label = quoted_value if quoted_value is not None else quotes.restore(_clean(s))
        return Target(text, label=label, role=role, ordinal=ordinal, quoted=quoted_value is not None,
                      relation=relation, anchor=anchor, container=container, plural=plural)

    @staticmethod
    def _antecedent(intents: list[Intent]) -> list[Target]:
        for intent in reversed(intents):
            if intent.targets:
                return [replace(t) for t in intent.targets]
            if intent.into is not None:
                return [replace(intent.into)]
        return []


#: Unquoted words after a field noun that say where something is, not what to type.
_NOT_A_VALUE = frozenset({"below", "above", "here", "there", "shown", "displayed", "given", "provided", "beside",
                          "underneath", "next", "following", "on", "from", "in"})
_GENERIC_TAIL = re.compile(r"(?<=\S)\s+(?:widget|element|control|item|entry|thing)s?$", re.I)
_USE_RE = re.compile(r"use\s+(.+?)\s+to\s+(.+)", re.I)
_FIRST_RE = re.compile(r"\s*,?\s+(?:first|beforehand|before that|before anything else)$", re.I)
_CONSTRAINT_TAIL = re.compile(r"(?:ends|ending)\s+with\b", re.I)


def _looks_like_label(text: str) -> bool:
    """A verbless clause after "then" that may take the previous verb ("open Settings then
    Wi-Fi"): quoted, capitalised, or at most two words; "then juggle three balls" is not."""
    text = text.strip()
    return bool(text) and (text[0] == _Q_OPEN or text[0].isupper() or text[0].isdigit() or len(text.split()) <= 2)


def describe(intent: Intent) -> str:
    """A short reading of an intent, for plan notes and error messages."""
    targets = ", ".join(t.query() for t in intent.targets)
    if intent.kind == "key":
        return f"press the {intent.key} key"
    if intent.kind == lx.TYPE:
        if intent.pairs:
            return "; ".join(f"type {v!r} into {t.query()}" for t, v in intent.pairs)
        return f"type {intent.value!r}" + (f" into {intent.into.query()}" if intent.into else "")
    if intent.kind == "select_option":
        return f"select {targets} from {intent.source.query() if intent.source else 'a list'}"
    if intent.kind == "choose":
        return f"choose an item starting with {intent.starts_with!r}" + (
            f" and ending with {intent.ends_with!r}" if intent.ends_with else "")
    if intent.kind == "similar":
        return "select the items similar to " + ", ".join(intent.similar_to)
    if intent.kind == lx.LOGIN:
        return "log in" + (f" as {intent.user}" if intent.user else "")
    if intent.kind in (lx.SEARCH, lx.WAIT):
        return f"{intent.kind} {intent.value!r}" if intent.value else f"wait {intent.seconds:g} s"
    if intent.kind in (lx.SCROLL,):
        return f"scroll {intent.direction}"
    if intent.kind == lx.SLIDE:
        return f"set the slider {intent.into.query() if intent.into else ''} to {intent.value}"
    return f"{intent.kind.replace('_', ' ')} {targets}".strip()
