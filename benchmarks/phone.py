"""Phone tasks over real adb against the phone twin: success, false success, steps, seconds per step.

Each task is an instruction a person might give, written before any tuning (never added to the
GUI grammar), plus a check of the twin's app state afterwards: the ground truth, never the
agent's word. A seed changes the apps' state (which switches are on, the order of the Settings
sections, who the conversations are with, the contact list), so names in a task are drawn from
that seed's apps. The agent runs through ``embodied.gui.connect("android", ...)`` exactly as on
a phone: the real ``adb`` server, the twin's adb transport, the safety gate on (risky actions
are confirmed by a callback that allows them and counts them).

    .venv/bin/python benchmarks/phone.py                       # 17 tasks x 5 seeds, rule planner
    .venv/bin/python benchmarks/phone.py --tasks wifi_off send_new --seeds 2 -v
    .venv/bin/python benchmarks/phone.py --planner hybrid      # grammar first, the model when it cannot

Columns: success (the twin's state says the task is done), false success (the agent claimed
success, the twin says no), steps (input actions sent to the phone), s/step (the loop's wall
time per action: planning, code, sandbox, adb round trips, observation, monitors, and with a
model its calls). "read" marks tasks whose every clause the GUI grammar parsed. Goals without a
model: <= 0.5 s per step, >= 90 % success on read tasks, false success 0. Timings are noisy on a
shared machine.

``--planner hybrid`` (or ``llm``) needs a model: by default the one of
configs/presets/qwen_coder.yaml (Qwen2.5-Coder-1.5B on llama.cpp, the machine's shared server)
without its record/replay cassette, so every call is live and measured; ``--model`` names another
catalog model or GGUF file on the same backend. The hybrid planner reads an instruction with
the grammar and calls the model only when the grammar cannot read it, or when a replan has
nothing left to try; the table then says in how many episodes the model was called, how many
calls and seconds that took, and with ``--traces`` in how many it planned or replanned.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import embodied.gui  # noqa: E402
from embodied import backends  # noqa: E402
from embodied.models import build_model  # noqa: E402
from sim.gui.phone_twin import PhoneTwin, TwinOptions  # noqa: E402

SETTINGS, MESSAGES, CONTACTS, BANK, LAUNCHER = ("com.android.settings", "com.embodied.messages",
                                                "com.embodied.contacts", "com.embodied.bank", "com.android.launcher3")
Check = Callable[[PhoneTwin, dict[str, Any]], tuple[bool, str]]


@dataclass(frozen=True)
class Task:
    name: str
    phrase: str  # {placeholders} filled from the seed's apps by `pick`
    check: Check
    pick: Callable[[PhoneTwin, random.Random], dict[str, Any]] = lambda twin, rng: {}


def switch_task(name: str, phrase: str, key: str, on: bool) -> Task:
    def check(twin: PhoneTwin, ctx: dict[str, Any]) -> tuple[bool, str]:
        now = twin.state(SETTINGS)["switches"]
        others_same = {k: v for k, v in now.items() if k != key} == {k: v for k, v in ctx["before"].items() if k != key}
        ok = now[key] is on and others_same
        return ok, f"{key}={now[key]} (want {on}), other switches {'unchanged' if others_same else 'CHANGED'}"

    return Task(name, phrase, check, lambda twin, rng: {"before": twin.state(SETTINGS)["switches"]})


def _contact(twin: PhoneTwin, rng: random.Random, favourite: bool | None = None) -> str:
    people = twin.state(CONTACTS)["contacts"]
    pool = [c["name"] for c in people[len(people) // 2:] if favourite is None or c["favourite"] is favourite]
    return rng.choice(pool)


def _stranger(twin: PhoneTwin, rng: random.Random) -> str:
    chats = {c["name"] for c in twin.state(MESSAGES)["conversations"]}
    return rng.choice([c["name"] for c in twin.state(CONTACTS)["contacts"] if c["name"] not in chats])


def _chat(twin: PhoneTwin, rng: random.Random) -> str:
    return rng.choice([c["name"] for c in twin.state(MESSAGES)["conversations"]])


def _sent(to_key: str, text: str) -> Check:
    def check(twin: PhoneTwin, ctx: dict[str, Any]) -> tuple[bool, str]:
        sent = twin.state(MESSAGES)["sent"]
        return sent == [{"to": ctx[to_key], "text": text}], f"sent {sent}"
    return check


def _front(package: str, activity: str, text_key: str = "") -> Check:
    def check(twin: PhoneTwin, ctx: dict[str, Any]) -> tuple[bool, str]:
        front = twin.foreground()
        shown = not text_key or ctx[text_key] in twin.screen_texts()
        return front == (package, activity) and shown, f"in front: {front}"
    return check


def _favourite(twin: PhoneTwin, ctx: dict[str, Any]) -> tuple[bool, str]:
    people = twin.state(CONTACTS)["contacts"]
    fav = {c["name"] for c in people if c["favourite"]}
    before = ctx["favourites"]
    return fav == before | {ctx["who"]}, f"favourites added {sorted(fav - before)} removed {sorted(before - fav)}"


def _deleted_chat(twin: PhoneTwin, ctx: dict[str, Any]) -> tuple[bool, str]:
    s = twin.state(MESSAGES)
    names = [c["name"] for c in s["conversations"]]
    return s["deleted"] == [ctx["who"]] and ctx["who"] not in names, f"deleted {s['deleted']}"


def _called(twin: PhoneTwin, ctx: dict[str, Any]) -> tuple[bool, str]:
    calls = twin.state(CONTACTS)["calls"]
    return calls == [ctx["who"]], f"calls {calls}"


def _logged_in(twin: PhoneTwin, ctx: dict[str, Any]) -> tuple[bool, str]:
    s = twin.state(BANK)
    return s["logged_in"] and s["failed_logins"] == 0, f"logged_in={s['logged_in']} failed={s['failed_logins']}"


def _paid(twin: PhoneTwin, ctx: dict[str, Any]) -> tuple[bool, str]:
    payments = twin.state(BANK)["payments"]
    return payments == [{"to": ctx["who"], "cents": 1250}], f"payments {payments}"


TASKS = (
    switch_task("dark_theme_off", "open Settings, then open Display, then turn off Dark theme", "dark_theme", False),
    switch_task("battery_saver_on", "open Settings, then open Battery, then turn on Battery saver", "battery_saver",
                True),
    switch_task("wifi_off", 'open Settings, then open "Network & internet", then turn off Wi-Fi', "wifi", False),
    switch_task("airplane_on", 'open Settings, then open "Network & internet", then turn on Airplane mode', "airplane",
                True),
    switch_task("bluetooth_on", "open Settings, then open Connected devices, then turn on Bluetooth", "bluetooth",
                True),
    switch_task("dnd_on", "open Settings, then open Sound & vibration, then turn on Do Not Disturb", "do_not_disturb",
                True),
    switch_task("location_off", "open Settings, then open Location, then turn off Use location", "location", False),
    Task("send_new", "open Messages, then tap Start chat, then type {who} into To, then type Running late into "
         "Message, then tap Send", _sent("who", "Running late"), lambda t, r: {"who": _stranger(t, r)}),
    Task("reply", "open Messages, then open {who}, then type On my way into Text message, then tap Send",
         _sent("who", "On my way"), lambda t, r: {"who": _chat(t, r)}),
    Task("delete_chat", "open Messages, then long press {who}, then tap Delete", _deleted_chat,
         lambda t, r: {"who": _chat(t, r)}),
    Task("open_contact", "open Contacts, then scroll down to {who}, then tap {who}",
         _front(CONTACTS, "ContactDetailActivity", "who"), lambda t, r: {"who": _contact(t, r)}),
    Task("favourite", "open Contacts, then scroll down to {who}, then tap {who}, then turn on Favourite", _favourite,
         lambda t, r: {"who": _contact(t, r, favourite=False),
                       "favourites": {c["name"] for c in t.state(CONTACTS)["contacts"] if c["favourite"]}}),
    Task("call", "open Contacts, then scroll down to {who}, then tap {who}, then tap Call", _called,
         lambda t, r: {"who": _contact(t, r)}),
    Task("log_in", "open Bank, then log in as ada with the configured password", _logged_in),
    Task("pay", "open Bank, then log in as ada with the configured password, then tap Pay someone, then type {who} "
         "into Payee, then type 12.50 into Amount, then tap Pay", _paid, lambda t, r: {"who": _contact(t, r)}),
    Task("back_twice", "open Settings, then open Battery, then go back, then go back", _front(LAUNCHER, "Launcher")),
    Task("home_then_app", "open Messages, then go home, then open Contacts", _front(CONTACTS, "ContactsActivity")),
)


@dataclass
class TaskResult:
    name: str
    episodes: int = 0
    successes: int = 0
    false_successes: int = 0
    read: bool = True
    steps: list[int] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)
    confirmations: int = 0
    failures: list[str] = field(default_factory=list)
    planned_by_model: int = 0  # episodes whose plan (or a replan) the model wrote (with --traces)
    model_episodes: int = 0  # episodes with at least one model call
    model_calls: int = 0
    model_s: float = 0.0

    @property
    def s_per_step(self) -> float:
        return sum(self.wall_s) / max(1, sum(self.steps))


def grammar_reads(instruction: str) -> bool:
    """Whether the GUI grammar parses every clause (a planning question, not a screen one)."""
    from planners.errors import PlanningError
    from planners.gui.grammar import Grammar

    try:
        return bool(Grammar().parse(instruction))
    except PlanningError:
        return False


def live_model(name: str | None) -> dict[str, Any]:
    """The model of configs/presets/qwen_coder.yaml without its record/replay wrapper (a
    benchmark measures live calls, never a cassette's replay); ``name`` replaces its model."""
    preset = yaml.safe_load((ROOT / "configs/presets/qwen_coder.yaml").read_text(encoding="utf-8"))
    model = preset["models"]["coder"]
    model = model["options"]["inner"] if model["backend"] == "replay" else model
    model = {"backend": model["backend"], "options": dict(model["options"])}
    if name:
        model["options"]["model"] = name
    return model


def model_planned(run_dir: Path) -> bool:
    """Whether the model planned or replanned this episode (the plan notes in its trace)."""
    trace = run_dir / "trace.jsonl"
    if not trace.exists():
        return False
    for line in trace.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event.get("event") in ("plan", "replan") and "by model" in str(event.get("note") or ""):
            return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(tasks: list[Task], seeds: list[int], planner: str, verbose: bool, model: Any = None,
        run_dir: Path | None = None) -> list[TaskResult]:
    adb = shutil.which("adb")
    if adb is None:
        raise SystemExit("adb is missing: make setup installs Debian's adb")
    port = free_port()
    subprocess.run([adb, "-P", str(port), "start-server"], check=True, capture_output=True, timeout=30)
    results = []
    try:
        with PhoneTwin(TwinOptions(seed=seeds[0])) as twin:
            asked: list[str] = []

            def confirm(action: Any) -> bool:
                asked.append(action.describe())
                return True

            with embodied.gui.connect("android", connect=twin.serial, adb_port=port, settle_s=0, semantic=False,
                                      planner=planner, confirm=confirm, model=model, run_dir=run_dir,
                                      secrets={"password": twin.bank_password}) as phone:
                episodes = 0
                for task in tasks:
                    result = TaskResult(task.name)
                    for seed in seeds:
                        twin.reset(seed)
                        ctx = task.pick(twin, random.Random(seed))
                        instruction = task.phrase.format(**ctx)
                        result.read = result.read and grammar_reads(instruction)
                        asked.clear()
                        usage = phone.model.usage() if phone.model is not None else None
                        t0 = time.perf_counter()
                        episode = phone.do(instruction)
                        wall = time.perf_counter() - t0
                        episodes += 1
                        if usage is not None:
                            after = phone.model.usage()
                            result.model_calls += after.calls - usage.calls
                            result.model_episodes += after.calls > usage.calls
                            result.model_s += after.model_time_s - usage.model_time_s
                        if run_dir is not None:
                            result.planned_by_model += model_planned(run_dir / f"do-{episodes}")
                        ok, why = task.check(twin, ctx)
                        result.episodes += 1
                        result.successes += ok
                        # the agent's claim against the twin's state (a phone session has no truth of its own)
                        result.false_successes += bool(episode.claimed_success) and not ok
                        result.steps.append(episode.sim_steps)
                        result.wall_s.append(wall)
                        result.confirmations += len(asked)
                        if not ok:
                            claim = "claimed success" if episode.claimed_success else (episode.failure or "")[:160]
                            result.failures.append(f"seed {seed}: {instruction!r}: twin: {why}; agent: {claim}")
                        if verbose:
                            print(f"  {task.name} seed {seed}: {'ok' if ok else 'FAIL'}"
                                  f"{' (FALSE SUCCESS)' if episode.claimed_success and not ok else ''} "
                                  f"{episode.sim_steps} "
                                  f"steps {wall:.1f} s", flush=True)
                    results.append(result)
    finally:
        subprocess.run([adb, "-P", str(port), "kill-server"], capture_output=True, timeout=30)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=[t.name for t in TASKS])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per task")
    parser.add_argument("--planner", default="rule", help="a planner registry name (rule, hybrid, ...)")
    parser.add_argument("--model", default=None,
                        help="catalog name or GGUF path for planners that need a model (default: the model of "
                             "configs/presets/qwen_coder.yaml, qwen2.5-coder-1.5b on llamacpp)")
    parser.add_argument("--traces", action="store_true",
                        help="write a trace per episode (to a temporary directory) to count the episodes whose plan "
                             "the model wrote; it adds about 0.1 s per step, so rows compared must agree on it")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    known = {t.name: t for t in TASKS}
    unknown = [n for n in args.tasks if n not in known]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; tasks: {', '.join(known)}")
    if args.planner not in backends.registry("planner").names():
        print(f"planner {args.planner!r} is not registered (known: {', '.join(backends.registry('planner').names())})")
        return 2
    seeds = list(range(args.seeds))
    needs_model = "model" in backends.registry("planner").entry(args.planner).needs
    spec = live_model(args.model) if needs_model else None
    model = build_model(spec) if spec is not None else None
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="phone-bench-") as tmp:
            results = run([known[n] for n in args.tasks], seeds, args.planner, args.verbose, model,
                          Path(tmp) if args.traces else None)
    finally:
        if model is not None:
            model.close()  # releases this process's lease on the shared model server
    wall = time.perf_counter() - t0

    print(f"\nPhone twin over real adb, planner {args.planner} ({len(seeds)} seeds per task, {wall:.0f} s in all)")
    print(f"{'task':<18}{'read':>5}{'success':>9}{'false':>7}{'steps':>7}{'s/step':>8}{'confirms':>10}")
    for r in results:
        print(f"{r.name:<18}{'yes' if r.read else 'no':>5}{r.successes:>4}/{r.episodes:<4}{r.false_successes:>7}"
              f"{sum(r.steps) / max(1, r.episodes):>7.1f}{r.s_per_step:>8.2f}{r.confirmations:>10}")
    read = [r for r in results if r.read]
    episodes = sum(r.episodes for r in results)
    steps = sum(sum(r.steps) for r in results)
    per_step = sum(sum(r.wall_s) for r in results) / max(1, steps)
    print(f"all tasks: success {sum(r.successes for r in results)}/{episodes}, false success "
          f"{sum(r.false_successes for r in results)}, steps/episode {steps / max(1, episodes):.1f}, "
          f"s/step {per_step:.2f}")
    if read:
        n = sum(r.episodes for r in read)
        print(f"tasks the grammar reads ({len(read)}): success {sum(r.successes for r in read)}/{n} = "
              f"{100 * sum(r.successes for r in read) / max(1, n):.0f} %")
    if spec is not None:
        planned = (f"planned or replanned {sum(r.planned_by_model for r in results)}/{episodes} episodes"
                   if args.traces else "episodes it planned: not counted (--traces)")
        print(f"model {spec['options']['model']} ({spec['backend']}): called in "
              f"{sum(r.model_episodes for r in results)}/{episodes} episodes, {planned}, "
              f"{sum(r.model_calls for r in results)} calls, {sum(r.model_s for r in results):.0f} s in calls")
        for r in results:
            if r.model_calls:
                print(f"  {r.name}: model called in {r.model_episodes}/{r.episodes} episodes"
                      f"{f', planned {r.planned_by_model}' if args.traces else ''}, {r.model_calls} calls, "
                      f"{r.model_s:.0f} s")
    for r in results:
        for f in r.failures[:3]:
            print(f"  {r.name}: {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
