"""One way to assemble the loop for a world: its domain kit, the agent's parts by registry name,
the sandbox, and one run log that redacts. ``embodied run``, sweeps, ``embodied.gui`` sessions and
the benchmarks all build their agent here, so they cannot drift apart.

Like :mod:`embodied.experiment`, this module composes backends by registry name only; it imports
no planner, simulator, perception or robot code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from embodied import backends
from embodied.agent import Agent, HybridMonitor, LoopBudgets
from embodied.config import AgentConfig, SandboxConfig
from embodied.console import ConsoleLog
from embodied.domain import DomainKit
from embodied.errors import ConfigError, DomainError
from embodied.primitives import PrimitiveSet
from embodied.protocols import Environment
from embodied.registry import config_kwargs, did_you_mean, parse_options
from embodied.sandbox import Sandbox
from embodied.trace import TraceWriter
from embodied.types import Execution, Observation, to_jsonable


def kit_of(env: Environment) -> DomainKit:
    """The domain kit registered under the world's ``domain``."""
    registry = backends.registry("domain")
    if env.domain not in registry:
        guess = did_you_mean(env.domain, registry.names())
        raise DomainError(f"no domain kit is registered for the world's domain {env.domain!r} "
                          f"({f'did you mean {guess!r}?' if guess else 'known: ' + ', '.join(registry.names())})")
    kit = registry.get(env.domain)
    if not isinstance(kit, DomainKit):
        raise DomainError(f"domain {env.domain!r} is registered as {kit!r}, which is not a DomainKit")
    return kit


class RunLog:
    """Fans loop events out to the trace file and the console (either may be absent), through the
    world's redaction: typed secrets such as passwords never reach a file or the terminal."""

    def __init__(self, trace: TraceWriter | None, console: ConsoleLog | None,
                 redact: Callable[[Any], Any] | None = None) -> None:
        self.trace, self.console = trace, console
        self.redact: Callable[[Any], Any] = redact or (lambda value: value)

    def event(self, kind: str, **data: Any) -> None:
        data = self.redact(to_jsonable(data))
        if self.trace is not None:
            self.trace.event(kind, **data)
        if self.console is not None:
            self.console.event(kind, **data)

    def images(self, observation: Observation | None, label: str) -> dict[str, str]:
        return self.trace.images(observation, label) if self.trace is not None else {}


def build(kind: str, name: str, available: Mapping[str, Any], options: Mapping[str, Any] | None = None,
          field: str = "", models: Mapping[str, Any] | None = None) -> Any:
    """Instantiate backend ``name`` of ``kind`` with the shared objects its registry entry needs
    (from ``available``: ``model``, ``kit``, ``policy``) and its options as its registered typed
    config (validated here too: unknown options and wrong types are config errors naming
    ``field``). An option ``model: NAME`` picks another configured model from ``models``."""
    registry = backends.registry(kind)
    entry = registry.entry(name)
    config = parse_options(registry, name, options, field)
    shared = {need: available.get(need) for need in entry.needs}
    if "model" in entry.needs and (options or {}).get("model") is not None:
        ref = options["model"]  # type: ignore[index]
        if ref not in (models or {}):
            raise ConfigError(f"{ref!r} is not an entry of models:", field=f"{field}.model")
        shared["model"] = (models or {})[ref]
    return registry.get(name)(**shared, **config_kwargs(config))


@dataclass
class Parts:
    planner: Any
    writer: Any
    repairer: Any
    monitor: HybridMonitor | None


def build_parts(agent: AgentConfig, kit: DomainKit, models: Mapping[str, Any], policy: str | None = None,
                model: Any = None) -> Parts:
    """Planner, writer, repairer and monitors by name, each with the shared objects its entry needs:
    ``model`` (``agent.model``, else ``model``, else the first configured one), ``policy`` (a given
    policy, which replaces planning), ``kit`` (the world's domain kit). With no monitors named, the
    kit's default monitors check the subgoals."""
    if model is None:
        model = models.get(agent.model) if agent.model else next(iter(models.values()), None)
    available = {"model": model, "policy": policy, "kit": kit}
    if policy is not None:
        names = ("fixed", "fixed", "fixed")  # a given policy replaces planning; it is still checked
    else:
        names = (agent.planner, agent.part_name("writer"), agent.part_name("repairer"))
    planner = build("planner", names[0], available, agent.planner_options, "agent.planner_options", models)
    writer = build("writer", names[1], available, agent.writer_options, "agent.writer_options", models)
    repairer = build("repairer", names[2], available, agent.repairer_options, "agent.repairer_options", models)
    monitor = None
    if agent.closed_loop:
        monitor_names = agent.monitors if agent.monitors is not None else list(kit.monitors)
        monitor = HybridMonitor([build("monitor", m, available, agent.monitor_options.get(m),
                                       f"agent.monitor_options.{m}", models) for m in monitor_names])
    return Parts(planner, writer, repairer, monitor)


def assemble(env: Environment, agent: AgentConfig, sandbox: SandboxConfig, log: RunLog, *,
             models: Mapping[str, Any] | None = None, policy: str | None = None, model: Any = None) -> Agent:
    """The agent for ``env``: its kit's parts as ``agent`` names them, the sandbox with ``sandbox``'s
    limits, the loop budgets, and ``log`` (its redaction set to the world's)."""
    kit = kit_of(env)
    log.redact = env.primitives().redact
    parts = build_parts(agent, kit, models or {}, policy, model)
    runner = Sandbox(max_steps=sandbox.max_steps, timeout_s=sandbox.timeout_s, isolation=sandbox.isolation)
    wrap_sandbox = getattr(env, "wrap_sandbox", None)  # a robot cell may rehearse policies in a twin first
    if wrap_sandbox is not None:
        runner = wrap_sandbox(runner)
    return Agent(parts.planner, parts.writer, parts.repairer, parts.monitor, runner,
                 LoopBudgets(agent.repair_budget, agent.replan_budget, agent.max_subgoals, agent.max_wall_s), log)


# ---------------------------------------------------------------------------------------------
# Direct primitive calls (scripting a world by hand)


def call_primitive(env: Environment, sandbox: Sandbox, log: RunLog, name: str, args: Sequence[Any] = (),
                   kwargs: Mapping[str, Any] | None = None, *, index: int = 0) -> Any:
    """Call one primitive the way a policy would: as a one-line policy run in ``sandbox``, recorded
    in ``log`` like one (``policy`` and ``execution`` events). Returns the primitive's result and
    raises the exception it raised (e.g. ``ElementNotFound``); a refused call is a ``DomainError``."""
    api = env.primitives()
    if name not in api:
        guess = did_you_mean(name, api.names())
        raise DomainError(f"the {api.domain} world has no primitive {name!r}"
                          + (f" (did you mean {guess!r}?)" if guess else f" (primitives: {', '.join(api.names())})"))
    kwargs = dict(kwargs or {})
    values = {f"arg{i}": v for i, v in enumerate(args)} | {f"kw_{k}": v for k, v in kwargs.items()}
    outcome: dict[str, Any] = {}
    one = _capturing(api, name, values, outcome)
    call = ", ".join([f"arg{i}()" for i in range(len(args))] + [f"{k}=kw_{k}()" for k in kwargs])
    source = f"{name}({call})\n"
    log.event("policy", index=index, version=0, origin="direct", source=_shown(name, args, kwargs))
    execution: Execution = sandbox.run(source, one)
    execution.calls = [c for c in execution.calls if c.name == name]
    log.event("execution", index=index, version=0, status=execution.status, calls=execution.calls,
              stdout=execution.stdout, error=execution.error, error_type=execution.error_type, line=execution.line,
              category=execution.category, steps=execution.steps, wall_time_s=execution.wall_time_s)
    if "error" in outcome:
        raise outcome["error"]
    if not execution.ok:
        raise DomainError(f"direct call {_shown(name, args, kwargs).strip()} did not run: {execution.error}")
    return outcome.get("result")


def _shown(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})\n"


def _capturing(api: PrimitiveSet, name: str, values: Mapping[str, Any], outcome: dict[str, Any]) -> PrimitiveSet:
    """A primitive set offering ``name`` (keeping its result or exception in ``outcome``) and one
    constant per argument value: values of any type reach the primitive unchanged, never re-parsed
    from source text."""
    primitive = api[name]

    @functools.wraps(primitive.fn)
    def capture(*a: Any, **k: Any) -> Any:
        try:
            outcome["result"] = primitive.fn(*a, **k)
        except BaseException as exc:
            outcome["error"] = exc
            raise
        return outcome["result"]

    one = PrimitiveSet(api.domain, sim_time=api.sim_time, redact=api.redact, errors=api.errors)
    one.add(capture, name)
    for key, value in values.items():
        one.add(_constant(key, value), key)
    return one


def _constant(name: str, value: Any) -> Callable[[], Any]:
    def constant() -> Any:
        return value

    constant.__doc__ = f"argument {name} of a direct call"
    constant.__annotations__ = {"return": Any}
    return constant
