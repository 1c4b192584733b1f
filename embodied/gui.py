"""Script a screen from Python: give it instructions, or act on it directly.

    import embodied.gui

    with embodied.gui.connect("desktop", app="{python} -m sim.gui.apps.form_app --out /tmp/f.json") as screen:
        result = screen.do("type Ada into Name, tick I agree, then click Submit")
        print(result.claimed_success, result.success, result.failure)
        screen.tap("Submit")                       # direct actions, same primitives as policies
        screen.type_text("hello", into="Search")
        shot = screen.screen()                     # screenshot + UI elements

``connect(backend, **options)`` opens a GUI backend ("desktop", "browser", "android", "miniwob";
options as in ``env:`` of a GUI config, e.g. ``app``, ``viewport``, ``secrets``, ``safety``, and the
backend's own options such as ``display`` or ``serial``). :meth:`GuiSession.do` runs the whole
closed loop on the current screen: plan, write a policy per step, run it, check it with the trace
and screen monitors, repair, replan. The planner is the model-free GUI grammar by default, or
``planner="llm"`` with a ``model`` (a model object, or a ``{"backend": ..., "options": ...}``
entry). Risky actions ask for confirmation (``confirm=`` a callback; by default the terminal when
there is one, else denied) and ``dry_run=True`` records actions without sending them.

This module only composes parts by registry name, like :mod:`embodied.experiment`; it imports no
backend until :func:`connect` is called.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embodied import backends
from embodied.agent import LoopBudgets
from embodied.assembly import RunLog, assemble, call_primitive, kit_of
from embodied.config import SandboxConfig, validate
from embodied.console import ConsoleLog
from embodied.sandbox import Sandbox
from embodied.trace import TraceWriter, redact_file, write_json_atomic
from embodied.types import EpisodeResult, Observation, UIElement, to_jsonable


@dataclass
class Screen:
    """What the screen shows now: the screenshot (HxWx3 RGB, or None) and its UI elements."""

    image: np.ndarray | None
    elements: list[UIElement] = field(default_factory=list)
    text: str = ""

    def texts(self) -> list[str]:
        return [e.text for e in self.elements if e.text]


class GuiSession:
    """A live screen plus the agent parts that act on it. Make one with :func:`connect`.

    ``planner``/``writer``/``repairer``/``monitors`` are registry names (monitors default to the
    GUI kit's); ``model`` is passed to the parts that take one. The agent is assembled as for
    ``embodied run`` (:mod:`embodied.assembly`), with one run log that redacts. ``run_dir``: when
    given, each :meth:`do` writes a trace there
    (``do-<n>/trace.jsonl`` and ``summary.json``). ``console``: print the loop's progress.
    """

    def __init__(self, env: Any, *, planner: str = "rule", writer: str | None = None,
                 repairer: str | None = None, monitors: Sequence[str] | None = None, model: Any = None,
                 budgets: LoopBudgets | None = None, run_dir: str | Path | None = None, console: bool = False,
                 closed_loop: bool = True) -> None:
        self.env = env
        budgets = budgets or LoopBudgets()
        # Validated like the agent: section of a config, so a mistake reads like one.
        self.agent_config = validate(
            {"task": {"instruction": "interactive session"}, "env": {"kind": "gui"},
             "agent": {"planner": planner, "writer": writer, "repairer": repairer,
                       "monitors": list(monitors) if monitors is not None else None, "closed_loop": closed_loop,
                       "repair_budget": budgets.repair, "replan_budget": budgets.replan,
                       "max_subgoals": budgets.max_subgoals}},
            file="<embodied.gui.GuiSession>").agent
        self.model = model
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.console = console
        self.closed_loop = closed_loop
        self._runs = 0
        self._closed = False
        self._sandbox = Sandbox()
        self._direct_log: RunLog | None = None
        self._direct_calls = 0

    # ------------------------------------------------------------------ the closed loop

    def do(self, instruction: str, *, goal: Sequence[str] = ()) -> EpisodeResult:
        """Run the closed loop for ``instruction`` on the screen as it is now ("": the task text the
        screen states itself, e.g. a MiniWoB++ utterance). ``claimed_success`` is what the agent's
        own checks concluded (every step and the final check of the whole instruction passed);
        ``success`` is ground truth: the GUI ``goal`` conditions (e.g. ``"text_visible(Saved)"``) on
        the final screen when given, else the world's own criterion (a MiniWoB++ reward, a file the
        app writes), else None: a user's screen has no ground truth."""
        self._open()
        instruction = instruction.strip() or self.env.observe("task").task
        self._runs += 1
        trace = TraceWriter(self.run_dir / f"do-{self._runs}", save_images=False) if self.run_dir else None
        log = RunLog(trace, ConsoleLog() if self.console else None)
        agent = assemble(self.env, self.agent_config, SandboxConfig(), log, model=self.model)
        kit = kit_of(self.env)
        actions_before = self._actions()
        t0 = time.perf_counter()
        try:
            log.event("episode_start", instruction=instruction, seed=None, run_dir=str(trace.run_dir) if trace else "")
            run = agent.run(instruction, self.env)
            conditions = [kit.parse_condition(g) for g in goal]
            # Ground truth: the goal given here or the world's own criterion (a MiniWoB reward, a
            # file an app writes); None when there is neither. Never the agent's own claim.
            success, details = self.env.success(conditions)
            details = dict(details or {})
            truth = "none" if success is None else ("goal" if conditions and details.get("source") == "screen"
                                                     else str(details.get("source") or "goal"))
            result = EpisodeResult(
                success=None if success is None else bool(success), claimed_success=run.claimed_success,
                truth=truth, instruction=run.plan.instruction if run.plan else instruction,
                wall_time_s=round(time.perf_counter() - t0, 3), sim_steps=self._actions() - actions_before,
                primitive_calls=sum(len(a.execution.calls) for a in run.attempts), subgoals=len(run.outcomes),
                repairs=run.repairs, replans=run.replans, policies_written=run.policies_written,
                outcomes=[{"subgoal": o.subgoal.description, "ok": o.ok, "attempts": o.attempts,
                           "category": o.category.value, "why": o.why} for o in run.outcomes],
                failure=run.failure, goal=[str(c) for c in conditions])
            log.event("result", result=result, goal_source="session", goal_details=details, stats={})
            if trace is not None:
                write_json_atomic(trace.run_dir / "summary.json",
                                  log.redact(to_jsonable({**to_jsonable(result), "goal_details": details,
                                                          "final_check": run.final})))
            return result
        finally:
            if trace is not None:
                trace.close()
                redact_file(trace.run_dir / "trace.jsonl", log.redact)

    # ------------------------------------------------------------------ direct actions

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """A direct action: run through the same sandbox as a policy and recorded like a one-line
        policy (in ``run_dir/direct/trace.jsonl`` when the session has a run directory)."""
        self._open()
        if self._direct_log is None:
            trace = TraceWriter(self.run_dir / "direct", save_images=False) if self.run_dir else None
            self._direct_log = RunLog(trace, ConsoleLog() if self.console else None, self.env.primitives().redact)
        self._direct_calls += 1
        return call_primitive(self.env, self._sandbox, self._direct_log, name, args, kwargs,
                              index=self._direct_calls - 1)

    def tap(self, target: str) -> bool:
        """Tap the element best matching a description ("Settings", "the OK button")."""
        return self._call("tap", target)

    def type_text(self, text: str, into: str = "") -> bool:
        """Type text, into a described field (tapped and cleared first) or at the focus."""
        return self._call("type_text", text, into=into)

    def key(self, name: str) -> None:
        """Press a key: enter, tab, escape, back, ..."""
        self._call("key", name)

    def scroll(self, direction: str = "down") -> None:
        self._call("scroll", direction)

    def scroll_until(self, text: str, direction: str = "down") -> bool:
        return self._call("scroll_until", text, direction=direction)

    def drag(self, source: str, target: str) -> None:
        """Hold the element ``source``, move it onto ``target`` and let go (reorders a list row,
        moves an icon)."""
        self._call("drag", source, target)

    def back(self) -> None:
        self._call("back")

    def home(self) -> None:
        self._call("home")

    def launch(self, app: str) -> None:
        self._call("launch", app)

    def wait_for(self, text: str, timeout_s: float = 5.0) -> bool:
        return self._call("wait_for", text, timeout_s=timeout_s)

    def find(self, query: str) -> dict:
        """The element best matching a description, as a dict (id, role, text, bounds, center, ...).
        Raises ElementNotFound when nothing matches."""
        return self._call("find", query)

    def read_text(self, query: str = "") -> str:
        return self._call("read_text", query)

    def secret(self, name: str) -> str:
        """A configured secret, to pass to :meth:`type_text`; it prints as ***."""
        return self._call("secret", name)

    def screen(self) -> Screen:
        """A fresh screenshot and element list."""
        self._open()
        obs: Observation = self.env.observe("screen")
        return Screen(obs.images.get("screen"), list(obs.elements), obs.task)

    @property
    def intended(self) -> list[Any]:
        """Actions a dry run recorded instead of sending (see :mod:`sim.gui.safety`)."""
        guard = getattr(self.env, "guard", None)
        return list(guard.intended) if guard is not None else []

    @property
    def decisions(self) -> list[Any]:
        """Confirmations asked for risky actions, with their answers."""
        guard = getattr(self.env, "guard", None)
        return list(guard.decisions) if guard is not None else []

    # ------------------------------------------------------------------ lifecycle

    def _actions(self) -> int:
        return int(self.env.stats().get("sim_steps", 0))

    def _open(self) -> None:
        if self._closed:
            raise RuntimeError("this GUI session is closed; connect again")

    def close(self) -> None:
        """Close the backend (browser, display, device connection). Safe to call twice."""
        if not self._closed:
            self._closed = True
            if self._direct_log is not None and self._direct_log.trace is not None:
                self._direct_log.trace.close()
            self.env.close()

    def __enter__(self) -> GuiSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(backend: str = "desktop", *, app: str | None = None, secrets: Mapping[str, str] | None = None,
            dry_run: bool = False, confirm: Callable[[Any], bool] | None = None,
            safety: Mapping[str, Any] | None = None, planner: str | None = None, model: Any = None,
            monitors: Sequence[str] | None = None, seed: int = 0, viewport: Mapping[str, Any] | None = None,
            task: str | None = None, semantic: bool = True, run_dir: str | Path | None = None,
            console: bool = False, **options: Any) -> GuiSession:
    """Open a screen and return a :class:`GuiSession` (see the module docstring).

    ``backend``: a name of the ``gui`` registry. ``app``: launched now (a command line, a URL, a
    package; ``{python}`` and ``{apps}`` are filled in). ``secrets``: name -> value for
    ``secret(name)`` and "the configured password" in instructions. ``dry_run``: record actions,
    send none (``do`` then runs open loop: nothing would change to check). ``confirm``: called
    with a proposed risky action, returns whether to send it. ``planner``: ``"rule"`` (default)
    or ``"llm"`` (default when ``model`` is given). ``monitors``: default the GUI kit's. Other
    keyword arguments are backend options.
    Raises :class:`embodied.errors.ConfigError` for unknown names and options.
    """
    safety_options = dict(safety or {})
    if dry_run:
        safety_options["dry_run"] = True
    data: dict[str, Any] = {"kind": "gui", "backend": backend, "seed": seed, "options": dict(options),
                            "semantic": semantic, "safety": safety_options}
    if app is not None:
        data["app"] = app
    if task is not None:
        data["task"] = task
    if viewport is not None:
        data["viewport"] = dict(viewport)
    if secrets:
        data["secrets"] = dict(secrets)
    # Validated as the env: section of a config, so a mistake reads like one ("env.options.x: ...").
    config = validate({"task": {"instruction": "interactive session"}, "env": data},
                      file="<embodied.gui.connect>").env
    env_cls = backends.registry("env").get("gui")
    env = env_cls(config, confirm=confirm)
    warm = getattr(getattr(env, "skills", None), "warm", None)
    if semantic and warm is not None:
        warm()  # load the sentence-embedding model while the app starts, not at the first fuzzy query
    if model is not None and not _is_model(model):
        from embodied.models import build_model  # model code is loaded only when a model is named

        model = build_model(model)
    try:
        env.reset(seed)
    except BaseException:
        env.close()
        raise
    return GuiSession(env, planner=planner or ("llm" if model is not None else "rule"), monitors=monitors,
                      model=model, run_dir=run_dir, console=console, closed_loop=not dry_run)


def _is_model(value: Any) -> bool:
    """A model object (as opposed to a backend name or a config entry)."""
    return not isinstance(value, str | Mapping)
