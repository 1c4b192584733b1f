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
4. **Process isolation** (``isolation="process"``, the default; ``"inline"`` for debugging): the
   policy runs in a worker forked from the episode process (reused from policy to policy, replaced
   after a crash or limit) under OS limits: address space (memory budget + headroom), CPU time,
   16 open files, no file writes beyond its error file, no new processes (as root it runs as
   ``nobody``). Steps 1-2 run in the worker too. Primitives and checkpoints run in the episode
   process on the worker's request over a pipe (:mod:`embodied.sandbox.wire`: JSON, plain data
   only), and are recorded there. A worker that segfaults is a ``crashed`` failure of that policy,
   one that fills its address space ``memory``, one that stays in one C call past the deadline
   (kept by the episode process, not the worker) ``timeout``; the episode goes on.

Size caps raise :class:`SizeLimitError` *before* allocating: sequences (``str``/``bytes``/
``list``/``tuple``) longer than ``max_len`` from ``*``, ``+``, ``join``, padding, ``replace``,
``translate``, ``extend``, star-unpacking; ints beyond ``max_int_digits`` from ``*``, ``**``,
``<<``, ``int.to_bytes``, ``round``; ``range`` longer than ``max_range``; text conversion
(``str()``, ``print``, f-strings, ``%``, ``format``) of containers that would render to more than
``max_len`` characters; ``sum`` only with a numeric start. Anything else that grows memory step by
step (``append`` in a loop, slice assignment, ``list(...)`` copies) is bounded by the step budget
and the memory budget. A single C-level call that runs long or allocates without returning
(comparing two huge nested lists, ``any(map(a.append, a))``, hashing a value nested 190,000 deep,
methods of rich objects a primitive returns) is stopped only by process isolation; inline, nothing
interrupts it. Primitives should return plain data (what the wire carries: see
:mod:`embodied.sandbox.wire`; a dataclass arrives as a ``SimpleNamespace``).
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
