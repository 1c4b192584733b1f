"""LLMWriter and LLMRepairer: a language model writes and repairs code policies.

Both check the model's program before it runs: it must parse, pass the sandbox's static check
(:func:`embodied.sandbox.check` with the primitive set, so unknown names are caught) and call at
least one primitive. A refused program goes back to the model with the sandbox's problems.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from embodied.domain import DomainKit, model_fields, step_text
from embodied.models.base import ChatModel, Message
from embodied.models.prompting import PromptLibrary
from embodied.primitives import PrimitiveSet
from embodied.sandbox import check, help_text
from embodied.types import (
    WORLD_FAULTS,
    Execution,
    FailureCategory,
    Observation,
    PlanView,
    Policy,
    Subgoal,
    Verdict,
    to_jsonable,
)
from planners.llm import render
from planners.llm.binding import rebind
from planners.llm.dialogue import Exchange, Sampling, ask
from planners.llm.errors import OutputRejected, ProgramOutputError
from planners.llm.parsing import extract_code, gives_up
from planners.llm.planner import PROMPTS_DIR, rgb_images, rgb_views
from planners.llm.reading import compact_scene
from planners.llm.skills import Skill, SkillLibrary, record_run

REBIND_EXTRA = 3  # library candidates beyond the examples shown, tried for rebinding
# a risky action the user refused, a thing the device does not have: no program changes that
NO_PROGRAM_REPAIR = (FailureCategory.DENIED, FailureCategory.MISSING)
# the program itself broke (it raised, crashed, ran out of time or memory): another program can
# always be written, so giving up is not offered and a GIVE UP answer goes back to the model
PROGRAM_FAULTS = (FailureCategory.EXCEPTION, FailureCategory.CRASHED, FailureCategory.MEMORY,
                  FailureCategory.TIMEOUT)
GIVE_UP_OFFER = (" Only if no program can achieve the subgoal (an object it needs does not exist), answer"
                 " exactly: GIVE UP")
STEPS_INTRO = ("A subgoal may come with its planned step: one of these typed actions with the numbers the "
               "planner chose (metres, table frame). It is not a function: write it with the functions above.")
# what the repair prompt asks for, by whose fault the failure was (a 1.5B told "some steps may
# already be done" answered that the program needed no change)
ADVICE_PROGRAM = ("The program itself is wrong: the failing line raised an error, and the message says what to "
                  "change. Write the corrected program.")
ADVICE_WORLD = ("The world got in the way (a slip, a drop, a nudge), not the program: the same steps from where "
                "things are now may do. Write the program to run now.")
ADVICE_STEP = ("A step of the program failed (see the verdict): change that step, e.g. the object's exact name "
               "from the scene or a reachable spot. Write the corrected program.")
ADVICE_RESULT = ("The program ran, but the success condition does not hold: change the step that put things in "
                 "the wrong place or state. Write the corrected program.")
CODE_REMINDER = "Reply with the whole program in one ```python block, calling only the listed functions."


def program_parser(api: PrimitiveSet, *, previous: str | None = None) -> Callable[[str], str]:
    """Parse an answer into a runnable program, or raise :class:`OutputRejected` saying why.
    ``previous``: the failing program, which a repair must not return unchanged."""

    def parse(text: str) -> str:
        source = extract_code(text)
        problems = check(source, api)
        if problems:
            listed = "; ".join(str(p) for p in problems[:5])
            raise OutputRejected(f"the sandbox refuses this program: {listed}")
        tree = ast.parse(source)
        called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        shadowed = [n for n in defined if n in api or n == "checkpoint"]
        if shadowed:
            raise OutputRejected(f"the program defines {', '.join(f'{n}()' for n in shadowed)}, which already "
                                 "exist: call them, do not define them")
        never = [n for n in defined if n not in called]
        if never:
            raise OutputRejected(f"the program defines {', '.join(f'{n}()' for n in never)} but never calls "
                                 "it, so nothing would happen: write the steps at the top level, or call the "
                                 "function at the end")
        if not called & set(api.names()):
            raise OutputRejected(f"the program calls none of the primitives ({', '.join(api.names())})")
        misfits = _misfit_calls(tree, api)
        if misfits:
            raise OutputRejected("these calls do not fit the function's parameters: " + "; ".join(misfits[:4]))
        if previous is not None and _normalised(source) == _normalised(previous):
            raise OutputRejected("this is the same program that failed: change what caused the failure")
        return source

    return parse


def _misfit_calls(tree: ast.AST, api: PrimitiveSet) -> list[str]:
    """Calls of primitives whose arguments cannot bind to the primitive's signature (an argument
    it does not take, too many or too few), found before the program runs: a run would only end
    in a TypeError and cost a repair round."""
    out = []
    readers = position_readers(api)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in api):
            continue
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            continue  # *args / **kwargs: only the run can tell
        signature = api[node.func.id].signature  # resolved when the primitive was registered
        params = ", ".join(q.name if q.default is q.empty else f"{q.name}={q.default!r}"
                           for q in signature.parameters.values())
        try:
            bound = signature.bind(*node.args, **{k.arg: k.value for k in node.keywords if k.arg})
        except TypeError as exc:
            out.append(f"line {node.lineno}: {node.func.id}({params}) {exc}")
            continue
        for name, value in bound.arguments.items():
            problem = _literal_misfit(signature.parameters[name], value)
            if problem and readers and isinstance(value, ast.Constant) and isinstance(value.value, str):
                # a name where a coordinate goes: the model means that thing's position
                problem += (f"; for the position of {value.value!r}, read it first with {readers[0]}({value.value!r}),"
                            " which returns numbers, and pass numbers computed from them")
            if problem:
                out.append(f"line {node.lineno}: {node.func.id}({params}): {problem}")
    return out


def position_readers(api: PrimitiveSet) -> list[str]:
    """Primitives that turn one name into a list of numbers (``get_pose(name) -> list[float]``):
    what a program calls to place by an object it named, found from the signatures, not by name."""
    readers = []
    for primitive in api:
        params = [q for q in primitive.signature.parameters.values() if q.default is q.empty]
        returns = primitive.signature.return_annotation
        numbers = typing.get_origin(returns) in (list, tuple) and bool(typing.get_args(returns)) and \
            all(a in (float, int, Ellipsis) for a in typing.get_args(returns))
        if len(params) == 1 and params[0].annotation is str and numbers:
            readers.append(primitive.name)
    return readers


def _literal_misfit(param: inspect.Parameter, node: ast.expr) -> str:
    """A literal that cannot be what the parameter's type hint asks for: text where a number
    goes (``place_at("green block", 0, -0.18)``) or a number where a name goes."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    if not isinstance(node, ast.Constant) or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
        return ""
    value = node.value
    annotation = param.annotation  # a union (float | None) accepts each of its members
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    accepted = set(typing.get_args(annotation)) if union else {annotation}
    numeric = bool(accepted & {int, float})
    text = str in accepted
    if isinstance(value, str) and numeric and not text:
        return f"{param.name} is a number, not the text {value!r}"
    if isinstance(value, int | float) and not isinstance(value, bool) and text and not numeric:
        return f"{param.name} is a name (text), not the number {value!r}"
    return ""


def repair_evidence(policy: Policy, execution: Execution, verdict: Verdict, limit: int = 900) -> str:
    """The monitor's verdict, the text of the failing line, and the verdict's evidence as compact
    JSON (object boxes, which condition failed and by how much), for the repair prompt."""
    lines = [render.verdict(verdict)]
    number = verdict.failed_line or execution.line
    source = policy.source.splitlines()
    if number is not None and 1 <= number <= len(source):
        lines.append(f"failing line {number}: {source[number - 1].strip()}")
    found = verdict.evidence
    fields = dataclasses.fields(found) if dataclasses.is_dataclass(found) else ()
    evidence = {f.name: getattr(found, f.name) for f in fields if f.name not in ("visual_diff", "notes")}
    evidence = {k: v for k, v in evidence.items() if v not in (None, "", [], {}) and not _is_image(v)}
    if evidence:
        text = json.dumps(to_jsonable(evidence), separators=(",", ":"), default=str)
        lines.append("evidence: " + (text if len(text) <= limit else text[: limit - 3] + "..."))
    return "\n".join(lines)


def around_failure(execution: Execution, focus: int | None,
                   now: Observation) -> list[tuple[str, Observation]]:
    """The views just before and just after the failed step, labelled, for a vision model.
    ``focus`` indexes ``execution.calls`` (None: the run as a whole failed). Before: the last
    checkpoint taken before the failed call, else the view the run started from
    (``execution.start``); after: the first checkpoint taken after it, else ``now``."""
    views = [c for c in execution.checkpoints if c.observation is not None]
    if focus is None:
        earlier, later = [], views
    else:
        earlier = [c for c in views if c.after_call <= focus]
        later = [c for c in views if c.after_call > focus]
    step = f"call #{focus}" if focus is not None else "the run"
    labelled: list[tuple[str, Observation]] = []
    if earlier:
        labelled.append((f"BEFORE the failed step ({step}): checkpoint {earlier[-1].label!r}", earlier[-1].observation))
    elif execution.start is not None:
        labelled.append((f"BEFORE the failed step ({step}): the world when the program started", execution.start))
    if later:
        labelled.append((f"AFTER the failed step ({step}): checkpoint {later[0].label!r}", later[0].observation))
    else:
        labelled.append((f"AFTER the failed step ({step}): the world now", now))
    return labelled


def _advice(verdict: Verdict, execution: Execution) -> str:
    if verdict.category in WORLD_FAULTS:
        return ADVICE_WORLD
    if verdict.category in PROGRAM_FAULTS:
        return ADVICE_PROGRAM
    return ADVICE_STEP if execution.error or verdict.failed_call is not None else ADVICE_RESULT


def _all_present(subgoal: Subgoal, observation: Observation) -> list[str]:
    """The things the subgoal's conditions name, when every one of them is perceived now (else
    ``[]``: something may be missing, or this world has no named objects, e.g. a screen)."""
    named = list(dict.fromkeys(a for c in subgoal.conditions for a in c.args))
    seen = {o.name for o in observation.objects}
    return named if named and seen and all(n in seen for n in named) else []


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _step_line(step: str) -> str:
    return f"Planned step: {step}\n" if step else ""


def _is_image(value: object) -> bool:
    return hasattr(value, "shape") and getattr(value, "ndim", 0) >= 2


def _normalised(source: str) -> str:
    try:
        return ast.dump(ast.parse(source))
    except SyntaxError:
        return source.strip()


class _Coder:
    def __init__(self, model: ChatModel, kit: DomainKit, *, max_parse_retries: int, max_tokens: int,
                 temperature: float, images: bool, image_max_side: int, prompts_dir: str | Path | None) -> None:
        self.model = model
        self.kit = kit
        self.sampling = Sampling(max_tokens, temperature, max_parse_retries)
        self.images = images
        self.image_max_side = image_max_side
        self.prompts = PromptLibrary(PROMPTS_DIR, prompts_dir)
        self.exchanges: list[Exchange] = []  # of the most recent call, for the trace

    def _messages(self, api: PrimitiveSet, prompt: str, observation: Observation,
                  parts: list[Any] | None = None) -> list[Message]:
        """The kit's notes, the API, the rules and the kit's example programs as chat turns, then
        ``prompt``. Everything before ``prompt`` is the same for every write and repair of a
        domain, so an engine with a prefix cache evaluates it once. ``parts``: what goes before
        ``prompt`` in the last turn instead of the current images (with ``images``)."""
        steps = self.kit.action_notes()
        system = Message.system(self.prompts.fill(
            "code_system", notes=self.kit.notes(), api=help_text(api, brief=True),
            steps=f"{STEPS_INTRO}\n{steps}\n\n" if steps else ""))
        shots: list[Message] = []
        for example in self.kit.programs():
            shots += [Message.user(f"Subgoal: {example.subgoal}\n{_step_line(example.step)}".rstrip()),
                      Message.assistant(f"```python\n{example.code}\n```")]
        if parts is None:
            parts = rgb_images(observation, self.image_max_side) if self.images else []
        return [system, *shots, Message.user(*parts, prompt)]


class LLMWriter(_Coder):
    """Writer backend ``llm``. Raises :class:`planners.llm.errors.ProgramOutputError` (a
    ``WritingError`` and a ``PlanningError``) when the model gives no runnable program within
    ``max_parse_retries`` feedback rounds."""

    def __init__(self, model: ChatModel, kit: DomainKit, *, max_parse_retries: int = 2, max_tokens: int = 768,
                 temperature: float = 0.0, images: bool = False, image_max_side: int = 512,
                 prompts_dir: str | Path | None = None, library: str | Path | bool | None = None,
                 library_k: int = 2, reuse_verified: bool = True) -> None:
        super().__init__(model, kit, max_parse_retries=max_parse_retries, max_tokens=max_tokens,
                         temperature=temperature,
                         images=images, image_max_side=image_max_side, prompts_dir=prompts_dir)
        # library: a directory of the skill library (True: the default one under the cache)
        self.library = None if library in (None, False) else SkillLibrary(None if library is True else library)
        self.library_k = library_k
        self.reuse_verified = reuse_verified  # a verified program of the same subgoal runs without a model call
        self._reused: set[tuple[str, str]] = set()
        self.retrieved: list[Skill] = []  # of the most recent write, for the trace
        self.plan: PlanView | None = None  # the plan as the agent last showed it (see_plan)

    def see_plan(self, view: PlanView) -> None:
        """The agent shows the whole plan before each write; the prompt then gives the
        instruction and one line per subgoal, the one being written marked."""
        self.plan = view

    def learn(self, domain: str, run: Any, observation: Observation) -> dict[str, Any] | None:
        """Store a closed-loop run's attempts in the skill library (verified or failed, by their
        monitor verdicts); None without a library. ``run`` is the agent's ``AgentRun``."""
        if self.library is None:
            return None
        stored = record_run(self.library, domain, run.outcomes, run.attempts, render.scene(observation))
        return {"count": stored, "library": str(self.library.path)}

    def write(self, subgoal: Subgoal, api: PrimitiveSet, observation: Observation) -> Policy:
        self.exchanges = []
        line = render.subgoal_line(subgoal)
        candidates = (self.library.nearest(line, api.domain, self.library_k + REBIND_EXTRA, action=subgoal.action)
                      if self.library else [])
        self.retrieved = candidates[:self.library_k]
        reused = self._reuse(line, api)
        if reused is None:
            reused = self._rebind(subgoal, line, candidates, api, observation)
        if reused is not None:
            return reused
        examples = "".join(f"A verified program for the similar subgoal {s.subgoal!r}:\n```python\n{s.code}\n```\n\n"
                           for s in self.retrieved)
        # the plan only when it is the one this subgoal belongs to (a writer used on its own has none)
        plan = f"{render.plan_view(self.plan)}\n\n" if self.plan is not None and self.plan.current is subgoal else ""
        prompt = self.prompts.fill("write", subgoal=line, step=_step_line(step_text(subgoal, self.kit.actions)),
                                   conditions=render.conditions(subgoal),
                                   scene=compact_scene(observation), examples=examples, plan=plan)
        if self.retrieved:
            self.model.report(task="library", retrieved=[{"subgoal": s.subgoal, "similarity": round(s.similarity, 3)}
                                                         for s in self.retrieved])
        source = ask(self.model, self._messages(api, prompt, observation), program_parser(api), task="program",
                     sampling=self.sampling, prompts=self.prompts, reminder=CODE_REMINDER, log=self.exchanges,
                     error=ProgramOutputError)
        return Policy(source=source, version=0, origin="llm")

    def _reuse(self, line: str, api: PrimitiveSet) -> Policy | None:
        """A verified program of the very same subgoal (same text, same domain), run as it is
        with no model call; it must still pass the checks a model's answer passes."""
        if not self.reuse_verified or not self.retrieved or self.retrieved[0].subgoal != line:
            return None
        source = self._unseen_program(line, self.retrieved[0].code, api)
        if source is None:
            return None
        self.model.report(task="library", reused={"subgoal": line,
                                                  "similarity": round(self.retrieved[0].similarity, 3)})
        return Policy(source=source, version=0, origin="library")

    def _rebind(self, subgoal: Subgoal, line: str, candidates: list[Skill], api: PrimitiveSet,
                observation: Observation) -> Policy | None:
        """The nearest verified program of another subgoal of the same typed action, rewritten for
        this subgoal's arguments (:func:`planners.llm.binding.rebind`) and run with no model call,
        under the same guards as :meth:`_reuse`."""
        if not self.reuse_verified or not subgoal.action or subgoal.action not in self.kit.actions:
            return None
        shown = model_fields(self.kit.actions.get(subgoal.action))
        perceived = {o.name for o in observation.objects} | {t for e in observation.elements
                                                             for t in (e.text, e.id) if t}
        for skill in candidates:
            if skill.action != subgoal.action or not skill.args:
                continue
            code = rebind(skill.code, skill.args, subgoal.args, shown=shown, perceived=perceived)
            source = None if code is None else self._unseen_program(line, code, api)
            if source is None:
                continue
            self.model.report(task="library", rebound={"subgoal": line, "from": skill.subgoal,
                                                       "similarity": round(skill.similarity, 3)})
            return Policy(source=source, version=0, origin="library-rebound")
        return None

    def _unseen_program(self, line: str, code: str, api: PrimitiveSet) -> str | None:
        """``code`` as a program to run with no model call, or None: once per subgoal and run, and
        never a program that has also failed (a program verified in one scene may hold that
        scene's coordinates; if it fails here, the model writes anew), and only one that passes
        the checks a model's answer passes."""
        if (line, code) in self._reused or (self.library is not None and self.library.has_failed(code, api.domain)):
            return None
        self._reused.add((line, code))
        try:
            return program_parser(api)(f"```python\n{code}\n```")
        except OutputRejected:
            return None


class LLMRepairer(_Coder):
    """Repairer backend ``llm``: sends the failing code with line numbers, the calls around the
    failed step and the verdict (with ``images``: each camera's view before and after the failed
    step, labelled, instead of the current view only); returns the next policy version, or None when the model answers
    ``GIVE UP``. Raises ``ProgramOutputError`` when no answer is usable within the retry budget."""

    def __init__(self, model: ChatModel, kit: DomainKit, *, max_parse_retries: int = 2, max_tokens: int = 768,
                 temperature: float = 0.0, images: bool = False, image_max_side: int = 512,
                 prompts_dir: str | Path | None = None, world_retries: int = 1) -> None:
        super().__init__(model, kit, max_parse_retries=max_parse_retries, max_tokens=max_tokens,
                         temperature=temperature,
                         images=images, image_max_side=image_max_side, prompts_dir=prompts_dir)
        # after a fault of the world (a slip, a missed grasp) the program was not at fault: it
        # runs again as it is, this many times per program, before the model is asked (a 1.5B
        # asked then spent its whole answer saying the program needs no change)
        self.world_retries = world_retries
        self._retried: dict[tuple[int | None, str], int] = {}

    def _views(self, execution: Execution, focus: int | None, observation: Observation) -> list[Any]:
        """With ``images``: each camera's view before and after the failed step, each image
        after a text label saying which it is (see :func:`around_failure`); else nothing."""
        parts: list[Any] = []
        if self.images:
            for label, seen in around_failure(execution, focus, observation):
                for name, image in rgb_views(seen, self.image_max_side):
                    parts += [f"{label}, {name}:", image]
        return parts

    def repair(self, subgoal: Subgoal, policy: Policy, execution: Execution, verdict: Verdict,
               observation: Observation, api: PrimitiveSet) -> Policy | None:
        self.exchanges = []
        if verdict.category in NO_PROGRAM_REPAIR:
            return None
        key = (policy.subgoal_index, _normalised(policy.source))
        if verdict.category in WORLD_FAULTS and self._retried.get(key, 0) < self.world_retries:
            self._retried[key] = self._retried.get(key, 0) + 1
            return Policy(source=policy.source, subgoal_index=policy.subgoal_index, version=policy.version + 1,
                          origin="llm-retry", parent_version=policy.version)
        focus = verdict.failed_call
        if focus is None:
            focus = next((c.index for c in execution.calls if not c.ok), None)
        # after a fault of the world (a slip, a missed grasp) the same
        # steps from where things are now are a fair repair, and giving up is not offered
        retry_ok = verdict.category in WORLD_FAULTS
        may_give_up = not retry_ok and verdict.category not in PROGRAM_FAULTS
        prompt = self.prompts.fill("repair", subgoal=render.subgoal_line(subgoal),
                                   step=_step_line(step_text(subgoal, self.kit.actions)),
                                   conditions=render.conditions(subgoal), code=render.code(policy.source),
                                   trace=render.trace(execution, focus), verdict=repair_evidence(policy, execution,
                                                                                                 verdict),
                                   scene=compact_scene(observation), give_up=GIVE_UP_OFFER if may_give_up else "",
                                   advice=_advice(verdict, execution))
        program = program_parser(api, previous=None if retry_ok else policy.source)

        # a wrong place with every object in sight: another spot can always be tried
        present = _all_present(subgoal, observation) if verdict.category is FailureCategory.WRONG_PLACE else []

        def parse(text: str) -> str | None:
            if not gives_up(text):
                return program(text)
            if may_give_up and not present:
                return None
            if may_give_up:  # the offer's own condition does not hold: nothing it needs is missing
                raise OutputRejected(f"giving up is only for a subgoal whose objects do not exist, and "
                                     f"{', '.join(present)} are all in the scene: change the step that failed")
            raise OutputRejected(f"giving up is not an option after {_a(verdict.category)} failure: the program "
                                 "can be written differently (or, after a slip, run again from where things are)")

        source = ask(self.model, self._messages(api, prompt, observation, self._views(execution, focus, observation)),
                     parse, task="repair", sampling=self.sampling, prompts=self.prompts,
                     reminder=CODE_REMINDER + (" Or answer GIVE UP." if may_give_up else ""),
                     log=self.exchanges, error=ProgramOutputError)
        if source is None:
            return None
        return Policy(source=source, subgoal_index=policy.subgoal_index, version=policy.version + 1,
                      origin="llm-repair", parent_version=policy.version)
