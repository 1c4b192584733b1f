"""The adb wire format between a host (the adb server) and a device, written from AOSP's
``protocol.txt`` and ``SERVICES.TXT``.

A message is a 24-byte little-endian header ``command, arg0, arg1, data_length, data_crc32,
magic`` followed by ``data_length`` bytes; ``magic`` is ``command ^ 0xffffffff`` and
``data_crc32`` is the byte sum of the payload (hosts at version 0x01000001 and later ignore it,
older ones check it, so it is always filled in). Streams are opened with OPEN(local, 0,
"service\\0"), accepted with OKAY(local, remote), carry data in WRTE (each one acknowledged by
an OKAY before the next WRTE on that stream) and end with CLSE.

Shell protocol v2 (feature ``shell_v2``) frames a stream's bytes as ``id:u8, length:u32le,
data``; ids 0-5 are stdin, stdout, stderr, exit (one byte: the status), close-stdin and
window-size-change. The sync protocol (service ``sync:``) uses 8-byte ``id:4 chars,
length:u32le`` requests: STAT, LIST, RECV, SEND, QUIT.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sim.gui.phone_twin.errors import ProtocolError


def _cmd(name: str) -> int:
    return struct.unpack("<I", name.encode("ascii"))[0]


A_CNXN, A_OPEN, A_OKAY, A_WRTE, A_CLSE, A_AUTH = (_cmd(n) for n in ("CNXN", "OPEN", "OKAY", "WRTE", "CLSE", "AUTH"))
COMMAND_NAMES = {A_CNXN: "CNXN", A_OPEN: "OPEN", A_OKAY: "OKAY", A_WRTE: "WRTE", A_CLSE: "CLSE", A_AUTH: "AUTH"}
A_VERSION = 0x01000001
MAX_PAYLOAD = 256 * 1024
HEADER = struct.Struct("<6I")

SHELL_STDIN, SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT, SHELL_CLOSE_STDIN, SHELL_WINDOW = range(6)
SHELL_PACKET = struct.Struct("<BI")
SYNC_HEADER = struct.Struct("<4sI")
SYNC_DATA_MAX = 64 * 1024


@dataclass(frozen=True)
class Message:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return COMMAND_NAMES.get(self.command, hex(self.command))

    def pack(self) -> bytes:
        return HEADER.pack(self.command, self.arg0, self.arg1, len(self.data), sum(self.data) & 0xFFFFFFFF,
                           self.command ^ 0xFFFFFFFF) + self.data


def unpack_header(raw: bytes) -> tuple[int, int, int, int]:
    """(command, arg0, arg1, data_length) of a 24-byte header. Raises ProtocolError."""
    if len(raw) != HEADER.size:
        raise ProtocolError(f"truncated adb header ({len(raw)} of {HEADER.size} bytes)")
    command, arg0, arg1, length, _check, magic = HEADER.unpack(raw)
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad adb magic {magic:#x} for command {command:#x}")
    if length > 16 * 1024 * 1024:
        raise ProtocolError(f"adb payload of {length} bytes is larger than any host sends")
    return command, arg0, arg1, length


def shell_packet(kind: int, data: bytes) -> bytes:
    """One shell-v2 packet."""
    return SHELL_PACKET.pack(kind, len(data)) + data


def sync_packet(ident: bytes, value: int, data: bytes = b"") -> bytes:
    """One sync-protocol packet: a 4-byte id, a u32 (a length or a number), then ``data``."""
    return SYNC_HEADER.pack(ident, value) + data


def banner(properties: dict[str, str], features: tuple[str, ...]) -> bytes:
    """The device's CNXN payload: ``device::key=value;...;features=a,b``."""
    props = "".join(f"{k}={v};" for k, v in properties.items())
    return f"device::{props}features={','.join(features)}".encode()
