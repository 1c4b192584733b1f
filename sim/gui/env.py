"""The GUI world as an :class:`embodied.protocols.Environment`: any GUI backend, the GUI
primitive API, and ground-truth success for scoring (see :mod:`sim.gui.config`)."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embodied import backends
from embodied.conditions import GUI_PREDICATES, parse_condition
from embodied.primitives import PrimitiveSet
from embodied.registry import load_target
from embodied.types import Condition, Observation
from perception.screen_predicates import evaluate
from perception.ui_query import MiniLmEmbedder
from sim.gui.base import GuiEnv
from sim.gui.config import GuiConfig
from sim.gui.miniwob import MiniWobEnv
from sim.gui.safety import Confirm, SafetyGuard
from sim.gui.secrets import SecretBook
from sim.gui.skills import GuiSkills

log = logging.getLogger(__name__)
APPS_DIR = Path(__file__).resolve().parent / "apps"


class GuiAgentEnv:
    """A screen the agent acts on through :class:`~sim.gui.skills.GuiSkills`."""

    domain = "gui"

    def __init__(self, config: GuiConfig, gui: GuiEnv | None = None, confirm: Confirm | None = None) -> None:
        self.config = config
        self.workdir = Path(tempfile.mkdtemp(prefix="embodied-gui-"))
        secrets = config.secret_values()
        book = SecretBook(secrets.values())
        if gui is None:
            cls = backends.registry("gui").get(config.backend)
            gui = cls(config.backend_options(), secrets=book)
        else:
            for value in secrets.values():
                gui.secrets.add(value)
        self.gui = gui
        embedder = MiniLmEmbedder() if config.semantic and MiniLmEmbedder.available() else None
        self.skills = GuiSkills(gui, embedder=embedder, secrets=secrets)
        # Acting primitives go through the safety guard (risky actions confirmed, dry runs); see sim.gui.safety.
        self.guard = SafetyGuard(self.skills, config.safety, confirm)
        self._primitives: PrimitiveSet | None = None
        self._seed = config.seed
        self._episodes = 0

    @classmethod
    def from_config(cls, config: GuiConfig) -> GuiAgentEnv:
        return cls(config)

    # ------------------------------------------------------------------ Environment

    def expand(self, text: str) -> str:
        """``text`` with ``{python}``, ``{workdir}``, ``{apps}`` (the bundled example apps) and
        ``{seed}`` filled in."""
        return (text.replace("{python}", sys.executable).replace("{workdir}", str(self.workdir))
                .replace("{apps}", str(APPS_DIR)).replace("{seed}", str(self._seed)))

    def reset(self, seed: int | None = None) -> Observation:
        """Start an episode: a seeded MiniWoB task, or the configured app launched afresh. A
        success file left by an earlier episode is removed first."""
        self._seed = self.config.seed if seed is None else seed
        self._episodes += 1
        if self.config.success.file:
            Path(self.expand(self.config.success.file)).unlink(missing_ok=True)
        if isinstance(self.gui, MiniWobEnv):
            self.gui.start_episode(self._seed)
        elif self.config.app:
            self.gui.relaunch(self.expand(self.config.app))
        else:
            self.gui.start()
        return self.observe("reset")

    def observe(self, label: str = "") -> Observation:
        """The screenshot and element list, labelled with what it was taken for. A look taken when
        nothing was sent since the last one (a primitive that read the screen back, then the
        policy's end; a run started right after the reset) reuses it if it is younger than
        ``skills.max_age_s``; a reset, and an unlabelled look, always look anew."""
        fresh = label in ("", "reset", "screen", "task")
        return dataclasses.replace(self.skills.observation(fresh=fresh), label=label)

    def primitives(self) -> PrimitiveSet:
        if self._primitives is None:
            self._primitives = self.guard.primitive_set()
        return self._primitives

    def success(self, goal: Sequence[Condition]) -> tuple[bool | None, dict[str, Any]]:
        """Ground truth for scoring (see :mod:`sim.gui.config` for the order of checks); None when
        the world has no criterion."""
        if isinstance(self.gui, MiniWobEnv):
            status = self.gui.status()
            return status.success, {"source": "miniwob", "done": status.done, "reward": status.reward,
                                    "raw_reward": status.raw_reward, "reason": str(status.reason)}
        spec = self.config.success
        if spec.file:
            return self._file_success()
        if spec.check:
            fn = load_target(spec.check)
            ok, info = fn(self, list(goal))
            return bool(ok), {"source": spec.check, **dict(info)}
        conditions = [c for c in goal if c.predicate in GUI_PREDICATES]
        conditions += [parse_condition(t) for t in spec.conditions]
        if not conditions:
            # No criterion of the world's own (a user's phone, an app that writes nothing): there is
            # no ground truth, and the agent's own checks must not be reported as one.
            return None, {"source": "none", "why": "no success criterion (env.success or GUI goal conditions)"}
        obs = self.gui.observe()
        results = {str(c): evaluate(c, obs) for c in conditions}
        ok = all(r.holds for r in results.values())
        return ok, {"source": "screen", "conditions": {k: {"holds": r.holds, "why": r.why} for k, r in results.items()}}

    def _file_success(self) -> tuple[bool, dict[str, Any]]:
        spec = self.config.success
        path = Path(self.expand(spec.file or ""))
        if not path.exists():
            return False, {"source": "file", "file": str(path), "why": "the app wrote no result file"}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            return False, {"source": "file", "file": str(path), "why": f"not JSON: {exc}"}
        wrong = {k: {"want": v, "got": data.get(k)} for k, v in spec.expect.items() if data.get(k) != v}
        info = {"source": "file", "file": str(path), "data": self.gui.secrets.redact(data),
                "mismatch": self.gui.secrets.redact(wrong)}
        return not wrong, info

    def stats(self) -> dict[str, Any]:
        s = self.gui.stats()
        return {"sim_steps": int(s["actions"]), "sim_time_s": 0.0, "episodes": self._episodes, **s,
                **self.guard.stats()}

    def close(self) -> None:
        try:
            self.gui.close()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> GuiAgentEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
