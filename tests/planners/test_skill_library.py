"""The skill library: stored across instances (runs) and processes, nearest verified policy by
MiniLM embedding, and the writer shows it as an example."""

from __future__ import annotations

import multiprocessing
import zlib
from pathlib import Path

import numpy as np
import pytest

from planners.llm.skills import VERIFIED, Skill, SkillLibrary

pytestmark = pytest.mark.slow  # loads MiniLM (a few seconds)


def _words(texts: list[str]) -> np.ndarray:
    """A bag-of-words vector per text (so the worker processes need not load MiniLM)."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.split():
            out[row, zlib.crc32(word.encode()) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _store_from_worker(directory: str, n: int) -> None:
    library = SkillLibrary(directory, encoder=_words)
    for i in range(n):
        library.store(Skill(f"put the red block on the blue plate ({i})", "workers", f"pick('red block')  # {i}",
                            VERIFIED))


def test_nearest_verified_policy_across_runs_and_workers(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")  # before MiniLM is loaded here: two concurrent writers
    workers = [ctx.Process(target=_store_from_worker, args=(str(tmp_path), 5)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    first = SkillLibrary(tmp_path)
    first.store(Skill("put the green block on the red block [on(green block, red block)]", "tabletop",
                      "pick('green block')\nplace_on('red block')", VERIFIED))
    first.store(Skill("push the yellow block 10 cm to the left", "tabletop", "push('yellow block', 0, 0.1)",
                      VERIFIED))
    first.store(Skill("put the blue block on the red block", "tabletop", "broken()", "failed: wrong_place"))
    first.store(Skill("click the OK button", "gui", "click('OK')", VERIFIED))
    again = SkillLibrary(tmp_path)  # a later run
    assert again.count() == 14 and again.count(VERIFIED) == 13
    found = again.nearest("stack the blue block on top of the red block", "tabletop", k=1)
    assert [s.code for s in found] == ["pick('green block')\nplace_on('red block')"]  # not the failed one
    assert found[0].similarity > 0.5
    assert again.nearest("stack the blue block on top of the red block", "gui", k=3) == []
    assert len(SkillLibrary(tmp_path, encoder=_words).nearest("put the red block on the blue plate", "workers",
                                                              k=3)) == 3
