"""What an instruction's own words say it is about, whatever else it says.

A reader that is not the grammar (a language model) may drop part of an instruction: "stow the
cubes in the tray" read as "put the cubes in the middle of the table" never uses the tray, and
"make a pile of the cubes" read as a row stacks nothing. The lexicon still recognises the nouns
and verbs of such an instruction even where the grammar cannot parse it, so a reading can be held
to them: each shape noun (with the colour words right before it) names the visible things it
fits, as the grammar's resolver fits them (:func:`planners.rule.resolve.of_shape`), one of which
some step should use; each verb has a class (``stack``, ``push``, ...) that a domain may tie to
the actions that do it. Pronouns, "one"/"object" and nouns that fit nothing
visible say nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass

from embodied.types import Observation
from planners.rule.lexicon import Lexicon, tokenise
from planners.rule.resolve import of_shape
from planners.rule.scene import Scene


@dataclass(frozen=True)
class Mention:
    """A noun or verb of the instruction: ``words`` as written; ``names``: the visible things a
    noun fits (a reading should use one of them); ``verb``: the lexicon's class of a verb."""

    words: str
    names: tuple[str, ...] = ()
    verb: str = ""


def mentions(instruction: str, observation: Observation, lexicon: Lexicon | None = None) -> list[Mention]:
    """The nouns and verbs of ``instruction`` that refer to this scene or name a kind of action."""
    scene = Scene(observation)
    tokens = tokenise(instruction, lexicon or Lexicon.default(), scene.names()).tokens
    out: list[Mention] = []
    for i, token in enumerate(tokens):
        if token.kind == "verb":
            out.append(Mention(token.text, verb=token.value))
            continue
        if token.kind != "shape" or token.value == "object":
            continue
        colors: list[str] = []
        j = i - 1
        while j >= 0 and tokens[j].kind == "color":
            colors.insert(0, tokens[j].value)
            j -= 1
        coloured = [t for t in scene.things if not colors or t.color in colors]  # as the resolver: colour, then shape
        fits = tuple(t.name for t in of_shape(token.value, coloured))
        if fits:
            out.append(Mention(" ".join([*colors, token.text]), names=fits))
    return out

