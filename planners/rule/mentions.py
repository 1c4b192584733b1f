"""Which visible objects an instruction names outright, whatever else it says.

A reader that is not the grammar (a language model) may drop part of an instruction: "stow the
cubes in the tray" read as "put the cubes in the middle of the table" never uses the tray. The
words of the instruction still say which objects it is about: a shape noun, with the colour
words right before it, that fits exactly one visible thing ("the tray", "the blue bowl") names
that thing. Plural nouns ("the cubes"), "one"/"object" and anything that fits several things name
nothing here, so the check stays quiet where the words alone do not decide.
"""

from __future__ import annotations

from embodied.types import Observation
from planners.rule.lexicon import Lexicon, tokenise
from planners.rule.scene import Scene, Thing


def named_things(instruction: str, observation: Observation, lexicon: Lexicon | None = None) -> list[str]:
    """Names of the visible objects that ``instruction`` names unambiguously, in order of mention."""
    scene = Scene(observation)
    tokens = tokenise(instruction, lexicon or Lexicon.default(), scene.names()).tokens
    named: list[str] = []
    for i, token in enumerate(tokens):
        if token.kind != "shape" or token.plural or token.value == "object":
            continue
        colors: list[str] = []
        j = i - 1
        while j >= 0 and tokens[j].kind == "color":
            colors.append(tokens[j].value)
            j -= 1
        fits = [t for t in scene.things if _is_shape(t, token.value) and (not colors or t.color in colors)]
        if len(fits) == 1 and fits[0].name not in named:
            named.append(fits[0].name)
    return named


def _is_shape(thing: Thing, shape: str) -> bool:
    if shape == "container":
        return thing.container
    return thing.shape == shape
