"""A small grammar for tabletop instructions: tokens -> clauses -> intents.

The parse is purely syntactic: noun phrases stay descriptions ("the two red blocks", "it", "the
plate of the same colour") and are resolved against what the camera sees in
:mod:`planners.rule.semantics`. Grammar, informally::

    instruction := clause (SEQ clause)*          # "X, then Y", "first X, after that Y", "X. Y"
    clause      := [REL np ","] VERB body        # "onto the blue block, put the red one"
                 | np REL np                     # verbless: "red on blue", inherits the last verb
    body        := np-list (REL np)* [DIR] [distance] [modifiers] ["and" clause-with-same-verb]
    np-list     := np (("," | "and")? np)*       # "red, green and blue blocks"
    np          := [DET|QUANT|NUM] [SIZE|COLOR|POSMOD|MATCH|name]* [SHAPE [index]] [POSMOD|MATCH]

Stack and line clauses add order specifications ("red at the bottom", "largest first", "from
biggest to smallest", "in the order red, green, blue", "from left to right").
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from planners.errors import PlanningError
from planners.rule.lexicon import (
    AMOUNT,
    AND,
    BY,
    BYKEY,
    COLON,
    COLOR,
    COMMA,
    DET,
    DIR,
    EACH_OTHER,
    FIRST,
    FROM,
    GUI,
    LAST,
    MATCH,
    NUM,
    OF,
    ORDER,
    ORDERDIR,
    POS,
    POSMOD,
    PRON,
    QUANT,
    REL,
    ROW,
    SEQ,
    SHAPE,
    SIZE,
    SPEED,
    TABLE,
    UNIT,
    UNITS,
    VERB,
    WITH,
    WORD,
    Token,
)

FORMS = (
    "put/place/move the red block on/in/next to/left of/right of/in front of/behind the blue block",
    "pick up the red cube and put it in the bowl",
    "stack red, green and blue | stack the blocks with the largest at the bottom | make a tower of all the blocks",
    "put every block on the plate of the same colour | sort the blocks into the bowls by colour",
    "line up the blocks | arrange the cubes in a row from left to right: red, green, blue",
    "push the red block 5 cm to the left (left/right/forward/back/towards me)",
    "put everything in the tray | clear the table into the bowl",
    "several steps: X, then Y | first X, after that Y",
)

KNOWN_VERBS = ("put", "place", "move", "set", "drop", "pick", "take", "grab", "stack", "pile", "sort", "group",
               "line", "arrange", "align", "push", "slide", "nudge", "clear", "tidy", "remove", "empty")


@dataclass
class NounPhrase:
    """A description of one or more objects, as written. Resolved later against the scene."""

    words: list[str] = field(default_factory=list)
    det: str = ""  # "the" | "a"
    quant: str = ""  # "all" | "both" | "any" | "rest"
    count: int | None = None
    colors: list[str] = field(default_factory=list)
    shape: str = ""  # shape class, "" when not said
    plural: bool = False
    size: str = ""  # "max" | "min"
    position: str = ""  # "left" | "right" | "front" | "back" | "top"
    trailing_position: bool = False  # the position came after the noun ("the block on the left")
    match: str = ""  # "same" | "different" (colour)
    pronoun: str = ""  # "it" | "them"
    names: list[str] = field(default_factory=list)  # words that are no grammar word: maybe a name
    index: int | None = None  # "red block 2"
    table: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def many(self) -> bool:
        """Refers to several objects ("the blocks", "all", "two red cubes", "them")."""
        return (self.plural or self.quant in ("all", "both", "rest") or (self.count or 1) > 1
                or self.pronoun == "them")


@dataclass
class Move:
    """Pick objects and put them somewhere (put, place, pick up, remove, clear, sort)."""

    verb: str
    objects: list[NounPhrase]
    relation: str = ""  # destination relation: on, in, near, left_of, ..., between, center_of, to
    targets: list[NounPhrase] = field(default_factory=list)
    filters: list[tuple[str, NounPhrase]] = field(default_factory=list)  # "the block on the plate"
    direction: str = ""  # "move it left by 5 cm"
    distance: float | None = None
    match: str = ""
    speed: float = 1.0
    region: str = ""  # a place on the table: "left", "center", ...
    text: str = ""


@dataclass
class Stack:
    objects: list[NounPhrase]
    chain: list[NounPhrase] = field(default_factory=list)  # "red on green on blue": top first
    base: NounPhrase | None = None  # "stack them on the plate"
    positions: list[tuple[NounPhrase, str]] = field(default_factory=list)  # (np, top|bottom|middle)
    sequence: list[NounPhrase] = field(default_factory=list)
    sequence_from_top: bool = False
    size_bottom: str = ""  # "max": largest at the bottom; "min": smallest at the bottom
    speed: float = 1.0
    text: str = ""


@dataclass
class Line:
    objects: list[NounPhrase]
    sequence: list[NounPhrase] = field(default_factory=list)
    key: str = ""  # "color" | "size" | "" (keep the current order)
    colors: list[str] = field(default_factory=list)
    size_first: str = ""  # "max" | "min"
    direction: str = "ltr"  # ltr | rtl | f2b | b2f
    axis: str = "row"  # row (along y) | column (along x)
    region: str = ""
    speed: float = 1.0
    text: str = ""


@dataclass
class Push:
    objects: list[NounPhrase]
    direction: str = ""
    distance: float | None = None
    towards: NounPhrase | None = None
    speed: float = 1.0
    text: str = ""


Intent = Move | Stack | Line | Push

_NP_START = {DET, QUANT, NUM, SIZE, COLOR, POSMOD, MATCH, SHAPE, PRON, WORD, TABLE}


def _words(tokens: list[Token]) -> str:
    return " ".join(t.text for t in tokens)


def split_clauses(tokens: list[Token]) -> list[list[Token]]:
    """Cut at sequencing words ("then", "after that", "."), and at "and"/"," followed by a verb."""
    clauses: list[list[Token]] = [[]]
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok.kind == SEQ:
            clauses.append([])
            continue
        has_verb = any(t.kind in (VERB, GUI) for t in clauses[-1])
        if tok.kind in (AND, COMMA) and nxt is not None and (nxt.kind in (SEQ, FIRST) or (
                nxt.kind in (VERB, GUI) and has_verb)):
            clauses.append([])
            continue
        if tok.kind == FIRST and not clauses[-1]:
            continue  # "first, put ..." / "start by putting ..."
        clauses[-1].append(tok)
    out = []
    for clause in clauses:
        while clause and clause[0].kind in (AND, COMMA, COLON):
            clause.pop(0)
        while clause and clause[-1].kind in (AND, COMMA):
            clause.pop()
        if clause:
            out.append(clause)
    return out


class _Clause:
    """A cursor over one clause's tokens."""

    def __init__(self, tokens: list[Token]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def kind(self, k: int = 0) -> str:
        tok = self.peek(k)
        return tok.kind if tok is not None else ""

    def take(self) -> Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def done(self) -> bool:
        return self.i >= len(self.toks)

    def rest(self) -> list[Token]:
        return self.toks[self.i:]

    # ------------------------------------------------------------------------------- phrases

    def item(self) -> NounPhrase | None:
        """One noun phrase, or None (cursor unchanged) when none starts here."""
        start = self.i
        np = NounPhrase()
        head = False
        while not self.done():
            tok = self.toks[self.i]
            k = tok.kind
            if k == DET and not head and not np.colors and not np.det:
                np.det = tok.value
            elif k == QUANT and not head and not np.colors:
                np.quant = tok.value
                if tok.text.startswith("everything"):
                    np.shape = np.shape or "object"
            elif k == NUM and self.kind(1) != UNIT:
                if head and tok.number.is_integer():
                    np.index = int(tok.number)
                elif not head and np.count is None:
                    np.count = int(tok.number)
                else:
                    break
            elif k == OF and not head and (np.quant or np.count is not None):
                pass  # "two of the blocks"
            elif k == SIZE and not head:
                np.size = tok.value
            elif k == COLOR and not head and not np.colors:
                np.colors.append(tok.value)
            elif k == POSMOD:
                np.position = tok.value
                np.trailing_position = head
            elif k == DIR and not head and self.kind(1) in (COLOR, SHAPE, SIZE) and tok.value in (
                    "left", "right"):
                np.position = tok.value
            elif k == MATCH:
                np.match = tok.value
            elif k == SHAPE and not head:
                np.shape, np.plural = tok.value, tok.plural
                head = True
            elif k == PRON and not head and not np.colors:
                np.pronoun = tok.value
                head = True
            elif k == WORD and not head:
                np.names.append(tok.value)
            elif k == TABLE and not head and not np.colors:
                np.table = True
                head = True
            else:
                break
            np.words.append(tok.text)
            self.i += 1
        useful = (np.colors or np.shape or np.pronoun or np.names or np.table or np.quant or np.size
                  or np.position or np.count is not None)
        if not useful:
            self.i = start
            return None
        return np

    def item_list(self, spec_stop: bool = True) -> list[NounPhrase]:
        """Noun phrases joined by "," / "and" / nothing ("red green blue"). Stops before an item
        that is really an order spec ("red at the bottom", "largest first")."""
        items: list[NounPhrase] = []
        while True:
            before = self.i
            np = self.item()
            if np is None:
                break
            if spec_stop and self.kind() in (POS, FIRST, LAST):
                self.i = before
                break
            items.append(np)
            mark = self.i
            if self.kind() in (COMMA, AND):
                self.i += 1
                if self.kind() in _NP_START and not (self.kind() == DET and self.kind(1) in (POS,)):
                    continue
                self.i = mark
                break
            if self.kind() in (COLOR, SHAPE, WORD) and (np.colors or np.names):
                continue  # "stack red green blue"
            break
        if items and items[-1].shape and items[-1].shape != "object":
            for np in items[:-1]:  # "red, green and blue blocks"
                if not np.shape and not np.pronoun and not np.table:
                    np.shape = items[-1].shape
        if len(items) > 1 and items[0].quant == "both":
            items[0].quant = ""  # "both the green and the red block": a conjunction, not a count
        for np in items[1:]:  # "all red and blue blocks"
            if not np.quant and np.count is None and items[0].quant and not np.det:
                np.quant = items[0].quant
        return items

    def particle(self) -> bool:
        """"up"/"down" after a verb's object ("line the cubes up", "stack them up")."""
        tok = self.peek()
        return tok is not None and tok.kind == DIR and tok.value in ("up", "down")

    def at_from(self) -> bool:
        """"from" starts an order ("from biggest to smallest") or a source ("from the plate")."""
        tok = self.peek()
        return tok is not None and (tok.kind == FROM or (tok.kind == REL and tok.value == "from"))

    def distance(self) -> float | None:
        """"5 cm", "by 5 cm", "0.05 m", "a bit"; a bare number is read as centimetres."""
        j = self.i
        if self.kind() == BY and self.kind(1) in (NUM, AMOUNT):
            self.i += 1
        if self.kind() == AMOUNT:
            return self.take().number
        if self.kind() == NUM:
            value = self.take().number
            if self.kind() == UNIT:
                return value * UNITS[self.take().value]
            return value / 100.0 if value >= 1 else value
        self.i = j
        return None


def _unknown(tokens: list[Token]) -> list[str]:
    return [t.text for t in tokens if t.kind not in (AND, COMMA)]


class Grammar:
    """Parses tokenised instructions into intents. Stateless: one instance serves many calls."""

    def parse(self, tokens: list[Token]) -> list[Intent]:
        if not tokens:
            raise PlanningError("the instruction is empty", forms=FORMS)
        intents: list[Intent] = []
        last_verb = ""
        for clause in split_clauses(tokens):
            new, last_verb = self._clause(clause, last_verb, intents)
            intents.extend(new)
        if not intents:
            raise PlanningError("found nothing to do in the instruction", not_understood=_unknown(tokens),
                                forms=FORMS)
        return intents

    # ------------------------------------------------------------------------------- clauses

    def _clause(self, tokens: list[Token], last_verb: str, done: list[Intent]) -> tuple[list[Intent], str]:
        understood = [describe(i) for i in done]
        gui = [t for t in tokens if t.kind == GUI]
        verbs = [t for t in tokens if t.kind == VERB]
        if gui and (not verbs or tokens.index(gui[0]) < tokens.index(verbs[0])):
            raise PlanningError(
                f"{_words(tokens)!r} looks like a GUI instruction ({gui[0].text!r}); this planner is for the "
                "tabletop: it moves objects with a robot arm", understood=understood, forms=FORMS)
        slow = any(t.kind == SPEED for t in tokens)
        c = _Clause([t for t in tokens if t.kind != SPEED])
        prefix: tuple[str, NounPhrase] | None = None
        if c.kind() == REL and c.peek() is not None and c.peek().value != "from":  # type: ignore[union-attr]
            rel = c.take().value
            target = c.item()
            if target is not None and c.kind() in (COMMA, VERB, "") and any(t.kind == VERB for t in c.rest()):
                if c.kind() == COMMA:
                    c.take()
                prefix = (rel, target)
            else:
                c.i = 0
        topic: list[NounPhrase] = []
        if c.kind() != VERB and any(t.kind == VERB for t in c.rest()):
            topic = c.item_list()  # "the red block, put it on the blue one"
            if c.kind() == COMMA:
                c.take()
        if c.kind() == VERB:
            verb = c.take().value
        elif c.kind() == ORDER:
            c.take()
            verb = "line"
        elif c.kind() == WORD and not verbs and c.kind(1) in (DET, QUANT, NUM, COLOR, SHAPE, PRON):
            word = c.peek().text  # type: ignore[union-attr]
            raise PlanningError(f"I do not know the action {word!r}", understood=understood, not_understood=[word],
                                suggestions=difflib.get_close_matches(word, KNOWN_VERBS, n=3, cutoff=0.6),
                                forms=FORMS)
        elif any(t.kind == REL for t in tokens) or any(t.kind == DIR for t in tokens):
            verb = last_verb or "put"  # "red on blue", "then green on red"
        elif last_verb == "stack" and any(t.kind in (POS, FIRST, LAST, ORDERDIR) for t in tokens):
            verb = "stack"
        else:
            raise PlanningError(f"no action found in {_words(tokens)!r}", understood=understood,
                                not_understood=_unknown(tokens), forms=FORMS)
        if verb == "stack":
            intents = self._stack(c, understood)
        elif verb == "line":
            intents = self._line(c, understood)
        elif verb == "push":
            intents = self._push(c, understood)
        else:
            intents = self._move(c, verb, understood)
        first = intents[0]
        if topic and (not first.objects or (len(first.objects) == 1 and first.objects[0].pronoun)):
            first.objects = topic
        elif topic:
            raise PlanningError(f"did not understand {' '.join(np.text for np in topic)!r} before the verb",
                                understood=understood, not_understood=[np.text for np in topic], forms=FORMS)
        if prefix is not None and isinstance(first, Move) and not first.relation:
            first.relation, first.targets = prefix[0], [prefix[1]]
        elif prefix is not None and isinstance(first, Stack) and prefix[0] in ("on", "in"):
            first.base = prefix[1]
        for intent in intents:
            intent.text = _words(tokens)
            if slow:
                intent.speed = 0.5
        return intents, verb

    def _leftover(self, c: _Clause, verb: str, understood: list[str]) -> list[Intent]:
        """What follows a complete clause: "... and green on red" reuses the verb."""
        if c.done():
            return []
        rest = c.rest()
        if rest[0].kind in (AND, COMMA) and len(rest) > 1:
            sub = _Clause(rest[1:])
            if verb == "stack":
                return self._stack(sub, understood)
            if verb == "push":
                return self._push(sub, understood)
            if verb == "line":
                return self._line(sub, understood)
            return self._move(sub, verb, understood)
        raise PlanningError(f"did not understand {_words(rest)!r}", understood=understood,
                            not_understood=_unknown(rest), forms=FORMS)

    def _move(self, c: _Clause, verb: str, understood: list[str]) -> list[Intent]:
        move = Move(verb=verb, objects=c.item_list(spec_stop=False))
        rels: list[tuple[str, NounPhrase]] = []
        while not c.done():
            k = c.kind()
            if k == REL:
                rel = c.take().value
                if rel == "between":
                    first = c.item()
                    if c.kind() in (AND, COMMA):
                        c.take()
                    second = c.item()
                    if first is None or second is None:
                        raise PlanningError("'between' needs two objects, e.g. 'between the red and the blue "
                                            "block'", understood=understood, forms=FORMS)
                    move.relation, move.targets = "between", [first, second]
                    continue
                if c.kind() == EACH_OTHER and rel in ("on",):
                    c.take()
                    return [self._as_stack(move, c, understood)]
                if c.kind() == EACH_OTHER and rel in ("near", "to"):
                    c.take()
                    return [self._as_line(move, c, understood)]
                target = c.item()
                if target is None and c.kind() == POS:
                    move.region = c.take().value
                    continue
                if target is None:
                    raise PlanningError(f"expected an object or place after {rel.replace('_', ' ')!r}",
                                        understood=understood, not_understood=_unknown(c.rest()), forms=FORMS)
                rels.append((rel, target))
            elif k == EACH_OTHER:
                c.take()
                return [self._as_stack(move, c, understood)]
            elif k == ROW:
                return [self._as_line(move, c, understood)]
            elif k == DIR:
                tok = c.take()
                dist = c.distance()
                if verb == "put" and tok.text == "away" and dist is None and c.done() and not rels:
                    move.verb = "clear"  # "put the blocks away"
                    continue
                move.direction = tok.value
                move.distance = dist if dist is not None else move.distance
            elif k in (NUM, AMOUNT) or (k == BY and c.kind(1) in (NUM, AMOUNT)):
                dist = c.distance()
                if dist is None:
                    break
                move.distance = dist
            elif k == BY:
                c.take()
                target = c.item()
                if target is None:
                    break
                rels.append(("near", target))
            elif k == MATCH:
                move.match = c.take().value
            elif k == BYKEY:
                key = c.take().value
                if key == "size":
                    return [self._as_line(move, c, understood, key="size")]
                move.match = move.match or "same"
            elif k == POS:
                move.region = c.take().value
            elif k == SPEED:
                c.take()
                move.speed = 0.5
            elif k == PRON or (k == WITH and c.kind(1) == PRON):
                while c.kind() in (WITH, PRON):  # "... so that it is left of ...": it = the object
                    c.take()
            elif k == POSMOD and not rels:
                move.region = c.take().value
            else:
                break
        for np in [*move.objects, *(t for _, t in rels)]:
            if np.match:
                move.match = move.match or np.match
        if rels:
            *filters, (move.relation, dest) = rels
            move.filters = list(filters)
            move.targets = [dest]
            if move.relation == "from" and not filters:
                move.filters, move.relation, move.targets = [("from", dest)], "", []
        if verb == "sort" and not move.match:
            move.match = "same"
        return [move, *self._leftover(c, verb, understood)]

    def _as_stack(self, move: Move, c: _Clause, understood: list[str]) -> Stack:
        stack = Stack(objects=move.objects, speed=move.speed)
        self._stack_specs(c, stack, understood)
        return stack

    def _as_line(self, move: Move, c: _Clause, understood: list[str], key: str = "") -> Line:
        line = Line(objects=move.objects, key=key, speed=move.speed)
        self._line_specs(c, line, understood)
        return line

    def _stack(self, c: _Clause, understood: list[str]) -> list[Intent]:
        stack = Stack(objects=c.item_list())
        while c.kind() == REL and c.peek().value in ("on", "in"):  # type: ignore[union-attr]
            c.take()
            np = c.item()
            if np is None:
                break
            stack.chain.append(np)
        if stack.chain:
            if len(stack.objects) != 1:
                # "stack the blocks on the plate": a base for the whole stack
                stack.base = stack.chain.pop() if len(stack.chain) == 1 else None
                if stack.chain:
                    raise PlanningError("a chain like 'red on green on blue' starts with one object",
                                        understood=understood, forms=FORMS)
            else:
                stack.chain.insert(0, stack.objects[0])
                if _is_place(stack.chain[-1]):
                    stack.base = stack.chain.pop()
                if len(stack.chain) < 2:
                    stack.objects, stack.chain = stack.chain, []
                if c.kind() in (AND, COMMA) and c.kind(1) in (COLOR, SHAPE, DET, WORD) and not stack.positions:
                    intents: list[Intent] = [stack]
                    return intents + self._leftover(c, "stack", understood)
        self._stack_specs(c, stack, understood)
        return [stack]

    def _stack_specs(self, c: _Clause, stack: Stack, understood: list[str]) -> None:
        while not c.done():
            k = c.kind()
            if k in (COLON, WITH, COMMA, AND, EACH_OTHER, ROW) or c.particle():
                c.take()
            elif k == SPEED:
                c.take()
                stack.speed = 0.5
            elif k == REL and c.peek().value in ("on", "in") and stack.base is None:  # type: ignore[union-attr]
                c.take()
                stack.base = c.item()
            elif k == ORDERDIR:
                d = c.take().value
                if d not in ("b2t", "t2b"):
                    raise PlanningError(f"a stack is ordered bottom to top, not {d!r}", understood=understood,
                                        forms=FORMS)
                stack.sequence_from_top = d == "t2b"
                if c.kind() == COLON:
                    c.take()
                seq = c.item_list()
                if seq:
                    stack.sequence = seq
                elif not stack.sequence and len(stack.objects) > 1:
                    stack.sequence = list(stack.objects)
            elif k == ORDER:
                c.take()
                while c.kind() in (OF, COLON):
                    c.take()
                if c.kind() == ORDERDIR:
                    continue
                if c.kind() == BYKEY:
                    continue
                stack.sequence = c.item_list()
            elif k == BYKEY:
                if c.take().value == "size":
                    stack.size_bottom = stack.size_bottom or "max"
            elif c.at_from() and c.kind(1) == SIZE:
                c.take()
                first = c.take().value
                if c.kind() == REL and c.peek().value == "to":  # type: ignore[union-attr]
                    c.take()
                    if c.kind() == SIZE:
                        c.take()
                stack.size_bottom = first
            elif c.at_from() and c.kind(1) == ORDERDIR:
                c.take()
            elif k == SIZE and c.kind(1) in (FIRST, LAST):
                size = c.take().value
                first = c.take().kind == FIRST
                stack.size_bottom = size if first else ("min" if size == "max" else "max")
            else:
                np = c.item()
                if np is None:
                    raise PlanningError(f"did not understand {_words(c.rest())!r} in a stacking instruction",
                                        understood=understood, not_understood=_unknown(c.rest()), forms=FORMS)
                if c.kind() == POS:
                    stack.positions.append((np, c.take().value))
                elif c.kind() in (FIRST, LAST):
                    stack.positions.append((np, "bottom" if c.take().kind == FIRST else "top"))
                elif c.kind() == REL and c.peek().value == "on" and c.kind(1) == POS:  # type: ignore[union-attr]
                    c.take()
                    stack.positions.append((np, c.take().value))
                else:
                    c.i -= len(np.words)
                    seq = c.item_list(spec_stop=False)
                    if not seq:
                        raise PlanningError(f"did not understand {_words(c.rest())!r}", understood=understood,
                                            not_understood=_unknown(c.rest()), forms=FORMS)
                    stack.sequence = seq

    def _line(self, c: _Clause, understood: list[str]) -> list[Intent]:
        line = Line(objects=c.item_list())
        self._line_specs(c, line, understood)
        return [line]

    def _line_specs(self, c: _Clause, line: Line, understood: list[str]) -> None:
        while not c.done():
            k = c.kind()
            if k in (COMMA, AND, WITH, EACH_OTHER) or c.particle():
                c.take()  # separators, and particles: "line the cubes up"
            elif k == ROW:
                line.axis = c.take().value
                if line.axis == "column" and line.direction == "ltr":
                    line.direction = "f2b"
            elif k == SPEED:
                c.take()
                line.speed = 0.5
            elif k == ORDERDIR:
                line.direction = c.take().value
                if line.direction in ("b2t", "t2b"):
                    raise PlanningError("a row goes left to right or front to back, not bottom to top",
                                        understood=understood, forms=FORMS)
                if line.direction in ("f2b", "b2f"):
                    line.axis = "column"
            elif k == BYKEY:
                line.key = c.take().value
                if line.key == "color":
                    while c.kind() in (COLOR, COMMA, AND, COLON):
                        tok = c.take()
                        if tok.kind == COLOR:
                            line.colors.append(tok.value)
            elif k in (ORDER, COLON):
                c.take()
                while c.kind() in (OF, COLON):
                    c.take()
                seq = c.item_list(spec_stop=False)
                if seq:
                    line.sequence = seq
            elif c.at_from() and c.kind(1) == SIZE:
                c.take()
                line.key, line.size_first = "size", c.take().value
                if c.kind() == REL:
                    c.take()
                if c.kind() == SIZE:
                    c.take()
            elif c.at_from():
                c.take()
            elif k == SIZE and c.kind(1) in (FIRST, LAST):
                size = c.take().value
                first = c.take().kind == FIRST
                line.key, line.size_first = "size", size if first else ("min" if size == "max" else "max")
            elif k == REL and c.kind(1) == TABLE:
                rel = c.take().value
                c.take()
                line.region = {"left_of": "left", "right_of": "right", "in_front_of": "front", "behind": "back",
                               "center_of": "center"}.get(rel, line.region)
            elif k == REL and c.kind(1) == POSMOD:
                c.take()
                line.region = c.take().value
            elif k in (POS, POSMOD):
                value = c.take().value
                line.region = "center" if value == "middle" else value
            elif k in (COLOR, DET, SHAPE, WORD):
                seq = c.item_list(spec_stop=False)
                if not seq:
                    break
                line.sequence = seq
            else:
                raise PlanningError(f"did not understand {_words(c.rest())!r} in a line-up instruction",
                                    understood=understood, not_understood=_unknown(c.rest()), forms=FORMS)
        if line.key == "size" and not line.size_first:
            line.size_first = "min"

    def _push(self, c: _Clause, understood: list[str]) -> list[Intent]:
        push = Push(objects=c.item_list(spec_stop=False))
        while not c.done():
            k = c.kind()
            if k == DIR:
                push.direction = c.take().value
            elif k in (NUM, AMOUNT, BY):
                dist = c.distance()
                if dist is None:
                    break
                push.distance = dist
            elif k == REL and c.peek().value in ("to", "near", "in", "on"):  # type: ignore[union-attr]
                c.take()
                push.towards = c.item()
                if push.towards is None:
                    break
            elif k == SPEED:
                c.take()
                push.speed = 0.5
            else:
                break
        return [push, *self._leftover(c, "push", understood)]


def _is_place(np: NounPhrase) -> bool:
    return np.table or np.shape in ("plate", "bowl", "tray", "container")


def describe(intent: Intent) -> str:
    """A short paraphrase for messages: what the grammar made of a clause."""
    def nps(items: list[NounPhrase]) -> str:
        return ", ".join(np.text for np in items) or "(nothing)"

    if isinstance(intent, Move):
        where = f" {intent.relation.replace('_', ' ')} {nps(intent.targets)}" if intent.relation else ""
        if intent.region:
            where += f" (table {intent.region})"
        if intent.direction:
            where += f" {intent.direction}"
        return f"{intent.verb} {nps(intent.objects)}{where}"
    if isinstance(intent, Stack):
        return f"stack {nps(intent.chain or intent.objects)}"
    if isinstance(intent, Line):
        return f"line up {nps(intent.objects)}"
    return f"push {nps(intent.objects)} {intent.direction}".rstrip()
