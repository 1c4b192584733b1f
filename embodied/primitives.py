"""The primitive API a code policy calls, with the prompt text generated from type hints and
docstrings. A primitive without hints or a docstring fails at registration, not at run time."""

from __future__ import annotations

import inspect
import time
import typing
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from embodied.errors import PrimitiveError


@dataclass(frozen=True)
class Primitive:
    name: str
    fn: Callable[..., Any]
    signature: inspect.Signature
    doc: str

    def spec(self, brief: bool = False) -> str:
        """One entry of the API listing: the signature, then the docstring indented (``brief``:
        its first sentence on the same line, for prompts where every token costs time)."""
        params = []
        for p in self.signature.parameters.values():
            text = f"{p.name}: {_type_name(p.annotation)}"
            if p.default is not inspect.Parameter.empty:
                text += f" = {p.default!r}"
            params.append(text)
        ret = _type_name(self.signature.return_annotation)
        head = f"{self.name}({', '.join(params)}) -> {ret}"
        if brief:
            return f"{head}  # {first_sentence(self.doc)}"
        body = "\n".join("    " + line for line in self.doc.splitlines())
        return f"{head}\n{body}"


def first_sentence(doc: str) -> str:
    """The docstring's first sentence, on one line."""
    text = " ".join(doc.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def _type_name(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "Any"
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


class PolicyDeadline:
    """When the running policy must end, for primitives that take long (a slow arm motion, a
    wait): the sandbox checks its budget only between policy statements, so such a primitive
    must refuse work it cannot finish. One holder may be shared by a primitive set and the sets
    wrapping it (e.g. a safety guard), so a deadline opened on the outer set reaches the skills."""

    def __init__(self) -> None:
        self._end: float | None = None  # time.monotonic() by which the running policy must end

    @contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        """A policy with ``seconds`` of wall-clock budget runs inside the block; nested runs keep
        the earlier deadline."""
        previous = self._end
        end = time.monotonic() + seconds
        self._end = end if previous is None else min(previous, end)
        try:
            yield
        finally:
            self._end = previous

    def time_left(self) -> float | None:
        """Seconds of the running policy's budget left (0 when spent); None outside a policy run."""
        if self._end is None:
            return None
        return max(0.0, self._end - time.monotonic())


class PrimitiveSet:
    """Named callables for one environment. ``sim_time`` reports simulated seconds so the
    sandbox can record how much simulated time each call took. ``redact`` maps a value about to
    be recorded (arguments, results) to what the trace may show: the GUI env masks passwords.
    ``errors``: the exceptions these primitives raise that a policy may catch by name (besides
    ``PrimitiveError``); the sandbox offers exactly these, whatever else is imported."""

    def __init__(self, domain: str, sim_time: Callable[[], float] | None = None,
                 redact: Callable[[Any], Any] | None = None,
                 errors: Sequence[type[PrimitiveError]] = (), policy_deadline: PolicyDeadline | None = None) -> None:
        self.domain = domain
        for error in errors:
            if not (isinstance(error, type) and issubclass(error, PrimitiveError)):
                raise TypeError(f"primitive errors must be PrimitiveError subclasses, got {error!r}")
        names = [e.__name__ for e in errors]
        if len(set(names)) != len(names):
            raise ValueError(f"primitive error names must be unique, got {sorted(names)}")
        self.errors: tuple[type[PrimitiveError], ...] = tuple(errors)
        self.sim_time = sim_time or (lambda: 0.0)
        self.redact = redact or (lambda value: value)
        self._items: dict[str, Primitive] = {}
        self.policy_deadline = policy_deadline or PolicyDeadline()

    def deadline(self, seconds: float) -> AbstractContextManager[None]:
        """Make a policy's wall-clock budget of ``seconds`` known to the primitives while the block
        runs (:class:`PolicyDeadline`). The runner of policies opens this around each run."""
        return self.policy_deadline.within(seconds)

    def time_left(self) -> float | None:
        """Seconds of the running policy's budget left; None outside a policy run."""
        return self.policy_deadline.time_left()

    def add(self, fn: Callable[..., Any], name: str | None = None) -> Callable[..., Any]:
        name = name or fn.__name__
        doc = inspect.getdoc(fn)
        if not doc:
            raise TypeError(f"primitive {name!r} has no docstring: the prompt needs one")
        try:
            hints = typing.get_type_hints(fn)
        except Exception as exc:  # unresolved forward reference and the like
            raise TypeError(f"primitive {name!r}: cannot resolve type hints ({exc})") from exc
        sig = inspect.signature(fn)
        for p in sig.parameters.values():
            if p.name not in hints:
                raise TypeError(f"primitive {name!r}: parameter {p.name!r} has no type hint")
        if "return" not in hints:
            raise TypeError(f"primitive {name!r} has no return type hint")
        sig = sig.replace(
            parameters=[p.replace(annotation=hints[p.name]) for p in sig.parameters.values()],
            return_annotation=hints["return"],
        )
        if name in self._items:
            raise ValueError(f"primitive {name!r} registered twice")
        self._items[name] = Primitive(name, fn, sig, doc)
        return fn

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __getitem__(self, name: str) -> Primitive:
        return self._items[name]

    def __iter__(self) -> Iterator[Primitive]:
        return iter(self._items.values())

    def spec(self, brief: bool = False) -> str:
        """The API listing for prompts and ``help()`` (``brief``: one line per primitive)."""
        return ("\n" if brief else "\n\n").join(p.spec(brief) for p in self)
