"""The data that flows one way through the loop: instruction -> plan -> policy -> trace -> verdict -> repair.

Every record here is a plain dataclass that serialises with :func:`to_jsonable`. Images travel as
numpy arrays in memory; the trace writer stores them as PNG files and keeps only their paths.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class FailureCategory(enum.StrEnum):
    """Why a checkpoint failed. Repairers are keyed by this, never by message text."""

    NONE = "none"
    GRASP_MISSED = "grasp_missed"
    DROPPED = "dropped"
    WRONG_PLACE = "wrong_place"
    WRONG_STATE = "wrong_state"  # GUI: the screen is not in the expected state (box unticked, wrong value)
    NO_EFFECT = "no_effect"  # GUI: a step meant to change the screen (a submit, an expand) left it as it was
    COLLISION = "collision"
    NOT_FOUND = "not_found"
    UNREACHABLE = "unreachable"
    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    DENIED = "denied"  # a risky action the user did not confirm (GUI safety): no repair may retry it
    CRASHED = "crashed"  # the policy's worker process died (segfault, abort): the policy, not the episode
    MEMORY = "memory"  # the policy exceeded its memory budget or address-space limit
    MISSING = "missing"  # what the step names does not exist at all (an app not installed): no retry can make it
    UNKNOWN = "unknown"


#: Failures that were the world's, not the policy's (a slip, a grasp that closed on nothing): the
#: same program may run again, and such a failure says nothing against a stored program.
WORLD_FAULTS = (FailureCategory.DROPPED, FailureCategory.GRASP_MISSED)


# ---------------------------------------------------------------------------------------------
# Planning


@dataclass(frozen=True)
class Condition:
    """A machine-checkable predicate such as ``on(red block, blue block)``.

    ``args`` are object descriptions as the planner read them from the instruction. ``params``
    carries numbers (a target ``x``/``y`` in metres, a push ``direction``).
    """

    predicate: str
    args: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    negated: bool = False

    def __str__(self) -> str:
        inner = ", ".join(self.args)
        if self.params:
            extra = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
            inner = f"{inner}, {extra}" if inner else extra
        text = f"{self.predicate}({inner})"
        return f"not {text}" if self.negated else text


@dataclass
class Subgoal:
    """One step of a plan: what to achieve (``conditions``) and which skill template achieves it.

    ``action`` and ``args`` are the planner's structured reading (e.g. ``"place_on"`` with
    ``{"object": "red block", "target": "blue block"}``): the serialised form of one of the domain
    kit's typed actions (:mod:`embodied.domain`), which writers turn into code.

    ``inserted`` and ``prepared`` are the planner's own bookkeeping, never arguments of the action:
    ``inserted`` marks a helper step the planner added to make another one possible (scroll a target
    into view, close a dialog); ``prepared`` marks a step before which such a helper was already
    inserted (so it is not inserted twice).
    """

    description: str
    action: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    conditions: list[Condition] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=lambda: ["end"])
    inserted: bool = False
    prepared: bool = False


@dataclass
class Plan:
    """``goal`` is what the whole instruction asks for; ``subgoals`` may cover less of it when
    some of it already holds (then the goal is still what a run is scored against). ``doubts``:
    what the planner knows its plan may leave out of the instruction (e.g. an object the
    instruction names that no step uses); a run of a doubted plan is never claimed a success."""

    instruction: str
    subgoals: list[Subgoal]
    revision: int = 0
    note: str = ""
    goal: list[Condition] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)


@dataclass
class PlanView:
    """The plan as it stands when one subgoal is about to be written: the instruction, the
    subgoals achieved so far, the one being written (``current``) and those still to come. A
    writer that sees it can write a step that fits the whole task (Code-as-Policies prompts)."""

    instruction: str
    done: list[Subgoal]
    current: Subgoal
    remaining: list[Subgoal]

    @property
    def subgoals(self) -> list[Subgoal]:
        """The whole plan in order; ``current`` is at index ``len(done)``."""
        return [*self.done, self.current, *self.remaining]


# ---------------------------------------------------------------------------------------------
# Observations


@dataclass
class CameraInfo:
    """Pinhole camera: intrinsics in pixels, pose as a 4x4 camera-to-world matrix (OpenCV axes:
    x right, y down, z forward)."""

    name: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    cam_to_world: list[list[float]]


@dataclass
class SceneObject:
    """An object as the agent knows it: detected from pixels (or from sim state when oracle)."""

    name: str
    color: str = ""
    shape: str = ""
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    size: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw: float = 0.0
    confidence: float = 1.0


@dataclass
class UIElement:
    """A GUI element as the agent knows it (from an accessibility tree, the DOM, or OCR)."""

    id: str
    role: str = ""
    text: str = ""
    bounds: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, top, right, bottom in pixels
    clickable: bool = False
    editable: bool = False
    checked: bool | None = None
    selected: bool | None = None
    description: str = ""
    # Accessibility-tree details where the backend has them (Android): the widget's resource id
    # ("com.app:id/send"), and whether it is enabled, has the input focus, or scrolls.
    resource_id: str = ""
    enabled: bool = True
    focused: bool = False
    scrollable: bool = False
    # A slider's (minimum, maximum, step) where the widget states them (a range input, an ARIA
    # slider); its ``text`` is then its current value.
    value_range: tuple[float, float, float] | None = None

    @property
    def center(self) -> tuple[int, int]:
        left, top, right, bottom = self.bounds
        return ((left + right) // 2, (top + bottom) // 2)


@dataclass
class Observation:
    """What the agent may see. Planners and monitors read only this, never simulator state."""

    objects: list[SceneObject] = field(default_factory=list)
    elements: list[UIElement] = field(default_factory=list)
    images: dict[str, np.ndarray] = field(default_factory=dict)  # "front/rgb", "front/depth", ...
    cameras: dict[str, CameraInfo] = field(default_factory=dict)
    label: str = ""  # what the observation was taken for ("start", a checkpoint label, "final")
    task: str = ""  # the task text the world states itself (a MiniWoB utterance, a page title); "" if none
    gripper: dict[str, Any] = field(default_factory=dict)  # proprioception: ee pose, width, holding


# ---------------------------------------------------------------------------------------------
# Execution


@dataclass
class Policy:
    """A code policy for one subgoal. ``version`` counts repairs; ``origin`` says who wrote it."""

    source: str
    subgoal_index: int = 0
    version: int = 0
    origin: str = "given"
    parent_version: int | None = None


@dataclass
class PrimitiveCall:
    index: int
    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    line: int | None
    result: Any = None
    error_type: str | None = None
    error: str | None = None
    category: FailureCategory = FailureCategory.NONE
    wall_time_s: float = 0.0
    sim_time_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error_type is None


@dataclass
class Checkpoint:
    """Taken by the policy (``checkpoint("label")``) or by the sandbox at the end or on error."""

    label: str
    after_call: int  # number of primitive calls made before it
    line: int | None = None
    observation: Observation | None = None
    image_paths: dict[str, str] = field(default_factory=dict)


class ExecutionStatus(enum.StrEnum):
    OK = "ok"
    SYNTAX_ERROR = "syntax_error"
    REFUSED = "refused"
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass
class Execution:
    """What happened when one policy ran in the sandbox."""

    status: ExecutionStatus
    calls: list[PrimitiveCall] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    stdout: str = ""
    error_type: str | None = None
    error: str | None = None
    line: int | None = None
    category: FailureCategory = FailureCategory.NONE
    wall_time_s: float = 0.0
    steps: int = 0
    # The agent's view of the world when the run started (set by the agent, never by the sandbox):
    # what a repairer shows as "before" when no checkpoint was taken before the failed step.
    start: Observation | None = None

    @property
    def ok(self) -> bool:
        return self.status is ExecutionStatus.OK


@dataclass
class Evidence:
    """Base of the typed evidence a monitor attaches to its verdict; each monitor writes its own
    subclass, so a reader (a repairer) can only use fields some monitor really writes.
    ``decisive``: False when the monitor itself doubts the failure (an unparseable VLM answer).
    ``notes``: what each monitor of a combined check said (filled in by ``HybridMonitor``)."""

    decisive: bool = True
    notes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Verdict:
    """A monitor's judgement of one checkpoint. ``failed_call`` indexes ``Execution.calls``."""

    ok: bool
    monitor: str
    category: FailureCategory = FailureCategory.NONE
    why: str = ""
    failed_call: int | None = None
    failed_line: int | None = None
    primitive: str | None = None
    evidence: Evidence = field(default_factory=Evidence)


@dataclass
class Attempt:
    policy: Policy
    execution: Execution
    verdict: Verdict


@dataclass
class SubgoalOutcome:
    """A compact record for dynamic planning: what was tried for a subgoal and how it ended."""

    subgoal: Subgoal
    ok: bool
    attempts: int
    category: FailureCategory = FailureCategory.NONE
    why: str = ""


@dataclass
class EpisodeResult:
    """``success`` is ground truth (the world's predicates, a benchmark's reward, a file an app
    wrote, a device's state) or None where the world has none; ``claimed_success`` is what the
    agent's own checks concluded. They are kept apart: a claim is never copied into ``success``."""

    success: bool | None
    instruction: str
    wall_time_s: float
    sim_steps: int
    primitive_calls: int
    subgoals: int = 0
    repairs: int = 0
    replans: int = 0
    policies_written: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_time_s: float = 0.0
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    failure: str = ""
    goal: list[str] = field(default_factory=list)
    claimed_success: bool = False
    truth: str = ""  # where ``success`` came from ("config goal", "miniwob", "file", ...) or why it is None


# ---------------------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses, enums, tuples and numpy values into JSON-ready data. Arrays are
    summarised by shape (images belong in files, not in traces)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str) and type(value) is not str:
        return str(value)  # str subclasses render through __str__: a GUI Secret records as "***"
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.size <= 16:
            return to_jsonable(value.tolist())
        return {"ndarray": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)
