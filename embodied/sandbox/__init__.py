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

from embodied.sandbox.check import PolicyProblem, check
from embodied.sandbox.errors import ForbiddenOperation, SizeLimitError
from embodied.sandbox.instrument import GUARDED_METHODS
from embodied.sandbox.limits import SandboxLimits
from embodied.sandbox.names import (
    FORBIDDEN_ATTRS,
    FORBIDDEN_NAMES,
    FRAME_ATTR_PREFIXES,
    MATH_NAMES,
    MAX_SOURCE_CHARS,
    POLICY_FILENAME,
    RESERVED_NAMES,
    SAFE_BUILTINS,
    SAFE_EXCEPTIONS,
    help_text,
)
from embodied.sandbox.runner import ISOLATIONS, Isolation, Sandbox

__all__ = [
    "FORBIDDEN_ATTRS",
    "FORBIDDEN_NAMES",
    "FRAME_ATTR_PREFIXES",
    "GUARDED_METHODS",
    "ISOLATIONS",
    "MATH_NAMES",
    "MAX_SOURCE_CHARS",
    "POLICY_FILENAME",
    "RESERVED_NAMES",
    "SAFE_BUILTINS",
    "SAFE_EXCEPTIONS",
    "ForbiddenOperation",
    "Isolation",
    "PolicyProblem",
    "Sandbox",
    "SandboxLimits",
    "SizeLimitError",
    "check",
    "help_text",
]
