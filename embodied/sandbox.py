"""Run a code policy: refuse unsafe constructs before running, then execute it under budgets.

A policy is Python written by a model or a template. It may call the primitives of its
environment, ``checkpoint(label)``, ``help()``, ``print`` and a short list of safe builtins
(``SAFE_BUILTINS``, a read-only ``math``). How the sandbox holds it:

1. **Static check** (:func:`check`): the AST is refused, with the line and the construct, for
   imports, names starting with ``__``, attributes starting with ``_`` or leading to frames and
   code objects (``gi_frame``, ``f_globals``, ``tb_frame``, ``mro`` ...), unsafe builtins (``eval``,
   ``getattr``, ``type`` ...), ``global``/``nonlocal``, classes, ``with``, generators and async
   code, bare ``except:`` (it would swallow Ctrl-C), and names that exist nowhere.
2. **Instrumentation** (AST rewrite, not ``sys.settrace``): a step call before every statement and
   in every comprehension iteration, a depth probe at every function/lambda entry, and guarded
   versions of ``* ** << + %``, ``str.format``/``join``/``ljust``/``replace``..., star-unpacking
   and f-strings. Primitives are plain Python functions run at full speed: no tracer is ever set,
   so the simulator pays nothing (see ``benchmarks/sandbox_overhead.py``).
3. **Run time**: a step budget and a wall-clock timeout (TIMEOUT), a call-depth cap, a memory
   budget on resident memory that the policy itself added (primitives' and checkpoints' growth is
   not charged). Budget stops are a ``BaseException`` the policy cannot name or catch, and they are
   sticky: once a budget is spent, every later policy statement raises again, so ``finally`` or
   handlers cannot keep running.

Size caps raise :class:`SizeLimitError` *before* allocating: sequences (``str``/``bytes``/
``list``/``tuple``) longer than ``max_len`` from ``*``, ``+``, ``join``, padding, ``replace``,
``translate``, ``extend``, star-unpacking; ints beyond ``max_int_digits`` from ``*``, ``**``,
``<<``, ``int.to_bytes``, ``round``; ``range`` longer than ``max_range``; text conversion
(``str()``, ``print``, f-strings, ``%``, ``format``) of containers that would render to more than
``max_len`` characters; ``sum`` only with a numeric start. Anything else that grows memory step by
step (``append`` in a loop, slice assignment, ``list(...)`` copies) is bounded by the step budget
and the memory budget. Not guarded: a single C-level call that runs long without returning
(comparing two huge nested lists, ``map(str, ...)`` over a gigantic shared-reference structure,
methods of rich objects a primitive returns, e.g. ``ndarray.repeat``); an in-process sandbox cannot
interrupt those. Primitives should return plain data.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import difflib
import enum
import itertools
import math
import operator
import os
import re
import reprlib
import string
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from embodied.errors import EpisodeAborted, PrimitiveError
from embodied.primitives import PrimitiveSet
from embodied.types import Checkpoint, Execution, ExecutionStatus, FailureCategory, Observation, PrimitiveCall

POLICY_FILENAME = "<policy>"
"""``co_filename`` of policy code: how tracebacks and frames are attributed to the policy."""

MAX_SOURCE_CHARS = 200_000

SAFE_BUILTINS: tuple[str, ...] = (
    "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float", "frozenset",
    "int", "isinstance", "len", "list", "map", "max", "min", "next", "ord", "range", "reversed", "round",
    "set", "sorted", "str", "sum", "tuple", "zip",
)
SAFE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    Exception, ArithmeticError, AssertionError, AttributeError, IndexError, KeyError, LookupError,
    NameError, NotImplementedError, OverflowError, RuntimeError, StopIteration, TimeoutError, TypeError,
    ValueError, ZeroDivisionError,
)
MATH_NAMES: tuple[str, ...] = (
    "pi", "e", "tau", "inf", "nan", "sqrt", "hypot", "dist", "sin", "cos", "tan", "asin", "acos", "atan",
    "atan2", "sinh", "cosh", "tanh", "degrees", "radians", "exp", "log", "log2", "log10", "pow", "floor",
    "ceil", "trunc", "fabs", "fmod", "copysign", "remainder", "modf", "isclose", "isfinite", "isinf", "isnan",
    "fsum", "gcd", "isqrt",
)  # not factorial/comb/perm/prod/lcm: each can build a huge int in one C call

FORBIDDEN_NAMES = frozenset({
    "exec", "eval", "compile", "open", "globals", "locals", "vars", "dir", "getattr", "setattr", "delattr",
    "hasattr", "breakpoint", "input", "memoryview", "type", "object", "super", "classmethod", "staticmethod",
    "property", "exit", "quit", "iter", "aiter", "anext", "BaseException", "KeyboardInterrupt",
    "SystemExit", "GeneratorExit",
})
# Attributes without a leading underscore that still reach frames, code objects, class internals or
# files: generator/coroutine/traceback attributes by prefix, frame and code attributes by name, and
# numpy's file and pointer access (primitives may return arrays).
FRAME_ATTR_PREFIXES = ("gi_", "cr_", "ag_", "tb_")
FORBIDDEN_ATTRS = frozenset({
    "f_back", "f_builtins", "f_code", "f_globals", "f_lasti", "f_lineno", "f_locals", "f_trace", "f_trace_lines",
    "f_trace_opcodes", "co_code", "co_consts", "co_names", "co_varnames", "co_filename", "co_lines",
    "co_positions", "mro", "tofile", "dump", "ctypes",
})
RESERVED_NAMES = ("checkpoint", "help", "print", "math")


# ---------------------------------------------------------------------------------------------
# Errors the policy sees (catchable) and the sandbox's own stop signals (not catchable)


class SizeLimitError(Exception):
    """An operation in a policy would build a value beyond a sandbox size cap; refused before
    allocating anything."""


class ForbiddenOperation(Exception):
    """A policy tried, at run time, something the static check cannot see (e.g. attribute access
    inside a ``str.format`` field)."""


class _PolicyStop(BaseException):
    """Ends the policy: budget, timeout, depth or memory. A ``BaseException`` the policy has no
    name for, so ``except Exception`` cannot swallow it."""

    def __init__(self, status: ExecutionStatus, category: FailureCategory, error_type: str, message: str,
                 line: int | None) -> None:
        super().__init__(message)
        self.status, self.category, self.error_type, self.message, self.line = (
            status, category, error_type, message, line)


class _FrameworkAbort(BaseException):
    """Carries a framework error (environment gone, checkpoint callback failed) past the policy's
    handlers; ``Sandbox.run`` re-raises the original."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(repr(original))
        self.original = original


# ---------------------------------------------------------------------------------------------
# Static check


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


def _builtin_names() -> list[str]:
    return [*SAFE_BUILTINS, *(e.__name__ for e in SAFE_EXCEPTIONS), *_primitive_error_classes(),
            "True", "False", "None"]


def _primitive_error_classes() -> dict[str, type[PrimitiveError]]:
    """``PrimitiveError`` and every loaded subclass whose name is unambiguous, so a policy can
    write ``except ObjectNotFound:`` as well as ``except PrimitiveError:``."""
    found: dict[str, list[type[PrimitiveError]]] = {}
    todo: list[type[PrimitiveError]] = [PrimitiveError]
    while todo:
        cls = todo.pop()
        if cls not in found.get(cls.__name__, []):
            found.setdefault(cls.__name__, []).append(cls)
            todo.extend(cls.__subclasses__())
    return {name: classes[0] for name, classes in found.items() if len(classes) == 1 and not name.startswith("_")}


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
        self.known = None if primitives is None else set(_builtin_names()) | self.primitives | set(RESERVED_NAMES)
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


# ---------------------------------------------------------------------------------------------
# Instrumentation

_STEP, _ENTER, _ATTR, _STAR, _FMT, _FORMAT, _STR, _SLICE = (
    "__sb_step", "__sb_enter", "__sb_attr", "__sb_star", "__sb_fmt", "__sb_format", "__sb_str", "__sb_slice")
_BINARY = {ast.Mult: "__sb_mul", ast.Pow: "__sb_pow", ast.LShift: "__sb_lshift", ast.Add: "__sb_add",
           ast.Mod: "__sb_mod"}
_INPLACE = {ast.Mult: "__sb_imul", ast.Pow: "__sb_ipow", ast.LShift: "__sb_ilshift", ast.Add: "__sb_iadd",
            ast.Mod: "__sb_imod"}
GUARDED_METHODS = frozenset({"format", "format_map", "join", "ljust", "rjust", "center", "zfill", "expandtabs",
                             "replace", "translate", "extend", "to_bytes"})


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


class _Instrumenter(ast.NodeTransformer):
    """Rewrites a checked tree: step calls, depth probes and guarded operations (see module doc).
    Original nodes keep their line numbers, so tracebacks point at the policy's own lines."""

    def __init__(self) -> None:
        self.temps = 0

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                setattr(node, field, self._with_steps(stmts))
        return node

    def _with_steps(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            out.append(ast.copy_location(ast.Expr(_call(_STEP, ast.Constant(stmt.lineno))), stmt))
            out.append(stmt)
        return out

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.body.insert(0, ast.copy_location(ast.Expr(_call(_ENTER, ast.Constant(node.lineno))), node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.generic_visit(node)
        probe = _call(_ENTER, ast.Constant(node.lineno))
        node.body = ast.copy_location(ast.BoolOp(op=ast.Or(), values=[probe, node.body]), node.body)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        node.ifs.insert(0, _call(_STEP, ast.Constant(getattr(node.iter, "lineno", 0))))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        helper = _BINARY.get(type(node.op))
        return ast.copy_location(_call(helper, node.left, node.right), node) if helper else node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST | list[ast.stmt]:
        self.generic_visit(node)
        helper = _INPLACE.get(type(node.op))
        if helper is None:
            return node
        target = node.target
        prelude: list[ast.stmt] = []
        if isinstance(target, ast.Name):
            load: ast.expr = ast.Name(id=target.id, ctx=ast.Load())
            store: ast.expr = ast.Name(id=target.id, ctx=ast.Store())
        elif isinstance(target, ast.Attribute):
            obj = self._temp(target.value, prelude)
            load = ast.Attribute(value=ast.Name(id=obj, ctx=ast.Load()), attr=target.attr, ctx=ast.Load())
            store = ast.Attribute(value=ast.Name(id=obj, ctx=ast.Load()), attr=target.attr, ctx=ast.Store())
        else:  # Subscript: evaluate container and index once, as Python does
            obj = self._temp(target.value, prelude)
            index = target.slice
            if isinstance(index, ast.Slice):  # `a[i:j] += ...`: a slice object, built once
                parts = [p if p is not None else ast.Constant(None) for p in (index.lower, index.upper, index.step)]
                index = _call(_SLICE, *parts)
            key = self._temp(index, prelude)
            load = ast.Subscript(value=ast.Name(id=obj, ctx=ast.Load()), slice=ast.Name(id=key, ctx=ast.Load()),
                                 ctx=ast.Load())
            store = ast.Subscript(value=ast.Name(id=obj, ctx=ast.Load()), slice=ast.Name(id=key, ctx=ast.Load()),
                                  ctx=ast.Store())
        assign = ast.Assign(targets=[store], value=_call(helper, load, node.value))
        return [ast.copy_location(s, node) for s in [*prelude, assign]]

    def _temp(self, value: ast.expr, prelude: list[ast.stmt]) -> str:
        self.temps += 1
        name = f"__sb_t{self.temps}"
        prelude.append(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value))
        return name

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load) and node.attr in GUARDED_METHODS:
            return ast.copy_location(_call(_ATTR, node.value, ast.Constant(node.attr)), node)
        return node

    def visit_Starred(self, node: ast.Starred) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _call(_STAR, node.value)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        self.generic_visit(node)
        if node.format_spec is None:
            node.value = _call(_FMT, node.value)
        else:
            node.value = _call(_FORMAT, node.value, ast.Constant(node.conversion), node.format_spec)
            node.conversion, node.format_spec = -1, None
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "str":
            node.args.insert(0, node.func)
            node.func = ast.Name(id=_STR, ctx=ast.Load())
        return node


def _instrument(tree: ast.Module) -> Any:
    tree = _Instrumenter().visit(tree)
    ast.fix_missing_locations(tree)
    # dont_inherit: this module's `from __future__ import annotations` must not leak into policies
    return compile(tree, POLICY_FILENAME, "exec", dont_inherit=True)


# ---------------------------------------------------------------------------------------------
# Size guards (run time)

_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_DIGITS = re.compile(r"\d+")
_SEQUENCES = (str, bytes, bytearray, list, tuple)
_SIZED = (*_SEQUENCES, dict, set, frozenset, range)
_CONTAINERS = (list, tuple, set, frozenset, dict)
_PLAIN_SCALARS = (int, float, bool, type(None), complex)
_SCALAR_TYPES = frozenset(_PLAIN_SCALARS)


class _Guards:
    """Checked versions of the operations that can allocate without bound in one step."""

    def __init__(self, max_len: int, max_range: int, max_int_digits: int) -> None:
        self.max_len, self.max_range, self.max_int_digits = max_len, max_range, max_int_digits
        self.max_int_bits = math.ceil(max_int_digits * math.log2(10))
        self.methods: dict[str, tuple[tuple[type, ...], Callable[..., Any]]] = {
            "format": ((str,), self._format_method),
            "format_map": ((str,), self._format_map_method),
            "join": ((str, bytes, bytearray), self._join),
            "ljust": ((str, bytes, bytearray), self._pad),
            "rjust": ((str, bytes, bytearray), self._pad),
            "center": ((str, bytes, bytearray), self._pad),
            "zfill": ((str, bytes, bytearray), self._pad),
            "expandtabs": ((str, bytes, bytearray), self._expandtabs),
            "replace": ((str, bytes, bytearray), self._replace),
            "translate": ((str,), self._translate),
            "extend": ((list, bytearray), self._extend),
            "to_bytes": ((int,), self._to_bytes),
        }

    def helpers(self) -> dict[str, Any]:
        ops = {"mul": operator.mul, "pow": operator.pow, "lshift": operator.lshift, "add": operator.add,
               "mod": operator.mod, "imul": operator.imul, "ipow": operator.ipow, "ilshift": operator.ilshift,
               "iadd": operator.iadd, "imod": operator.imod}
        checks = {"mul": self._check_mul, "pow": self._check_pow, "lshift": self._check_lshift,
                  "add": self._check_add, "mod": self._check_mod}
        out: dict[str, Any] = {}
        for name, op in ops.items():
            out[f"__sb_{name}"] = _checked_op(op, checks[name.removeprefix("i")])
        out.update({_ATTR: self.attr, _STAR: self.star, _FMT: self.fmt, _FORMAT: self.format_value,
                    _STR: self.call_str, _SLICE: slice})
        return out

    # -- operators ------------------------------------------------------------------------------
    def _too_long(self, what: str, n: int) -> SizeLimitError:
        return SizeLimitError(f"{what} would have {n} items/characters; the sandbox cap is {self.max_len}")

    def _too_big(self, bits: int) -> SizeLimitError:
        digits = int(bits * math.log10(2))
        return SizeLimitError(f"result would be an integer of about {digits} digits; "
                              f"the sandbox cap is {self.max_int_digits} digits")

    def _check_mul(self, a: Any, b: Any) -> None:
        if isinstance(a, int) and isinstance(b, int):
            if a.bit_length() + b.bit_length() > self.max_int_bits:
                raise self._too_big(a.bit_length() + b.bit_length())
        elif isinstance(a, _SEQUENCES) and isinstance(b, int):
            if len(a) * b > self.max_len:
                raise self._too_long(f"{type(a).__name__} * {b}", len(a) * b)
        elif isinstance(b, _SEQUENCES) and isinstance(a, int) and len(b) * a > self.max_len:
            raise self._too_long(f"{a} * {type(b).__name__}", len(b) * a)

    def _check_pow(self, a: Any, b: Any) -> None:
        if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
            bits = (a.bit_length() - 1) * b  # lower bound of the result's size
            if bits > self.max_int_bits:
                raise self._too_big(bits)

    def _check_lshift(self, a: Any, b: Any) -> None:
        if isinstance(a, int) and isinstance(b, int) and a != 0 and a.bit_length() + b > self.max_int_bits:
            raise self._too_big(a.bit_length() + b)

    def _check_add(self, a: Any, b: Any) -> None:
        if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES) and len(a) + len(b) > self.max_len:
            raise self._too_long(f"{type(a).__name__} + {type(b).__name__}", len(a) + len(b))

    def _check_mod(self, a: Any, b: Any) -> None:
        if not isinstance(a, str | bytes):
            return
        fmt = a if isinstance(a, str) else a.decode("latin-1")
        star = False
        for m in _PRINTF_SPEC.finditer(fmt):
            for number in m.groups():
                if number == "*":
                    star = True
                elif number and int(number) > self.max_len:
                    raise self._too_long("a %-format width or precision", int(number))
        values = b if isinstance(b, tuple) else (b,)
        if star and any(isinstance(v, int) and abs(v) > self.max_len for v in values):
            raise self._too_long("a %-format `*` width", max(abs(v) for v in values if isinstance(v, int)))
        self.text_size(b)

    # -- text conversion ------------------------------------------------------------------------
    def text_size(self, value: Any) -> int:
        """A lower-bound estimate of ``len(str(value))`` that stops as soon as it passes
        ``max_len``. Shared references count every time they would be printed, so a list holding
        the same big list a million times is caught after a few visits. Containers of scalars or
        strings are sized at C speed; only containers of containers are descended into."""
        if isinstance(value, _PLAIN_SCALARS):
            return 8
        total = 0
        stack: list[Iterable[Any]] = [iter((value,))]
        while stack:
            for item in stack[-1]:
                if isinstance(item, str | bytes | bytearray):
                    total += len(item) + 2
                elif isinstance(item, _CONTAINERS):
                    parts = [item.keys(), item.values()] if isinstance(item, dict) else [item]
                    total += 2 + 3 * sum(len(p) for p in parts)
                    kinds = set().union(*(map(type, p) for p in parts))
                    if total <= self.max_len and not kinds <= _SCALAR_TYPES:
                        if kinds <= {str}:
                            total += sum(sum(map(len, p)) for p in parts)
                        else:
                            stack.append(itertools.chain.from_iterable(parts))
                            break
                else:
                    total += 3
                if total > self.max_len:
                    raise SizeLimitError(f"converting this value to text would make more than {self.max_len} "
                                         "characters; print a summary (len, a slice) instead")
            else:
                stack.pop()
        return total

    def fmt(self, value: Any) -> Any:
        if not isinstance(value, _PLAIN_SCALARS):
            self.text_size(value)
        return value

    def _check_spec(self, spec: str) -> None:
        for number in _DIGITS.findall(spec):
            if int(number) > self.max_len:
                raise self._too_long("a format width or precision", int(number))

    def format_value(self, value: Any, conversion: int, spec: str) -> str:
        """One f-string field with a format spec: conversion, checked spec, then ``format``."""
        self.fmt(value)
        if conversion == ord("s"):
            value = str(value)
        elif conversion == ord("r"):
            value = repr(value)
        elif conversion == ord("a"):
            value = ascii(value)
        self._check_spec(spec)
        return format(value, spec)

    def call_str(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if fn is str and args:
            self.fmt(args[0])
        return fn(*args, **kwargs)

    def star(self, value: Any) -> Any:
        size = len(value) if isinstance(value, _SIZED) else 0
        if size > self.max_len:
            raise self._too_long("star-unpacking", size)
        return value

    def range(self, *args: Any) -> range:
        r = range(*args)
        try:
            n = len(r)
        except OverflowError:
            n = self.max_range + 1
        if n > self.max_range:
            raise SizeLimitError(f"range() of {n if n <= 10**30 else 'astronomically many'} items; the sandbox cap "
                                 f"is {self.max_range} (loops are also bounded by the step budget)")
        return r

    def sum(self, iterable: Iterable[Any], /, start: Any = 0) -> Any:
        if not isinstance(start, int | float | complex):
            raise TypeError("sum() start must be a number in policies; flatten lists with a comprehension")
        return sum(iterable, start)

    def round(self, number: Any, ndigits: Any = None) -> Any:
        if isinstance(number, int) and isinstance(ndigits, int) and ndigits < -self.max_int_digits:
            raise self._too_big(int(-ndigits * math.log2(10)))
        return round(number) if ndigits is None else round(number, ndigits)

    # -- methods --------------------------------------------------------------------------------
    def attr(self, obj: Any, name: str) -> Any:
        """``obj.name`` for a guarded method name: the checked version on builtin receivers
        (bound, or unbound like ``str.join``), the plain attribute on anything else."""
        types, guard = self.methods[name]
        if isinstance(obj, type) and issubclass(obj, types):
            unbound = getattr(obj, name)
            return lambda receiver, *args, **kwargs: guard(
                receiver, lambda *a, **k: unbound(receiver, *a, **k), args, kwargs)
        if isinstance(obj, types):
            bound = getattr(obj, name)
            return lambda *args, **kwargs: guard(obj, bound, args, kwargs)
        return getattr(obj, name)

    def _format_checked(self, fmt: str, values: Iterable[Any], nested_values: Iterable[Any]) -> None:
        nested = False
        for _, field, spec, _ in string.Formatter().parse(fmt):
            if field:
                for part in re.findall(r"\.([^.\[]*)", field):
                    if _attr_problem(part):
                        raise ForbiddenOperation(f"format field {{{field}}} reads attribute {part!r}: "
                                                 "format fields may index but not read private attributes")
            if spec:
                nested = nested or "{" in spec
                self._check_spec(spec)
                self._format_checked(spec, (), ())
        for value in values:
            self.fmt(value)
        if nested:
            for value in nested_values:
                if (isinstance(value, int) and abs(value) > self.max_len) or (
                        isinstance(value, str) and any(int(d) > self.max_len for d in _DIGITS.findall(value))):
                    raise self._too_long("a nested format width", self.max_len + 1)

    def _format_method(self, fmt: str, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if not isinstance(fmt, str):
            return method(*args, **kwargs)
        self._format_checked(fmt, [*args, *kwargs.values()], [*args, *kwargs.values()])
        return method(*args, **kwargs)

    def _format_map_method(self, fmt: str, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        mapping = args[0] if args else None
        values = list(mapping.values()) if isinstance(mapping, dict) else []
        if isinstance(fmt, str):
            self._format_checked(fmt, values, values)
        return method(*args, **kwargs)

    def _join(self, sep: Any, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if len(args) != 1 or kwargs:
            return method(*args, **kwargs)
        items = list(args[0])
        total = sum(len(x) for x in items if isinstance(x, _SEQUENCES)) + len(sep) * max(len(items) - 1, 0)
        if total > self.max_len:
            raise self._too_long("join()", total)
        return method(items)

    def _pad(self, s: Any, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        width = args[0] if args else kwargs.get("width", 0)
        if isinstance(width, int) and width > self.max_len:
            raise self._too_long("padding", width)
        return method(*args, **kwargs)

    def _expandtabs(self, s: Any, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        size = args[0] if args else kwargs.get("tabsize", 8)
        tab = "\t" if isinstance(s, str) else b"\t"
        if isinstance(size, int) and len(s) + s.count(tab) * size > self.max_len:
            raise self._too_long("expandtabs()", len(s) + s.count(tab) * size)
        return method(*args, **kwargs)

    def _replace(self, s: Any, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if len(args) >= 2 and isinstance(args[0], _SEQUENCES) and isinstance(args[1], _SEQUENCES):
            old, new = args[0], args[1]
            if len(new) > len(old):
                n = s.count(old) if old else len(s) + 1
                if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
                    n = min(n, args[2])
                if len(s) + n * (len(new) - len(old)) > self.max_len:
                    raise self._too_long("replace()", len(s) + n * (len(new) - len(old)))
        return method(*args, **kwargs)

    def _translate(self, s: str, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        table = args[0] if args else None
        values: Iterable[Any] = table.values() if isinstance(table, dict) else table if isinstance(
            table, list | tuple) else ()
        longest = max((len(v) for v in values if isinstance(v, str)), default=1)
        if len(s) * longest > self.max_len:
            raise self._too_long("translate()", len(s) * longest)
        return method(*args, **kwargs)

    def _extend(self, seq: Any, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        other = args[0] if args else None
        if isinstance(other, _SIZED) and len(seq) + len(other) > self.max_len:
            raise self._too_long("extend()", len(seq) + len(other))
        return method(*args, **kwargs)

    def _to_bytes(self, n: int, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        length = args[0] if args else kwargs.get("length", 1)
        if isinstance(length, int) and length > self.max_len:
            raise self._too_long("int.to_bytes()", length)
        return method(*args, **kwargs)


def _checked_op(op: Callable[[Any, Any], Any], guard: Callable[[Any, Any], None]) -> Callable[[Any, Any], Any]:
    def checked(a: Any, b: Any, /) -> Any:
        if type(a) is float or type(b) is float:  # the common case in robot code: nothing to guard
            return op(a, b)
        guard(a, b)
        return op(a, b)

    return checked


# ---------------------------------------------------------------------------------------------
# Budgets (run time)


class _ResidentMemory:
    """Resident set size from ``/proc/self/statm`` (Linux); ``available`` is False elsewhere and
    the memory budget is then not enforced."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        try:
            self.fd: int | None = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            self.fd = None

    def bytes(self) -> int:
        if self.fd is None:
            return 0
        return int(os.pread(self.fd, 128, 0).split()[1]) * self.page

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Meter:
    """Steps, wall clock, call depth and memory of one run. ``step`` is on the hot path (one call
    per policy statement): it does a counter and a clock read, everything else is in ``_check``,
    which runs every ``CHECK_INTERVAL_S`` of wall time or when the step budget is spent."""

    CHECK_INTERVAL_S = 0.005

    def __init__(self, max_steps: int, timeout_s: float, max_depth: int, max_memory_bytes: int | None) -> None:
        self.max_steps, self.timeout_s, self.max_depth = max_steps, timeout_s, max_depth
        self.steps = 0
        self.step_limit = max_steps  # dropped to -1 once stopped or closed: every step then checks
        self.start = time.perf_counter()
        self.deadline = self.start + timeout_s
        self.next_check = self.start
        self.depth_probe = 1 << 30  # set by the runner once the policy's base frame is known
        self.stopped: _PolicyStop | _FrameworkAbort | None = None
        self.closed = False
        self.memory = _ResidentMemory() if max_memory_bytes is not None else None
        self.max_memory = max_memory_bytes
        self.memory_base = self.memory.bytes() if self.memory else 0
        self.memory_exempt = 0  # growth during primitives and checkpoint callbacks

    def step(self, line: int, _clock: Callable[[], float] = time.perf_counter) -> bool:
        self.steps += 1
        if self.steps > self.step_limit or _clock() >= self.next_check:
            self._check(line)
        return True

    def enter(self, line: int) -> None:
        """Entry of a policy function or lambda: a step, then the depth probe. The probe is a
        frame lookup at a fixed height: cheap, and it keeps no counter that an exception could
        leave unbalanced. Returns None so that a lambda body can be ``enter(line) or body``."""
        self.step(line)
        try:
            sys._getframe(self.depth_probe)
        except ValueError:
            return
        raise self.halt(_PolicyStop(ExecutionStatus.ERROR, FailureCategory.EXCEPTION, "RecursionError",
                                    f"policy calls nested deeper than {self.max_depth} at line {line}", line))

    def _check(self, line: int) -> None:
        if self.stopped is not None:
            raise self.stopped
        if self.closed:
            raise RuntimeError("policy code ran after its sandbox run ended")
        now = time.perf_counter()
        self.next_check = now + self.CHECK_INTERVAL_S
        if self.steps > self.max_steps:
            raise self.halt(_PolicyStop(ExecutionStatus.TIMEOUT, FailureCategory.TIMEOUT, "PolicyBudgetExceeded",
                                        f"step budget of {self.max_steps} exceeded at line {line}", line))
        if now > self.deadline:
            raise self.halt(_PolicyStop(ExecutionStatus.TIMEOUT, FailureCategory.TIMEOUT, "PolicyBudgetExceeded",
                                        f"policy timed out after {self.timeout_s:g} s at line {line}", line))
        if self.memory is not None and self.max_memory is not None:
            grown = self.memory.bytes() - self.memory_base - self.memory_exempt
            if grown > self.max_memory:
                raise self.halt(_PolicyStop(
                    ExecutionStatus.ERROR, FailureCategory.EXCEPTION, "MemoryError",
                    f"policy memory budget of {self.max_memory / 2**20:g} MB exceeded at line {line} "
                    f"(it added {grown / 2**20:.0f} MB)", line))

    def halt(self, stop: _PolicyStop | _FrameworkAbort) -> _PolicyStop | _FrameworkAbort:
        """Make ``stop`` sticky: every later policy step raises it again, so neither a handler nor
        a ``finally`` block can keep the policy going. Returns it for the caller to raise."""
        if self.stopped is None:
            self.stopped = stop
        self.step_limit = -1
        return stop

    def framework_memory(self) -> int:
        return self.memory.bytes() if self.memory is not None else 0

    def exempt_since(self, before: int) -> None:
        if self.memory is not None:
            self.memory_exempt += self.memory.bytes() - before

    def close(self) -> None:
        self.closed = True
        self.step_limit = -1
        if self.memory is not None:
            self.memory.close()


# ---------------------------------------------------------------------------------------------
# Recording


class _Plain:
    """JSON-friendly copies of arguments and results for the trace, bounded in depth and in the
    total number of items (a cyclic, huge or shared-reference value is summarised, never walked
    without end). One instance per recorded value."""

    MAX_ITEMS, MAX_DEPTH, MAX_STR = 2_000, 6, 10_000

    def __init__(self) -> None:
        self.left = self.MAX_ITEMS

    def __call__(self, value: Any, depth: int = 0) -> Any:
        try:
            return self._copy(value, depth)
        except Exception as exc:  # a value whose len/attributes raise is recorded as such, not dropped
            return f"<unrecordable {type(value).__name__}: {type(exc).__name__}>"

    def _items(self, items: Iterable[Any]) -> Iterable[Any]:
        for item in items:
            if self.left <= 0:
                return
            self.left -= 1
            yield item

    def _copy(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, enum.Enum):
            return self(value.value, depth)
        if isinstance(value, str):
            return value if len(value) <= self.MAX_STR else value[:self.MAX_STR] + "..."
        if isinstance(value, int):
            return value if value.bit_length() <= 64 else f"<int of {value.bit_length()} bits>"
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if depth >= self.MAX_DEPTH or self.left <= 0:
            return _short_repr(value)
        if isinstance(value, list | tuple | set | frozenset):
            out = [self(v, depth + 1) for v in self._items(value)]
            return [*out, "..."] if len(out) < len(value) else out
        if isinstance(value, dict):
            return {str(k): self(v, depth + 1) for k, v in self._items(value.items())}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: self(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}
        shape = getattr(value, "shape", None)
        if shape is not None and hasattr(value, "tolist") and hasattr(value, "size"):  # numpy, not imported
            if value.size <= 16:
                return self(value.tolist(), depth + 1)
            return {"ndarray": list(shape), "dtype": str(getattr(value, "dtype", ""))}
        return _short_repr(value)


def _plain(value: Any) -> Any:
    return _Plain()(value)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 200, 1000
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdict = 20


def _short_repr(value: Any) -> str:
    """``repr`` bounded in size for builtin containers (``reprlib``), cut at 1000 characters."""
    try:
        text = _REPR.repr(value)
    except Exception as exc:  # a broken __repr__ must not break the trace
        text = f"<{type(value).__name__}: repr failed: {type(exc).__name__}>"
    return text if len(text) <= 1000 else text[:1000] + "..."


def _policy_line(frame: Any) -> int | None:
    """Line of the innermost policy frame at or above ``frame``."""
    while frame is not None:
        if frame.f_code.co_filename == POLICY_FILENAME:
            return frame.f_lineno
        frame = frame.f_back
    return None


def _policy_lines(exc: BaseException) -> list[int]:
    """Policy lines in the traceback, outermost first, consecutive repeats removed."""
    lines: list[int] = []
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == POLICY_FILENAME and (not lines or lines[-1] != tb.tb_lineno):
            lines.append(tb.tb_lineno)
        tb = tb.tb_next
    return lines


def _frame_height(frame: Any) -> int:
    height = 0
    while frame is not None:
        height += 1
        frame = frame.f_back
    return height


def _message(exc: BaseException, limit: int = 2000) -> str:
    try:
        text = str(exc)
    except Exception:  # an unprintable exception still gets reported by type
        text = ""
    return text if len(text) <= limit else text[:limit] + "..."


class _Output:
    """Captured ``print`` output, cut at ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size, self.parts, self.truncated = limit, 0, [], False

    def write(self, text: str) -> None:
        if self.truncated:
            return
        room = self.limit - self.size
        if len(text) > room:
            text, self.truncated = text[:room] + "\n[output truncated]\n", True
        self.parts.append(text)
        self.size += len(text)

    def text(self) -> str:
        return "".join(self.parts)


# ---------------------------------------------------------------------------------------------
# The runner


@dataclass(frozen=True)
class SandboxLimits:
    """Budgets and caps of one policy run. Sizes are items or characters; time in seconds."""

    max_steps: int = 200_000
    timeout_s: float = 300.0
    max_depth: int = 200
    max_len: int = 10_000_000
    max_range: int = 1_000_000
    max_int_digits: int = 10_000
    max_memory_mb: float | None = 1024.0
    max_output_chars: int = 100_000

    def __post_init__(self) -> None:
        for name in ("max_steps", "max_depth", "max_len", "max_range", "max_int_digits", "max_output_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"SandboxLimits.{name} must be a positive int, got {value!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"SandboxLimits.timeout_s must be > 0, got {self.timeout_s!r}")
        if self.max_memory_mb is not None and not self.max_memory_mb > 0:
            raise ValueError(f"SandboxLimits.max_memory_mb must be > 0 or None, got {self.max_memory_mb!r}")


class Sandbox:
    """Runs code policies against a :class:`PrimitiveSet` under the budgets of :class:`SandboxLimits`.

    Holds no state between runs; runs may nest (a primitive may run another policy)."""

    def __init__(self, max_steps: int = 200_000, timeout_s: float = 300.0, **limits: Any) -> None:
        self.limits = SandboxLimits(max_steps=max_steps, timeout_s=timeout_s, **limits)

    @property
    def max_steps(self) -> int:
        return self.limits.max_steps

    @property
    def timeout_s(self) -> float:
        return self.limits.timeout_s

    def check(self, source: str, primitives: PrimitiveSet | None = None) -> list[PolicyProblem]:
        """Problems that would stop ``source`` before running (see :func:`check`)."""
        return check(source, primitives)

    def run(self, source: str, primitives: PrimitiveSet,
            checkpoint: Callable[[str], Observation | None] | None = None) -> Execution:
        """Check, instrument and run ``source``. Policy errors, refusals and budgets come back in
        the :class:`Execution`; framework errors (``EpisodeAborted`` from a primitive, an exception
        from ``checkpoint``) and ``KeyboardInterrupt`` propagate."""
        start = time.perf_counter()
        tree, problems = _parse(source)
        if tree is not None:
            problems = _Checker(primitives).run(tree)
        if tree is None or problems:
            first = problems[0]
            if first.kind == "syntax":
                where = f" (line {first.line})" if first.line is not None else ""
                return Execution(status=ExecutionStatus.SYNTAX_ERROR, error_type="SyntaxError",
                                 error=f"SyntaxError: {first.message}{where}", line=first.line,
                                 category=FailureCategory.EXCEPTION, wall_time_s=time.perf_counter() - start)
            return Execution(status=ExecutionStatus.REFUSED, error_type="PolicyRefused",
                             error="; ".join(map(str, problems)), line=first.line,
                             category=FailureCategory.EXCEPTION, wall_time_s=time.perf_counter() - start)
        try:
            code = _instrument(tree)
        except (RecursionError, SyntaxError, ValueError) as exc:  # compile limits on absurd sources
            return Execution(status=ExecutionStatus.REFUSED, error_type="PolicyRefused",
                             error=f"policy cannot be compiled: {type(exc).__name__}: {_message(exc)}",
                             category=FailureCategory.EXCEPTION, wall_time_s=time.perf_counter() - start)
        return _Run(self.limits, primitives, checkpoint).execute(code, start)


class _Run:
    """State of one execution: the policy's namespace, recorded calls, checkpoints, output."""

    def __init__(self, limits: SandboxLimits, primitives: PrimitiveSet,
                 callback: Callable[[str], Observation | None] | None) -> None:
        clash = [name for name in RESERVED_NAMES if name in primitives]
        if clash:
            raise ValueError(f"primitive names {clash} clash with sandbox builtins {RESERVED_NAMES}")
        self.limits, self.primitives, self.callback = limits, primitives, callback
        memory = None if limits.max_memory_mb is None else int(limits.max_memory_mb * 2**20)
        self.meter = _Meter(limits.max_steps, limits.timeout_s, limits.max_depth, memory)
        self.guards = _Guards(limits.max_len, limits.max_range, limits.max_int_digits)
        self.calls: list[PrimitiveCall] = []
        self.checkpoints: list[Checkpoint] = []
        self.output = _Output(limits.max_output_chars)
        self.wrappers: dict[int, str] = {}

    # -- the policy's namespace -----------------------------------------------------------------
    def namespace(self) -> dict[str, Any]:
        names: dict[str, Any] = dict(_primitive_error_classes())
        names.update({e.__name__: e for e in SAFE_EXCEPTIONS})  # a builtin name always means the builtin
        names.update({n: getattr(builtins, n) for n in SAFE_BUILTINS})
        names.update({"range": self.guards.range, "sum": self.guards.sum, "round": self.guards.round,
                      "True": True, "False": False, "None": None})
        names.update({"print": self.print, "help": self.help, "checkpoint": self.checkpoint, "math": _MATH})
        names.update(self.guards.helpers())
        names.update({_STEP: self.meter.step, _ENTER: self.meter.enter})
        for primitive in self.primitives:
            wrapper = self._wrap(primitive.name, primitive.fn)
            self.wrappers[id(wrapper)] = primitive.name
            names[primitive.name] = wrapper
        # Everything lives in __builtins__: `del print` cannot remove it, and the policy's own
        # assignments land in an otherwise empty globals dict.
        return {"__builtins__": names, "__name__": "__policy__"}

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        calls, meter, sim_time = self.calls, self.meter, self.primitives.sim_time

        def primitive(*args: Any, **kwargs: Any) -> Any:
            line = _policy_line(sys._getframe(1))
            plain = _Plain()  # one item budget for all arguments, however many are star-passed
            record = PrimitiveCall(index=len(calls), name=name, args=plain(args), kwargs=plain(kwargs), line=line)
            calls.append(record)
            memory = meter.framework_memory()
            try:
                sim0 = sim_time()
            except Exception as exc:
                raise meter.halt(_FrameworkAbort(exc)) from exc
            t0 = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                record.wall_time_s = time.perf_counter() - t0
                record.error_type, record.error = type(exc).__name__, _message(exc)
                record.category = exc.category if isinstance(exc, PrimitiveError) else FailureCategory.EXCEPTION
                meter.exempt_since(memory)
                if isinstance(exc, EpisodeAborted):
                    raise meter.halt(_FrameworkAbort(exc)) from exc
                raise
            record.wall_time_s = time.perf_counter() - t0
            try:
                record.sim_time_s = sim_time() - sim0
            except Exception as exc:
                raise meter.halt(_FrameworkAbort(exc)) from exc
            record.result = _plain(result)
            meter.exempt_since(memory)
            return result

        primitive.__name__ = primitive.__qualname__ = name
        return primitive

    def print(self, *args: Any, sep: str | None = " ", end: str | None = "\n") -> None:
        """``print`` into ``Execution.stdout`` (no ``file=``)."""
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if not isinstance(sep, str) or not isinstance(end, str):
            raise TypeError("print() sep and end must be str")
        for arg in args:
            self.guards.fmt(arg)
        self.output.write(sep.join(str(a) for a in args) + end)

    def help(self, what: Any = None) -> None:
        """Print the primitive API (or one primitive's entry) and what else policies may use."""
        name = self.wrappers.get(id(what))
        if name is not None:
            self.output.write(self.primitives[name].spec() + "\n")
            return
        self.output.write(help_text(self.primitives) + "\n")

    def checkpoint(self, label: str) -> None:
        """Record a checkpoint: the monitors judge the world as it is now."""
        if not isinstance(label, str):
            raise TypeError(f"checkpoint() label must be a str, not {type(label).__name__}")
        self._take(label, _policy_line(sys._getframe(1)))

    def _take(self, label: str, line: int | None) -> None:
        observation = None
        if self.callback is not None:
            memory = self.meter.framework_memory()
            try:
                observation = self.callback(label)
            except Exception as exc:
                raise self.meter.halt(_FrameworkAbort(exc)) from exc
            self.meter.exempt_since(memory)
        self.checkpoints.append(Checkpoint(label=label, after_call=len(self.calls), line=line,
                                           observation=observation))

    # -- running --------------------------------------------------------------------------------
    def execute(self, code: Any, start: float) -> Execution:
        execution = Execution(status=ExecutionStatus.OK)
        try:
            failure: BaseException | None = None
            try:
                self._exec(code, self.namespace())
            except (_PolicyStop, _FrameworkAbort, Exception) as exc:
                failure = exc
            finally:
                self.meter.close()
            # The first stop wins: over what a finally block raised later, and over a normal end
            # when a primitive swallowed the stop raised in a policy callback it was running.
            first = self.meter.stopped
            if isinstance(first, _FrameworkAbort):
                raise first.original from None
            if isinstance(first, _PolicyStop):
                execution.status, execution.category = first.status, first.category
                execution.error_type, execution.error, execution.line = first.error_type, first.message, first.line
            elif isinstance(failure, Exception):
                self._describe(execution, failure)
            if not self.checkpoints or self.checkpoints[-1].after_call != len(self.calls):
                label = {ExecutionStatus.OK: "end", ExecutionStatus.TIMEOUT: "timeout"}.get(execution.status, "error")
                try:
                    self._take(label, execution.line)
                except _FrameworkAbort as abort:
                    raise abort.original from None
        finally:
            execution.calls, execution.checkpoints = self.calls, self.checkpoints
            execution.stdout, execution.steps = self.output.text(), self.meter.steps
            execution.wall_time_s = time.perf_counter() - start
        return execution

    def _exec(self, code: Any, namespace: dict[str, Any]) -> None:
        # The policy's module frame sits one above this one; a function at nesting n has its probe
        # frame at height base + n + 2, so looking `base + 2 + max_depth` frames down from the
        # probe succeeds exactly when n > max_depth.
        base = _frame_height(sys._getframe())
        self.meter.depth_probe = base + 2 + self.limits.max_depth
        exec(code, namespace)

    def _describe(self, execution: Execution, exc: Exception) -> None:
        lines = _policy_lines(exc)
        execution.status = ExecutionStatus.ERROR
        execution.error_type = type(exc).__name__
        execution.category = exc.category if isinstance(exc, PrimitiveError) else FailureCategory.EXCEPTION
        execution.line = lines[-1] if lines else None
        where = ""
        if lines:
            where = f" (line {lines[-1]}"
            callers = lines[-2::-1][:3]
            where += ", called from line " + ", ".join(map(str, callers)) + ")" if callers else ")"
        text = _message(exc)
        execution.error = f"{execution.error_type}: {text}{where}" if text else f"{execution.error_type}{where}"


def _math_namespace() -> Any:
    """A read-only ``math``: a frozen dataclass instance holding only the safe functions."""
    cls = dataclasses.make_dataclass("math", [(n, Any) for n in MATH_NAMES], frozen=True, slots=True)
    return cls(*(getattr(math, n) for n in MATH_NAMES))


_MATH = _math_namespace()  # immutable, so one instance serves every run


def help_text(primitives: PrimitiveSet) -> str:
    """What ``help()`` prints: the primitive API, then the rest of what a policy may use."""
    errors = sorted(_primitive_error_classes())
    return "\n".join([
        "Primitives:",
        "",
        primitives.spec(),
        "",
        "Also available: checkpoint(label) records the world for the monitors; print(...) is captured; "
        "help(primitive) prints one entry.",
        "Builtins: " + ", ".join(SAFE_BUILTINS),
        "math: " + ", ".join(MATH_NAMES),
        "Exceptions: " + ", ".join([e.__name__ for e in SAFE_EXCEPTIONS] + errors),
        "Not available: imports, classes, with, global, generators, names starting with '_' or '__'.",
    ])
