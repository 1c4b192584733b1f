"""Fuzz the isolated sandbox: 200 generated policies mixing primitive calls, loops, deep
structures, big numbers, recursion, exceptions and C-level bombs. The runner survives every one,
each comes back as an Execution with a categorized failure or success, and the calls it records
are consistent."""

from __future__ import annotations

import random
from typing import Any

import pytest

from embodied.errors import ObjectNotFound
from embodied.primitives import PrimitiveSet
from embodied.sandbox import Sandbox
from embodied.types import ExecutionStatus, FailureCategory, Observation

POLICIES = 200
VALUES = ["[1, (2, 3)]", "{1: [2]}", "math.inf", "2 ** 3000", "b'xy'", "{1, 2}", "None", "range(3)"]
FAILING = ["[][5]", "{}[1]", "None + 1", "int('x')", "math.sqrt(-1)"]


def _api() -> PrimitiveSet:
    api = PrimitiveSet("fuzz", errors=(ObjectNotFound,))
    state: dict[str, int] = {}

    def bump(name: str) -> int:
        """Add one to a counter."""
        state[name] = state.get(name, 0) + 1
        return state[name]

    def find(name: str) -> dict:
        """A counter; ObjectNotFound for names never bumped."""
        if name not in state:
            raise ObjectNotFound(f"no counter {name!r}")
        return {"name": name, "count": state[name], "pos": (0.1, 0.2, 0.3)}

    def echo(value: Any) -> Any:
        """Return ``value`` (it crosses the pipe twice)."""
        return value

    def broken() -> None:
        """Fails with a plain exception."""
        raise KeyError("internal")

    def apply(fn: Any, value: Any) -> Any:
        """Call a policy function on ``value``."""
        return fn(value)

    for fn in (bump, find, echo, broken, apply):
        api.add(fn)
    return api


def _n(rng: random.Random, *choices: int) -> int:
    return rng.choice(choices)


def _statement(rng: random.Random) -> str:
    """One random statement (possibly several lines, always at indentation 0)."""
    kinds = [
        lambda: f"bump('{rng.choice('abc')}')",
        lambda: f"find('{rng.choice('abz')}')",
        lambda: "echo(" + rng.choice(VALUES) + ")",
        lambda: "broken()",
        lambda: "apply(lambda v: v * 2, 21)",
        lambda: "apply(lambda v: bump(v), 'cb')",
        lambda: f"for i in range({_n(rng, 3, 50, 5000)}):\n    bump('loop')",
        lambda: "while True:\n    pass",
        lambda: f"t = []\nfor i in range({_n(rng, 10, 150, 2000)}):\n    t = [t]\necho(t)",
        lambda: f"t = ()\nfor i in range({_n(rng, 10, 2000)}):\n    t = (t,)\nx = len(str(t)) + (t == t)",
        lambda: f"x = {rng.choice(['2 ** 10**6', '10 ** 9999', '7 ** 50000', '1 << 10**7'])}",
        lambda: f"x = int('9' * {_n(rng, 100, 4000, 5000)})",
        lambda: f"x = 3\nfor i in range({_n(rng, 5, 30)}):\n    x = x * x",
        lambda: "def f(n):\n    return f(n + 1)\nf(0)",
        lambda: f"def g(n):\n    return 0 if n == 0 else 1 + g(n - 1)\nprint(g({_n(rng, 10, 150, 250)}))",
        lambda: f"raise {rng.choice(['ValueError', 'RuntimeError', 'ObjectNotFound', 'PrimitiveError'])}('boom')",
        lambda: "try:\n    find('nothing')\nexcept ObjectNotFound as e:\n    print('caught', e)",
        lambda: "try:\n    1 / 0\nfinally:\n    bump('finally')",
        lambda: "x = " + rng.choice(FAILING),
        lambda: f"s = 'ab' * {_n(rng, 10, 10**6, 10**8)}\nprint(len(s))",
        lambda: "a = [0] * 10**6\nb = [a] * 1000\necho(b)",
        lambda: f"checkpoint('{rng.choice(['mid', 'x'])}')",
        lambda: "print(help())",
        lambda: f"d = {{}}\nfor i in range({_n(rng, 10, 3000)}):\n    d[i] = [i] * 10\necho(len(d))",
        lambda: rng.choice(["import os", "open('/etc/passwd')", "().__class__", "eval('1')"]),
        lambda: "x = sorted([3, 1, 2], key=lambda v: -v)\necho(x)",
        lambda: "ObjectNotFound.category = 'dropped'\nfind('nope')",
    ]
    rare = [  # expensive (a second or so each): a few per run
        lambda: "a = [0]\nany(map(a.append, a))",
        lambda: "x = int('f' * 10**7, 16)\ny = x % (x >> 39000000)",
        lambda: "t = ()\nfor i in range(190000):\n    t = (t,)\ns = {t}",
    ]
    if rng.random() < 0.02:
        return rng.choice(rare)()
    return rng.choice(kinds)()


def _wrap(rng: random.Random, body: str) -> str:
    indented = "\n".join("    " + line for line in body.splitlines())
    return rng.choice([
        body,
        f"try:\n{indented}\nexcept Exception as e:\n    print(e)",
        f"def h():\n{indented}\nh()",
        f"for k in range(2):\n{indented}",
    ])


def _policy(rng: random.Random) -> str:
    return "\n".join(_wrap(rng, _statement(rng)) for _ in range(rng.randint(1, 4))) + "\n"


@pytest.mark.slow
def test_two_hundred_generated_policies_each_end_in_an_execution() -> None:
    rng = random.Random(20261202)
    sandbox = Sandbox(max_steps=200_000, timeout_s=0.5, max_memory_mb=48)
    api = _api()
    seen: set[tuple[ExecutionStatus, FailureCategory]] = set()
    for i in range(POLICIES):
        source = _policy(rng)
        observed: list[str] = []

        def observe(label: str, observed: list[str] = observed) -> Observation:
            observed.append(label)
            return Observation(label=label)

        ex = sandbox.run(source, api, checkpoint=observe)
        where = f"policy {i}:\n{source}\n-> {ex.status} {ex.category} {ex.error}"
        seen.add((ex.status, ex.category))
        assert ex.error_type != "WorkerError", where  # a crash of the policy is fine, a bug of the worker is not
        assert isinstance(ex.status, ExecutionStatus), where
        assert [c.index for c in ex.calls] == list(range(len(ex.calls))), where
        if ex.ok:
            assert ex.category is FailureCategory.NONE and ex.error is None, where
        else:
            assert ex.error and ex.error_type and ex.category is not FailureCategory.NONE, where
        if ex.status in (ExecutionStatus.REFUSED, ExecutionStatus.SYNTAX_ERROR):
            assert not ex.calls and not observed, where
        else:  # the episode observed the world after every run that ran
            assert observed and ex.checkpoints[-1].after_call == len(ex.calls), where
    statuses = {status for status, _ in seen}
    assert statuses >= {ExecutionStatus.OK, ExecutionStatus.ERROR, ExecutionStatus.TIMEOUT,
                        ExecutionStatus.REFUSED}, seen
    assert sandbox.run("bump('still here')\n", api).ok
