"""The boxes of the loop as small protocols. Backends implement them; ``embodied.agent`` composes
them and knows nothing else about the world (no simulator, robot or GUI imports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from embodied.primitives import PrimitiveSet
from embodied.types import (
    CameraInfo,
    Condition,
    Execution,
    Observation,
    Plan,
    PlanView,
    Policy,
    SceneObject,
    Subgoal,
    SubgoalOutcome,
    Verdict,
)


@runtime_checkable
class Environment(Protocol):
    """A world the agent acts in: a simulated tabletop, a real robot cell, a screen."""

    domain: str  # "tabletop" or "gui": selects prompt templates and grammar

    def reset(self, seed: int | None = None) -> Observation: ...

    def observe(self, label: str = "") -> Observation:
        """Render the cameras/screen and perceive (objects or UI elements) for the agent."""
        ...

    def primitives(self) -> PrimitiveSet:
        """The primitive API a code policy may call in this world."""
        ...

    def success(self, goal: Sequence[Condition]) -> tuple[bool, dict[str, Any]]:
        """Ground-truth check of the goal, for scoring only: never shown to the agent."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counters for the summary: at least ``sim_steps`` and ``sim_time_s``."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Camera(Protocol):
    """A calibrated camera: a rendered one in simulation, an RGB-D device on a real cell."""

    name: str

    def capture(self) -> tuple[dict[str, Any], CameraInfo]:
        """One frame: ``{"rgb": HxWx3 uint8, "depth": HxW float32 metres along the optical axis}``
        (plus ``"seg"``, body ids, where a simulator knows them) and the camera's model and pose."""
        ...


class ObjectDetector(Protocol):
    """Finds objects in camera images (RGB-D): the agent's only view of the tabletop."""

    def detect(
        self, images: dict[str, Any], cameras: dict[str, CameraInfo]
    ) -> list[SceneObject]: ...


class Planner(Protocol):
    def decompose(self, instruction: str, observation: Observation) -> Plan:
        """Split the instruction into subgoals. Raises ``PlanningError`` when it cannot."""
        ...

    def revise(
        self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation
    ) -> Plan:
        """After a subgoal succeeded: return the remaining plan, possibly reordered or extended."""
        ...

    def replan(
        self, plan: Plan, history: Sequence[SubgoalOutcome], observation: Observation
    ) -> Plan:
        """After repairs ran out on ``history[-1]``: a new remaining plan, or an empty one to stop."""
        ...


class Writer(Protocol):
    def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy: ...


@runtime_checkable
class PlanAwareWriter(Protocol):
    """A writer that also wants the whole plan: the agent calls :meth:`see_plan` before every
    :meth:`Writer.write`. Optional: writers without it (the rule writers) never see the plan."""

    def see_plan(self, view: PlanView) -> None: ...


class Repairer(Protocol):
    def repair(
        self,
        subgoal: Subgoal,
        policy: Policy,
        execution: Execution,
        verdict: Verdict,
        observation: Observation,
        api: PrimitiveSet,
    ) -> Policy | None:
        """A new policy version for the same subgoal, or None when it has no repair to offer."""
        ...


class Monitor(Protocol):
    name: str

    def check(self, subgoal: Subgoal, execution: Execution, observation: Observation) -> Verdict:
        """Judge the subgoal at the last checkpoint. ``observation`` is the checkpoint's view."""
        ...
