"""Backends for configs that give the policy (``task.policy`` / ``task.policy_file``): the
policy runs as one subgoal, is still checked by the monitors, and is never rewritten."""

from __future__ import annotations

from collections.abc import Sequence

from embodied.primitives import PrimitiveSet
from embodied.types import Execution, Observation, Plan, Policy, Subgoal, SubgoalOutcome, Verdict
from planners.errors import PlanningError, WritingError

ACTION = "policy"  # the subgoal action whose ``args["source"]`` is the code to run


class FixedPlanner:
    """One subgoal that carries the given policy. ``policy`` is the source text."""

    def __init__(self, policy: str | None = None) -> None:
        self.policy = policy

    def decompose(self, instruction: str, observation: Observation) -> Plan:
        if not self.policy or not self.policy.strip():
            raise PlanningError("the fixed planner runs task.policy, and the config gives none "
                                "(set task.policy or task.policy_file, or choose agent.planner: rule)")
        subgoal = Subgoal(description=instruction, action=ACTION, args={"source": self.policy})
        return Plan(instruction, [subgoal], 0, "runs the given policy")

    def revise(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        """Nothing to revise: the one subgoal is the whole plan; whatever remains stays."""
        return plan

    def replan(self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation) -> Plan:
        """A given policy has no alternative: stop."""
        return Plan(plan.instruction, [], plan.revision + 1, "the given policy failed and there is no other plan")


class FixedWriter:
    """Returns the subgoal's policy (``args["source"]``), or the configured one, unchanged."""

    def __init__(self, policy: str | None = None) -> None:
        self.policy = policy

    def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy:
        source = subgoal.args.get("source") if subgoal.action == ACTION else None
        source = source or self.policy
        if not source:
            raise WritingError(f"no policy to run for {subgoal.description!r}: the fixed writer only passes on "
                               "task.policy")
        return Policy(source=source, origin="given")


class NoRepair:
    """Never repairs: the failure goes straight to the planner (which stops)."""

    def repair(self, subgoal: Subgoal, policy: Policy, execution: Execution, verdict: Verdict,
               observation: Observation, api: PrimitiveSet) -> Policy | None:
        return None
