"""Words of the tabletop instruction grammar and the tokeniser that reads them.

The tokeniser lower-cases the text, expands contractions, drops politeness ("could you ...
please"), matches multi-word phrases longest first ("to the left of", "on top of", "pick up"),
and corrects small typos in the words it knows ("plase" -> "place", "bleu" -> "blue").
Every token keeps the words it came from, so error messages can quote the instruction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Token kinds. Values are the canonical meaning (e.g. REL "left_of", COLOR "gray").
VERB, GUI, REL, DIR, POS, POSMOD, COLOR, SHAPE, QUANT, NUM, DET, PRON, SIZE, MATCH, BYKEY, BY = (
    "verb", "gui", "rel", "dir", "pos", "posmod", "color", "shape", "quant", "num", "det", "pron", "size",
    "match", "bykey", "by")
ROW, ORDER, ORDERDIR, FROM, FIRST, LAST, EACH_OTHER, TABLE, UNIT, SEQ, AND, COMMA, COLON, OF, WITH, SPEED = (
    "row", "order", "orderdir", "from", "first", "last", "each_other", "table", "unit", "seq", "and", "comma",
    "colon", "of", "with", "speed")
AMOUNT, WORD = "amount", "word"
_DROP = "drop"


@dataclass
class Token:
    kind: str
    value: str
    text: str  # the words of the instruction this token came from
    plural: bool = False
    number: float = 0.0


COLORS: dict[str, str] = {c: c for c in (
    "red", "green", "blue", "yellow", "orange", "purple", "cyan", "pink", "white", "black", "gray", "brown")}
COLORS.update({"grey": "gray", "violet": "purple", "magenta": "pink", "teal": "cyan", "turquoise": "cyan"})
# Hue order, used when an instruction says "by colour" without naming the colours.
RAINBOW = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "brown", "white", "gray", "black")

# Shape words -> shape class. "container" matches a bowl or a tray, "receptacle" any of
# plate/bowl/tray, "object" anything.
_SHAPES: dict[str, str] = {}
for _canon, _words in {
    "block": ("block", "cube", "box", "brick"),
    "cylinder": ("cylinder", "can", "puck", "disc", "disk", "tube"),
    "plate": ("plate", "zone", "pad", "mat", "coaster", "platform", "saucer"),
    "bowl": ("bowl", "cup", "dish"),
    "tray": ("tray",),
    "container": ("container", "bin", "basket", "bucket", "box container", "receptacle", "pot"),
    "object": ("object", "thing", "item", "piece", "toy", "one"),
}.items():
    for _w in _words:
        _SHAPES[_w] = _canon
_PLURALS = {"box": "boxes", "dish": "dishes", "one": "ones"}

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a pair of": 2, "couple of": 2,
                "pair of": 2}
UNITS = {"cm": 0.01, "centimeter": 0.01, "centimeters": 0.01, "centimetre": 0.01, "centimetres": 0.01,
         "mm": 0.001, "millimeter": 0.001, "millimeters": 0.001, "millimetre": 0.001, "millimetres": 0.001,
         "m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0, "inch": 0.0254, "inches": 0.0254}

_CONTRACTIONS = (("let's", "let us"), ("i'd", "i would"), ("i'm", "i am"), ("you're", "you are"),
                 ("it's", "it is"), ("that's", "that is"), ("what's", "what is"), ("don't", "do not"),
                 ("doesn't", "does not"), ("isn't", "is not"), ("aren't", "are not"), ("can't", "cannot"),
                 ("won't", "will not"), ("i'll", "i will"), ("you'll", "you will"), ("they're", "they are"),
                 ("'s", ""), ("\u2019", "'"))


def _phrases() -> list[tuple[tuple[str, ...], str, str]]:
    """(words, kind, value) for every phrase the grammar knows."""
    table: list[tuple[str, str, str]] = []

    def add(kind: str, value: str, *texts: str) -> None:
        table.extend((t, kind, value) for t in texts)

    # politeness and filler: removed before parsing
    add(_DROP, "", "please", "pls", "plz", "kindly", "could you", "can you", "would you", "will you", "could u",
        "can u", "would you mind", "would you be so kind as to", "be so kind as to", "i want you to",
        "i would like you to", "i need you to", "you should", "you need to", "you must", "go ahead and", "try to",
        "try and", "now", "just", "thanks", "thank you", "thx", "for me", "hey", "robot", "ok", "okay", "so",
        "also", "let us", "as well", "too", "i want", "i would like", "i need", "make sure", "ensure", "is", "are",
        "be", "goes", "go", "belongs", "belong", "should", "must", "ends up", "end up", "sits", "sit", "that is",
        "which is", "that are", "which are", "sitting", "lying", "resting", "located", "currently", "who is",
        "i", "me", "you", "we", "there", "here", "at once", "simply", "quickly", "fast", "immediately",
        "the colour", "the color", "colour", "color", "coloured", "colored", "over", "up there", "down there",
        "one by one", "one at a time", "individually", "each in turn", "in turn", "if possible", "if you can")
    add(SPEED, "slow", "slowly", "carefully", "gently", "with care")
    add(AMOUNT, "0.05", "a bit", "a little", "a little bit", "slightly", "a tad", "a few centimeters",
        "a few centimetres", "a few cm", "a touch")
    add(AMOUNT, "0.2", "a lot", "far", "all the way", "a long way", "much further", "much farther")
    # verbs
    add(VERB, "put", "put", "place", "set", "lay", "position", "transfer", "bring", "carry", "relocate", "deposit",
        "load", "stick", "throw", "toss", "shift", "reposition", "pop", "move", "put down", "set down",
        "place down", "drop", "drop off", "plop", "stand", "insert", "slot", "move over", "bring over")
    add(VERB, "pick", "pick", "pick up", "grab", "grasp", "lift", "lift up", "hold", "raise", "take", "get",
        "fetch", "seize")
    add(VERB, "remove", "remove", "take off", "take out", "get out", "lift off", "lift out", "unstack",
        "take away", "move away")
    add(VERB, "stack", "stack", "stack up", "pile", "pile up", "heap", "tower")
    for v in ("make", "build", "create", "form", "construct", "assemble", "erect"):
        for art in ("a", "the", "one", ""):
            for noun in ("tower", "stack", "pile"):
                base = " ".join(w for w in (v, art, noun) if w)
                add(VERB, "stack", base, *(f"{base} {p}" for p in ("of", "with", "from", "using", "out of")))
            for noun in ("row", "line"):
                base = " ".join(w for w in (v, art, noun) if w)
                add(VERB, "line", base, *(f"{base} {p}" for p in ("of", "with", "from", "using", "out of")))
    add(VERB, "sort", "sort", "sort out", "group", "organise", "organize", "separate", "classify", "categorise",
        "categorize", "distribute", "match")
    add(VERB, "line", "line up", "line", "align", "arrange", "lay out", "line them up", "put in order")
    add(VERB, "push", "push", "slide", "shove", "nudge", "poke", "press against", "sweep")
    add(VERB, "clear", "clear", "clear off", "clear up", "tidy", "tidy up", "clean", "clean up", "put away",
        "empty", "gather", "collect", "pack", "pack up", "store", "dump", "declutter")
    # GUI verbs: recognised only to explain that this grammar is for the tabletop
    add(GUI, "gui", "click", "click on", "double click", "right click", "tap", "tap on", "type", "scroll",
        "swipe", "log in", "login", "log into", "sign in", "press", "toggle", "navigate", "browse", "launch",
        "open", "download", "install", "uninstall", "search", "search for", "visit", "go to", "submit", "email",
        "send", "enter", "select", "check the box", "uncheck", "close the window", "close the app", "refresh",
        "zoom", "screenshot", "button", "menu", "link", "tab", "page", "website", "browser", "app", "settings",
        "textbox", "text box", "field", "checkbox", "password", "username")
    # relations
    add(REL, "on", "on", "onto", "on to", "on top of", "ontop of", "ontop", "upon", "atop", "on the top of")
    add(REL, "in", "in", "into", "in to", "inside", "inside of", "within")
    add(REL, "near", "next to", "beside", "besides", "near", "nearby", "near to", "close to", "alongside",
        "adjacent to", "by the side of", "at the side of", "right next to", "right by", "close by")
    for rel, side in (("left_of", "left"), ("right_of", "right")):
        add(REL, rel, f"{side} of", f"to the {side} of", f"on the {side} of", f"on the {side} side of",
            f"to the {side} side of", f"at the {side} of", f"on the {side} hand side of", f"{side} side of")
    add(REL, "in_front_of", "in front of", "to the front of", "at the front of", "in the front of",
        "on the front of", "ahead of")
    add(REL, "behind", "behind", "in back of", "at the back of", "to the back of", "on the back of",
        "at the rear of", "in the back of", "to the rear of", "beyond")
    add(REL, "between", "between", "in between", "in the middle between", "in between of", "halfway between")
    add(REL, "center_of", "in the middle of", "in the center of", "in the centre of", "at the center of",
        "at the centre of", "to the center of", "to the centre of", "to the middle of", "at the middle of",
        "in the centre of the", "middle of", "center of", "centre of")
    add(REL, "to", "to", "towards", "toward", "up to")
    add(REL, "from", "from", "off", "off of", "out of")
    add(REL, "away_from", "away from", "far from", "far away from", "clear of")
    # positions in a stack / places on the table
    add(POS, "top", "on top", "at the top", "at top", "on the top", "as the top", "at the very top", "uppermost",
        "up top", "on the very top")
    add(POS, "bottom", "at the bottom", "on the bottom", "at bottom", "on bottom", "as the base", "as base",
        "at the base", "as the foundation", "as the bottom", "at the very bottom", "underneath", "beneath",
        "below", "lowest")
    add(POS, "middle", "in the middle", "in the center", "in the centre", "in the middle position", "middle",
        "center", "centre")
    # positional modifiers inside a noun phrase ("the leftmost block", "the block on the left")
    add(POSMOD, "left", "leftmost", "left most", "on the left", "at the left",
        "left hand", "left-hand")
    add(POSMOD, "right", "rightmost", "right most", "on the right", "at the right", "right hand", "right-hand")
    add(POSMOD, "front", "frontmost", "nearest", "closest", "in front", "at the front", "nearest to me",
        "closest to me", "near me")
    add(POSMOD, "back", "farthest", "furthest", "rearmost", "backmost", "at the back", "in the back",
        "farthest away", "furthest away")
    add(POSMOD, "top", "topmost", "highest")
    # directions for push / displacements
    add(DIR, "left", "left", "to the left", "leftward", "leftwards", "to your left", "to my left", "towards the left",
        "toward the left", "to the left side")
    add(DIR, "right", "right", "to the right", "rightward", "rightwards", "to your right", "to my right",
        "towards the right", "toward the right", "to the right side")
    add(DIR, "forward", "forward", "forwards", "ahead", "away", "away from me", "away from the robot",
        "away from you", "further", "farther", "further away", "farther away", "to the back", "outward",
        "outwards", "further back", "towards the back", "toward the back", "to the back of the table",
        "towards the far side", "toward the far side", "to the far side")
    add(DIR, "backward", "back", "backward", "backwards", "towards me", "toward me", "towards the robot",
        "toward the robot", "towards you", "toward you", "closer", "nearer", "to the front", "inward", "inwards",
        "back towards me", "back toward me", "closer to me", "closer to the robot", "towards the front",
        "toward the front", "to the front of the table", "towards the near side", "toward the near side")
    add(DIR, "up", "up", "upward", "upwards")
    add(DIR, "down", "down", "downward", "downwards")
    # quantifiers and determiners
    add(QUANT, "all", "all", "all of the", "all the", "all of", "every", "every single", "each", "each of the",
        "each one of the", "everything", "every one of the", "any and all")
    add(QUANT, "both", "both", "both of the", "both the")
    add(QUANT, "any", "any", "any of the", "some", "either", "whichever")
    add(QUANT, "rest", "the rest", "the rest of the", "rest of the", "the remaining", "remaining", "the other",
        "other", "others", "the others", "the other ones", "everything else", "all the others", "all the other",
        "all other", "all others", "the leftover", "leftover", "all remaining", "all the remaining", "else")
    add(DET, "the", "the", "this", "that")
    add(DET, "a", "a", "an", "another")
    add(PRON, "it", "it", "itself", "this one", "that one", "the same one", "the same block", "said block")
    add(PRON, "them", "them", "they", "these", "those", "them all", "all of them", "these ones", "those ones",
        "themselves")
    # sizes
    add(SIZE, "max", "largest", "biggest", "tallest", "big", "large", "larger", "bigger", "huge", "giant",
        "largest one", "widest", "heaviest")
    add(SIZE, "min", "smallest", "tiniest", "shortest", "small", "smaller", "little", "tiny", "lightest",
        "narrowest")
    # colour matching (sorting)
    add(MATCH, "same", "matching", "the matching", "corresponding", "same colour", "same color", "same coloured",
        "same colored", "of the same colour", "of the same color", "with the same colour", "with the same color",
        "that matches", "that match", "its colour", "its color", "its own colour", "its own color",
        "their colour", "their color", "their own colour", "their own color", "their matching", "its matching",
        "the same colour", "the same color", "of its colour", "of its color", "of their colour",
        "of their color", "of matching colour", "of matching color", "matching colour", "matching color",
        "colour matching", "color matching", "matched", "of the same colour as it", "of the same color as it")
    add(MATCH, "different", "different colour", "different color", "a different colour", "a different color",
        "of a different colour", "of a different color", "with a different colour", "with a different color",
        "another colour", "another color", "other colour", "other color", "mismatched", "mismatching",
        "not matching", "non matching", "nonmatching", "wrong colour", "wrong color", "different coloured",
        "different colored", "differently coloured", "differently colored", "different", "unmatched",
        "of different colour", "of different color", "that does not match", "that do not match")
    add(BYKEY, "color", "by colour", "by color", "according to colour", "according to color", "based on colour",
        "based on color", "by their colour", "by their color", "by colours", "by colors", "by hue")
    add(BYKEY, "size", "by size", "according to size", "based on size", "by their size", "by height",
        "by their height", "in size order", "by sizes")
    add(BY, "by", "by")
    # rows, orders
    add(ROW, "row", "in a row", "in a line", "in a straight line", "in one row", "into a row", "into a line",
        "in row", "in line", "side by side", "in one line", "on a line", "in a horizontal line", "in a single row",
        "in a neat row", "into one row", "into a straight line", "in a horizontal row", "in a straight row",
        "in a neat line", "into a horizontal row", "in a single line")
    add(ROW, "column", "in a column", "into a column", "in a vertical line", "in one column", "in a file",
        "one behind the other", "one behind another")
    add(ORDER, "order", "in the order", "in order", "in this order", "in the following order", "order",
        "sequence", "in the sequence", "in sequence", "ordered", "in that order", "in the order of", "in order of",
        "ordered as", "following the order", "sorted", "arranged", "ranked")
    add(ORDERDIR, "ltr", "from left to right", "left to right", "going left to right", "from the left to the right")
    add(ORDERDIR, "rtl", "from right to left", "right to left", "going right to left", "from the right to the left")
    add(ORDERDIR, "b2t", "from bottom to top", "bottom to top", "bottom up", "from the bottom up",
        "from the bottom to the top", "from the bottom", "bottom first")
    add(ORDERDIR, "t2b", "from top to bottom", "top to bottom", "top down", "from the top down",
        "from the top to the bottom", "from the top", "top first")
    add(ORDERDIR, "f2b", "from front to back", "front to back", "from near to far")
    add(ORDERDIR, "b2f", "from back to front", "back to front", "from far to near")
    add(FROM, "from", "going from", "starting from", "starting with")
    add(FIRST, "first", "first", "at first", "first of all", "to begin with", "start with", "start by", "begin by",
        "begin with", "firstly", "initially")
    add(LAST, "last", "last", "at last")
    add(EACH_OTHER, "each other", "each other", "one another", "one on another", "one on top of another",
        "one on top of the other", "on top of each other", "on top of one another", "upon each other",
        "on each other", "on one another")
    add(TABLE, "table", "table", "the table", "tabletop", "table top", "surface", "desk", "workspace",
        "the table surface", "floor", "the floor", "counter")
    add(SEQ, "then", "then", "and then", "after that", "afterwards", "afterward", "after this", "next",
        "finally", "lastly", "subsequently", "once done", "when done", "when you are done", "once that is done",
        "and finally", "followed by", "and after that", "after which", "once finished", "when finished",
        "and next", "secondly", "thirdly", ".", ";", "!", "?", "and also", "and lastly")
    add(AND, "and", "and", "&", "plus", "as well as", "along with", "together with")
    add(COMMA, ",", ",")
    add(COLON, ":", ":", "-")
    add(OF, "of", "of")
    add(WITH, "with", "with", "so that", "such that", "where", "having", "and with", "while keeping", "keeping")
    for word, num in NUMBER_WORDS.items():
        add(NUM, str(num), word)
    for word in UNITS:
        add(UNIT, word, word)
    out: list[tuple[tuple[str, ...], str, str]] = []
    for text, kind, value in table:
        out.append((tuple(text.replace("-", " ").split()) if text not in ("-",) else ("-",), kind, value))
    for color, canon in COLORS.items():
        out.append(((color,), COLOR, canon))
        out.append(((color + "ish",), COLOR, canon))
    return out


@dataclass
class Lexicon:
    """The phrase table indexed by first word, plus the single words used for typo correction."""

    phrases: dict[str, list[tuple[tuple[str, ...], str, str]]] = field(default_factory=dict)
    vocabulary: set[str] = field(default_factory=set)
    weak: frozenset[str] = frozenset()  # words that only ever appear in filler phrases
    verbs: frozenset[str] = frozenset()  # first words of verb phrases
    filler: frozenset[str] = frozenset()  # words of filler phrases ("could", "you", "please")

    @classmethod
    def default(cls) -> Lexicon:
        lex = cls()
        for words, kind, value in _phrases():
            lex.phrases.setdefault(words[0], []).append((words, kind, value))
        for entries in lex.phrases.values():
            entries.sort(key=lambda e: -len(e[0]))
        lex.vocabulary = {w for entries in lex.phrases.values() for words, _, _ in entries for w in words}
        lex.vocabulary |= set(_SHAPES) | {_plural(w) for w in _SHAPES}
        strong = {w for entries in lex.phrases.values() for words, kind, _ in entries if kind != _DROP for w in words}
        lex.weak = frozenset(lex.vocabulary - strong - set(_SHAPES))
        lex.filler = frozenset(w for entries in lex.phrases.values() for words, kind, _ in entries if kind == _DROP
                               for w in words)
        lex.verbs = frozenset(words[0] for entries in lex.phrases.values() for words, kind, _ in entries
                              if kind in (VERB, GUI))
        return lex


def _plural(word: str) -> str:
    if word in _PLURALS:
        return _PLURALS[word]
    return word + ("es" if word.endswith(("s", "x", "sh", "ch")) else "s")


def shape_of(word: str) -> tuple[str, bool] | None:
    """(shape class, plural) of a shape word, or None."""
    if word in _SHAPES:
        return _SHAPES[word], False
    for singular, canon in _SHAPES.items():
        if _plural(singular) == word:
            return canon, True
    return None


def _edit_distance(a: str, b: str, cap: int = 3) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count once), stopping early past ``cap``."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def correct(word: str, vocabulary: Iterable[str], weak: frozenset[str] = frozenset()) -> list[str]:
    """The known words closest to ``word`` within a small edit distance (1 for words of up to six
    letters, 2 for longer ones): one word, several that tie, or none. Three-letter words are only
    unscrambled; the first letter of short words is kept (people rarely mistype it). Ties prefer a
    grammar word over filler (``weak``) and a word of the same length."""
    if len(word) < 3 or not word.isalpha():
        return []
    limit = 1 if len(word) <= 6 else 2
    scored: list[tuple[tuple[int, bool, int], str]] = []
    for known in vocabulary:
        if len(known) < 3 or (len(word) <= 6 and known[0] != word[0]):
            continue
        if len(word) == 3 and sorted(known) != sorted(word):
            continue  # three letters: only swapped letters ("rde" -> "red"), anything else is too loose
        d = _edit_distance(word, known, limit)
        if d <= limit:
            scored.append(((d, known in weak, abs(len(known) - len(word))), known))
    if not scored:
        return []
    scored.sort()
    return [w for key, w in scored if key[0] == scored[0][0][0]]


_CLAUSE_BREAKS = frozenset({"then", "and", ",", ";", ".", "next", "finally", "first", ":"})
_WORD = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?|[,;:.!?&]|(?<=\s)-(?=\s)")


def split_words(text: str) -> list[str]:
    low = " " + text.lower().replace("\u2019", "'") + " "
    for short, long in _CONTRACTIONS:
        low = low.replace(short, " " + long if long else "")
    low = re.sub(r"(\d)([a-z])", r"\1 \2", low)  # "5cm" -> "5 cm"
    low = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", low)  # "left-to-right" -> "left to right"
    return _WORD.findall(low)


@dataclass
class Tokenised:
    tokens: list[Token]
    corrections: list[tuple[str, str]]  # (as typed, read as)


def tokenise(text: str, lexicon: Lexicon, names: Iterable[str] = ()) -> Tokenised:
    """Turn an instruction into tokens. ``names`` are words of visible objects' names: they are
    never "corrected" into grammar words, and typos are corrected towards them too."""
    name_words = {w for n in names for w in split_words(n) if not w.isdigit()}
    words = split_words(text)
    corrections: list[tuple[str, str]] = []
    known = lexicon.vocabulary | name_words
    for i, w in enumerate(words):
        if w in known or w[0].isdigit() or not w.isalpha():
            continue
        candidates = correct(w, known, lexicon.weak)
        if len(candidates) > 1:  # a tie: before a verb expect filler, at a clause start a verb
            nxt = words[i + 1] if i + 1 < len(words) else ""
            at_start = i == 0 or words[i - 1] in lexicon.filler or words[i - 1] in _CLAUSE_BREAKS
            if nxt in lexicon.verbs:
                candidates = [c for c in candidates if c in lexicon.weak] or candidates
            else:
                candidates = [c for c in candidates if c not in lexicon.weak] or candidates
            candidates = [c for c in candidates if (c in lexicon.verbs) == at_start] or candidates
            same_length = [c for c in candidates if len(c) == len(w)]
            candidates = same_length if len(same_length) == 1 else candidates
        if len(candidates) == 1:
            corrections.append((w, candidates[0]))
            words[i] = candidates[0]
    tokens: list[Token] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w[0].isdigit():
            tokens.append(Token(NUM, w, w, number=float(w)))
            i += 1
            continue
        match = None
        for phrase, kind, value in lexicon.phrases.get(w, []):
            if tuple(words[i:i + len(phrase)]) == phrase and not (phrase == ("one",) and _is_noun_one(words, i)):
                match = (phrase, kind, value)
                break
        if match is not None:
            phrase, kind, value = match
            i += len(phrase)
            if kind == _DROP:
                continue
            text_ = " ".join(phrase)
            number = float(value) if kind in (NUM, AMOUNT) else 0.0
            tokens.append(Token(kind, value, text_, number=number))
            continue
        shape = shape_of(w)
        if shape is not None:
            tokens.append(Token(SHAPE, shape[0], w, plural=shape[1]))
        else:
            tokens.append(Token(WORD, w, w))
        i += 1
    return Tokenised(tokens, corrections)


def _is_noun_one(words: list[str], i: int) -> bool:
    """"one" is a count before a describing word ("one red block") and a noun otherwise
    ("the blue one")."""
    nxt = words[i + 1] if i + 1 < len(words) else ""
    return not (nxt in COLORS or shape_of(nxt) is not None or nxt in ("of",))
