"""Sweeps: one experiment config times variants, tasks and seeds, run in parallel worker processes
(or on Ray), crash-safe and resumable.

The ``sweep:`` block of a config (schema :class:`SweepSpec`)::

    sweep:
      seeds: 0..49                 # inclusive range, a list [0, 3, 7], or {start: 0, count: 50}
      tasks: [../tabletop/stack.yaml, ../tabletop/sort.yaml]   # optional: other task configs
      variants:                    # cartesian product: dotted config key -> list of values
        agent.planner: [rule, llm]
        env.perturbations.slip: [0.0, 0.2]
      executor: local              # or ray
      workers: 2                   # default: one per core (local) / the cluster's CPUs (ray with an address)
      ray_address: null            # ray.init(address=...) when set; a local Ray instance otherwise
      start_method: forkserver     # local executor: how worker processes start (forkserver | spawn)
      episodes_per_worker: null    # local executor: fresh worker process after this many episodes

Without ``tasks`` the config itself is the one task. With ``tasks`` every listed file is a complete
experiment config (a relative path is looked up beside this file, then in the current directory),
and this file's other sections (``agent:``, ``env:``, ...) are applied to every task as overrides.
Command-line overrides apply to this file, ``sweep.*`` keys included (``sweep.seeds=0..3``).

An episode is (variant, task, seed). Its config is the task's, plus the overrides above, plus the
variant's values, plus ``env.seed``; it runs through :func:`embodied.experiment.run_episode` in a
worker process, writing ``RUN_DIR/episodes/<variant>/<task>/seed-<n>/``. The run directory holds:

- ``sweep.yaml``: the resolved sweep (every variant x task config, the seeds). Resume reads only this,
  so editing the source configs later does not change a half-finished sweep.
- ``episodes/...``: an episode is done iff its ``summary.json`` exists (written atomically by the
  episode). One that did not finish has a ``failure.json`` saying why (worker crash, exception,
  interrupt) and is run again by ``--resume``; its old directory is first moved to ``retired/``.
- ``results.jsonl`` / ``results.csv``: one row per episode, rewritten as episodes end.

A recording model (backend ``replay`` in ``record`` or ``auto`` mode) records into the episode's own
``cassettes/<model>.jsonl``, so parallel episodes never share a cassette file and ``embodied replay``
re-runs an episode from its directory alone (see :func:`episode_cassettes`).
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import itertools
import json
import re
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from embodied import backends
from embodied.config import (
    MAX_SEED,
    StrictModel,
    load_config,
    load_config_data,
    resolved_dict,
    validate,
    validation_error,
)
from embodied.errors import ConfigError, EmbodiedError, UnknownBackendError
from embodied.executors import EpisodeExecutor, EpisodeJob, JobOutput, Worker
from embodied.models.replay import CASSETTE_OPTION, DEFAULT_MODE, MODE_OPTION, REPLAY_BACKEND, REPLAY_MODE
from embodied.results import (
    DONE,
    FAILED,
    INTERRUPTED,
    PENDING,
    EpisodeRow,
    aggregate,
    format_confusion,
    format_table,
    row_confusion,
    row_from_summary,
    write_rows,
)
from embodied.trace import write_json_atomic

SWEEP_FILE = "sweep.yaml"
PROGRESS_LINE_S = 30.0  # seconds between progress lines when the output is not a terminal
FAILURE_FILE = "failure.json"
SUMMARY_FILE = "summary.json"
_SEED_RANGE = re.compile(r"\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*")
_DOTTED = re.compile(r"[A-Za-z_][\w-]*(\.[\w-]+)*")


MAX_SEEDS = 100_000  # seeds per sweep; times variants and tasks, that is already days of episodes


def _check_seed_range(start: int, count: int) -> None:
    if count > MAX_SEEDS:
        raise ValueError(f"{count} seeds; a sweep runs at most {MAX_SEEDS} seeds")
    if start < 0 or start + count - 1 > MAX_SEED:
        raise ValueError(f"seeds must be >= 0 and <= {MAX_SEED}")


class SweepError(EmbodiedError):
    """A sweep directory cannot be resumed (missing or unreadable ``sweep.yaml``)."""


class SweepSpec(StrictModel):
    """The ``sweep:`` block. See the module docstring for an example."""

    seeds: list[int] | None = Field(
        default=None, description="'A..B' (inclusive), a list, or {start, count}; default: the config's env.seed")
    tasks: list[str] = Field(default_factory=list, description="other task configs; default: this config")
    variants: dict[str, list[Any]] = Field(default_factory=dict, description="dotted key -> values (product)")
    executor: str = Field(default="local", description="a name from the executor registry: local, ray")
    workers: int | None = Field(default=None, ge=1, le=4096, description="parallel episodes; default: cores")
    ray_address: str | None = Field(default=None, description="executor ray: cluster address; none = local")
    start_method: Literal["forkserver", "spawn"] = "forkserver"
    episodes_per_worker: int | None = Field(default=None, ge=1, description="recycle worker processes")

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds_forms(cls, v: Any) -> Any:
        if isinstance(v, str):
            m = _SEED_RANGE.fullmatch(v)
            if m is None:
                raise ValueError(f"seeds {v!r}: expected 'A..B' (inclusive), a list of integers, or {{start, count}}")
            a, b = int(m.group(1)), int(m.group(2))
            if b < a:
                raise ValueError(f"seeds {v!r}: the range is empty (end before start)")
            _check_seed_range(a, b - a + 1)  # before expanding: 0..999999999 must not fill memory
            return list(range(a, b + 1))
        if isinstance(v, dict):
            unknown = set(v) - {"start", "count"}
            if unknown or "count" not in v:
                raise ValueError("seeds as a mapping needs {start, count} and nothing else")
            start, count = v.get("start", 0), v["count"]
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, count)) or count < 1:
                raise ValueError("seeds: start and count must be integers, count >= 1")
            _check_seed_range(start, count)
            return list(range(start, start + count))
        if isinstance(v, int) and not isinstance(v, bool):
            return [v]
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds_valid(cls, v: list[int] | None) -> list[int] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("seeds is empty")
        if len(v) > MAX_SEEDS:
            raise ValueError(f"{len(v)} seeds; a sweep runs at most {MAX_SEEDS} seeds")
        if any(not 0 <= s <= MAX_SEED for s in v):
            raise ValueError(f"seeds must be >= 0 and <= {MAX_SEED}")
        dup = sorted(s for s, n in Counter(v).items() if n > 1)
        if dup:
            raise ValueError(f"seeds repeat: {dup}")
        return v

    @field_validator("executor")
    @classmethod
    def _executor(cls, v: str) -> str:
        try:
            backends.registry("executor").entry(v)
        except UnknownBackendError as exc:
            raise ValueError(f"{exc.message} ({exc.hint})") from None
        return v

    @field_validator("variants", mode="before")
    @classmethod
    def _nested_variants(cls, v: Any) -> Any:
        """Accept nested keys too (``agent: {planner: [...]}``, or ``sweep.variants.agent.planner=[...]``
        on the command line): flatten them into dotted keys down to the lists of values."""
        if not isinstance(v, dict):
            return v
        flat: dict[str, Any] = {}

        def walk(prefix: str, node: Any) -> None:
            if isinstance(node, dict) and node:
                for key, value in node.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), value)
            else:
                flat[prefix] = node

        for key, value in v.items():
            walk(str(key), value)
        return flat

    @field_validator("variants")
    @classmethod
    def _variants(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in v.items():
            if not _DOTTED.fullmatch(key):
                raise ValueError(f"variant key {key!r} is not a dotted config path like agent.planner")
            if key == "sweep" or key.startswith("sweep."):
                raise ValueError(f"variant key {key!r}: a sweep cannot vary its own sweep: block")
            if not values:
                raise ValueError(f"variant {key!r} has no values")
            labels = [_value_label(x) for x in values]
            if len(set(labels)) != len(labels):
                raise ValueError(f"variant {key!r} lists the same value twice: {values}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        if self.seeds is not None and "env.seed" in self.variants:
            raise ValueError("give seeds in sweep.seeds, not as a variant of env.seed")
        if self.ray_address and self.executor != "ray":
            raise ValueError("ray_address is set but executor is not 'ray'")
        return self


# ---------------------------------------------------------------------------------------------
# Names and overrides


def _value_label(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _safe_name(text: str) -> str:
    """A directory name: no separators, no leading dot, bounded length."""
    name = re.sub(r"[\s/\\:*?\"<>|]+", "_", text).strip("_").lstrip(".") or "x"
    return name if len(name) <= 80 else f"{name[:70]}~{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def _short_keys(keys: Sequence[str]) -> dict[str, str]:
    """The shortest dotted suffix that still tells each key apart (agent.planner -> planner)."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            short = ".".join(parts[-n:])
            if sum(1 for k in keys if k == short or k.endswith("." + short)) == 1:
                out[key] = short
                break
        else:
            out[key] = key
    return out


def variant_labels(variants: dict[str, list[Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Every combination of the variant values with its directory name, e.g. ``planner=rule,slip=0.2``.
    No variants: one combination named ``default``."""
    if not variants:
        return [("default", {})]
    keys = list(variants)
    short = _short_keys(keys)
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for combo in itertools.product(*(variants[k] for k in keys)):
        label = _safe_name(",".join(f"{short[k]}={_value_label(v)}" for k, v in zip(keys, combo)))
        base, n = label, 2
        while label in seen:
            label, n = f"{base}-{n}", n + 1
        seen.add(label)
        out.append((label, dict(zip(keys, combo))))
    return out


def yaml_value(value: Any) -> str:
    """A value as override text that :func:`embodied.config.parse_override` reads back unchanged
    (strings such as ``yes`` or ``1.0`` are quoted)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=2**31 - 1, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def flatten_overrides(data: dict[str, Any], prefix: str = "") -> list[str]:
    """Turn nested config data into ``dotted.key=value`` overrides (lists stay whole values)."""
    out: list[str] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        plain = isinstance(value, dict) and value and all(
            isinstance(k, str) and _DOTTED.fullmatch(k) and "." not in k for k in value)
        if plain:
            out.extend(flatten_overrides(value, dotted + "."))
        else:
            out.append(f"{dotted}={yaml_value(value)}")
    return out


def _resolve_task(entry: str, sweep_file: Path) -> Path:
    path = Path(entry)
    if path.is_absolute():
        candidates = [path]
    else:
        candidates = [sweep_file.parent / path, Path.cwd() / path]
    for cand in candidates:
        if cand.is_file():
            return cand.resolve()
    looked = " and ".join(str(c) for c in candidates)
    raise ConfigError(f"task config {entry!r} not found (looked at {looked})", file=str(sweep_file),
                      field="sweep.tasks")


def _task_names(paths: Sequence[Path]) -> list[str]:
    names = [_safe_name(p.stem) for p in paths]
    for i, name in enumerate(names):
        if names.count(name) > 1:
            names[i] = _safe_name(f"{paths[i].parent.name}-{paths[i].stem}")
    for i, name in enumerate(names):
        if names.count(name) > 1:
            names[i] = f"{name}-{i + 1}"
    return names


# ---------------------------------------------------------------------------------------------
# The resolved sweep


@dataclass
class Cell:
    """One variant x task: its full resolved config (the seed is set per episode)."""

    variant: str
    task: str
    values: dict[str, Any]  # the variant's dotted keys -> values
    task_file: str
    config_dir: str
    config: dict[str, Any]


def episode_cassettes(config: dict[str, Any], episode_dir: Path, base_dir: Path) -> list[tuple[str, str]]:
    """Give every recording model (``record`` or ``auto`` mode) its own cassette in the episode
    directory, in place: parallel episodes must never append to one file, and ``embodied replay``
    then finds each episode's answers beside its trace. In ``auto`` mode the configured cassette,
    when it exists, is copied in first so its recordings are still replayed. ``replay`` mode keeps
    the shared cassette (read only). Returns the (source, destination) copies to make."""
    copies = []
    for name, model in (config.get("models") or {}).items():
        options = model.get("options") or {}
        cassette = options.get(CASSETTE_OPTION)
        mode = options.get(MODE_OPTION, DEFAULT_MODE)
        if model.get("backend") != REPLAY_BACKEND or not isinstance(cassette, str) or mode == REPLAY_MODE:
            continue
        shared = Path(cassette) if Path(cassette).is_absolute() else base_dir / cassette
        own = episode_dir / "cassettes" / f"{_safe_name(name)}.jsonl"
        options[CASSETTE_OPTION] = str(own)
        if mode == DEFAULT_MODE and shared.is_file():
            copies.append((str(shared), str(own)))
    return copies


class _PlainDumper(yaml.SafeDumper):
    """Writes repeated objects out in full (no &anchors): sweep.yaml is read by people too."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@dataclass
class SweepPlan:
    run_dir: Path
    spec: SweepSpec
    cells: list[Cell]
    seeds: list[int | None]  # [None]: each cell runs once with its own env.seed
    source: str = ""
    overrides: list[str] = field(default_factory=list)

    def episode_dir(self, variant: str, task: str, seed: int) -> Path:
        return self.run_dir / "episodes" / variant / task / f"seed-{seed}"

    def jobs(self) -> list[EpisodeJob]:
        """Every episode, interleaved: seed by seed, and within a seed task by task with every
        variant of it side by side, so a sweep stopped midway (Ctrl-C, a deadline) holds results
        for every variant on the same tasks and seeds, which can be compared."""
        tasks = list(dict.fromkeys(c.task for c in self.cells))
        variants = list(dict.fromkeys(c.variant for c in self.cells))
        cells = sorted(self.cells, key=lambda c: (tasks.index(c.task), variants.index(c.variant)))
        out = []
        for planned_seed in self.seeds:
            for cell in cells:
                config = copy.deepcopy(cell.config)
                if planned_seed is None:
                    seed_value = config.get("env", {}).get("seed")
                    seed = int(seed_value) if isinstance(seed_value, int) else 0
                else:
                    seed = planned_seed
                    config["env"]["seed"] = seed
                run_dir = self.episode_dir(cell.variant, cell.task, seed)
                copies = episode_cassettes(config, run_dir, Path(cell.config_dir))
                out.append(EpisodeJob(cell.variant, cell.task, seed, config, cell.config_dir, str(run_dir),
                                      tuple(copies)))
        return out

    def save(self) -> None:
        data = {"source": self.source, "overrides": self.overrides,
                "created": datetime.now().isoformat(timespec="seconds"),
                "spec": self.spec.model_dump(mode="json"), "seeds": self.seeds,
                "cells": [vars(c) for c in self.cells]}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.run_dir / f".{SWEEP_FILE}.tmp"
        tmp.write_text(yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, width=120), encoding="utf-8")
        tmp.replace(self.run_dir / SWEEP_FILE)

    @classmethod
    def load(cls, run_dir: Path) -> SweepPlan:
        path = run_dir / SWEEP_FILE
        if not path.is_file():
            raise SweepError(f"{run_dir} is not a sweep directory: {SWEEP_FILE} is missing")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            cells = [Cell(**c) for c in data["cells"]]
            spec = SweepSpec.model_validate(data["spec"])
            seeds = list(data["seeds"])
        except (yaml.YAMLError, KeyError, TypeError, ValidationError) as exc:
            raise SweepError(f"{path} is unreadable: {exc}") from exc
        return cls(run_dir, spec, cells, seeds, data.get("source", ""), list(data.get("overrides", [])))


def plan_sweep(config_path: str | Path, overrides: Sequence[str] = (), run_dir: Path | None = None) -> SweepPlan:
    """Read a sweep config and resolve (and validate) the config of every variant x task.
    Raises :class:`ConfigError` naming the file, line and field of the first problem."""
    path = Path(config_path)
    data, lines = load_config_data(path, overrides)
    raw = data.get("sweep")
    if raw is None:
        raise ConfigError("this config has no sweep: section", file=str(path),
                          hint="add e.g. `sweep: {seeds: 0..9}`, or run one episode with `embodied run`")
    if not isinstance(raw, dict):
        file, line = lines.get(("sweep",), (str(path), 0))
        raise ConfigError("expected a mapping (seeds, tasks, variants, ...)", file=file, line=line or None,
                          field="sweep")
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc, SweepSpec, ("sweep",), lines, str(path)) from None
    if spec.tasks and "task" in data:
        file, line = lines.get(("task",), (str(path), 0))
        raise ConfigError("sweep.tasks lists task configs, so this file's task: section would replace every one "
                          "of them", file=file, line=line or None, field="task",
                          hint="move it into its own config and list that in sweep.tasks")
    task_files = [_resolve_task(t, path) for t in spec.tasks] or [path.resolve()]
    names = _task_names(task_files) if spec.tasks else [_safe_name(str(data.get("name") or path.stem))]
    base = flatten_overrides({k: v for k, v in data.items() if k not in ("sweep", "name")}) if spec.tasks \
        else list(overrides)
    seed_override = [f"env.seed={spec.seeds[0]}"] if spec.seeds else []
    cells = []
    for label, values in variant_labels(spec.variants):
        variant_overrides = [f"{k}={yaml_value(v)}" for k, v in values.items()]
        for name, task_file in zip(names, task_files):
            try:
                cfg = load_config(task_file, [*base, *variant_overrides, *seed_override])
            except ConfigError as exc:
                raise ConfigError(f"{exc.message} [sweep variant {label}, task {name}]", file=exc.file,
                                  line=exc.line, field=exc.field, hint=exc.hint) from exc
            cfg.sweep = None
            cells.append(Cell(label, name, values, str(task_file), str(task_file.parent), resolved_dict(cfg)))
    if run_dir is None:
        out_dir = Path(str((data.get("run") or {}).get("out_dir", "runs")))
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = out_dir / f"sweep-{_safe_name(str(data.get('name') or path.stem))}-{stamp}"
    seeds: list[int | None] = list(spec.seeds) if spec.seeds else [None]
    return SweepPlan(run_dir.resolve(), spec, cells, seeds, str(path.resolve()), list(overrides))


# ---------------------------------------------------------------------------------------------
# Running


def run_job(job: EpisodeJob) -> dict[str, Any]:
    """The default worker: validate the job's config and run the episode (in the worker process)."""
    from embodied.experiment import run_episode  # imported here: the parent never builds an env

    cfg = validate(job.config, file=str(Path(job.run_dir) / "config.yaml"))
    run_episode(cfg, Path(job.run_dir), config_dir=Path(job.config_dir), console=False)
    return json.loads((Path(job.run_dir) / SUMMARY_FILE).read_text(encoding="utf-8"))


def backend_modules(cells: Sequence[Cell]) -> list[str]:
    """The modules of the backends the episodes will build (env, planner, writer, repairer,
    monitors): a forkserver imports them once, so a fresh worker process starts warm."""
    wanted: list[tuple[str, str]] = []
    for cell in cells:
        env, agent = cell.config.get("env") or {}, cell.config.get("agent") or {}
        wanted.append(("env", str(env.get("kind"))))
        for kind in ("planner", "writer", "repairer"):
            if agent.get(kind):
                wanted.append((kind, str(agent[kind])))
        wanted += [("monitor", str(m)) for m in agent.get("monitors") or []]
    modules = ["embodied.experiment"]
    for kind, name in dict.fromkeys(wanted):
        registry = backends.registry(kind)
        if name in registry:
            modules.append(registry.entry(name).target.partition(":")[0])
    return list(dict.fromkeys(modules))


def build_executor(spec: SweepSpec, *, executor: str | None = None, workers: int | None = None,
                   preload: Sequence[str] = ()) -> EpisodeExecutor:
    """The executor named by the spec (or the command line), given the options its constructor takes."""
    name = executor or spec.executor
    cls = backends.registry("executor").get(name)
    options = {"workers": workers if workers is not None else spec.workers, "start_method": spec.start_method,
               "episodes_per_worker": spec.episodes_per_worker, "address": spec.ray_address, "preload": preload}
    params = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in options.items() if k in params})


@dataclass
class SweepOutcome:
    run_dir: Path
    rows: list[EpisodeRow]
    interrupted: bool
    outputs: list[JobOutput] = field(default_factory=list)  # what workers sent back in this session
    wall_time_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)


class _Progress:
    """Tracks every episode's row, keeps the results files current and draws the progress bar."""

    def __init__(self, plan: SweepPlan, jobs: list[EpisodeJob], rows: dict[str, EpisodeRow], show: bool,
                 stream: TextIO, line_interval_s: float | None = None) -> None:
        from tqdm import tqdm

        self.plan, self.rows = plan, rows
        self.stream = stream
        self._t0 = time.monotonic()
        # Not a terminal (a log, CI): no bar is drawn, so a plain progress line is printed at
        # intervals instead of minutes of silence (``line_interval_s``; None: only on a non-tty).
        interactive = bool(getattr(stream, "isatty", lambda: False)())
        self.line_interval_s = line_interval_s if line_interval_s is not None else (
            None if interactive and show else PROGRESS_LINE_S)
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._lock = threading.Lock()
        self.physics = {c.variant + "/" + c.task: (c.config.get("env") or {}).get("physics_hz") for c in plan.cells}
        self.running: dict[str, EpisodeJob] = {}
        self.outputs: list[JobOutput] = []
        done = sum(r.status == DONE for r in rows.values())
        # disable=None: tqdm draws only on a terminal, so logs and CI output stay clean
        self.bar = tqdm(total=len(rows), initial=done, unit="ep", desc="sweep", file=stream,
                        disable=None if show else True, dynamic_ncols=True, smoothing=0.1)
        self._postfix()
        if self.line_interval_s:
            self._ticker = threading.Thread(target=self._tick, name="sweep-progress", daemon=True)
            self._ticker.start()

    def line(self) -> str:
        """One progress line: counts, success so far (true and claimed), elapsed time."""
        rows = list(self.rows.values())
        done = [r for r in rows if r.status == DONE]
        matrix = row_confusion(done)
        failed = sum(r.status in (FAILED, INTERRUPTED) for r in rows)
        elapsed = time.monotonic() - self._t0
        return (f"sweep progress: {len(done)}/{len(rows)} done, {len(self.running)} running, {failed} did not "
                f"finish; success {matrix.true_success + matrix.false_failure}/{matrix.scored}, false success "
                f"{matrix.false_success}; {elapsed:.0f} s elapsed")

    def _tick(self) -> None:
        while not self._stop.wait(self.line_interval_s):
            with self._lock:
                print(self.line(), file=self.stream, flush=True)

    def _postfix(self) -> None:
        done = [r for r in self.rows.values() if r.status == DONE]
        ok = sum(bool(r.success) for r in done)
        failed = sum(r.status == FAILED for r in self.rows.values())
        rate = f"{100 * ok / len(done):.0f}%" if done else "-"
        self.bar.set_postfix_str(f"done {len(done)} · failed {failed} · running {len(self.running)} · "
                                 f"success {ok}/{len(done)} ({rate})", refresh=True)

    def write(self) -> None:
        write_rows(self.plan.run_dir, list(self.rows.values()))

    def started(self, job: EpisodeJob) -> None:
        _retire(self.plan.run_dir, Path(job.run_dir))
        for source, destination in job.copies:
            Path(destination).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
        self.running[job.label] = job
        self._postfix()

    def finished(self, job: EpisodeJob, output: JobOutput) -> None:
        self.running.pop(job.label, None)
        self.outputs.append(output)
        self.rows[job.label] = row_from_summary(
            job.variant, job.task, job.seed, output.summary, physics_hz=self.physics.get(f"{job.variant}/{job.task}"),
            run_dir=str(Path(job.run_dir).relative_to(self.plan.run_dir)))
        self.bar.update(1)
        self._postfix()
        self.write()

    def failed(self, job: EpisodeJob, reason: str, detail: str = "", status: str = FAILED) -> None:
        self.running.pop(job.label, None)
        run_dir = Path(job.run_dir)
        if (run_dir / SUMMARY_FILE).is_file():
            # The episode wrote its result, then its worker died or was stopped before reporting back:
            # the result stands (an episode is done iff its summary.json exists).
            self.rows[job.label] = _initial_row(self.plan, job)
            self.bar.update(1)
            self._postfix()
            self.write()
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_dir / FAILURE_FILE, {"status": status, "reason": reason, "detail": detail,
                                                   "time": datetime.now().isoformat(timespec="seconds")})
        self.rows[job.label] = EpisodeRow(job.variant, job.task, job.seed, status=status, failure=reason,
                                          run_dir=str(run_dir.relative_to(self.plan.run_dir)))
        if status == FAILED:
            self.bar.write(f"✗ {job.label}: {reason}")
            self.bar.update(1)
        self._postfix()
        self.write()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            print(self.line(), file=self.stream, flush=True)
        self.bar.close()


def _retire(sweep_dir: Path, episode_dir: Path) -> None:
    """Move an unfinished earlier attempt aside (kept for inspection) so the rerun starts clean."""
    if not episode_dir.exists():
        return
    rel = episode_dir.relative_to(sweep_dir / "episodes")
    target = sweep_dir / "retired" / rel.parent / f"{rel.name}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(episode_dir), str(target))


def _initial_row(plan: SweepPlan, job: EpisodeJob) -> EpisodeRow:
    run_dir = Path(job.run_dir)
    rel = str(run_dir.relative_to(plan.run_dir))
    summary = run_dir / SUMMARY_FILE
    if summary.is_file():
        physics = (job.config.get("env") or {}).get("physics_hz")
        return row_from_summary(job.variant, job.task, job.seed, json.loads(summary.read_text(encoding="utf-8")),
                                physics_hz=physics, run_dir=rel)
    failure = run_dir / FAILURE_FILE
    if failure.is_file():
        data = json.loads(failure.read_text(encoding="utf-8"))
        return EpisodeRow(job.variant, job.task, job.seed, status=str(data.get("status", FAILED)),
                          failure=str(data.get("reason", "")), run_dir=rel)
    return EpisodeRow(job.variant, job.task, job.seed, status=PENDING, run_dir=rel)


def run_sweep(plan: SweepPlan, executor: EpisodeExecutor, *, worker: Worker = run_job, progress: bool = True,
              out: TextIO | None = None) -> SweepOutcome:
    """Run every episode of ``plan`` that has no summary.json yet; write the results files and print
    the aggregate table. Ctrl-C stops cleanly: running episodes are marked interrupted, results so far
    are written, and the returned outcome says so (resume with :func:`resume`)."""
    out = out or sys.stdout
    t0 = time.perf_counter()
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    if not (plan.run_dir / SWEEP_FILE).exists():
        plan.save()
    jobs = plan.jobs()
    rows = {job.label: _initial_row(plan, job) for job in jobs}
    todo = [job for job in jobs if rows[job.label].status != DONE]
    tracker = _Progress(plan, jobs, rows, progress, sys.stderr)
    tracker.write()
    interrupted = False
    try:
        if todo:
            executor.run(todo, worker, tracker)
    except KeyboardInterrupt:
        interrupted = True
        for job in list(tracker.running.values()):
            tracker.failed(job, "interrupted (Ctrl-C) while running", status=INTERRUPTED)
    finally:
        tracker.close()
        tracker.write()
    outcome = SweepOutcome(plan.run_dir, list(rows.values()), interrupted, tracker.outputs,
                           round(time.perf_counter() - t0, 3))
    print(format_table(aggregate(outcome.rows)), file=out)
    print("\n" + format_confusion(row_confusion(outcome.rows)), file=out)
    done, total = outcome.count(DONE), len(outcome.rows)
    failed = outcome.count(FAILED) + outcome.count(INTERRUPTED)
    print(f"\n{done}/{total} episodes done, {failed} did not finish, {total - done - failed} not started; "
          f"results in {plan.run_dir}/results.csv", file=out)
    if interrupted or done < total:
        what = "interrupted" if interrupted else "incomplete"
        print(f"{what}: run the missing episodes with `embodied sweep --resume {plan.run_dir}`", file=out)
    return outcome


def resume(run_dir: Path) -> SweepPlan:
    """The plan of an existing sweep directory (its saved ``sweep.yaml``)."""
    return SweepPlan.load(run_dir.resolve())


def sweep_command(config: Path | None, overrides: Sequence[str] = (), *, resume_dir: Path | None = None,
                  run_dir: Path | None = None, workers: int | None = None, executor: str | None = None,
                  progress: bool = True, worker: Worker = run_job) -> int:
    """``embodied sweep``: plan (or resume) and run a sweep. Exit status: 0 all episodes done,
    1 some did not finish, 130 interrupted."""
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}", file="<command line>", field="--workers")
    if (config is None) == (resume_dir is None):
        raise ConfigError("give either a sweep config or --resume RUN_DIR", file="<command line>")
    if resume_dir is not None:
        if overrides or run_dir is not None:
            raise ConfigError("--resume takes no config overrides or --run-dir: the sweep is fixed in "
                              f"{resume_dir / SWEEP_FILE}", file="<command line>")
        plan = resume(resume_dir)
    else:
        plan = plan_sweep(config, overrides, run_dir)
    if executor is not None:
        try:
            backends.registry("executor").entry(executor)
        except UnknownBackendError as exc:
            raise ConfigError(exc.message, file="<command line>", field="--executor", hint=exc.hint) from None
    # Preloading pays only when worker processes are recycled; it also makes the forkserver import
    # the simulator, whose start-up chatter would then land on this terminal.
    preload = backend_modules(plan.cells) if plan.spec.episodes_per_worker else []
    runner = build_executor(plan.spec, executor=executor, workers=workers, preload=preload)
    print(f"sweep: {len(plan.jobs())} episodes ({len(plan.cells)} variant x task, {len(plan.seeds)} seed(s)) "
          f"on {runner.workers} {executor or plan.spec.executor} worker(s) -> {plan.run_dir}", flush=True)
    outcome = run_sweep(plan, runner, worker=worker, progress=progress)
    if outcome.interrupted:
        return 130
    return 0 if outcome.count(DONE) == len(outcome.rows) else 1
