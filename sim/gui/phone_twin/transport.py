"""The device side of adb over TCP: accepts the adb server's connection, answers CNXN, and
serves the streams it opens (``shell:``, shell v2, ``exec:``, ``sync:``) from a :class:`Device`.

One thread per connection reads messages; each opened stream runs its service in its own
thread, which writes through :meth:`_Stream.write` (one WRTE in flight per stream, as the
protocol requires). No AUTH is asked for: the twin behaves like a device with
``ro.adb.secure=0``, so ``adb connect`` needs no key.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from sim.gui.phone_twin.errors import ProtocolError, TwinError
from sim.gui.phone_twin.protocol import (
    A_CLSE,
    A_CNXN,
    A_OKAY,
    A_OPEN,
    A_VERSION,
    A_WRTE,
    HEADER,
    MAX_PAYLOAD,
    SHELL_CLOSE_STDIN,
    SHELL_EXIT,
    SHELL_PACKET,
    SHELL_STDERR,
    SHELL_STDIN,
    SHELL_STDOUT,
    SYNC_DATA_MAX,
    SYNC_HEADER,
    Message,
    banner,
    shell_packet,
    sync_packet,
    unpack_header,
)

log = logging.getLogger(__name__)
ACK_TIMEOUT_S = 30.0
FEATURES = ("shell_v2", "cmd")


@dataclass(frozen=True)
class ShellResult:
    stdout: bytes
    stderr: bytes = b""
    status: int = 0


@dataclass(frozen=True)
class FileStat:
    mode: int  # st_mode: 0o100644 for a file, 0o040755 for a folder
    size: int
    mtime: int


class Device(Protocol):
    """What the transport needs from a device."""

    properties: dict[str, str]

    def run_shell(self, command: str) -> ShellResult: ...

    def stat(self, path: str) -> FileStat | None: ...

    def list_dir(self, path: str) -> list[tuple[str, FileStat]]: ...

    def read_file(self, path: str) -> bytes: ...

    def write_file(self, path: str, data: bytes, mode: int) -> None: ...


class _StreamClosed(Exception):
    """The host closed the stream (or the connection) while a service was using it."""


class _Stream:
    def __init__(self, conn: _Connection, local_id: int, remote_id: int) -> None:
        self.conn, self.local_id, self.remote_id = conn, local_id, remote_id
        self.inbox: queue.Queue[bytes | None] = queue.Queue()
        self.acked = threading.Event()
        self.acked.set()
        self.closed = False
        self._buffer = b""
        self._close_sent = False

    def write(self, data: bytes) -> None:
        for start in range(0, len(data), self.conn.max_payload):
            if not self.acked.wait(ACK_TIMEOUT_S):
                raise _StreamClosed("the host acknowledged no data for 30 s")
            if self.closed:
                raise _StreamClosed("the host closed the stream")
            self.acked.clear()
            self.conn.send(Message(A_WRTE, self.local_id, self.remote_id, data[start:start + self.conn.max_payload]))

    def read_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.inbox.get()
            if chunk is None:
                raise _StreamClosed("the host closed the stream")
            self._buffer += chunk
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def read_some(self) -> bytes | None:
        if self._buffer:
            out, self._buffer = self._buffer, b""
            return out
        return self.inbox.get()

    def close(self) -> None:
        if not self._close_sent:
            self._close_sent = True
            self.acked.wait(ACK_TIMEOUT_S)  # the last WRTE is acknowledged before the stream ends
            self.conn.send(Message(A_CLSE, self.local_id, self.remote_id))
        self.conn.forget(self.local_id)

    def host_closed(self) -> None:
        self.closed = True
        self.inbox.put(None)
        self.acked.set()


class _Connection:
    def __init__(self, server: AdbDeviceServer, sock: socket.socket) -> None:
        self.server, self.sock = server, sock
        self.max_payload = MAX_PAYLOAD
        self._send_lock = threading.Lock()
        self._streams: dict[int, _Stream] = {}
        self._lock = threading.Lock()
        self._next_id = 1

    def send(self, msg: Message) -> None:
        with self._send_lock:
            self.sock.sendall(msg.pack())

    def forget(self, local_id: int) -> None:
        with self._lock:
            self._streams.pop(local_id, None)

    def _recv_exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("the host closed the connection")
            out += chunk
        return out

    def _read(self) -> Message:
        command, arg0, arg1, length = unpack_header(self._recv_exact(HEADER.size))
        return Message(command, arg0, arg1, self._recv_exact(length) if length else b"")

    def serve(self) -> None:
        try:
            while True:
                self._handle(self._read())
        except (ConnectionError, OSError, ProtocolError) as exc:
            log.debug("adb connection ended: %s", exc)
        finally:
            with self._lock:
                streams = list(self._streams.values())
            for s in streams:
                s.host_closed()
            self.sock.close()

    def _handle(self, msg: Message) -> None:
        if msg.command == A_CNXN:
            self.max_payload = max(4096, min(MAX_PAYLOAD, msg.arg1))
            self.send(Message(A_CNXN, A_VERSION, MAX_PAYLOAD,
                              banner(self.server.device.properties, FEATURES)))
        elif msg.command == A_OPEN:
            self._open(msg.arg0, msg.data.rstrip(b"\0").decode("utf-8", "replace"))
        else:
            with self._lock:
                stream = self._streams.get(msg.arg1)
            if stream is None:
                if msg.command == A_WRTE:  # data for a stream that is gone: tell the host it is closed
                    self.send(Message(A_CLSE, 0, msg.arg0))
                return
            if msg.command == A_OKAY:
                stream.acked.set()
            elif msg.command == A_WRTE:
                stream.inbox.put(msg.data)
                self.send(Message(A_OKAY, stream.local_id, stream.remote_id))
            elif msg.command == A_CLSE:
                stream.host_closed()
                self.forget(stream.local_id)

    def _open(self, remote_id: int, service: str) -> None:
        handler = _service_handler(service)
        if handler is None:
            log.info("phone twin: refusing unknown adb service %r", service)
            self.send(Message(A_CLSE, 0, remote_id))
            return
        with self._lock:
            local_id = self._next_id
            self._next_id += 1
            stream = _Stream(self, local_id, remote_id)
            self._streams[local_id] = stream
        self.send(Message(A_OKAY, local_id, remote_id))
        threading.Thread(target=self._run_service, args=(handler, stream, service), daemon=True,
                         name=f"adb-twin-{service.split(':', 1)[0]}").start()

    def _run_service(self, handler, stream: _Stream, service: str) -> None:
        try:
            handler(self.server.device, stream, service)
        except _StreamClosed:
            pass
        except (OSError, ConnectionError) as exc:
            log.debug("phone twin: service %r ended: %s", service, exc)
        finally:
            with contextlib.suppress(OSError):
                stream.close()


# ---------------------------------------------------------------------- services


def _service_handler(service: str):
    name = service.split(":", 1)[0]
    if name == "shell" or name.startswith("shell,"):
        return _shell_service
    if name == "exec":
        return _exec_service
    if name == "sync":
        return _sync_service
    return None


def _shell_service(device: Device, stream: _Stream, service: str) -> None:
    head, _, command = service.partition(":")
    v2 = "v2" in head.split(",")[1:]
    if not command.strip():
        _interactive(device, stream, v2)
        return
    result = device.run_shell(command)
    if v2:
        if result.stdout:
            stream.write(shell_packet(SHELL_STDOUT, result.stdout))
        if result.stderr:
            stream.write(shell_packet(SHELL_STDERR, result.stderr))
        stream.write(shell_packet(SHELL_EXIT, bytes([result.status & 0xFF])))
    else:
        stream.write(result.stdout + result.stderr)


def _exec_service(device: Device, stream: _Stream, service: str) -> None:
    result = device.run_shell(service.partition(":")[2])
    stream.write(result.stdout)


def _interactive(device: Device, stream: _Stream, v2: bool) -> None:
    """``adb shell`` with no command: one command per line until ``exit`` or end of input."""
    prompt = b"twin:/ $ "
    pending = b""
    stream.write(shell_packet(SHELL_STDOUT, prompt) if v2 else prompt)
    for data in _stdin(stream, v2):
        pending += data
        while b"\n" in pending or b"\r" in pending:
            line, pending = _split_line(pending)
            command = line.decode("utf-8", "replace").strip()
            if command == "exit":
                if v2:
                    stream.write(shell_packet(SHELL_EXIT, b"\0"))
                return
            out = device.run_shell(command) if command else ShellResult(b"")
            payload = out.stdout + out.stderr + prompt
            stream.write(shell_packet(SHELL_STDOUT, payload) if v2 else payload)
    if v2:
        stream.write(shell_packet(SHELL_EXIT, b"\0"))


def _split_line(data: bytes) -> tuple[bytes, bytes]:
    cut = min(i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0)
    return data[:cut], data[cut + 1:]


def _stdin(stream: _Stream, v2: bool) -> Iterator[bytes]:
    while True:
        if not v2:
            chunk = stream.read_some()
            if chunk is None:
                return
            yield chunk
            continue
        kind, length = SHELL_PACKET.unpack(stream.read_exact(SHELL_PACKET.size))
        data = stream.read_exact(length) if length else b""
        if kind == SHELL_STDIN:
            yield data
        elif kind == SHELL_CLOSE_STDIN:
            return


def _sync_service(device: Device, stream: _Stream, service: str) -> None:
    while True:
        ident, length = SYNC_HEADER.unpack(stream.read_exact(SYNC_HEADER.size))
        if ident == b"QUIT":
            return
        arg = stream.read_exact(length).decode("utf-8", "replace")
        if ident == b"STAT":
            st = device.stat(arg)
            stream.write(SYNC_HEADER.pack(b"STAT", st.mode if st else 0)
                         + (st.size if st else 0).to_bytes(4, "little") + (st.mtime if st else 0).to_bytes(4, "little"))
        elif ident == b"LIST":
            for name, st in device.list_dir(arg):
                raw = name.encode()
                stream.write(b"DENT" + b"".join(v.to_bytes(4, "little") for v in (st.mode, st.size, st.mtime, len(raw)))
                             + raw)
            stream.write(b"DONE" + bytes(16))
        elif ident == b"RECV":
            try:
                data = device.read_file(arg)
            except FileNotFoundError:
                stream.write(sync_packet(b"FAIL", len(msg := f"{arg}: No such file or directory".encode()), msg))
                continue
            for start in range(0, len(data), SYNC_DATA_MAX):
                chunk = data[start:start + SYNC_DATA_MAX]
                stream.write(sync_packet(b"DATA", len(chunk), chunk))
            stream.write(sync_packet(b"DONE", 0))
        elif ident == b"SEND":
            path, _, mode = arg.rpartition(",")
            body = b""
            while True:
                kind, value = SYNC_HEADER.unpack(stream.read_exact(SYNC_HEADER.size))
                if kind == b"DATA":
                    body += stream.read_exact(value)
                elif kind == b"DONE":
                    break
                else:
                    raise _StreamClosed(f"unexpected sync packet {kind!r} during SEND")
            device.write_file(path or arg, body, int(mode or "33188"))
            stream.write(sync_packet(b"OKAY", 0))
        else:
            msg = f"unknown sync request {ident!r}".encode()
            stream.write(sync_packet(b"FAIL", len(msg), msg))
            return


class AdbDeviceServer:
    """Listens on ``host:port`` (port 0: a free one) and serves ``device`` to adb servers."""

    def __init__(self, device: Device, host: str = "127.0.0.1", port: int = 0) -> None:
        self.device = device
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise TwinError(f"phone twin cannot listen on {host}:{port}: {exc}") from exc
        self._sock.listen(4)
        self._connections: list[_Connection] = []
        self._thread = threading.Thread(target=self._accept, daemon=True, name="adb-twin-accept")
        self._closed = False

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return host, port

    def start(self) -> None:
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                sock, _ = self._sock.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, sock)
            self._connections.append(conn)
            threading.Thread(target=conn.serve, daemon=True, name="adb-twin-conn").start()

    def close(self) -> None:
        """Stop listening and drop every connection (the adb server then lists the device offline)."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for conn in self._connections:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=2)
