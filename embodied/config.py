"""Experiment configs: YAML files with ``include:`` presets and dotted command-line overrides,
validated into typed objects. Every mistake becomes one :class:`ConfigError` naming the file, the
line, the field path, what was expected, and a "did you mean" where one helps."""

from __future__ import annotations

import copy
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from embodied import backends, safe_yaml
from embodied.errors import ConfigError, UnknownBackendError
from embodied.registry import did_you_mean

Loc = tuple[str | int, ...]
MAX_SEED = 2**32 - 1  # seeds are unsigned 32-bit: every RNG the environments use accepts them
LineMap = dict[Loc, tuple[str, int]]


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def backend_name(registry_kind: str, value: str) -> str:
    """``value`` if it names a registered backend of that kind; else a ValueError with "did you
    mean", for use in pydantic validators (the loader turns it into a located ConfigError)."""
    registry = backends.registry(registry_kind)
    try:
        registry.entry(value)
    except UnknownBackendError as exc:
        raise ValueError(f"{exc.message} ({exc.hint})") from None
    return value


class TaskConfig(StrictModel):
    instruction: str = Field(
        default="", description="what to do; empty = the world's own task text (e.g. a MiniWoB utterance)")
    goal: list[str] = Field(
        default_factory=list,
        description="ground-truth conditions for scoring, e.g. 'on(red block, blue block)'",
    )
    policy: str | None = Field(default=None, description="inline code policy: run it instead of planning")
    policy_file: str | None = None

    @field_validator("goal")
    @classmethod
    def _goal(cls, v: list[str]) -> list[str]:
        from embodied.conditions import ConditionSyntaxError, parse_condition

        for i, text in enumerate(v):
            try:
                parse_condition(text, any_predicate=True)  # the world's kit checks the names
            except ConditionSyntaxError as exc:
                raise ValueError(f"goal item {i}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _one_policy(self) -> TaskConfig:
        if self.policy and self.policy_file:
            raise ValueError("give either task.policy or task.policy_file, not both")
        return self


class AgentConfig(StrictModel):
    planner: str = "rule"
    writer: str | None = Field(default=None, description="default: the planner's name if a writer has it, else rule")
    repairer: str | None = Field(default=None,
                                 description="default: the planner's name if a repairer has it, else rule")
    monitors: list[str] | None = Field(default=None, description="default: the domain kit's monitors")
    closed_loop: bool = Field(default=True, description="false: no monitoring, no repair (ablation)")
    repair_budget: int = Field(default=3, ge=0, le=50)
    replan_budget: int = Field(default=2, ge=0, le=50)
    max_subgoals: int = Field(default=30, ge=1, le=1000)
    max_wall_s: float | None = Field(default=None, gt=0, description="episode wall-time budget, seconds "
                                     "(checked between subgoals; a slow model ends with a clear result)")
    model: str | None = Field(default=None, description="name of an entry under models: for llm parts")
    planner_options: dict[str, Any] = Field(default_factory=dict, description="constructor options of the planner")
    writer_options: dict[str, Any] = Field(default_factory=dict)
    repairer_options: dict[str, Any] = Field(default_factory=dict)
    monitor_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per monitor name, e.g. {vlm: {model: my_vlm, visual_diff: pixels}}")

    def part_name(self, kind: str) -> str:
        """The writer or repairer by name: as configured, else the one named like the planner,
        else ``rule`` (a ``hybrid`` plan is typed subgoals, which the rule parts act on)."""
        named = self.writer if kind == "writer" else self.repairer
        if named:
            return named
        return self.planner if self.planner in backends.registry(kind).names() else "rule"

    @field_validator("planner")
    @classmethod
    def _planner(cls, v: str) -> str:
        return backend_name("planner", v)

    @field_validator("writer")
    @classmethod
    def _writer(cls, v: str | None) -> str | None:
        return None if v is None else backend_name("writer", v)

    @field_validator("repairer")
    @classmethod
    def _repairer(cls, v: str | None) -> str | None:
        return None if v is None else backend_name("repairer", v)

    @field_validator("monitors")
    @classmethod
    def _monitors(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [backend_name("monitor", m) for m in v]


class SandboxConfig(StrictModel):
    max_steps: int = Field(default=200_000, ge=100, description="policy lines/loop iterations")
    timeout_s: float = Field(default=300.0, gt=0, description="wall clock per policy run")
    isolation: Literal["process", "inline"] = Field(
        default="process", description="process: each policy in a forked worker under OS limits; inline: debugging")


class RunConfig(StrictModel):
    out_dir: str = "runs"
    name: str | None = None
    save_images: bool = True
    quiet: bool = False


class ModelConfig(StrictModel):
    backend: str
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("backend")
    @classmethod
    def _backend(cls, v: str) -> str:
        return backend_name("model", v)


class ExperimentConfig(StrictModel):
    name: str = ""
    task: TaskConfig
    env: Any = Field(description="validated by the config model of the env kind named in env.kind")
    agent: AgentConfig = Field(default_factory=AgentConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    run: RunConfig = Field(default_factory=RunConfig)
    sweep: dict[str, Any] | None = Field(default=None, description="variants for `embodied sweep`")

    @model_validator(mode="after")
    def _model_refs(self) -> ExperimentConfig:
        known = ", ".join(self.models) or "none defined"
        a = self.agent
        refs = [("agent.model", a.model)] + [
            (f"agent.{part}_options.model", opts.get("model"))
            for part, opts in (("planner", a.planner_options), ("writer", a.writer_options),
                               ("repairer", a.repairer_options))]
        refs += [(f"agent.monitor_options.{m}.model", opts.get("model")) for m, opts in a.monitor_options.items()]
        for where, name in refs:
            if name is not None and name not in self.models:
                raise ValueError(f"{where} {name!r} is not an entry of models: ({known})")
        for name in a.monitor_options:
            if a.monitors is None:
                backend_name("monitor", name)
            elif name not in a.monitors:
                raise ValueError(f"agent.monitor_options.{name}: {name!r} is not in agent.monitors {a.monitors}")
        return self


def _check_part_options(agent: AgentConfig) -> None:
    """Each part's options against the typed config its backend registered (a given policy
    replaces the parts by ``fixed``, which are checked when built)."""
    from embodied.registry import parse_options

    parts = (("planner", agent.planner, agent.planner_options),
             ("writer", agent.part_name("writer"), agent.writer_options),
             ("repairer", agent.part_name("repairer"), agent.repairer_options))
    for kind, name, options in parts:
        parse_options(backends.registry(kind), name, options, f"agent.{kind}_options")
    for name, options in agent.monitor_options.items():
        parse_options(backends.registry("monitor"), name, options, f"agent.monitor_options.{name}")


# ---------------------------------------------------------------------------------------------
# YAML with line numbers


def _lines(node: yaml.Node, file: str, loc: Loc, out: LineMap) -> None:
    out[loc] = (file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*loc, key)] = (file, key_node.start_mark.line + 1)
            _lines(value_node, file, (*loc, key), out)
            out[(*loc, key)] = (file, key_node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, file, (*loc, i), out)


def _read_yaml(path: Path) -> tuple[dict[str, Any], LineMap]:
    file = str(path)
    data, node = safe_yaml.parse(safe_yaml.read_text(path), file)
    if data is None:
        raise ConfigError("the file is empty", file=file, hint="a config needs at least task: and env:")
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of sections at the top level, got {type(data).__name__}", file=file, line=1
        )
    lines: LineMap = {}
    if node is not None:
        _lines(node, file, (), lines)
    return data, lines


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge mappings; lists and scalars in ``top`` replace those in ``base``."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


MAX_INCLUDE_DEPTH = 8  # a preset including a preset ... this deep is a mistake
MAX_INCLUDED_FILES = 64  # files read for one config, includes of includes counted


def _load_with_includes(path: Path, seen: tuple[Path, ...] = (),
                        budget: list[int] | None = None) -> tuple[dict[str, Any], LineMap]:
    """``budget``: files still allowed for this config (shared by the whole include tree)."""
    budget = [MAX_INCLUDED_FILES] if budget is None else budget
    path = path.resolve() if path.exists() else path
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ConfigError(f"include cycle: {chain}", file=str(seen[-1]))
    if len(seen) > MAX_INCLUDE_DEPTH:
        raise ConfigError(f"includes nest deeper than {MAX_INCLUDE_DEPTH} files: "
                          f"{' -> '.join(str(p) for p in (*seen, path))}", file=str(seen[-1]), field="include")
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(f"more than {MAX_INCLUDED_FILES} files included", file=str(seen[-1]), field="include")
    data, lines = _read_yaml(path)
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        file, line = lines.get(("include",), (str(path), None))
        raise ConfigError("expected a file path or a list of file paths", file=file, line=line, field="include")
    merged: dict[str, Any] = {}
    merged_lines: LineMap = {}
    for inc in includes:
        inc_path = (path.parent / inc) if not Path(inc).is_absolute() else Path(inc)
        file, line = lines.get(("include",), (str(path), None))
        if not inc_path.exists():
            raise ConfigError(f"included file {inc!r} not found (looked in {inc_path.parent})",
                              file=file, line=line, field="include")
        if not inc_path.is_file():
            raise ConfigError(f"included {inc!r} is not a regular file (a directory, device or pipe cannot be a "
                              f"config)", file=file, line=line, field="include")
        inc_data, inc_lines = _load_with_includes(inc_path, (*seen, path), budget)
        merged = _merge(merged, inc_data)
        merged_lines.update(inc_lines)
    merged = _merge(merged, data)
    merged_lines.update(lines)
    return merged, merged_lines


# ---------------------------------------------------------------------------------------------
# Overrides


def parse_override(text: str) -> tuple[list[str], Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not key=value", file="<command line>",
                          hint="e.g. env.seed=3 or agent.planner=rule")
    try:
        value = safe_yaml.parse(raw, "<command line>")[0] if raw.strip() else ""
    except ConfigError:  # not YAML: the text as it is
        value = raw
    # Lists and mappings only in flow form ([a, b], {k: v}): free text with a colon or a leading
    # dash ("put them in a row: red, green") stays the text it is.
    if isinstance(value, dict) and not raw.lstrip().startswith("{"):
        value = raw
    if isinstance(value, list) and not raw.lstrip().startswith("["):
        value = raw
    return key.strip().split("."), value


def apply_override(data: dict[str, Any], text: str, lines: LineMap) -> None:
    keys, value = parse_override(text)
    source = ("<command line>", 0)
    node: Any = data
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        where = ".".join(keys[: i + 1])
        if isinstance(node, list):
            if not key.lstrip("-").isdigit():
                raise ConfigError(f"{'.'.join(keys[:i])} is a list: use a number index, not {key!r}",
                                  file="<command line>", field=where)
            idx = int(key)
            if not -len(node) <= idx < len(node):
                raise ConfigError(f"index {idx} is out of range (the list has {len(node)} items)",
                                  file="<command line>", field=where)
            if last:
                node[idx] = value
            else:
                node = node[idx]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {key!r} inside a {type(node).__name__}",
                              file="<command line>", field=where)
        if last:
            node[key] = value
        else:
            node = node.setdefault(key, {})
    lines[tuple(int(k) if k.isdigit() else k for k in keys)] = source


# ---------------------------------------------------------------------------------------------
# Validation errors -> ConfigError


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return [annotation]


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Allowed keys of the mapping at ``loc`` inside ``model`` (for "did you mean")."""
    candidates: list[Any] = [model]
    for part in loc:
        nxt: list[Any] = []
        for cand in candidates:
            for c in _unwrap(cand):
                if isinstance(c, type) and issubclass(c, BaseModel) and isinstance(part, str):
                    field = c.model_fields.get(part)
                    if field is not None:
                        nxt.append(field.annotation)
                elif typing.get_origin(c) in (list, tuple) and isinstance(part, int):
                    nxt.extend(typing.get_args(c)[:1])
                elif typing.get_origin(c) is dict and isinstance(part, str):
                    nxt.extend(typing.get_args(c)[1:2])
        candidates = nxt
    names: list[str] = []
    for cand in candidates:
        for c in _unwrap(cand):
            if isinstance(c, type) and issubclass(c, BaseModel):
                names.extend(c.model_fields)
    return names


def _line_for(loc: Loc, lines: LineMap) -> tuple[str | None, int | None]:
    for n in range(len(loc), -1, -1):
        hit = lines.get(tuple(loc[:n]))
        if hit is not None:
            return hit[0], (hit[1] or None)
    return None, None


def _describe(err: dict[str, Any], model: type[BaseModel], loc: Loc) -> tuple[str, str | None]:
    kind = err["type"]
    msg = err["msg"]
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        guess = did_you_mean(str(loc[-1]), allowed)
        hint = f"did you mean {guess!r}?" if guess else (f"allowed: {', '.join(allowed)}" if allowed else None)
        return f"unknown key {loc[-1]!r}", hint
    if kind == "missing":
        return "required field is missing", None
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        options = [o.strip().strip("'\"") for o in expected.replace(" or ", ",").split(",") if o.strip()]
        guess = did_you_mean(str(err.get("input")), options)
        hint = f"did you mean {guess!r}?" if guess else None
        return f"{err.get('input')!r} is not allowed; expected one of {expected}", hint
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
        return msg, None
    got = err.get("input")
    if got is not None and not isinstance(got, dict | list):
        return f"{msg} (got {got!r})", None
    return msg, None


def validation_error(exc: ValidationError, model: type[BaseModel], prefix: Loc, lines: LineMap,
                     fallback_file: str) -> ConfigError:
    """One ConfigError for all problems pydantic found in ``model`` validated at ``prefix``: file,
    line, dotted field and a "did you mean" for each; the first leads, the rest follow as "also"."""
    problems: list[ConfigError] = []
    for err in exc.errors():
        loc = (*prefix, *tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))))
        message, hint = _describe(err, model, tuple(err["loc"]))
        file, line = _line_for(loc, lines)
        dotted = ".".join(str(p) for p in loc) or "<top level>"
        problems.append(ConfigError(message, file=file or fallback_file, line=line, field=dotted, hint=hint))
    first = problems[0]
    if len(problems) > 1:
        rest = "\n".join(f"  also: {p}" for p in problems[1:])
        return ConfigError(f"{first.message}\n{rest}", file=first.file, line=first.line, field=first.field,
                           hint=first.hint)
    return first


def validate(data: dict[str, Any], lines: LineMap | None = None, file: str = "<config>") -> ExperimentConfig:
    lines = lines or {}
    try:
        cfg = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, ExperimentConfig, (), lines, file) from None
    env = cfg.env
    if not isinstance(env, dict):
        f, line = _line_for(("env",), lines)
        raise ConfigError("expected a mapping with at least 'kind'", file=f or file, line=line, field="env")
    kind = env.get("kind")
    registry = backends.registry("env")
    if kind is None:
        f, line = _line_for(("env",), lines)
        raise ConfigError("required field is missing", file=f or file, line=line, field="env.kind",
                          hint=f"one of: {', '.join(registry.names())}")
    try:
        env_model = registry.config_model(str(kind))
    except UnknownBackendError as exc:
        f, line = _line_for(("env", "kind"), lines)
        raise ConfigError(exc.message, file=f or file, line=line, field="env.kind", hint=exc.hint) from None
    try:
        cfg.env = env_model.model_validate(env)
    except ValidationError as exc:
        raise validation_error(exc, env_model, ("env",), lines, file) from None
    seed = getattr(cfg.env, "seed", None)
    if isinstance(seed, int) and not 0 <= seed <= MAX_SEED:
        f, line = _line_for(("env", "seed"), lines)
        raise ConfigError(f"{seed} is not a seed; seeds are integers in 0..{MAX_SEED}", file=f or file, line=line,
                          field="env.seed")
    _check_goal(cfg, getattr(env_model, "domain", None), lines, file)
    if cfg.task.policy is None:
        try:
            _check_part_options(cfg.agent)
        except ConfigError as exc:
            f, line = _line_for(tuple(exc.field.split(".")) if exc.field else (), lines)
            raise ConfigError(exc.message, file=f or file, line=line, field=exc.field, hint=exc.hint) from None
    return cfg


def _check_goal(cfg: ExperimentConfig, domain: str | None, lines: LineMap, file: str) -> None:
    """``task.goal`` in the predicates of the world's domain kit, when the env config names its domain."""
    from embodied.conditions import ConditionSyntaxError

    kits = backends.registry("domain")
    if not cfg.task.goal or domain is None or domain not in kits:
        return
    kit = kits.get(domain)
    for i, text in enumerate(cfg.task.goal):
        try:
            kit.parse_condition(text)
        except ConditionSyntaxError as exc:
            f, line = _line_for(("task", "goal", i), lines)
            raise ConfigError(f"goal item {i}: {exc}", file=f or file, line=line, field="task.goal") from exc


def check_output_dir(out_dir: str | Path, *, file: str, field: str = "run.out_dir") -> None:
    """Raise a ConfigError unless ``out_dir`` is (or can be created as) a writable directory, so a
    run fails at check time instead of after its environment started. Nothing is created."""
    path = Path(out_dir).expanduser()
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        what = "is" if probe == path else f"would be inside {probe}, which is"
        raise ConfigError(f"{str(out_dir)!r} {what} not a directory", file=file, field=field)
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "" if probe == path else f" (its nearest existing parent {probe} is not writable)"
        raise ConfigError(f"cannot write to {str(out_dir)!r}{where}", file=file, field=field,
                          hint="choose a writable run.out_dir or pass --run-dir")


def load_config_data(path: str | Path, overrides: typing.Sequence[str] = ()) -> tuple[dict[str, Any], LineMap]:
    """Compose a config file (includes, then overrides) into plain data without validating it, with
    the file and line of every key. For tools that read their own section (``embodied sweep``)."""
    data, lines = _load_with_includes(Path(path))
    for text in overrides:
        apply_override(data, text, lines)
    return data, lines


class ModelsSection(BaseModel):
    """Only the ``models:`` of a config: ``serve-model`` serves a preset's model, which states
    no task or world. The other sections are left to :func:`load_config`."""

    model_config = ConfigDict(extra="ignore")
    models: dict[str, ModelConfig] = Field(default_factory=dict)


def load_models(path: str | Path) -> dict[str, ModelConfig]:
    """The validated ``models:`` of a config file (includes composed). Raises :class:`ConfigError`."""
    data, lines = _load_with_includes(Path(path))
    try:
        return ModelsSection.model_validate(data).models
    except ValidationError as exc:
        raise validation_error(exc, ModelsSection, (), lines, str(path)) from None


def load_config(path: str | Path, overrides: typing.Sequence[str] = ()) -> ExperimentConfig:
    """Read, compose, override and validate a config. Raises :class:`ConfigError` only."""
    path = Path(path)
    data, lines = _load_with_includes(path)
    for text in overrides:
        apply_override(data, text, lines)
    cfg = validate(data, lines, str(path))
    base = path.resolve().parent
    if cfg.task.policy_file:
        policy_path = Path(cfg.task.policy_file)
        if not policy_path.is_absolute():
            policy_path = base / policy_path
        if not policy_path.exists():
            f, line = _line_for(("task", "policy_file"), lines)
            raise ConfigError(f"policy file {cfg.task.policy_file!r} not found (looked at {policy_path})",
                              file=f or str(path), line=line, field="task.policy_file")
        cfg.task = cfg.task.model_copy(update={"policy": policy_path.read_text(encoding="utf-8"),
                                               "policy_file": None})
    return cfg


def resolved_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    """The config as plain data, as it was actually used (for the run directory)."""
    return cfg.model_dump(mode="json")
