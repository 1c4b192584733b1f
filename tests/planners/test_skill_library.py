"""The skill library: stored across instances (runs) and processes, nearest verified policy by
MiniLM embedding, and the writer shows it as an example."""

from __future__ import annotations

import multiprocessing
import zlib
from pathlib import Path

import numpy as np
import pytest
from recording_model import RecordingDouble

from embodied.types import Condition, Subgoal
from planners.llm import render
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


def test_a_verified_program_of_the_same_subgoal_runs_again_without_a_model_call(tmp_path: Path) -> None:
    from embodied import backends
    from planners.llm.coder import LLMWriter
    from tests.planners.test_llm import SUBGOAL, _api, _scene

    kit = backends.registry("domain").get("tabletop")
    library = SkillLibrary(tmp_path, encoder=_words)
    line = render.subgoal_line(SUBGOAL)
    library.store(Skill(line, "tabletop", "pick('red block')\nplace_on('red block', 'blue block')", VERIFIED))
    library.store(Skill("put the red block on the green block", "tabletop", "pick('red block')\nbroken()",
                        "failed: exception"))
    model = RecordingDouble(["```python\npick('blue block')\n```"])
    writer = LLMWriter(model, kit, library=tmp_path)
    writer.library = library  # the bag-of-words encoder: no MiniLM load in this test
    policy = writer.write(SUBGOAL, _api(), _scene())
    assert policy.origin == "library" and "place_on('red block', 'blue block')" in policy.source
    assert model.requests == []
    other = Subgoal("put the blue block on the red block", conditions=[Condition("on", ("blue block", "red block"))])
    policy = writer.write(other, _api(), _scene())  # similar, not the same: shown as an example, model asked
    assert policy.origin == "llm" and len(model.requests) == 1
    assert "A verified program for the similar subgoal" in model.requests[0].messages[-1].text
    model.answers.append("```python\npick('red block')\nplace_on('red block', 'blue block')\n```")
    # written again in the same run (it failed there): the model writes anew
    assert writer.write(SUBGOAL, _api(), _scene()).origin == "llm" and len(model.requests) == 2
    fresh = LLMWriter(model, kit, library=tmp_path)  # a later run
    fresh.library = library
    assert fresh.write(SUBGOAL, _api(), _scene()).origin == "library" and len(model.requests) == 2
    # a slip during a run of it is the world's fault, not the program's: still run blind
    library.store(Skill(line, "tabletop", "pick('red block')\nplace_on('red block', 'blue block')", "failed: dropped"))
    slipped = LLMWriter(model, kit, library=tmp_path)
    slipped.library = library
    assert slipped.write(SUBGOAL, _api(), _scene()).origin == "library" and len(model.requests) == 2
    wrong = "failed: wrong_place"
    library.store(Skill(line, "tabletop", "pick('red block')\nplace_on('red block', 'blue block')", wrong))
    later = LLMWriter(model, kit, library=tmp_path)  # a program that has also failed is never run blind
    later.library = library
    model.answers.append("```python\npick('red block')\n```")
    assert later.write(SUBGOAL, _api(), _scene()).origin == "llm" and len(model.requests) == 3
    later.reuse_verified = False
    model.answers.append("```python\npick('red block')\n```")
    assert later.write(SUBGOAL, _api(), _scene()).origin == "llm" and len(model.requests) == 4


def test_only_skills_of_the_subgoals_typed_action_are_examples(tmp_path: Path) -> None:
    """A place_at subgoal ("in the row, right of ...") is shown no place_on program, however close
    its words: a 1.5B copied the shape of the example it was shown."""
    library = SkillLibrary(tmp_path, encoder=_words)
    library.store(Skill("put the red block on the blue block", "tabletop", "place_on('blue block')", VERIFIED,
                        action="place_on"))
    library.store(Skill("put the red block right of the green block", "tabletop", "place_at(0.5, 0.1)", VERIFIED,
                        action="place_at"))
    library.store(Skill("put the red block by the blue block", "tabletop", "legacy()", VERIFIED))  # no action
    query = "put the red block in the row, right of the blue block"
    assert {s.code for s in library.nearest(query, "tabletop", k=3, min_similarity=0.0)} == \
        {"place_on('blue block')", "place_at(0.5, 0.1)", "legacy()"}
    assert {s.code for s in library.nearest(query, "tabletop", k=3, min_similarity=0.0, action="place_at")} == \
        {"place_at(0.5, 0.1)", "legacy()"}


def test_a_verified_program_of_the_same_action_is_rebound_to_new_arguments(tmp_path: Path) -> None:
    """Another subgoal of the same typed action runs the verified program with its arguments
    swapped, no model call; a program with an offset from its old scene goes to the model."""
    from embodied import backends
    from planners.llm.coder import LLMWriter
    from tests.planners.test_llm import _api, _scene

    kit = backends.registry("domain").get("tabletop")
    library = SkillLibrary(tmp_path, encoder=_words)
    library.store(Skill("put the green block on the red plate [on(green block, red plate)]", "tabletop",
                        "pick('green block')\nplace_on('green block', 'red plate')", VERIFIED, action="place_on",
                        args={"object": "green block", "target": "red plate"}))
    model = RecordingDouble(["```python\npick('red block')\nplace_on('red block', 'blue block')\n```"])
    events: list[dict] = []
    model.listen(lambda kind, **data: events.append(data))
    writer = LLMWriter(model, kit, library=tmp_path)
    writer.library = library
    wanted = Subgoal("put the red block on the blue block", action="place_on",
                     args={"object": "red block", "target": "blue block"},
                     conditions=[Condition("on", ("red block", "blue block"))])
    policy = writer.write(wanted, _api(), _scene())
    assert policy.origin == "library-rebound" and model.requests == []
    assert "pick('red block')\nplace_on('red block', 'blue block')" in policy.source
    assert [e["rebound"]["from"] for e in events if "rebound" in e] == \
        ["put the green block on the red plate [on(green block, red plate)]"]
    # the same rebound program is not run blind twice in a run (it may have failed there)
    assert writer.write(wanted, _api(), _scene()).origin == "llm" and len(model.requests) == 1
    # a later run, after the rebound program failed by a fault of its own: the model writes
    library.store(Skill(render.subgoal_line(wanted), "tabletop", policy.source, "failed: wrong_place",
                        action="place_on", args=wanted.args))
    later = LLMWriter(model, kit, library=tmp_path)
    later.library = library
    model.answers.append("```python\npick('red block')\nplace_on('red block', 'blue block')\n```")
    assert later.write(wanted, _api(), _scene()).origin == "llm" and len(model.requests) == 2
    offset = Subgoal("put the blue block on the red block", action="place_on",
                     args={"object": "blue block", "target": "red block"})
    tray = SkillLibrary(tmp_path / "tray", encoder=_words)
    tray.store(Skill("put the green block in the red plate", "tabletop",
                     "pick('green block')\nplace_on('green block', 'red plate', dx=-0.029)", VERIFIED,
                     action="place_on", args={"object": "green block", "target": "red plate"}))
    fresh = LLMWriter(model, kit, library=tmp_path / "tray")
    fresh.library = tray
    model.answers.append("```python\npick('blue block')\nplace_on('blue block', 'red block')\n```")
    assert fresh.write(offset, _api(), _scene()).origin == "llm" and len(model.requests) == 3


def test_a_library_from_before_arguments_were_stored_opens_and_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "skills.sqlite") as db:
        db.execute("CREATE TABLE skills (id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, domain TEXT "
                   "NOT NULL, subgoal TEXT NOT NULL, action TEXT NOT NULL DEFAULT '', code TEXT NOT NULL, outcome "
                   "TEXT NOT NULL, scene TEXT NOT NULL DEFAULT '', origin TEXT NOT NULL DEFAULT '', embedding BLOB)")
        db.execute("INSERT INTO skills (created, domain, subgoal, code, outcome, embedding) VALUES (0, 'tabletop', "
                   "'put the red block on the blue plate', 'pick(\"red block\")', 'verified', ?)",
                   (_words(["put the red block on the blue plate"])[0].tobytes(),))
    library = SkillLibrary(tmp_path, encoder=_words)
    library.store(Skill("put the red block on the blue plate", "tabletop", "pick('red block')  # new", VERIFIED,
                        args={"object": "red block"}))
    found = library.nearest("put the red block on the blue plate", "tabletop", k=2)
    assert sorted((s.code, s.args == {}) for s in found) == [('pick("red block")', True),
                                                             ("pick('red block')  # new", False)]
