"""Every model exchange of an episode, a rejected answer sent back included, lands in
trace.jsonl and in the HTML report. The episode is the real runner on the grid world of
tests/embodied; the model side is a recording double that first answers something that is no
program, then a program (it stands in for no model: the test chooses both answers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied import backends
from embodied.config import validate
from embodied.experiment import run_episode
from embodied.report import write_report
from embodied.trace import read_trace

GARBAGE = "Happy to help! Moving the token is easy, just go right a few times."
PROGRAM = "```python\nstep('right')\ncheckpoint('moved')\n```"


@pytest.fixture
def grid(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The grid world and its kit (tests/embodied/grid_world.py) and the recording double as a
    model backend, registered for this test only."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "embodied"))
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent))
    backends.registry("env").register("grid", "grid_world:GridWorld", config="grid_world:GridConfig")
    backends.registry("domain").register("grid", "grid_world:KIT")
    backends.registry("model").register("recording", "recording_model:RecordingDouble")
    try:
        yield
    finally:
        backends.registry("env").unregister("grid")
        backends.registry("domain").unregister("grid")
        backends.registry("model").unregister("recording")


def test_a_rejected_answer_and_its_retry_are_in_the_trace_and_the_report(grid: None, tmp_path: Path) -> None:
    cfg = validate({"name": "exchanges", "task": {"instruction": "go to 1, 0", "goal": ["on_cell(token, x=1, y=0)"]},
                    "env": {"kind": "grid"},
                    "models": {"double": {"backend": "recording", "options": {"answers": [GARBAGE, PROGRAM]}}},
                    "agent": {"model": "double", "planner": "rule", "writer": "llm", "repairer": "rule",
                              "repair_budget": 0, "replan_budget": 0, "writer_options": {"max_parse_retries": 1}},
                    "run": {"out_dir": str(tmp_path), "quiet": True, "save_images": False}})
    run_dir = tmp_path / "episode"
    result = run_episode(cfg, run_dir)
    assert result.model_calls == 2 and result.success  # the second answer ran: the token is at (1, 0)
    events = read_trace(run_dir / "trace.jsonl")
    calls = [e for e in events if e["event"] == "model_call"]
    answers = [e for e in events if e["event"] == "model_answer"]
    assert [c["answer"] for c in calls] == [GARBAGE, PROGRAM]
    assert "could not be used" in calls[1]["last_message"]  # the problem went back to the model
    assert [(a["task"], a["attempt"]) for a in answers] == [("program", 1), ("program", 2)]
    assert answers[0]["rejected"] and answers[1]["rejected"] is None
    assert answers[0]["rejected"] in calls[1]["last_message"]
    html = write_report(run_dir).read_text(encoding="utf-8")
    for text in (GARBAGE, "step(&#x27;right&#x27;)", "rejected: " + answers[0]["rejected"].replace("'", "&#x27;")):
        assert text in html, text
    assert html.count("<b>model call</b>") == 2 and html.count("<b>model answer</b>") == 2
