"""The wire format between the episode process and a policy worker: plain data as JSON.

Why not pickle or marshal: the worker runs untrusted code, so everything it sends is decoded as
data, never as code or objects chosen by the sender. Values are JSON with tagged objects
(``{"$": tag, ...}``) for what JSON lacks:

=============================  =========================================================
value                          encoding
=============================  =========================================================
None, bool, str, list          JSON as is (a list that occurs twice: ``ref``, see below)
int                            JSON number; beyond 1,000 bits ``{"$": "int", "v": hex}``
float                          JSON number; NaN and infinities ``{"$": "float", "v": "nan"}``
tuple, set, frozenset          ``{"$": "tuple"|"set"|"frozenset", "v": [items]}``
dict                           ``{"$": "dict", "v": [[key, value], ...]}`` (any plain keys)
bytes, bytearray               ``{"$": "bytes"|"bytearray", "v": base64}``
complex                        ``{"$": "complex", "v": [real, imag]}``
range                          ``{"$": "range", "v": [start, stop, step]}``
SimpleNamespace, dataclass     ``{"$": "ns", "v": {field: value}}`` (decoded as a SimpleNamespace)
enum member                    its value
numpy array / scalar           ``{"$": "ndarray", "dtype", "shape", "v": base64}`` / the scalar
a callable of the sender       ``{"$": "fn", "id": n, "name": str}`` (the receiver gets a proxy)
the receiver's own callable    ``{"$": "own", "id": n}`` (a proxy handed back)
a container seen before        ``{"$": "ref", "id": n}``: shared and cyclic lists, dicts, sets
a str subclass (a GUI Secret)  episode to worker: ``{"$": "str", "v", "cls", "id": n}``, rebuilt as
                               that class; worker to episode: ``{"$": "kept", "id": n}``, the
                               episode's own object again (the worker never names a class)
=============================  =========================================================

Anything else (files, modules, arbitrary objects) is refused with :class:`WireError`. A message
is bounded in nesting depth and in items, so neither side can be made to walk without end.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import math
import socket
import time
import types
from collections.abc import Callable
from typing import Any

from embodied.sandbox.errors import WireError

MAX_DEPTH = 100
MAX_ITEMS = 100_000
MAX_MESSAGE_BYTES = 64 * 2**20
_BIG_INT_BITS = 1000
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class Encoder:
    """One message's encoder. ``callable_id`` turns a callable into a handle (``None``: refused);
    ``own_id`` recognises a proxy of the receiver's callable and returns its handle."""

    def __init__(self, callable_id: Callable[[Any], tuple[int, str] | None] | None = None,
                 own_id: Callable[[Any], int | None] | None = None, keep: Callable[[Any], int] | None = None,
                 kept_id: Callable[[Any], int | None] | None = None) -> None:
        self.callable_id, self.own_id, self.keep, self.kept_id = callable_id, own_id, keep, kept_id
        self.items = 0
        self.seen: dict[int, int] = {}  # id(container) -> reference number
        self.alive: list[Any] = []  # holds encoded containers alive so their ids stay unique

    def encode(self, value: Any, depth: int = 0) -> Any:
        self.items += 1
        if self.items > MAX_ITEMS:
            raise WireError(f"value has more than {MAX_ITEMS} items")
        kind = type(value)
        if kind is str or kind is bool or value is None or (kind is int and -2**63 <= value < 2**63):
            return value
        if kind is float and math.isfinite(value):
            return value
        if depth > MAX_DEPTH:
            raise WireError(f"value is nested deeper than {MAX_DEPTH} levels")
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):  # a str subclass: it may mean something (a Secret prints as ***)
            kept = self.kept_id(value) if self.kept_id is not None else None
            if kept is not None:
                return {"$": "kept", "id": kept}
            plain = str.__str__(value)
            if self.keep is not None:
                return {"$": "str", "v": plain, "cls": [kind.__module__, kind.__qualname__], "id": self.keep(value)}
            return plain
        if kind is int or (isinstance(value, int) and not isinstance(value, enum.Enum)):
            value = int(value)
            return value if value.bit_length() <= _BIG_INT_BITS else {"$": "int", "v": hex(value)}
        if kind is float or (isinstance(value, float) and not isinstance(value, enum.Enum)):
            value = float(value)
            return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
        if isinstance(value, enum.Enum):
            return self.encode(value.value, depth + 1)
        if isinstance(value, list | dict | set):
            ref = self.seen.get(id(value))
            if ref is not None:
                return {"$": "ref", "id": ref}
            self.seen[id(value)] = len(self.seen)
            self.alive.append(value)
            if isinstance(value, list):
                return [self.encode(v, depth + 1) for v in value]
            if isinstance(value, dict):
                return {"$": "dict", "v": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                                            for k, v in value.items()]}
            return {"$": "set", "v": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, tuple | frozenset):
            tag = "tuple" if isinstance(value, tuple) else "frozenset"
            return {"$": tag, "v": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, bytes | bytearray):
            tag = "bytes" if isinstance(value, bytes) else "bytearray"
            return {"$": tag, "v": base64.b64encode(value).decode("ascii")}
        if isinstance(value, complex):
            return {"$": "complex", "v": [self.encode(value.real), self.encode(value.imag)]}
        if isinstance(value, range):
            return {"$": "range", "v": [value.start, value.stop, value.step]}
        if isinstance(value, types.SimpleNamespace):
            return {"$": "ns", "v": {str(k): self.encode(v, depth + 1) for k, v in vars(value).items()}}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {"$": "ns", "v": {f.name: self.encode(getattr(value, f.name), depth + 1)
                                     for f in dataclasses.fields(value)}}
        if type(value).__module__ == "numpy" and hasattr(value, "dtype") and hasattr(value, "shape"):
            if value.shape == ():  # a numpy scalar: the plain Python number
                return self.encode(value.item(), depth + 1)
            return _numpy_array(value)
        if callable(value):
            own = self.own_id(value) if self.own_id is not None else None
            if own is not None:
                return {"$": "own", "id": own}
            handle = self.callable_id(value) if self.callable_id is not None else None
            if handle is not None:
                return {"$": "fn", "id": handle[0], "name": handle[1]}
        raise WireError(f"a {type(value).__name__} cannot be sent between the policy and the episode "
                        "(plain data only: None, bool, int, float, str, list, tuple, dict, set, bytes)")


def _numpy_array(value: Any) -> dict[str, Any]:
    """A numpy array of numbers as raw bytes; numpy is not imported here (a value that is an
    array proves numpy is loaded)."""
    if value.dtype.kind not in "biufc":
        raise WireError(f"numpy arrays of dtype {value.dtype} cannot be sent (numbers only)")
    data = value.tobytes(order="C")
    return {"$": "ndarray", "dtype": value.dtype.str, "shape": list(value.shape),
            "v": base64.b64encode(data).decode("ascii")}


def encode(value: Any, encoder: Encoder | None = None) -> bytes:
    """``value`` as one message. Raises :class:`WireError` for what cannot be sent."""
    enc = encoder or Encoder()
    try:
        tree = enc.encode(value)
    except RecursionError as exc:
        raise WireError("value is nested too deeply to send") from exc
    return _dump(tree)


def encode_message(fields: dict[str, Any], encoder: Encoder | None = None) -> bytes:
    """A protocol message: a JSON object whose fields are encoded values."""
    enc = encoder or Encoder()
    try:
        tree = {key: enc.encode(value) for key, value in fields.items()}
    except RecursionError as exc:
        raise WireError("value is nested too deeply to send") from exc
    return _dump(tree)


def _dump(tree: Any) -> bytes:
    data = json.dumps(tree, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {len(data)} bytes exceeds the {MAX_MESSAGE_BYTES} byte limit")
    return data


class Decoder:
    """One message's decoder. ``proxy(handle, name)`` makes a stand-in for the sender's callable;
    ``own(handle)`` returns this side's callable for a handle it gave out."""

    def __init__(self, proxy: Callable[[int, str], Any] | None = None, own: Callable[[int], Any] | None = None,
                 make_kept: Callable[[int, str, list[str]], Any] | None = None,
                 kept: Callable[[int], Any] | None = None) -> None:
        self.proxy, self.own, self.make_kept, self.kept = proxy, own, make_kept, kept
        self.refs: list[Any] = []
        self.items = 0

    def decode(self, tree: Any, depth: int = 0) -> Any:
        self.items += 1
        kind = type(tree)
        if kind is str or kind is int or kind is float or kind is bool or tree is None:
            return tree
        if self.items > MAX_ITEMS or depth > MAX_DEPTH:
            raise WireError("message too large or too deeply nested")
        if isinstance(tree, list):
            out: list[Any] = []
            self.refs.append(out)
            out.extend(self.decode(v, depth + 1) for v in tree)
            return out
        if not isinstance(tree, dict) or not isinstance(tree.get("$"), str):
            raise WireError("malformed message: an object without a tag")
        return self._tagged(tree["$"], tree, depth)

    def _tagged(self, tag: str, tree: dict[str, Any], depth: int) -> Any:
        v = tree.get("v")
        if tag == "dict":
            out: dict[Any, Any] = {}
            self.refs.append(out)
            for pair in _list(v):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("malformed message: a dict entry is not a pair")
                out[self.decode(pair[0], depth + 1)] = self.decode(pair[1], depth + 1)
            return out
        if tag == "set":
            items: set[Any] = set()
            self.refs.append(items)
            items.update(self.decode(x, depth + 1) for x in _list(v))
            return items
        if tag == "ref":
            ref = tree.get("id")
            if not isinstance(ref, int) or not 0 <= ref < len(self.refs):
                raise WireError("malformed message: a reference to nothing")
            return self.refs[ref]
        if tag in ("tuple", "frozenset"):
            seq = [self.decode(x, depth + 1) for x in _list(v)]
            return tuple(seq) if tag == "tuple" else frozenset(seq)
        if tag == "str":
            handle, cls = tree.get("id"), _list(tree.get("cls"))
            if self.make_kept is not None and isinstance(handle, int):
                return self.make_kept(handle, _str(v), [str(c) for c in cls])
            return _str(v)
        if tag == "kept":
            handle = tree.get("id")
            if self.kept is None or not isinstance(handle, int):
                raise WireError("malformed message: a kept value where none can be")
            return self.kept(handle)
        if tag == "int":
            return int(_str(v), 16)
        if tag == "float":
            if v not in _FLOATS:
                raise WireError(f"malformed message: float {v!r}")
            return _FLOATS[v]
        if tag in ("bytes", "bytearray"):
            raw = base64.b64decode(_str(v), validate=True)
            return raw if tag == "bytes" else bytearray(raw)
        if tag == "complex":
            pair = _list(v)
            if len(pair) != 2:
                raise WireError("malformed message: complex needs two parts")
            return complex(float(self.decode(pair[0], depth + 1)), float(self.decode(pair[1], depth + 1)))
        if tag == "range":
            parts = _list(v)
            if len(parts) != 3 or not all(type(p) is int for p in parts):
                raise WireError("malformed message: range needs three ints")
            return range(*parts)
        if tag == "ns":
            if not isinstance(v, dict):
                raise WireError("malformed message: namespace fields are not an object")
            return types.SimpleNamespace(**{str(k): self.decode(x, depth + 1) for k, x in v.items()})
        if tag == "ndarray":
            return _decode_array(tree)
        if tag in ("fn", "own"):
            handle = tree.get("id")
            if not isinstance(handle, int):
                raise WireError("malformed message: callable handle is not an int")
            if tag == "fn" and self.proxy is not None:
                return self.proxy(handle, str(tree.get("name", "?"))[:100])
            if tag == "own" and self.own is not None:
                return self.own(handle)
        raise WireError(f"malformed message: unknown tag {tag!r}")


def _list(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise WireError("malformed message: expected a list")
    return v


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise WireError("malformed message: expected a string")
    return v


def _decode_array(tree: dict[str, Any]) -> Any:
    import numpy as np  # only a message that carries an array needs numpy

    dtype = np.dtype(_str(tree.get("dtype")))
    if dtype.kind not in "biufc":
        raise WireError(f"malformed message: array dtype {dtype}")
    shape = _list(tree.get("shape"))
    if not all(type(n) is int and n >= 0 for n in shape):
        raise WireError("malformed message: array shape")
    raw = base64.b64decode(_str(tree.get("v")), validate=True)
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise WireError("malformed message: array size does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def decode(data: bytes, decoder: Decoder | None = None) -> Any:
    """The value of one message. Raises :class:`WireError` for anything malformed."""
    try:
        return (decoder or Decoder()).decode(json.loads(data))
    except WireError:
        raise
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise WireError(f"malformed message: {type(exc).__name__}: {exc}"[:300]) from exc


def decode_message(data: bytes, decoder: Decoder | None = None) -> dict[str, Any]:
    """The fields of one protocol message (see :func:`encode_message`)."""
    dec = decoder or Decoder()
    try:
        tree = json.loads(data)
        if not isinstance(tree, dict):
            raise WireError("malformed message: not an object")
        return {key: dec.decode(value) for key, value in tree.items()}
    except WireError:
        raise
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise WireError(f"malformed message: {type(exc).__name__}: {exc}"[:300]) from exc


class FramedSocket:
    """Length-prefixed messages over a stream socket. ``receive`` waits until ``deadline``
    (``time.perf_counter`` seconds; None: forever) and raises ``TimeoutError`` after it, ``EOFError``
    when the other side is gone."""

    HEADER = 4

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, data: bytes, deadline: float | None = None) -> None:
        self.sock.settimeout(None if deadline is None else max(deadline - time.perf_counter(), 1e-3))
        self.sock.sendall(len(data).to_bytes(self.HEADER, "big") + data)

    def receive(self, deadline: float | None = None) -> bytes:
        while True:
            if len(self.buffer) >= self.HEADER:
                size = int.from_bytes(self.buffer[:self.HEADER], "big")
                if size > MAX_MESSAGE_BYTES:
                    raise WireError(f"message of {size} bytes exceeds the {MAX_MESSAGE_BYTES} byte limit")
                end = self.HEADER + size
                if len(self.buffer) >= end:
                    data = bytes(self.buffer[self.HEADER:end])
                    del self.buffer[:end]
                    return data
            if deadline is None:
                if self.sock.gettimeout() is not None:
                    self.sock.settimeout(None)
            else:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise TimeoutError("no message before the deadline")
                self.sock.settimeout(remaining)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("the other side closed the connection")
            self.buffer += chunk

    def close(self) -> None:
        self.sock.close()
