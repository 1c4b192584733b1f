"""Reading model answers: code blocks, JSON anywhere in prose, numbered-list plans.

Models wrap answers in fences, add prose before and after, leave trailing commas, or stop
mid-block at the token limit. These functions take what can be used and raise
:class:`OutputRejected` with a message for the model when nothing can.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from embodied.geometry import PREDICATES
from embodied.models.text import fenced_blocks, find_json, json_objects
from planners.llm.errors import OutputRejected

_LIST_ITEM = re.compile(r"^\s*(?:(?:step|subgoal)\s*)?(?:\d+\s*[.):]|[-*•])\s+(.+?)\s*$", re.IGNORECASE)
_CONDITION_LABEL = re.compile(r"[\s,;:–—-]*[\[(]?\s*(?:condition|success|check|done when)?\s*:?\s*[\])]?\s*$",
                              re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Code


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


def extract_code(text: str) -> str:
    """The Python program in a model's answer.

    Preference: the first ```python block that parses, else the first python block; else the
    first untagged block; else the answer itself when it parses as Python, or its longest run
    of lines that parses once leading and trailing prose lines are dropped."""
    blocks = fenced_blocks(text)
    python = [body for lang, body in blocks if lang in ("python", "py", "python3")]
    untagged = [body for lang, body in blocks if lang == ""]
    for body in python:
        if _parses(body):
            return body.strip("\n")
    if python:
        return python[0].strip("\n")
    if untagged:
        return untagged[0].strip("\n")
    if blocks:  # only blocks tagged with another language: not code we can run
        raise OutputRejected(f"found a ```{blocks[0][0]} block but no Python: put the program in one ```python block")
    stripped = text.strip()
    if stripped and _parses(stripped) and _has_code(stripped):
        return stripped
    lines = stripped.splitlines()
    for start in range(len(lines)):
        for end in range(len(lines), start, -1):
            chunk = "\n".join(lines[start:end])
            if _has_code(chunk) and _parses(chunk):
                return chunk
    raise OutputRejected("found no Python code in the answer: put the whole program in one ```python block")


def _has_code(source: str) -> bool:
    """Prose like ``Done`` parses as a bare name; a program has at least one call or assignment."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, ast.Call | ast.Assign | ast.For | ast.While | ast.If | ast.FunctionDef)
               for n in ast.walk(tree))


def numbered(source: str, start: int = 1) -> str:
    """Source with line numbers, as error messages and tracebacks refer to them."""
    lines = source.splitlines() or [""]
    width = len(str(start + len(lines) - 1))
    return "\n".join(f"{i:>{width}} | {line}" for i, line in enumerate(lines, start))


# ---------------------------------------------------------------------------------------------
# Plans


@dataclass
class PlannedStep:
    """A subgoal as the model wrote it, before its conditions are parsed."""

    description: str
    conditions: list[str] = field(default_factory=list)
    action: str = ""
    args: dict[str, Any] = field(default_factory=dict)


_DESCRIPTION_KEYS = ("description", "subgoal", "step", "goal", "task", "name", "action_description")
_CONDITION_KEYS = ("condition", "conditions", "success", "success_condition", "check", "predicate")
_LIST_KEYS = ("subgoals", "plan", "steps", "remaining", "remaining_plan")


def parse_plan(text: str, *, allow_empty: bool = False, predicates: Sequence[str] = PREDICATES) -> list[PlannedStep]:
    """Subgoals from JSON (``{"subgoals": [...]}``, a bare list, items as strings or objects)
    or, failing that, from a numbered or bulleted list. ``allow_empty``: an explicit empty list
    (``{"subgoals": []}``) is a valid answer, meaning nothing is left to do. ``predicates``: the
    domain's predicate names, found as conditions in free-text steps."""
    calls = re.compile(r"(?:\bnot\s+)?\b(" + "|".join(map(re.escape, predicates)) + r")\([^()]*\)", re.IGNORECASE)
    data = find_json(text)
    if data is None and allow_empty and re.search(r'"(?:subgoals|plan|steps)"\s*:\s*\[\s*\]', text):
        return []
    if isinstance(data, dict) and not any(k in data for k in _LIST_KEYS):
        # a lone step object: the list around it may have been cut off at the token limit
        loose = [o for o in json_objects(text) if any(k in o for k in _DESCRIPTION_KEYS + _CONDITION_KEYS)]
        if len(loose) > 1:
            data = loose
    if data is not None:
        items = _plan_items(data)
        if items is not None:
            steps = [s for s in (_step(item, calls) for item in items) if s is not None]
            if steps or (allow_empty and not items):
                return steps
    steps = _list_steps(text, calls)
    if steps:
        return steps
    raise OutputRejected('found no plan in the answer: reply with JSON like {"subgoals": [{"description": '
                         '"...", "condition": "..."}]}')


def _plan_items(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in _LIST_KEYS:
            if isinstance(data.get(key), list):
                return data[key]
        if any(k in data for k in _DESCRIPTION_KEYS):
            return [data]
    return None


def _step(item: Any, calls: re.Pattern[str]) -> PlannedStep | None:
    if isinstance(item, str):
        return _text_step(item, calls) if item.strip() else None
    if not isinstance(item, dict):
        return None
    description = next((str(item[k]).strip() for k in _DESCRIPTION_KEYS if isinstance(item.get(k), str)
                        and item[k].strip()), "")
    conditions: list[str] = []
    for key in _CONDITION_KEYS:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            conditions.append(value.strip())
        elif isinstance(value, list):
            conditions.extend(str(v).strip() for v in value if isinstance(v, str) and v.strip())
    if not description:
        if not conditions:
            return None
        description = conditions[0]
    action = item.get("action") if isinstance(item.get("action"), str) else ""
    args = item.get("args") if isinstance(item.get("args"), dict) else {}
    return PlannedStep(description, conditions, action, args)


def _text_step(text: str, calls: re.Pattern[str]) -> PlannedStep:
    """``put the red block on the blue block -- on(red block, blue block)`` -> description +
    the predicate calls found in it."""
    conditions = [m.group(0).strip() for m in calls.finditer(text)]
    description = text
    for cond in conditions:
        description = description.replace(cond, " ")
    description = _CONDITION_LABEL.sub("", " ".join(description.split())).strip(" -–—:;,[]()")
    return PlannedStep(description or text.strip(), conditions)


def _list_steps(text: str, calls: re.Pattern[str]) -> list[PlannedStep]:
    steps = []
    for line in text.splitlines():
        m = _LIST_ITEM.match(line)
        if m:
            steps.append(_text_step(m.group(1).strip("*` "), calls))
    return steps


GIVE_UP = "GIVE UP"


def gives_up(text: str) -> bool:
    """The model declined: ``GIVE UP`` as the first line of the answer, or of its only code block
    (small models wrap everything in a code block, as ``# GIVE UP``)."""
    lines = [line.strip().strip("*`.#").strip().upper() for line in text.strip().splitlines()]
    lines = [line for line in lines if line and line != "PYTHON"]
    return bool(lines) and lines[0] == GIVE_UP
