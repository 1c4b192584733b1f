"""Checked versions of the operations that could allocate without bound in one step: they raise
:class:`SizeLimitError` before allocating."""

from __future__ import annotations

import itertools
import math
import operator
import re
import string
from collections.abc import Callable, Iterable
from typing import Any

from embodied.sandbox.check import _attr_problem
from embodied.sandbox.errors import ForbiddenOperation, SizeLimitError
from embodied.sandbox.instrument import _ATTR, _FMT, _FORMAT, _SLICE, _STAR, _STR

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
