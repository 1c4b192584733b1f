"""A language model reads an instruction into the typed steps the rule planner lays out.

The model does what the grammar cannot (paraphrases, relative clauses, unknown verbs): it turns
the instruction into steps of a small action set, decoded under a JSON schema whose enums are
the objects actually perceived (:mod:`planners.llm.schema`). The steps become the rule grammar's
intents, and :meth:`planners.rule.planner.RulePlanner.plan_intents` lays them out (slots, stack
order, free spots) into subgoals with typed actions and conditions, so the rule monitors, writer
and repairer work on them exactly as on grammar plans.

The action set and the few-shot file are parameters (:class:`Reading`): a domain kit supplies
its own; :data:`TABLETOP` is the tabletop one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embodied.models.base import ChatModel, Message
from embodied.models.prompting import PromptLibrary
from embodied.models.text import find_json, json_objects
from embodied.types import Observation
from planners.errors import PlanningError
from planners.llm import render
from planners.llm.dialogue import Exchange, Sampling, ask
from planners.llm.errors import OutputRejected
from planners.llm.schema import ActionSpec, Param, check_steps, steps_schema
from planners.rule.grammar import Intent, Line, Move, NounPhrase, Push, Stack
from planners.rule.mentions import Mention, mentions
from planners.rule.scene import Scene

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
READ_REMINDER = 'Reply with JSON only: {"steps": [{"action": ..., ...}]} using only the listed actions and names.'

RELATIONS = ("on", "in", "near", "left_of", "right_of", "in_front_of", "behind")
REGIONS = ("left", "right", "front", "back", "center")
DIRECTIONS = ("left", "right", "forward", "backward")
ROW_ORDERS = ("left_to_right", "right_to_left", "front_to_back", "back_to_front")
_ROW_CODES = {"left_to_right": "ltr", "right_to_left": "rtl", "front_to_back": "f2b", "back_to_front": "b2f"}


def _np(name: str) -> NounPhrase:
    """A noun phrase that resolves to exactly the perceived object ``name``."""
    words = name.split()
    return NounPhrase(words=["the", *words], det="the", names=words)


def _tabletop_intents(steps: Sequence[dict[str, Any]]) -> list[Intent]:
    intents: list[Intent] = []
    for step in steps:
        action = step["action"]
        if action == "place":
            intents.append(Move("put", [_np(step["object"])], relation=step["relation"],
                                targets=[_np(step["target"])], text=json.dumps(step)))
        elif action == "place_in_area":
            intents.append(Move("put", [_np(step["object"])], region=step["area"], text=json.dumps(step)))
        elif action == "tower":
            order = [_np(n) for n in step["from_bottom"]]
            intents.append(Stack(objects=list(order), sequence=list(order), text=json.dumps(step)))
        elif action == "line_up":
            intents.append(Line(objects=[_np(n) for n in step["objects"]], direction=_ROW_CODES[step["order"]],
                                text=json.dumps(step)))
        elif action == "push":
            intents.append(Push([_np(step["object"])], direction=step["direction"],
                                distance=step["distance_cm"] / 100.0, text=json.dumps(step)))
        else:  # the schema admits no other action; a hand-built step list might
            raise OutputRejected(f"unknown action {action!r}")
    return intents


@dataclass(frozen=True)
class Reading:
    """What a domain gives the model reader: its actions, where its examples are, and how
    checked steps become the domain planner's intents."""

    domain: str
    actions: tuple[ActionSpec, ...]
    examples: str  # prompt template name of the few-shot file
    to_intents: Callable[[Sequence[dict[str, Any]]], list[Any]]
    # the nouns and verbs of an instruction (see planners.rule.mentions); none if omitted
    mentions: Callable[[str, Observation], list[Mention]] | None = None
    # a verb class -> the actions of which a reading that says it needs at least one step
    verb_actions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # the objects a step may carry (the schema's enum for ``movable`` parameters); all if omitted
    movable: Callable[[Observation], list[str]] | None = None


TABLETOP = Reading(
    domain="tabletop",
    actions=(
        ActionSpec("place", {"object": Param("name", movable=True), "relation": Param("choice", RELATIONS),
                             "target": Param("name")},
                   "put object on/in/next to target"),
        ActionSpec("place_in_area", {"object": Param("name", movable=True), "area": Param("choice", REGIONS)},
                   "put object in an area of the table"),
        ActionSpec("tower", {"from_bottom": Param("names", min_items=2, movable=True)},
                   "a tower of three or more, named from the bottom up: the first stays on the table"),
        ActionSpec("line_up", {"objects": Param("names", min_items=2, movable=True),
                               "order": Param("choice", ROW_ORDERS)},
                   "a row in the given order"),
        ActionSpec("push", {"object": Param("name"), "direction": Param("choice", DIRECTIONS),
                            "distance_cm": Param("integer", minimum=1, maximum=40)},
                   "slide without lifting; left/right as seen by the robot, forward = away from it"),
    ),
    examples="examples_tabletop",
    to_intents=_tabletop_intents,
    mentions=mentions,
    verb_actions={"stack": ("tower", "place"), "line": ("line_up",), "push": ("push",)},
    movable=lambda observation: [t.name for t in Scene(observation).things if not t.receptacle],
)

READINGS = {r.domain: r for r in (TABLETOP,)}


def steps_from_answer(text: str, actions: Sequence[ActionSpec], names: Sequence[str], *,
                      max_steps: int, movable: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The checked steps of an answer. Prose around the JSON is skipped; an answer cut off at the
    token limit keeps its complete steps. Raises :class:`OutputRejected` saying what is wrong."""
    try:
        data = json.loads(text)
    except ValueError:
        data = find_json(text)
        if not (isinstance(data, dict) and "steps" in data):
            steps = [o for o in json_objects(text) if "action" in o]
            data = {"steps": steps} if steps else data
    return check_steps(data, actions, names, max_steps=max_steps, movable=movable)


def compact_scene(observation: Observation) -> str:
    """One short line per object (name, kind, table position in metres, largest side in cm):
    prompt tokens cost seconds each on a CPU. UI elements fall back to :func:`render.scene`."""
    if not observation.objects:
        return render.scene(observation)
    lines = []
    for o in observation.objects:
        kind = " ".join(p for p in (o.color, o.shape) if p)
        lines.append(f"- {o.name} ({kind}) x={o.position[0]:.2f} y={o.position[1]:.2f} size {max(o.size) * 100:.1f} cm")
    return "\n".join(lines)


class ModelReader:
    """Asks a model for the steps of an instruction and turns them into a plan through
    ``plan_intents(instruction, intents, observation, notes)`` (the domain planner's). A plan the
    domain planner rejects (e.g. a stack that names an object twice) goes back to the model with
    the planner's reason, within the same retry budget as unparseable answers."""

    def __init__(self, model: ChatModel, reading: Reading, *, sampling: Sampling, max_steps: int = 8,
                 prompts_dir: str | Path | None = None) -> None:
        self.model = model
        self.reading = reading
        self.sampling = sampling
        self.max_steps = max_steps
        self.prompts = PromptLibrary(PROMPTS_DIR, prompts_dir)
        self.exchanges: list[Exchange] = []

    def system_prompt(self) -> str:
        actions = "\n".join(f"- {a.signature()}" for a in self.reading.actions)
        return self.prompts.fill("read", actions=actions, examples=self.prompts.fill(self.reading.examples))

    def read(self, instruction: str, observation: Observation, plan_intents: Callable[..., Any], *,
             context: str = "", task: str = "plan") -> Any:
        """The domain planner's plan for the model's reading of ``instruction``. ``context``: what
        happened so far (for a replan), shown after the scene."""
        names = [o.name for o in observation.objects] or [e.id for e in observation.elements]
        if not names:
            raise PlanningError("the model reader needs at least one perceived object")
        movable = self.reading.movable(observation) if self.reading.movable else None
        schema = steps_schema(self.reading.actions, names, max_steps=self.max_steps, movable=movable)
        user = f"Scene:\n{compact_scene(observation)}\n"
        if context:
            user += f"\nSo far:\n{context}\n"
        user += f"\nInstruction: {instruction}"
        messages = [Message.system(self.system_prompt()), Message.user(user)]

        said = self.reading.mentions(instruction, observation) if self.reading.mentions else []
        asked: set[str] = set()  # what was pointed out once: a second answer that keeps it stands
        attempts = 0

        def parse(text: str) -> Any:
            nonlocal attempts
            attempts += 1
            steps = steps_from_answer(text, self.reading.actions, names, max_steps=self.max_steps, movable=movable)
            unmet = unmet_mentions(said, steps, self.reading.verb_actions)
            if set(unmet) - asked and attempts <= self.sampling.retries:
                asked.update(unmet)
                raise OutputRejected("; ".join(unmet) + ". If the instruction needs that, change the steps; if "
                                     "these steps are what it means, give the same steps again.")
            try:
                plan = plan_intents(instruction, self.reading.to_intents(steps), observation,
                                    [f"model read: {json.dumps(steps)}"])
            except PlanningError as exc:
                raise OutputRejected(f"these steps cannot be carried out: {exc.problem}") from exc
            # pointed out once and kept: maybe right ("leave the bowl alone"), maybe a misreading
            plan.doubts += [f"the model's reading: {u}" for u in unmet]
            return plan

        self.exchanges = []
        return ask(self.model, messages, parse, task=task, sampling=self.sampling, prompts=self.prompts,
                   reminder=READ_REMINDER, log=self.exchanges, schema=schema)


def unmet_mentions(said: Sequence[Mention], steps: Sequence[dict[str, Any]],
                   verb_actions: Mapping[str, tuple[str, ...]]) -> list[str]:
    """What the instruction's own words ask of a reading that ``steps`` leave out: a noun none
    of whose things a step uses, a verb none of whose actions a step takes."""
    used = _step_names(steps)
    taken = {str(s.get("action")) for s in steps}
    out: list[str] = []
    for m in said:
        if m.names and not used & set(m.names):
            which = m.names[0] if len(m.names) == 1 else " or ".join(m.names)
            out.append(f"the instruction speaks of {m.words!r} ({which}), but no step uses "
                       f"{'it' if len(m.names) == 1 else 'any of them'}")
        wanted = verb_actions.get(m.verb, ())
        if wanted and not taken & set(wanted):
            out.append(f"the instruction says {m.words!r}, but no step is {' or '.join(wanted)}")
    return list(dict.fromkeys(out))


def _step_names(steps: Sequence[dict[str, Any]]) -> set[str]:
    """Every name a step uses, in any argument."""
    used: set[str] = set()
    for step in steps:
        for value in step.values():
            if isinstance(value, str):
                used.add(value)
            elif isinstance(value, list):
                used.update(v for v in value if isinstance(v, str))
    return used
