"""Process isolation: a policy that crashes, fills memory or hangs inside one C call costs its own
run, never the episode; nothing a policy changes reaches the next run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import embodied.errors
from embodied.errors import ObjectNotFound
from embodied.primitives import PrimitiveSet
from embodied.sandbox import Sandbox
from embodied.types import ExecutionStatus, FailureCategory, Observation

SEGFAULT = "bump('before')\nt = ()\nfor i in range(190000):\n    t = (t,)\ns = {t}\nbump('after')\n"
MEMORY_IN_ONE_CALL = "bump('before')\na = [0]\nany(map(a.append, a))\n"
LONG_C_CALL = "x = int('f' * 10**7, 16)\ny = x % (x >> 39000000)\n"


class World:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.observed: list[str] = []

    def observe(self, label: str) -> Observation:
        self.observed.append(label)
        return Observation(label=label)

    def api(self) -> PrimitiveSet:
        api = PrimitiveSet("test", errors=(ObjectNotFound,))

        def bump(name: str) -> int:
            """Add one to a counter."""
            self.counts[name] = self.counts.get(name, 0) + 1
            return self.counts[name]

        def find(name: str) -> dict:
            """A counter as a dict; ObjectNotFound for unknown names."""
            if name not in self.counts:
                raise ObjectNotFound(f"no counter named {name!r}")
            return {"name": name, "count": self.counts[name]}

        for fn in (bump, find):
            api.add(fn)
        return api


@pytest.fixture
def world() -> World:
    return World()


def test_a_segfaulting_policy_is_a_crashed_failure_and_the_run_goes_on(world: World) -> None:
    sandbox = Sandbox(max_steps=300_000, timeout_s=30)
    ex = sandbox.run(SEGFAULT, world.api(), checkpoint=world.observe)
    assert ex.status is ExecutionStatus.ERROR and ex.category is FailureCategory.CRASHED
    assert ex.error_type == "WorkerCrashed" and "SIGSEGV" in ex.error and ex.line == 5
    assert [c.name for c in ex.calls] == ["bump"] and world.counts == {"before": 1}
    assert [(c.label, c.after_call) for c in ex.checkpoints] == [("error", 1)]  # the episode observes on
    again = sandbox.run("bump('next')\n", world.api())
    assert again.ok and world.counts == {"before": 1, "next": 1}


def test_memory_filled_inside_one_c_call_is_a_memory_failure(world: World) -> None:
    ex = Sandbox(max_memory_mb=32, timeout_s=30).run(MEMORY_IN_ONE_CALL, world.api(), checkpoint=world.observe)
    assert ex.status is ExecutionStatus.ERROR and ex.category is FailureCategory.MEMORY, ex.error
    assert ex.error_type == "MemoryError" and ex.line == 3
    assert world.observed == ["error"]


def test_a_long_c_call_times_out_within_budget_and_grace(world: World) -> None:
    t0 = time.perf_counter()
    ex = Sandbox(timeout_s=1.0).run(LONG_C_CALL, world.api())
    elapsed = time.perf_counter() - t0
    assert ex.status is ExecutionStatus.TIMEOUT and ex.category is FailureCategory.TIMEOUT, ex.error
    assert ex.error.startswith("policy timed out after 1 s at line 2")
    assert elapsed < 1.0 + 0.55 + 1.0 + 1.0  # budget + grace + SIGABRT wait + slack for a loaded machine


@pytest.mark.parametrize("isolation", ["process", "inline"])
def test_error_class_mutation_does_not_reach_the_next_run(isolation: str, world: World) -> None:
    sandbox = Sandbox(isolation=isolation)
    api = world.api()
    first = sandbox.run("ObjectNotFound.category = 'grasp_missed'\nObjectNotFound.extra = 1\n"
                        "PrimitiveError.category = 'dropped'\n", api)
    assert first.ok, first.error
    assert ObjectNotFound.category is FailureCategory.NOT_FOUND and not hasattr(ObjectNotFound, "extra")
    assert embodied.errors.PrimitiveError.category is FailureCategory.UNKNOWN
    second = sandbox.run("try:\n    print(ObjectNotFound.extra)\nexcept AttributeError:\n    print('fresh')\n"
                         "find('ghost')\n", api)
    assert second.stdout == "fresh\n"
    assert second.category is FailureCategory.NOT_FOUND and second.calls[0].category is FailureCategory.NOT_FOUND
    relabel = sandbox.run("ObjectNotFound.category = 'dropped'\nfind('ghost')\n", api)  # nor relabel its own
    assert relabel.category is FailureCategory.NOT_FOUND, relabel.error
    assert sandbox.run("ObjectNotFound.category.note = 'left for the next policy'\n", api).ok
    later = sandbox.run("try:\n    print(ObjectNotFound.category.note)\nexcept AttributeError:\n    print('clean')\n",
                        api)
    assert later.stdout == "clean\n" and not hasattr(FailureCategory.NOT_FOUND, "note")


def test_os_limits_seen_from_inside_a_primitive(world: World) -> None:
    seen: list[tuple[str, str]] = []
    api = world.api()

    def inspect_workers() -> None:
        """Read the workers' limits and user from /proc while the policy's worker waits for this call
        (workers are forks of this process: the same command line; other children are not)."""
        me = Path(f"/proc/{os.getpid()}/cmdline").read_bytes()
        for task in os.listdir(f"/proc/{os.getpid()}/task"):
            for pid in Path(f"/proc/{os.getpid()}/task/{task}/children").read_text().split():
                if Path(f"/proc/{pid}/cmdline").read_bytes() != me:
                    continue
                seen.append((Path(f"/proc/{pid}/limits").read_text(), Path(f"/proc/{pid}/status").read_text()))

    api.add(inspect_workers)
    assert Sandbox(max_memory_mb=64, timeout_s=10).run("inspect_workers()\n", api).ok
    assert seen
    for limits, status in seen:
        rows = {line[:26].strip(): line[26:].split() for line in limits.splitlines()[1:]}
        assert rows["Max processes"][:2] == ["0", "0"]
        assert rows["Max open files"][:2] == ["16", "16"]
        assert rows["Max address space"][0] != "unlimited" or len(seen) > 1  # idle workers have none
        assert rows["Max cpu time"][0] != "unlimited" or len(seen) > 1
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        assert uid == ("65534" if os.geteuid() == 0 else str(os.geteuid()))
    busy = [rows for rows in ({line[:26].strip(): line[26:].split() for line in limits.splitlines()[1:]}
                              for limits, _ in seen) if rows["Max address space"][0] != "unlimited"]
    assert busy and 12 <= int(busy[0]["Max cpu time"][0]) <= 14  # 10 s budget + grace + 1, past its own use


def test_policy_callbacks_and_nested_values_cross_the_pipe(world: World) -> None:
    api = world.api()

    def call_twice(fn: Any, value: Any) -> list:
        """Call a policy function on ``value`` twice (primitives may take callbacks)."""
        return [fn(value), fn(value)]

    api.add(call_twice)
    source = ("shared = [1]\nout = call_twice(lambda v: [v, bump('x')], (shared, shared, 2 ** 2000, math.nan))\n"
              "first = out[0][0]\n"
              "print(first[0] is first[1], first[2] == 2 ** 2000, math.isnan(first[3]), out[1][1])\n")
    ex = Sandbox().run(source, api)
    assert ex.ok, ex.error
    assert ex.stdout == "True True True 2\n"
    assert [c.name for c in ex.calls] == ["call_twice", "bump", "bump"]


def test_a_value_that_cannot_cross_is_a_type_error_for_the_policy(world: World) -> None:
    api = world.api()

    def opaque() -> Any:
        """Returns an object that is not plain data."""
        return object()

    api.add(opaque)
    ex = Sandbox().run("try:\n    opaque()\nexcept TypeError as e:\n    print('refused')\n", api)
    assert ex.ok and ex.stdout == "refused\n" and ex.calls[0].name == "opaque"


def test_inline_mode_is_still_available(world: World) -> None:
    ex = Sandbox(isolation="inline").run("bump('a')\n", world.api())
    assert ex.ok and world.counts == {"a": 1}
    with pytest.raises(ValueError, match="isolation"):
        Sandbox(isolation="thread")  # type: ignore[arg-type]


@pytest.mark.slow
def test_embodied_run_with_a_segfaulting_policy_file_still_writes_its_summary(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "crash.py").write_text("pick('red block')\n" + SEGFAULT.replace("bump('before')\n", "")
                                       .replace("bump('after')\n", "place_on('blue block')\n"))
    (tmp_path / "crash.yaml").write_text(f"""\
include: {root / "configs/presets/tabletop.yaml"}
name: crash_policy
task:
  instruction: put the red block on the blue block
  goal: ["on(red block, blue block)"]
  policy_file: crash.py
agent:
  monitors: [trace]
run:
  save_images: false
env:
  objects:
    - {{name: red block, shape: cube, color: red, region: left}}
    - {{name: blue block, shape: cube, color: blue, region: right}}
""")
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-m", "embodied.cli", "run", str(tmp_path / "crash.yaml"),
                           "--run-dir", str(run_dir)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]  # a failed episode, not a dead runner (139)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["success"] is False and summary["primitive_calls"] == 1
    [outcome] = summary["outcomes"]
    assert outcome["category"] == "crashed" and "SIGSEGV" in outcome["why"] and "line 5" in outcome["why"]


class Masked(str):
    """A str subclass that prints as *** (like a GUI Secret)."""

    __slots__ = ()

    def __str__(self) -> str:
        return "***"


def test_a_str_subclass_keeps_its_class_and_comes_back_as_the_same_object(world: World) -> None:
    api = world.api()
    secret = Masked("hunter2")
    received: list[Any] = []

    def password() -> str:
        """A secret value."""
        return secret

    def type_text(text: str) -> None:
        """Type ``text``."""
        received.append(text)

    api.add(password)
    api.add(type_text)
    ex = Sandbox().run("p = password()\nprint(p, len(p))\ntype_text(p)\ntype_text(p + '!')\n", api)
    assert ex.ok, ex.error
    assert ex.stdout == "*** 7\n"  # the worker rebuilt the class: printing masks it
    assert received[0] is secret and type(received[1]) is str and received[1] == "hunter2!"
