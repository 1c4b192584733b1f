"""Static check: refuse a policy, with the line and the construct, before any of it runs."""

from __future__ import annotations

import ast
import difflib
import textwrap
from dataclasses import dataclass

from embodied.primitives import PrimitiveSet
from embodied.sandbox.errors import _message
from embodied.sandbox.names import (
    FORBIDDEN_ATTRS,
    FORBIDDEN_NAMES,
    FRAME_ATTR_PREFIXES,
    MAX_SOURCE_CHARS,
    POLICY_FILENAME,
    RESERVED_NAMES,
    _builtin_names,
)


@dataclass(frozen=True)
class PolicyProblem:
    """One reason a policy cannot run. ``kind``: ``syntax``, ``refused`` or ``unknown_name``."""

    line: int | None
    col: int
    kind: str
    construct: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "policy"
        return f"{where}: {self.message}"


def check(source: str, primitives: PrimitiveSet | None = None) -> list[PolicyProblem]:
    """Every problem that would stop ``source`` before it runs; empty when it may run. Cheap
    (parse + one AST walk): writers can validate model output before executing it. Names that
    are never bound and are not builtins are reported only when ``primitives`` is given."""
    tree, problems = _parse(source)
    if tree is None:
        return problems
    return _Checker(primitives).run(tree)


def _parse(source: str) -> tuple[ast.Module | None, list[PolicyProblem]]:
    if not isinstance(source, str):
        return None, [PolicyProblem(None, 0, "syntax", "source",
                                    f"policy source must be str, not {type(source).__name__}")]
    if len(source) > MAX_SOURCE_CHARS:
        return None, [PolicyProblem(None, 0, "refused", "source",
                                    f"policy is {len(source)} characters long; the limit is {MAX_SOURCE_CHARS}")]
    try:
        return ast.parse(textwrap.dedent(source), POLICY_FILENAME), []
    except SyntaxError as exc:
        return None, [PolicyProblem(exc.lineno, (exc.offset or 1) - 1, "syntax", "syntax", exc.msg)]
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        why = f"{type(exc).__name__}: {_message(exc) or 'too complex'}"
        return None, [PolicyProblem(None, 0, "syntax", "syntax", f"policy cannot be parsed ({why})")]


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the policy binds anywhere (scopes ignored: enough to find names bound nowhere)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound


def _attr_problem(attr: str) -> str | None:
    if attr.startswith("_"):
        return "attributes starting with '_' (private and dunder) are not available to policies"
    if attr in FORBIDDEN_ATTRS or attr.startswith(FRAME_ATTR_PREFIXES):
        return "this attribute leads to interpreter internals (frames, code, classes, files)"
    return None


class _Checker(ast.NodeVisitor):
    """Collects refusals. With ``primitives``, names bound nowhere are reported too, and a
    primitive may carry a name that is otherwise refused (a GUI's ``type`` or ``open`` action)."""

    def __init__(self, primitives: PrimitiveSet | None) -> None:
        self.primitives: set[str] = set(primitives.names()) if primitives is not None else set()
        self.known = None if primitives is None else (set(_builtin_names(primitives)) | self.primitives
                                                       | set(RESERVED_NAMES))
        self.problems: list[PolicyProblem] = []
        self.bound: set[str] = set()

    def run(self, tree: ast.Module) -> list[PolicyProblem]:
        self.bound = _bound_names(tree)
        try:
            self.visit(tree)
        except RecursionError:
            self.problems.append(PolicyProblem(None, 0, "refused", "nesting",
                                               "policy is nested too deeply (hundreds of levels)"))
        return sorted(self.problems, key=lambda p: (p.line or 0, p.col))

    def refuse(self, node: ast.AST, construct: str, why: str, kind: str = "refused") -> None:
        line = getattr(node, "lineno", None)
        message = f"{construct} is not allowed: {why}" if kind == "refused" else f"{construct} {why}"
        self.problems.append(PolicyProblem(line, getattr(node, "col_offset", 0), kind, construct, message))

    # -- constructs -----------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        names = ", ".join(a.name for a in node.names)
        self.refuse(node, f"`import {names}`" if isinstance(node, ast.Import) else f"`from {node.module} import`",
                    "policies may use only the primitives and builtins that help() lists")

    visit_ImportFrom = visit_Import

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        word = "global" if isinstance(node, ast.Global) else "nonlocal"
        self.refuse(node, f"`{word}`", "pass values in as arguments and return results")

    visit_Nonlocal = visit_Global

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.refuse(node, f"`class {node.name}`", "class bodies run metaclass and descriptor machinery that "
                    "bypasses the attribute checks; use dicts, lists or tuples")
        self.generic_visit(node)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        self.refuse(node, "`with`", "context managers run enter/exit code outside the policy's view")
        self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node: ast.AST) -> None:
        self.refuse(node, "async code", "policies are plain sequential code")
        self.generic_visit(node)

    visit_AsyncWith = visit_AsyncFor = visit_Await = visit_AsyncFunctionDef

    def visit_Yield(self, node: ast.AST) -> None:
        self.refuse(node, "`yield`", "generator functions keep suspended frames alive; build a list instead")
        self.generic_visit(node)

    visit_YieldFrom = visit_Yield

    def visit_TryStar(self, node: ast.AST) -> None:
        self.refuse(node, "`except*`", "exception groups are not available to policies")
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            self.refuse(node, "bare `except:`", "it would also swallow Ctrl-C; write `except Exception:`")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id not in self.bound and (
                    self.known is None or target.id in self.known):
                self.refuse(target, f"`del {target.id}`", "the sandbox's builtins and primitives cannot be deleted")
        self.generic_visit(node)

    # -- names and attributes ------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("__"):
            self.refuse(node, f"name `{node.id}`", "names starting with '__' are reserved")
        elif isinstance(node.ctx, ast.Load) and node.id not in self.bound:
            if node.id in FORBIDDEN_NAMES and node.id not in self.primitives:
                self.refuse(node, f"`{node.id}`", "it gives access to the interpreter beyond the primitive API")
            elif self.known is not None and node.id not in self.known:
                close = difflib.get_close_matches(node.id, sorted(self.known | self.bound), n=1)
                hint = f"; did you mean `{close[0]}`?" if close else "; help() lists what policies may call"
                self.refuse(node, f"name `{node.id}`", f"is not defined anywhere{hint}", kind="unknown_name")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        why = _attr_problem(node.attr)
        if why:
            self.refuse(node, f"attribute `.{node.attr}`", why)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name.startswith("__"):
            self.refuse(node, f"function name `{node.name}`", "names starting with '__' are reserved")
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        if node.arg.startswith("__"):
            self.refuse(node, f"argument `{node.arg}`", "names starting with '__' are reserved")
        self.generic_visit(node)
