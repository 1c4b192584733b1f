"""LLMPlanner: a language model decomposes the instruction and revises the plan (D-PoT).

Dynamic planning keeps two things only: the remaining plan and a compact history of subgoal
outcomes. ``revise`` (after a success) and ``replan`` (after repairs ran out) send those, not
the dialogue so far, and parse the new remaining plan.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embodied import naming
from embodied.conditions import ConditionSyntaxError
from embodied.domain import DomainKit
from embodied.errors import DomainError
from embodied.models.base import ChatModel, Message
from embodied.models.images import fit_within
from embodied.models.prompting import PromptLibrary
from embodied.types import Condition, Observation, Plan, Subgoal, SubgoalOutcome
from planners.llm import render
from planners.llm.dialogue import Exchange, Sampling, ask
from planners.llm.errors import OutputRejected
from planners.llm.parsing import PlannedStep, parse_plan

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
PLAN_REMINDER = 'Reply with JSON only: {"subgoals": [{"description": "...", "condition": "..."}]}.'


def domain_notes(kit: DomainKit) -> str:
    """The kit's prompt notes, then its few-shot plans (instruction -> subgoals with conditions)."""
    lines = [kit.notes()]
    examples = kit.examples()
    if examples:
        lines.append("Examples of plans in this world:")
    for example in examples:
        steps = [{"description": s.get("description", ""), "condition": s.get("condition", "")}
                 for s in example.get("subgoals", [])]
        lines.append(f"- {example['instruction']} -> {json.dumps({'subgoals': steps})}")
    return "\n".join(lines)


def rgb_views(observation: Observation, max_side: int) -> list[tuple[str, Any]]:
    """(name, image) of the camera colour images (``<camera>/rgb``) and the screen (``screen``),
    downscaled."""
    keys = [k for k in sorted(observation.images) if k.endswith("/rgb") or k in ("rgb", "screen")]
    return [(k, fit_within(observation.images[k], max_side)) for k in keys]


def rgb_images(observation: Observation, max_side: int) -> list:
    """The images of :func:`rgb_views` alone."""
    return [image for _, image in rgb_views(observation, max_side)]


class LLMPlanner:
    """Planner backend ``llm``.

    ``max_parse_retries``: how often an unusable answer is sent back with the problem.
    ``max_subgoals``: a longer plan is sent back (small models loop). ``revise_after_success``:
    False keeps the remaining plan after a success without a model call (cheaper). ``kit``: the
    world's domain kit (its predicates, prompt notes and examples). ``images``: also send the
    camera/screen images (for vision-language models). ``prompts_dir``: a directory whose
    templates override the packaged ones of the same name.
    """

    def __init__(self, model: ChatModel, kit: DomainKit, *, max_parse_retries: int = 2, max_tokens: int = 512,
                 temperature: float = 0.0, max_subgoals: int = 12, revise_after_success: bool = True,
                 images: bool = False, image_max_side: int = 512,
                 prompts_dir: str | Path | None = None) -> None:
        if max_subgoals < 1:
            raise ValueError("max_subgoals must be >= 1")
        self.model = model
        self.sampling = Sampling(max_tokens, temperature, max_parse_retries)
        self.max_subgoals = max_subgoals
        self.revise_after_success = revise_after_success
        self.kit = kit
        self.images = images
        self.image_max_side = image_max_side
        self.prompts = PromptLibrary(PROMPTS_DIR, prompts_dir)
        self.exchanges: list[Exchange] = []  # of the most recent call, for the trace

    # -----------------------------------------------------------------------------------------

    def decompose(self, instruction: str, observation: Observation) -> Plan:
        """Raises :class:`planners.llm.errors.ModelOutputError` (a ``PlanningError``) when the
        model gives no usable plan within the retry budget."""
        prompt = self.prompts.fill("decompose", instruction=instruction, scene=render.scene(observation),
                                   predicates=self.kit.predicate_syntax(), actions=self._actions_text())
        subgoals, note = self._ask("plan", prompt, observation, allow_empty=False)
        return Plan(instruction, subgoals, 0, note)

    def revise(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        """``plan.subgoals`` are the remaining ones; the subgoal just achieved (``history[-1]``)
        is taken off the head if it is still there. An empty remaining plan is returned as is."""
        remaining = _without_finished_head(plan.subgoals, history)
        if not remaining or not self.revise_after_success:
            return Plan(plan.instruction, remaining, plan.revision, plan.note)
        prompt = self.prompts.fill("revise", instruction=plan.instruction, history=render.history(history),
                                   remaining=render.plan_list(remaining), scene=render.scene(observation),
                                   predicates=self.kit.predicate_syntax(), actions=self._actions_text())
        subgoals, note = self._ask("revised plan", prompt, observation, allow_empty=True)
        return Plan(plan.instruction, subgoals, plan.revision + 1, note)

    def replan(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        """A new remaining plan after ``history[-1]`` failed for good; empty means give up."""
        failed = history[-1] if history and not history[-1].ok else None
        failure = (f"{render.subgoal_line(failed.subgoal)} failed after {failed.attempts} attempt(s): "
                   f"{failed.category}: {render.short(failed.why, 300)}") if failed else "(unknown)"
        prompt = self.prompts.fill("replan", instruction=plan.instruction, history=render.history(history),
                                   failure=failure, remaining=render.plan_list(plan.subgoals),
                                   scene=render.scene(observation), predicates=self.kit.predicate_syntax(),
                                   actions=self._actions_text())
        subgoals, note = self._ask("new plan", prompt, observation, allow_empty=True)
        return Plan(plan.instruction, subgoals, plan.revision + 1, note or ("no way found" if not subgoals else ""))

    # -----------------------------------------------------------------------------------------

    @property
    def typed(self) -> bool:
        """Plans are decoded under the kit's plan schema (typed actions): when the model can
        decode under a schema and the domain has actions."""
        return bool(self.model.supports_schema and self.kit.actions.names())

    def _actions_text(self) -> str:
        """For typed plans: the domain's actions with their arguments (``?``: optional) and the
        form of one step (placeholders, not a real step: small models copy real ones), so the
        model knows what the schema asks of it. Empty otherwise."""
        if not self.typed:
            return ""
        lines = ['Each subgoal also names one of these actions in "action" with its arguments in "args" '
                 '(? marks an optional argument):']
        for cls in self.kit.actions:
            args = cls.json_schema()["properties"]["args"]
            names = [n if n in args["required"] else f"{n}?" for n in args["properties"]]
            lines.append(f"- {cls.action}({', '.join(names)})")
        first = next(iter(self.kit.actions)).json_schema()["properties"]["args"]
        form = {"description": "<what to do, in words>", "action": next(iter(self.kit.actions)).action,
                "args": {n: "<...>" for n in first["required"]}, "condition": "<a condition, or empty>"}
        lines.append("A step has this form: " + json.dumps(form))
        return "\n".join(lines) + "\n\n"

    def _messages(self, prompt: str, observation: Observation) -> list[Message]:
        system = Message.system(self.prompts.fill("system", domain_notes=domain_notes(self.kit)))
        images = rgb_images(observation, self.image_max_side) if self.images else []
        return [system, Message.user(*images, prompt)]

    def _ask(self, task: str, prompt: str, observation: Observation, *, allow_empty: bool) -> tuple[list[Subgoal],
                                                                                                     str]:
        self.exchanges = []
        reader = PlanReader(observation, self.kit, max_subgoals=self.max_subgoals, allow_empty=allow_empty,
                            strict_attempts=self.sampling.retries)
        schema = self.kit.plan_schema(self.max_subgoals, allow_empty=allow_empty) if self.typed else None
        steps = ask(self.model, self._messages(prompt, observation), reader, task=task, sampling=self.sampling,
                    prompts=self.prompts, reminder=PLAN_REMINDER, log=self.exchanges, schema=schema)
        subgoals, dropped = to_subgoals(steps, self.kit, [o.name for o in observation.objects])
        notes = ["llm", *reader.notes]
        if dropped:
            notes.append("dropped conditions: " + "; ".join(dropped))
        return subgoals, "; ".join(notes)


class PlanReader:
    """Reads plan answers for :func:`planners.llm.dialogue.ask`. Soft problems (more than
    ``max_subgoals`` subgoals, conditions naming objects the agent does not see) are sent back
    during the first ``strict_attempts`` answers; after that they are fixed instead (the plan is
    cut, such conditions are dropped by :func:`to_subgoals`) and noted in ``notes``."""

    def __init__(self, observation: Observation, kit: DomainKit, *, max_subgoals: int, allow_empty: bool,
                 strict_attempts: int) -> None:
        self.observation = observation
        self.kit = kit
        self.max_subgoals = max_subgoals
        self.allow_empty = allow_empty
        self.strict_attempts = strict_attempts
        self.attempts = 0
        self.notes: list[str] = []

    def __call__(self, text: str) -> list[PlannedStep]:
        self.attempts += 1
        strict = self.attempts <= self.strict_attempts
        self.notes = []
        steps = parse_plan(text, allow_empty=self.allow_empty, predicates=[p.name for p in self.kit.predicates])
        if len(steps) > self.max_subgoals:
            if strict:
                raise OutputRejected(f"the plan has {len(steps)} subgoals; give at most {self.max_subgoals}, "
                                     "each one a whole step (not repeated)")
            self.notes.append(f"{len(steps) - self.max_subgoals} subgoal(s) beyond max_subgoals="
                              f"{self.max_subgoals} left out")
            steps = steps[: self.max_subgoals]
        untyped = []
        for step in steps:
            if not step.action:
                continue
            try:
                self.kit.actions.parse(Subgoal(step.description, step.action, dict(step.args)))
            except DomainError as exc:
                if strict:
                    raise OutputRejected(f"{exc}; give one of the listed actions with its arguments") from exc
                untyped.append(f"{step.description!r} ({exc})")
                step.action, step.args = "", {}  # a step in words: a model writer can still do it
        if untyped:
            self.notes.append("actions dropped: " + "; ".join(untyped))
        unknown = unknown_objects(steps, self.observation, self.kit)
        if unknown and strict:
            known = ", ".join(o.name for o in self.observation.objects)
            raise OutputRejected(f"the conditions name {', '.join(map(repr, unknown))}, which the agent does "
                                 f"not see; the objects are: {known}. Use those names")
        return steps


def unknown_objects(steps: Sequence[PlannedStep], observation: Observation, kit: DomainKit) -> list[str]:
    """Object names in readable conditions that match no perceived object (the table always
    exists). Only checked when the agent perceives objects at all."""
    names = [o.name for o in observation.objects]
    if not names:
        return []
    unknown: list[str] = []
    for step in steps:
        for text in step.conditions:
            try:
                cond = kit.parse_condition(text)
            except ConditionSyntaxError:
                continue  # dropped later with the reason
            unknown += [a for a in cond.args if not _perceived(a, names) and a not in unknown]
    return unknown


def to_subgoals(steps: Sequence[PlannedStep], kit: DomainKit, names: Sequence[str] = ()) -> tuple[list[Subgoal],
                                                                                                   list[str]]:
    """Subgoals with parsed conditions. Conditions that do not parse, or (when ``names`` are
    given) that name no perceived object, are dropped and returned with the reason; the
    description is kept."""
    subgoals: list[Subgoal] = []
    dropped: list[str] = []
    for step in steps:
        conds: list[Condition] = []
        for text in step.conditions:
            try:
                cond = kit.parse_condition(text)
            except ConditionSyntaxError as exc:
                dropped.append(f"{text!r} ({exc})")
                continue
            missing = [a for a in cond.args if not _perceived(a, names)] if names else []
            if missing:
                dropped.append(f"{text!r} (no object {', '.join(map(repr, missing))} is perceived)")
            else:
                conds.append(cond)
        subgoals.append(Subgoal(step.description, step.action, dict(step.args), conds))
    return subgoals, dropped


def _perceived(name: str, names: Sequence[str]) -> bool:
    return name.strip().lower() in ("table", "the table") or naming.resolve(name, names) is not None


def _without_finished_head(subgoals: Sequence[Subgoal], history: Sequence[SubgoalOutcome]) -> list[Subgoal]:
    remaining = list(subgoals)
    if history and history[-1].ok and remaining and _same(remaining[0], history[-1].subgoal):
        remaining = remaining[1:]
    return remaining


def _same(a: Subgoal, b: Subgoal) -> bool:
    return a.description == b.description and [str(c) for c in a.conditions] == [str(c) for c in b.conditions]
