"""Contract checkers, one per kind of backend, in the manner of gymnasium's ``check_env``: each
takes a built backend, exercises its protocol and raises :class:`ContractError` naming the backend
and what it broke. The contract tests run them over every registered backend; a new backend gets
them by being registered. This module imports no backend (they are passed in); the robot checker
lives with the Robot protocol (:func:`robots.check.check_robot`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from embodied.conditions import ConditionSyntaxError
from embodied.domain import DomainKit, PredicateResult
from embodied.errors import EmbodiedError, PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.registry import load_target
from embodied.types import (
    Condition,
    Evidence,
    Execution,
    ExecutionStatus,
    Observation,
    Plan,
    Policy,
    Subgoal,
    Verdict,
)


class ContractError(EmbodiedError):
    """A backend does not keep its protocol's contract."""


def require(ok: bool, who: str, what: str) -> None:
    if not ok:
        raise ContractError(f"{who}: {what}")


# ---------------------------------------------------------------------------------------------


def check_kit(kit: DomainKit, name: str) -> None:
    """A domain kit: registered under its own name; its predicates parse from their own syntax and
    evaluate to a ``PredicateResult``; its actions have JSON schemas; every few-shot example's
    subgoals validate as its typed actions and its conditions parse; its notes exist; its rule
    parts load; its evidence types are ``Evidence``."""
    who = f"domain kit {name!r}"
    require(kit.name == name, who, f"calls itself {kit.name!r}")
    names = [p.name for p in kit.predicates]
    require(len(set(names)) == len(names) and names, who, f"predicate names must be unique and non-empty: {names}")
    for spec in kit.predicates:
        try:
            cond = kit.parse_condition(spec.syntax())
        except ConditionSyntaxError as exc:
            raise ContractError(f"{who}: predicate {spec.name!r} does not parse from its own syntax: {exc}") from exc
        result = kit.evaluate(cond, Observation())
        require(isinstance(result, PredicateResult), who, f"evaluate({cond}) returned {result!r}")
    require(bool(kit.actions.names()), who, "declares no subgoal action")
    for cls in kit.actions:
        schema = cls.json_schema()
        require(schema["properties"]["action"] == {"const": cls.action}, who, f"schema of {cls.action!r}")
    require(bool(kit.notes()), who, "has empty prompt notes")
    for example in kit.examples():
        for step in example.get("subgoals", []):
            sub = Subgoal(step.get("description", ""), step.get("action", ""), dict(step.get("args", {})))
            try:
                action = kit.actions.parse(sub)
            except EmbodiedError as exc:
                raise ContractError(f"{who}: example {example['instruction']!r}: {exc}") from exc
            require(action.to_args() == kit.actions.get(sub.action).from_args(action.to_args()).to_args(), who,
                     f"action {sub.action!r} does not round-trip through its arguments")
            if step.get("condition"):
                kit.parse_condition(step["condition"])
    for target in (kit.planner, kit.writer, kit.repairer):
        require(callable(load_target(target)), who, f"rule part {target!r} is not callable")
    for monitor, evidence in kit.evidence.items():
        require(isinstance(evidence, type) and issubclass(evidence, Evidence), who,
                 f"evidence of monitor {monitor!r} is not an Evidence type")
    require(bool(kit.primitives) and len(set(kit.primitives)) == len(kit.primitives), who,
             "primitive names must be unique and non-empty")


def check_primitives(api: PrimitiveSet, kit: DomainKit, who: str) -> None:
    """The world's primitive set: exactly the kit's primitives, in the kit's domain, declared
    errors that are ``PrimitiveError`` types, and an API listing for prompts."""
    require(api.domain == kit.name, who, f"primitive set of domain {api.domain!r}, kit {kit.name!r}")
    require(sorted(api.names()) == sorted(kit.primitives), who,
             f"offers primitives {sorted(api.names())}, the {kit.name} kit declares {sorted(kit.primitives)}")
    require(all(issubclass(e, PrimitiveError) for e in api.errors), who, "declares a non-PrimitiveError error")
    require(all(p.name in api.spec() for p in api), who, "API listing misses a primitive")


def check_env(env: Any, kit: DomainKit, name: str, seed: int = 0) -> None:
    """An environment: ``reset`` returns an Observation and is deterministic under a seed (an env
    whose ``deterministic`` is False, a physical cell, shows the same objects again); ``observe``
    keeps the label; primitives match its kit; ``success`` is pure (same answer twice, no time
    passes) and None where the world gives no ground truth; ``stats`` counts ``sim_steps``."""
    who = f"env {name!r}"
    require(env.domain == kit.name, who, f"domain {env.domain!r} is not its kit's {kit.name!r}")
    first = env.reset(seed=seed)
    require(isinstance(first, Observation), who, f"reset returned {type(first).__name__}")
    again = env.reset(seed=seed)
    if getattr(env, "deterministic", True):
        require(_view(first) == _view(again), who, "reset(seed) is not deterministic")
    else:  # a physical cell (or its real-time stand-in): the same things are seen, not the same poses
        require(sorted(o.name for o in first.objects) == sorted(o.name for o in again.objects), who,
                "reset(seed) shows different objects")
    obs = env.observe("contract")
    require(isinstance(obs, Observation) and obs.label == "contract", who, "observe(label) must keep the label")
    check_primitives(env.primitives(), kit, who)
    stats = env.stats()
    require(isinstance(stats.get("sim_steps"), int), who, f"stats() has no integer sim_steps: {stats}")
    one = env.success([])
    two = env.success([])
    require(isinstance(one, tuple) and (one[0] is None or isinstance(one[0], bool)) and isinstance(one[1], dict), who,
             f"success() must return (bool or None, dict), got {one!r}")
    require(one[0] == two[0] and env.stats()["sim_steps"] == stats["sim_steps"], who, "success() is not pure")


def _view(obs: Observation) -> Any:
    return ([dataclasses.astuple(o) for o in obs.objects], [dataclasses.astuple(e) for e in obs.elements],
            obs.task, sorted(obs.images))


def check_model(model: Any, name: str, image: bool = False) -> None:
    """A chat model: :func:`embodied.models.check.check_model` finds no problem (text back, token
    counts that add up, one counted call per request)."""
    from embodied.models.check import check_model as model_problems

    problems = model_problems(model, image=image)
    require(not problems, f"model {name!r}", "; ".join(problems))


def check_monitor(monitor: Any, kit: DomainKit, name: str, observation: Observation) -> None:
    """A monitor: has a name; judges a subgoal without conditions after a clean run as passed and
    a failed run's subgoal with a ``Verdict`` whose evidence is typed (the kit's type for it)."""
    who = f"monitor {name!r}"
    require(isinstance(getattr(monitor, "name", None), str), who, "has no name")
    ok = monitor.check(Subgoal("nothing to check"), Execution(ExecutionStatus.OK), observation)
    require(isinstance(ok, Verdict) and isinstance(ok.evidence, Evidence), who, f"returned {ok!r}")
    failed = monitor.check(Subgoal("ran into an error"), Execution(ExecutionStatus.ERROR, error="boom",
                                                                     error_type="RuntimeError", line=1), observation)
    require(isinstance(failed, Verdict) and isinstance(failed.evidence, Evidence), who, f"returned {failed!r}")
    wanted = kit.evidence.get(monitor.name)
    if wanted is not None:
        for v in (ok, failed):
            require(isinstance(v.evidence, wanted), who,
                     f"the {kit.name} kit reads {wanted.__name__} from it, got {type(v.evidence).__name__}")


def check_planner(planner: Any, kit: DomainKit, name: str, instruction: str, observation: Observation,
                  typed: bool = True) -> Plan:
    """A planner: ``decompose`` returns a Plan of Subgoals whose conditions are the kit's predicates
    (and, when ``typed``, whose actions validate as the kit's typed actions); ``revise`` after a
    success and ``replan`` after a failure return Plans."""
    from embodied.types import SubgoalOutcome

    who = f"planner {name!r}"
    plan = planner.decompose(instruction, observation)
    require(isinstance(plan, Plan) and plan.subgoals and all(isinstance(s, Subgoal) for s in plan.subgoals), who,
             f"decompose({instruction!r}) returned {plan!r}")
    known = {p.name for p in kit.predicates}
    for sub in plan.subgoals:
        for cond in sub.conditions:
            require(isinstance(cond, Condition) and cond.predicate in known, who,
                     f"condition {cond} is not a {kit.name} predicate")
        if typed:
            try:
                kit.actions.parse(sub)
            except EmbodiedError as exc:
                raise ContractError(f"{who}: {exc}") from exc
    head = plan.subgoals[0]
    revised = planner.revise(Plan(plan.instruction, plan.subgoals[1:], plan.revision, plan.note),
                             [SubgoalOutcome(head, True, 1)], observation)
    require(isinstance(revised, Plan), who, f"revise returned {revised!r}")
    replanned = planner.replan(plan, [SubgoalOutcome(head, False, 2)], observation)
    require(isinstance(replanned, Plan), who, f"replan returned {replanned!r}")
    return plan


def check_writer(writer: Any, name: str, plan: Plan, api: PrimitiveSet, observation: Observation,
                 check_source: Callable[[str, PrimitiveSet], list[Any]]) -> None:
    """A writer: each subgoal of ``plan`` becomes a Policy the sandbox's static check accepts."""
    who = f"writer {name!r}"
    for sub in plan.subgoals:
        policy = writer.write(sub, api, observation)
        require(isinstance(policy, Policy) and policy.source.strip(), who, f"wrote {policy!r} for {sub.description!r}")
        problems = check_source(policy.source, api)
        require(not problems, who, f"policy for {sub.description!r} is refused: {problems[:3]}")
