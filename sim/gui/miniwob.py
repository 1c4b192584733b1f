"""MiniWoB++ tasks (the ``miniwob`` package's ~130 HTML tasks) in the browser backend.

The task pages are opened straight from the package as ``file://`` URLs and driven through the
page's own ``core`` object, the way the package's gymnasium env does it: ``Math.seedrandom(seed)``
then ``core.startEpisodeReal()`` starts a seeded episode, ``core.getUtterance()`` is the
instruction, and the globals ``WOB_DONE_GLOBAL`` / ``WOB_RAW_REWARD_GLOBAL`` are the task's own
verdict. Success of an episode is a raw reward > 0. Elements are read inside the task area
(``#wrap``) by default, and never inside the task's own instruction (``#query``), the reward panel
or the start cover (``exclude``): no query can land on the words of the instruction itself.

The task's own timer is lengthened (``episode_time_s``, default 120 s instead of 10 s) because
an agent that plans between actions is slower than the reflex policies MiniWoB was made for.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from embodied.registry import did_you_mean
from embodied.types import Observation
from sim.gui.browser import BrowserEnv, BrowserOptions
from sim.gui.errors import BackendUnavailable, GuiError
from sim.gui.secrets import SecretBook


def task_dir() -> Path:
    """The folder of MiniWoB++ task pages inside the installed ``miniwob`` package."""
    import importlib.util

    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable("the miniwob package is missing: pip install miniwob (or the `gui` extra)")
    return Path(next(iter(spec.submodule_search_locations))) / "html" / "miniwob"


def task_names() -> list[str]:
    """Names of the MiniWoB++ tasks that run from files (``click-test``, ``enter-text``, ...)."""
    return sorted(p.stem for p in task_dir().glob("*.html"))


class MiniWobOptions(BrowserOptions):
    task: str = Field(default="click-test", description="MiniWoB++ task name, e.g. click-button")
    episode_time_s: float = Field(default=120.0, gt=0, le=3600, description="the task's own time limit")
    data_mode: str = Field(default="train", description="task generation mode (train/test)")
    width: int = Field(default=500, ge=100, le=4096)
    height: int = Field(default=320, ge=100, le=4096)
    root: str | None = "#wrap"
    #: The task's instruction (#query), the reward panel and the start cover are never targets: an
    #: agent that taps the words of its own instruction has done nothing.
    exclude: str | None = "#query, #reward-display, #sync-task-cover, #click-canvas"

    @field_validator("task")
    @classmethod
    def _task(cls, v: str) -> str:
        try:
            names = task_names()
        except BackendUnavailable:
            return v  # checked again, with the install hint, when the env starts
        if v not in names:
            guess = did_you_mean(v, names)
            raise ValueError(f"unknown MiniWoB task {v!r}" + (f" (did you mean {guess!r}?)" if guess else ""))
        return v


@dataclass
class TaskStatus:
    """The task page's own verdict. ``raw_reward`` is not discounted by time; ``reward`` is."""

    done: bool
    reward: float
    raw_reward: float
    reason: Any = None

    @property
    def success(self) -> bool:
        return self.done and self.raw_reward > 0


class MiniWobEnv(BrowserEnv):
    """A MiniWoB++ task. Call :meth:`start_episode` (seeded) before acting; the instruction is
    also ``Observation.task``."""

    backend = "miniwob"

    def __init__(self, options: MiniWobOptions | None = None, secrets: SecretBook | None = None) -> None:
        self.task_options = options or MiniWobOptions()
        super().__init__(self.task_options, secrets=secrets)
        self.utterance = ""
        self.fields: dict[str, str] = {}
        self._loaded_task = ""

    def start_episode(self, seed: int | None = None, task: str | None = None) -> str:
        """Start a new episode of ``task`` (default: the configured one) and return its instruction."""
        self.start()
        task = task or self.task_options.task
        if task != self._loaded_task:
            path = task_dir() / f"{task}.html"
            if not path.exists():
                raise GuiError(f"unknown MiniWoB task {task!r} (no {path})")
            self._run("load task", self.driver.get, path.as_uri())
            self._loaded_task = task
        o = self.task_options
        script = (f"core.EPISODE_MAX_TIME = {int(o.episode_time_s * 1000)};"
                  + (f"Math.seedrandom({json.dumps(str(seed) if seed is not None else None)});" if seed is not None
                     else "")
                  + f"core.setDataMode({json.dumps(o.data_mode)}); core.startEpisodeReal();")
        self._changed()
        self.run_js("core.endEpisode(0);")  # stop a running episode's timer (no-op when none runs)
        self.run_js("window.__embodied = undefined;")  # element ids restart at e0: same seed, same ids
        self.run_js(script)
        deadline = time.monotonic() + 5.0
        while not self.run_js("return WOB_TASK_READY;"):
            if time.monotonic() > deadline:
                raise GuiError(f"MiniWoB task {task!r} did not become ready")
            time.sleep(0.05)
        response = self.run_js("return core.getUtterance();")
        if isinstance(response, dict):
            self.utterance = str(response.get("utterance", ""))
            self.fields = {str(k): str(v) for k, v in (response.get("fields") or {}).items()}
        else:
            self.utterance, self.fields = str(response), {}
        return self.utterance

    def reset(self, task: str | None = None, seed: int | None = None) -> tuple[str, Observation]:
        """Start a seeded episode of ``task`` (default: the configured one): its instruction and
        the first observation (whose ``text`` is the instruction too)."""
        utterance = self.start_episode(seed, task)
        return utterance, self.observe()

    def status(self) -> TaskStatus:
        """The current episode's reward as the task page computed it."""
        meta = self.run_js('return {"done": WOB_DONE_GLOBAL, "reward": WOB_REWARD_GLOBAL,'
                           ' "raw": WOB_RAW_REWARD_GLOBAL, "reason": WOB_REWARD_REASON};')
        return TaskStatus(bool(meta["done"]), float(meta["reward"] or 0.0), float(meta["raw"] or 0.0), meta["reason"])

    def _context_impl(self) -> str:
        return self.utterance
