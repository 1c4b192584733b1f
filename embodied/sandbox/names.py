"""The names a policy may use and the names it may not: one list each, read by the static check,
the runner's namespace and ``help()``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from embodied.errors import PrimitiveError
from embodied.primitives import PrimitiveSet

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


def _builtin_names(primitives: PrimitiveSet) -> list[str]:
    return [*SAFE_BUILTINS, *(e.__name__ for e in SAFE_EXCEPTIONS), *_primitive_error_classes(primitives),
            "True", "False", "None"]


def _primitive_error_classes(primitives: PrimitiveSet) -> dict[str, type[PrimitiveError]]:
    """``PrimitiveError`` and the errors the primitive set declares, so a policy can write
    ``except ObjectNotFound:`` as well as ``except PrimitiveError:``. Only what the world declares:
    what a policy sees never depends on what else happens to be imported."""
    return {PrimitiveError.__name__: PrimitiveError, **{e.__name__: e for e in primitives.errors}}


def _math_namespace() -> Any:
    """A read-only ``math``: a frozen dataclass instance holding only the safe functions."""
    cls = dataclasses.make_dataclass("math", [(n, Any) for n in MATH_NAMES], frozen=True, slots=True)
    return cls(*(getattr(math, n) for n in MATH_NAMES))


_MATH = _math_namespace()  # immutable, so one instance serves every run


def help_text(primitives: PrimitiveSet, brief: bool = False) -> str:
    """What ``help()`` prints: the primitive API, then the rest of what a policy may use.
    ``brief``: one line per primitive and no builtins list, for model prompts."""
    errors = sorted(_primitive_error_classes(primitives))
    if brief:
        return "\n".join([
            primitives.spec(brief=True),
            "checkpoint(label: str) -> None  # Record the world here for the monitors.",
            "Exceptions a primitive may raise: " + ", ".join(errors),
        ])
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
