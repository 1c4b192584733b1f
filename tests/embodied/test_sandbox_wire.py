"""The wire format between the episode process and a policy worker: what crosses, exactly how,
and what is refused (the worker is untrusted: its bytes are decoded as data only)."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import socket
import threading
import time
import types
from typing import Any

import numpy as np
import pytest

from embodied.sandbox.errors import WireError
from embodied.sandbox.wire import (
    MAX_DEPTH,
    MAX_ITEMS,
    Decoder,
    Encoder,
    FramedSocket,
    decode,
    decode_message,
    encode,
    encode_message,
)


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Pose:
    position: tuple[float, float, float]
    yaw: float


def roundtrip(value: Any) -> Any:
    return decode(encode(value))


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**63, -(2**2000), 1.5, -0.0, "text", "ünïcode ✓", "",
    [1, [2, [3]]], (1, (2,)), (), {1: "a", "b": (2, 3), (4, 5): None}, {1, 2}, frozenset({3}),
    b"\x00\xff", bytearray(b"ab"), 1 + 2j, range(2, 10, 3),
])
def test_plain_values_round_trip_exactly(value: Any) -> None:
    out = roundtrip(value)
    assert out == value and type(out) is type(value)


def test_non_finite_floats_are_tagged_not_json_extensions() -> None:
    data = encode([math.inf, -math.inf, math.nan])
    assert b"Infinity" not in data and b"NaN" not in data
    pos, neg, nan = decode(data)
    assert pos == math.inf and neg == -math.inf and math.isnan(nan)


def test_the_encoding_is_documented_json() -> None:
    assert json.loads(encode((1, "a"))) == {"$": "tuple", "v": [1, "a"]}
    assert json.loads(encode({"k": [1]})) == {"$": "dict", "v": [["k", [1]]]}
    assert json.loads(encode(2**1200))["$"] == "int"
    assert json.loads(encode_message({"op": "call", "args": [1.0]})) == {"op": "call", "args": [1.0]}


def test_shared_and_cyclic_containers_keep_their_identity() -> None:
    shared = [1]
    out = roundtrip([shared, shared, {"again": shared}])
    assert out[0] is out[1] is out[2]["again"]
    loop: list[Any] = [1]
    loop.append(loop)
    back = roundtrip(loop)
    assert back[1] is back and back[0] == 1
    # a value shared a million times costs one copy, not a million
    big = [0] * 50_000
    assert len(encode([big] * 1000)) < 200_000


def test_rich_values_become_plain_ones() -> None:
    pose = roundtrip(Pose((0.1, 0.2, 0.3), 1.57))
    assert isinstance(pose, types.SimpleNamespace) and pose.position == (0.1, 0.2, 0.3) and pose.yaw == 1.57
    assert roundtrip(types.SimpleNamespace(n=1)).n == 1
    assert roundtrip(Colour.RED) == "red"
    assert roundtrip(np.float32(0.5)) == 0.5 and type(roundtrip(np.int64(3))) is int
    image = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    back = roundtrip({"image": image})["image"]
    assert back.dtype == np.uint8 and back.shape == (2, 3, 4) and (back == image).all()


@pytest.mark.parametrize("value", [object(), open, types, np.array(["a"], dtype=object), Ellipsis])
def test_values_that_are_not_data_are_refused(value: Any) -> None:
    with pytest.raises(WireError):
        encode(value)


def test_size_and_depth_are_bounded() -> None:
    deep: list[Any] = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(WireError, match="nested deeper"):
        encode(deep)
    with pytest.raises(WireError, match="items"):
        encode(list(range(MAX_ITEMS + 1)))


def test_callables_cross_as_handles_both_ways() -> None:
    def policy_fn() -> None:
        pass

    handles: dict[int, Any] = {}

    def callable_id(value: Any) -> tuple[int, str]:
        handles[id(value)] = value
        return id(value), value.__name__

    class Proxy:
        def __init__(self, handle: int, name: str) -> None:
            self.handle, self.name = handle, name

        def __call__(self) -> None:
            pass

    data = encode_message({"args": [policy_fn]}, Encoder(callable_id=callable_id))
    proxy = decode_message(data, Decoder(proxy=Proxy))["args"][0]
    assert isinstance(proxy, Proxy) and (proxy.handle, proxy.name) == (id(policy_fn), "policy_fn")
    back = encode_message({"value": proxy}, Encoder(own_id=lambda v: v.handle if isinstance(v, Proxy) else None))
    assert decode_message(back, Decoder(own=handles.__getitem__))["value"] is policy_fn
    with pytest.raises(WireError):  # a side without handles refuses callables
        encode(policy_fn)


@pytest.mark.parametrize("data", [
    b"not json", b'{"$": "nope"}', b'{"$": "ref", "id": 3}', b'{"$": "range", "v": [1, "x", 2]}',
    b'{"$": "ndarray", "dtype": "|O", "shape": [1], "v": ""}',
    b'{"$": "ndarray", "dtype": "<f8", "shape": [2], "v": ""}',
    b'{"$": "dict", "v": [[[1], 2]]}', b'{"$": "float", "v": "1e999"}', b"[" * 100_000, b"1" * 5000,
    b'{"$": "fn", "id": 1}', b'{"plain": "object"}',
])
def test_malformed_input_is_a_wire_error_never_a_crash(data: bytes) -> None:
    with pytest.raises(WireError):
        decode(data)


def test_framed_socket_delivers_whole_messages_and_times_out() -> None:
    a, b = socket.socketpair()
    left, right = FramedSocket(a), FramedSocket(b)
    try:
        sender = threading.Thread(target=lambda: (left.send(b"one"), left.send(b"x" * 3_000_000)))
        sender.start()  # bigger than the socket buffer: it arrives in many pieces
        assert right.receive() == b"one" and right.receive() == b"x" * 3_000_000
        sender.join()
        t0 = time.perf_counter()
        with pytest.raises(TimeoutError):
            right.receive(time.perf_counter() + 0.05)
        assert time.perf_counter() - t0 < 1.0
        left.close()
        with pytest.raises(EOFError):
            right.receive()
    finally:
        right.close()
