"""HybridPlanner (planner backend ``hybrid``): the grammar first, a language model when it cannot;
and the ``rule_or_llm`` writer and repairer that go with it (templates for typed steps, the model for
the rest).

- ``decompose``: ``model: fallback`` (default) parses with the domain's rule planner and asks
  the model only when the grammar cannot read the instruction; ``model: always`` asks the model
  first (the grammar is then the fallback when the model gives no usable reading, and a second
  reader: where it reads the instruction otherwise, the plan carries that doubt).
- The model's reading goes through the same layout as the grammar's
  (:class:`planners.llm.reading.ModelReader`), so every subgoal has a typed action.
- ``revise`` is the rule planner's (geometric upkeep of typed subgoals). ``replan``: the rule
  planner's variants first; when it has nothing left to try and ``replan_with_model``, the model
  reads the instruction again with what happened so far.

Every plan note starts with who planned it (``planned by grammar`` / ``planned by model``), so
the trace says which part planned.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from embodied.domain import DomainKit
from embodied.errors import ConfigError
from embodied.models.base import ChatModel
from embodied.primitives import PrimitiveSet
from embodied.types import (
    Condition,
    Execution,
    Observation,
    Plan,
    PlanView,
    Policy,
    Subgoal,
    SubgoalOutcome,
    Verdict,
)
from planners.errors import PlanningError
from planners.llm import render
from planners.llm.coder import LLMRepairer, LLMWriter
from planners.llm.dialogue import Exchange, Sampling
from planners.llm.errors import ModelOutputError
from planners.llm.planner import LLMPlanner
from planners.llm.reading import READINGS, ModelReader

UseModel = Literal["fallback", "always"]


class HybridPlanner:
    """Planner backend ``hybrid`` (see the module docstring). ``max_parse_retries``: answers
    sent back per model call; ``max_tokens``: per answer; ``max_steps``: longest reading."""

    def __init__(self, model: ChatModel, kit: DomainKit, *, use_model: UseModel = "fallback",
                 replan_with_model: bool = True, max_parse_retries: int = 2, max_tokens: int = 256,
                 temperature: float = 0.0, max_steps: int = 8, prompts_dir: str | Path | None = None) -> None:
        if use_model not in ("fallback", "always"):
            raise ConfigError(f"use_model must be 'fallback' or 'always', got {use_model!r}",
                              field="agent.planner_options.use_model")
        self.rule = kit.rule_planner()
        # A domain with a model reading (the scene schema laid out by its rule planner) uses it;
        # any other kit's model part is the kit-driven LLM planner (its actions, predicates, notes).
        self.reader = ModelReader(model, READINGS[kit.name], sampling=Sampling(max_tokens, temperature,
                                                                              max_parse_retries),
                                  max_steps=max_steps, prompts_dir=prompts_dir) if kit.name in READINGS else None
        self.llm = None if self.reader is not None else LLMPlanner(
            model, kit, max_parse_retries=max_parse_retries, max_tokens=max_tokens, temperature=temperature,
            prompts_dir=prompts_dir)
        self.use_model = use_model
        self.replan_with_model = replan_with_model
        self.exchanges: list[Exchange] = []

    def decompose(self, instruction: str, observation: Observation) -> Plan:
        if self.use_model == "always":
            try:
                plan = self._by_model(instruction, observation, "asked first")
            except ModelOutputError as exc:
                plan = self.rule.decompose(instruction, observation)
                return _noted(plan, f"planned by grammar (the model gave no usable reading: {exc})")
            return self._second_reading(plan, instruction, observation)
        try:
            plan = self.rule.decompose(instruction, observation)
        except PlanningError as exc:
            return self._by_model(instruction, observation, f"the grammar could not: {exc.problem}")
        return _noted(plan, "planned by grammar")

    def _second_reading(self, plan: Plan, instruction: str, observation: Observation) -> Plan:
        """With the model asked first, the grammar reads the instruction too (no model call). When
        it can and its goal differs from the model's, one of the two readings is wrong: if the
        model's reading is already doubted (it leaves out what the instruction's words say), the
        grammar's plan runs; else the model's plan carries that doubt, so its run is not claimed
        a success."""
        if self.reader is None:  # a kit-driven model plan states no goal to compare
            return plan
        try:
            grammar = self.rule.decompose(instruction, observation)
        except PlanningError:
            return plan
        if goal_key(grammar.goal) == goal_key(plan.goal):
            return plan
        if plan.doubts and not grammar.doubts:  # the model's reading also leaves out what the words say
            return _noted(grammar, "planned by grammar (the model's reading disagrees with it and "
                                   f"{'; '.join(plan.doubts)})")
        plan.doubts.append("the grammar reads the instruction differently: " + "; ".join(str(c) for c in grammar.goal))
        return plan

    def revise(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        return self.rule.revise(plan, history, observation)

    def replan(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        new = self.rule.replan(plan, history, observation)
        if new.subgoals or not self.replan_with_model:
            return _noted(new, "replanned by grammar")
        try:
            if self.llm is not None:
                return _noted(self.llm.replan(plan, history, observation),
                              "replanned by model (the grammar had nothing left to try)")
            return self._by_model(plan.instruction, observation, "the grammar had nothing left to try",
                                  context=render.history(history), task="replan")
        except ModelOutputError as exc:
            return _noted(new, f"replanned by grammar (the model gave no usable plan either: {exc})")

    def _by_model(self, instruction: str, observation: Observation, why: str, *, context: str = "",
                  task: str = "plan") -> Plan:
        if self.llm is not None:
            return _noted(self.llm.decompose(instruction, observation), f"planned by model ({why})")
        try:
            plan = self.reader.read(instruction, observation, self.rule.plan_intents, context=context, task=task)
        finally:
            self.exchanges = list(self.reader.exchanges)
        return _noted(plan, f"planned by model ({why})")


def goal_key(goal: Sequence[Condition]) -> set[tuple[Any, ...]]:
    """A goal as a set, for comparing two readings: a row (``aligned``) and ``near`` do not
    depend on the order their objects were named in; numbers are compared to the centimetre."""
    out: set[tuple[Any, ...]] = set()
    for c in goal:
        unordered = c.predicate in ("aligned", "near")
        args = tuple(sorted(c.args)) if unordered else tuple(c.args)
        params = () if c.predicate == "aligned" else tuple(sorted(
            (k, round(v, 2) if isinstance(v, float) else v) for k, v in c.params.items()))
        out.add((c.predicate, c.negated, args, params))
    return out


def _noted(plan: Plan, who: str) -> Plan:
    plan.note = f"{who}; {plan.note}" if plan.note else who
    return plan


class TemplateOrModelWriter:
    """Writer backend ``rule_or_llm``, for hybrid plans: the kit's templates for a subgoal with
    one of the domain's typed actions (the grammar's steps, a model reading laid out as typed
    steps), the model for a step the domain has no action for (e.g. a model's plan step on a GUI,
    which says what to do in words). Options are those of the ``llm`` writer; the trace tells
    them apart by ``Policy.origin``."""

    def __init__(self, model: ChatModel, kit: DomainKit, **llm_options: Any) -> None:
        self.kit = kit
        self.rule = kit.rule_writer()
        self.llm = LLMWriter(model, kit, **llm_options)

    def typed(self, subgoal: Subgoal) -> bool:
        """Whether the templates take this subgoal: its action is one of the domain's (invalid
        arguments of a known action are the planner's fault: the rule writer says so)."""
        return bool(subgoal.action) and subgoal.action in self.kit.actions

    def see_plan(self, view: PlanView) -> None:
        self.llm.see_plan(view)

    def learn(self, domain: str, run: Any, observation: Observation) -> dict[str, Any] | None:
        return self.llm.learn(domain, run, observation)

    def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy:
        writer = self.rule if self.typed(subgoal) else self.llm
        return writer.write(subgoal, api, observation)


class RuleOrModelRepairer:
    """Repairer backend ``rule_or_llm``: the kit's category repairs for policies its templates wrote;
    the model for the policies the model wrote, and for a template policy the rule repairer has
    no repair left for. Options are those of the ``llm`` repairer."""

    def __init__(self, model: ChatModel, kit: DomainKit, **llm_options: Any) -> None:
        self.rule = kit.rule_repairer()
        self.llm = LLMRepairer(model, kit, **llm_options)

    def repair(self, subgoal: Subgoal, policy: Policy, execution: Execution, verdict: Verdict,
               observation: Observation, api: PrimitiveSet) -> Policy | None:
        if not policy.origin.startswith("llm"):
            new = self.rule.repair(subgoal, policy, execution, verdict, observation, api)
            if new is not None:
                return new
        return self.llm.repair(subgoal, policy, execution, verdict, observation, api)
