"""Domain kits: what differs between worlds (a tabletop, a screen, any future one), in one object.

A :class:`DomainKit` is registered by name in the ``domain`` registry of :mod:`embodied.backends`,
under the name an :class:`~embodied.protocols.Environment` gives as its ``domain``. The agent, the
runner and the model-backed parts ask the kit; nothing guesses the domain from an observation.

A kit owns:

- the primitive names its worlds offer (each world builds the callables; the kit's contract check
  holds the two together);
- its condition predicates (:class:`PredicateSpec`) and their evaluator on an ``Observation``;
- its typed subgoal actions (:class:`SubgoalAction` subclasses in an :class:`ActionSet`): validated,
  serialisable to ``Subgoal.action``/``Subgoal.args`` for the trace and to a JSON schema a model's
  output can be constrained with;
- the evidence type each of its default monitors writes (:class:`Evidence` subclasses);
- prompt notes and few-shot examples: files in the kit's folder;
- its model-free planner, writer and repairer (``rule``) and its default monitors.

This module is core: it imports no planner, simulator, perception or robot code. Kits live with
their domain's code and point at their parts with lazy ``"module:attr"`` targets.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from embodied.conditions import PredicateSpec, parse_condition
from embodied.errors import DomainError
from embodied.registry import load_target
from embodied.types import Condition, Evidence, Observation, Subgoal

# ---------------------------------------------------------------------------------------------
# Typed subgoal actions


BOOKKEEPING = "bookkeeping"
#: ``field(..., metadata=NOT_FOR_MODEL)``: a typed action's field that is the planner's note (a
#: label, the pose when planned), not a number the program needs: kept in the trace, left out of
#: the step a model is shown.
NOT_FOR_MODEL = types.MappingProxyType({BOOKKEEPING: True})


@dataclass(frozen=True)
class SubgoalAction:
    """Base of a kit's typed subgoal actions: a frozen dataclass per action, named by ``action``.

    Fields are the action's arguments, typed with ``str``, ``int``, ``float``, ``bool``, lists of
    those, or ``X | None``. ``Subgoal.action``/``Subgoal.args`` are their serialised form (what the
    trace stores and what a model writes); :meth:`from_args` validates that form.
    """

    action: ClassVar[str] = ""

    def to_args(self) -> dict[str, Any]:
        """The non-default fields, as ``Subgoal.args`` (JSON-ready)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
            if value != default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_args(cls, args: Mapping[str, Any], *, where: str = "") -> SubgoalAction:
        """Validate ``args`` against the fields. Raises :class:`DomainError` naming the action and
        the field (unknown argument, missing argument, wrong type)."""
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        prefix = f"{where}: " if where else ""
        unknown = sorted(set(args) - set(fields))
        if unknown:
            raise DomainError(f"{prefix}action {cls.action!r} has no argument(s) {', '.join(map(repr, unknown))} "
                              f"(arguments: {', '.join(fields) or 'none'})")
        values: dict[str, Any] = {}
        for name, f in fields.items():
            if name not in args:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise DomainError(f"{prefix}action {cls.action!r} needs argument {name!r}")
                continue
            values[name] = _coerce(args[name], hints[name], f"{prefix}{cls.action}.{name}")
        return cls(**values)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """A JSON schema of ``{"action": name, "args": {...}}`` for this action."""
        hints = typing.get_type_hints(cls)
        props: dict[str, Any] = {}
        required: list[str] = []
        for f in dataclasses.fields(cls):
            props[f.name] = _schema_of(hints[f.name])
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
        args = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
        return {"type": "object", "properties": {"action": {"const": cls.action}, "args": args},
                "required": ["action", "args"], "additionalProperties": False}


_SCALARS: dict[type, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}


def _optional_inner(hint: Any) -> Any | None:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) == 1 and len(typing.get_args(hint)) == 2:
            return inner[0]
    return None


def _coerce(value: Any, hint: Any, where: str) -> Any:
    inner = _optional_inner(hint)
    if inner is not None:
        return None if value is None else _coerce(value, inner, where)
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        item = typing.get_args(hint)[0]
        if not isinstance(value, list | tuple):
            raise DomainError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in _SCALARS and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise DomainError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {type(value).__name__} {value!r}")


def _schema_of(hint: Any) -> dict[str, Any]:
    inner = _optional_inner(hint)
    if inner is not None:
        return {"anyOf": [_schema_of(inner), {"type": "null"}]}
    if typing.get_origin(hint) in (list, tuple):
        return {"type": "array", "items": _schema_of(typing.get_args(hint)[0])}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    raise TypeError(f"action field type {hint!r} has no JSON schema (use str, int, float, bool, lists, X | None)")


class ActionSet:
    """The typed actions of one domain, by name."""

    def __init__(self, actions: Sequence[type[SubgoalAction]]) -> None:
        self._by_name: dict[str, type[SubgoalAction]] = {}
        for cls in actions:
            if not cls.action or cls.action in self._by_name:
                raise TypeError(f"action class {cls.__name__} needs a unique non-empty name (got {cls.action!r})")
            cls.json_schema()  # a field type without a schema fails here, at definition
            self._by_name[cls.action] = cls

    def names(self) -> list[str]:
        return list(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> typing.Iterator[type[SubgoalAction]]:
        return iter(self._by_name.values())

    def get(self, name: str) -> type[SubgoalAction]:
        try:
            return self._by_name[name]
        except KeyError:
            raise DomainError(f"unknown action {name!r} (actions: {', '.join(self._by_name)})") from None

    def parse(self, subgoal: Subgoal) -> SubgoalAction:
        """The subgoal's action, typed and validated. Raises :class:`DomainError`."""
        where = f"subgoal {subgoal.description!r}"
        if subgoal.action not in self._by_name:
            raise DomainError(f"{where}: unknown action {subgoal.action!r} (actions: {', '.join(self._by_name)})")
        return self._by_name[subgoal.action].from_args(subgoal.args, where=where)

    def schema(self) -> dict[str, Any]:
        """JSON schema of one action: any of the domain's actions with its arguments."""
        return {"anyOf": [cls.json_schema() for cls in self]}


def subgoal_of(action: SubgoalAction, description: str, conditions: Sequence[Condition] = (),
               checkpoints: Sequence[str] = ("end",)) -> Subgoal:
    """A subgoal carrying ``action`` in its serialised form."""
    return Subgoal(description, action.action, action.to_args(), list(conditions), list(checkpoints))


# ---------------------------------------------------------------------------------------------
# Predicates and evidence


@dataclass(frozen=True)
class PredicateResult:
    """An evaluation: ``holds`` is None when the observation cannot decide it."""

    holds: bool | None
    why: str


def step_text(subgoal: Subgoal, actions: ActionSet | None = None) -> str:
    """A subgoal's typed action as one line for a model (``""`` without one):
    ``place_at with object = red block, relative_to = blue block, dy = 0.076``. Not call syntax: a
    typed action is no primitive, and a small model copies what looks like a call. With
    ``actions``, fields marked ``NOT_FOR_MODEL`` are left out: a small model passes every name it
    sees to a primitive (``place_at(x, y, relation="left_of")``)."""
    if not subgoal.action:
        return ""
    shown = model_fields(actions.get(subgoal.action)) if actions is not None and subgoal.action in actions else None
    args = ", ".join(f"{k} = {_plain(v)}" for k, v in subgoal.args.items() if shown is None or k in shown)
    return f"{subgoal.action} with {args}" if args else subgoal.action


def model_fields(cls: type[SubgoalAction]) -> list[str]:
    """The names of ``cls``'s fields a model is shown (all but ``NOT_FOR_MODEL`` ones)."""
    return [f.name for f in dataclasses.fields(cls) if not f.metadata.get(BOOKKEEPING)]


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value else "0"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class ProgramExample:
    """One few-shot code policy of a kit: the subgoal, its planned step (may be empty), the code."""

    subgoal: str
    code: str
    step: str = ""


# ---------------------------------------------------------------------------------------------
# The kit


@dataclass(frozen=True)
class DomainKit:
    """Everything one world's domain contributes to the loop (see the module docstring).

    ``evaluate`` judges one condition on an observation. ``planner``/``writer``/``repairer`` are
    ``"module:attr"`` targets of the model-free parts, built with the kit's options. ``monitors``
    are monitor registry names used when a config lists none. ``evidence`` maps each monitor name
    the kit's repairer reads to the evidence type that monitor writes. ``folder`` holds
    ``notes.md`` (prompt notes) and ``examples/*.json`` (few-shot examples).
    """

    name: str
    primitives: tuple[str, ...]
    predicates: tuple[PredicateSpec, ...]
    evaluate: Callable[[Condition, Observation], PredicateResult]
    actions: ActionSet
    planner: str
    writer: str
    repairer: str
    monitors: tuple[str, ...]
    folder: Path
    evidence: Mapping[str, type[Evidence]] = field(default_factory=dict)
    summary: str = ""

    # -- predicates ------------------------------------------------------------------------------
    def predicate(self, name: str) -> PredicateSpec:
        for spec in self.predicates:
            if spec.name == name:
                return spec
        raise DomainError(f"the {self.name} domain has no predicate {name!r} "
                          f"(predicates: {', '.join(p.name for p in self.predicates)})")

    def predicate_syntax(self) -> str:
        """One line per predicate, for prompts."""
        return "\n".join(f"- {p.syntax()}: {p.doc}" for p in self.predicates)

    def parse_condition(self, text: str) -> Condition:
        """A condition string in this domain's predicates. Raises ``ConditionSyntaxError``."""
        return parse_condition(text, self.predicates)

    def plan_schema(self, max_subgoals: int | None = None, *, allow_empty: bool = False) -> dict[str, Any]:
        """JSON schema of a plan in this domain, for constrained decoding: ``{"subgoals": [...]}``,
        each a description, one of the kit's typed actions with its arguments, and a condition
        (free text, read with :meth:`parse_condition`). ``allow_empty``: ``[]`` is a plan (a
        revision or replan saying nothing is left to do)."""
        # One whole object per action (not shared properties narrowed by anyOf): grammar
        # converters such as llguidance then keep every required key.
        step = {"anyOf": [{"type": "object", "required": ["description", "action", "args", "condition"],
                           "additionalProperties": False,
                           "properties": {"description": {"type": "string"}, "action": a["properties"]["action"],
                                          "args": a["properties"]["args"], "condition": {"type": "string"}}}
                          for a in self.actions.schema()["anyOf"]]}
        subgoals: dict[str, Any] = {"type": "array", "items": step, "minItems": 0 if allow_empty else 1}
        if max_subgoals is not None:
            subgoals["maxItems"] = max_subgoals
        return {"type": "object", "required": ["subgoals"], "additionalProperties": False,
                "properties": {"subgoals": subgoals}}

    # -- prompts -------------------------------------------------------------------------------
    def action_notes(self) -> str:
        """One line per typed action (name, arguments, the docstring's first paragraph), for
        prompts that show a planned step (:func:`step_text`); ``NOT_FOR_MODEL`` fields left out."""
        lines = []
        for cls in self.actions:
            doc = (cls.__doc__ or "").strip().split("\n\n")[0]  # the first paragraph
            lines.append(f"- {cls.action} ({', '.join(model_fields(cls))}): {' '.join(doc.replace('``', '').split())}")
        return "\n".join(lines)

    def notes(self) -> str:
        """Prompt notes: what this world is and how it is operated."""
        path = self.folder / "notes.md"
        if not path.is_file():
            raise DomainError(f"domain kit {self.name!r} has no prompt notes at {path}")
        return path.read_text(encoding="utf-8").strip()

    def examples(self) -> list[dict[str, Any]]:
        """Few-shot examples, one JSON file each, in name order. Each holds at least an
        ``instruction`` and the ``subgoals`` (description, action, args, condition) a plan has."""
        folder = self.folder / "examples"
        out = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise DomainError(f"{path}: not JSON: {exc}") from exc
            if not isinstance(data, dict) or not isinstance(data.get("instruction"), str):
                raise DomainError(f"{path}: an example needs an 'instruction' string")
            out.append(data)
        return out

    def programs(self) -> list[ProgramExample]:
        """Few-shot code policies, one file each in ``examples/programs/*.py`` in name order. A
        file starts with ``# subgoal: <the subgoal it achieves>`` and may go on with
        ``# step: <the planned step>`` (the typed action as :func:`step_text` renders it), so the
        model sees how a plan's numbers become calls."""
        folder = self.folder / "examples" / "programs"
        out = []
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
            head, _, code = path.read_text(encoding="utf-8").partition("\n")
            if not head.startswith("# subgoal:") or not code.strip():
                raise DomainError(f"{path}: a program example starts with '# subgoal: ...' and has code after it")
            step = ""
            if code.startswith("# step:"):
                step_line, _, code = code.partition("\n")
                step = step_line.removeprefix("# step:").strip()
            out.append(ProgramExample(head.removeprefix("# subgoal:").strip(), code.strip(), step))
        return out

    # -- model-free parts ------------------------------------------------------------------------
    def rule_planner(self, **options: Any) -> Any:
        return load_target(self.planner)(**options)

    def rule_writer(self, **options: Any) -> Any:
        return load_target(self.writer)(**options)

    def rule_repairer(self, **options: Any) -> Any:
        return load_target(self.repairer)(**options)


# ---------------------------------------------------------------------------------------------
# The ``rule`` backends: whatever model-free part the world's kit has


def rule_planner(kit: DomainKit) -> Any:
    """Planner backend ``rule``: the kit's model-free planner."""
    return kit.rule_planner()


def rule_writer(kit: DomainKit) -> Any:
    """Writer backend ``rule``: the kit's template writer."""
    return kit.rule_writer()


def rule_repairer(kit: DomainKit) -> Any:
    """Repairer backend ``rule``: the kit's category-keyed repairer."""
    return kit.rule_repairer()
