"""One llama.cpp server per machine and model settings, shared by every process that needs it.

Design (why not one model per episode): loading the 1.5B model costs seconds and ~1.2 GB of
memory, and llama.cpp caches prompt prefixes per server slot; a sweep of N workers that each
loaded the model would pay N loads, N x memory, and lose the cache between episodes.

- Settings (GGUF path, context, threads, slots) hash to a ``key``; under
  ``<cache>/servers/`` live ``<key>.lock`` (start/stop mutex), ``<key>.clients`` (a lease file)
  and ``<key>.json`` (pid and URL of the running server) plus ``<key>.log``.
- A client (:func:`attach`) takes the mutex, takes a *shared* ``flock`` on the lease file and
  keeps it open for as long as it uses the server; if no healthy server is recorded it starts one
  (``python -m embodied.models.llamacpp_server``, detached) and waits for ``/health``.
- The server process checks once a second whether it can take an *exclusive* lock on the lease
  file; when it could for ``linger_s`` seconds in a row (no client left), it takes the mutex,
  checks once more, removes its state file and exits. The kernel drops a dead client's lock, so
  a crashed worker never keeps the server alive and a stopped server is never reused.

``embodied serve-model CONFIG`` runs the same server in the foreground for other tools
(:func:`serve_forever`), not shared through the lease files.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from embodied.errors import ModelError
from embodied.models.local import cache_dir


@dataclass(frozen=True)
class ServerSettings:
    """What a llama.cpp server is loaded with. Threads and slots are per server, not per
    request: every client of a shared server gets these."""

    gguf: str
    n_ctx: int = 8192  # tokens, shared by all slots
    threads: int = 2
    parallel: int = 1  # slots: requests decoded at once (each gets n_ctx / parallel tokens)
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port

    def key(self) -> str:
        text = json.dumps({k: v for k, v in asdict(self).items() if k not in ("host", "port")}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def start_server(settings: ServerSettings, *, quiet: bool = True) -> Any:
    """An ``xllamacpp.Server`` running in this process (model loaded, HTTP listening)."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise ModelError("the llamacpp backend needs xllamacpp: pip install 'embodied[llamacpp]'") from exc
    if not Path(settings.gguf).is_file():
        raise ModelError(f"GGUF file {settings.gguf} does not exist")
    p = xllamacpp.CommonParams()
    p.model.path = settings.gguf
    p.n_ctx = settings.n_ctx
    p.cpuparams.n_threads = settings.threads
    p.cpuparams_batch.n_threads = settings.threads
    p.n_parallel = settings.parallel
    p.cache_prompt = True
    p.hostnames = [settings.host]
    if settings.port:
        p.port = settings.port
    if quiet:
        p.verbosity = -1
    try:
        return xllamacpp.Server(p)
    except Exception as exc:  # the binding raises plain RuntimeErrors for load failures
        raise ModelError(f"llama.cpp could not load {settings.gguf}: {exc}") from exc


def base_url(server: Any) -> str:
    address = str(server.listening_address)
    return address if address.startswith("http") else f"http://{address}"


def healthy(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout_s) as r:
            return r.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


# ---------------------------------------------------------------------------------------------
# Machine-wide sharing


def servers_dir() -> Path:
    return cache_dir() / "servers"


@dataclass
class Paths:
    lock: Path
    clients: Path
    state: Path
    log: Path

    @classmethod
    def of(cls, settings: ServerSettings) -> Paths:
        root = servers_dir()
        key = settings.key()
        return cls(root / f"{key}.lock", root / f"{key}.clients", root / f"{key}.json", root / f"{key}.log")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class Lease:
    """A client's hold on a shared server: the URL, and the shared lock that keeps it alive."""

    def __init__(self, url: str, handle: IO[str], pid: int) -> None:
        self.url = url
        self.pid = pid
        self._handle: IO[str] | None = handle

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()  # closing drops the flock


def attach(settings: ServerSettings, *, startup_timeout_s: float = 300.0, linger_s: float = 30.0) -> Lease:
    """Lease the machine's server for ``settings``, starting it if none is healthy."""
    paths = Paths.of(settings)
    with _locked(paths.lock):
        handle = paths.clients.open("a")
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            state = _read_state(paths.state)
            if state and _alive(int(state["pid"])) and healthy(state["url"]):
                return Lease(state["url"], handle, int(state["pid"]))
            state = _spawn(settings, paths, startup_timeout_s, linger_s)
            return Lease(state["url"], handle, int(state["pid"]))
        except BaseException:
            handle.close()
            raise


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a server started by this process and exited
    stays a zombie until reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill()
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _spawn(settings: ServerSettings, paths: Paths, timeout_s: float, linger_s: float) -> dict[str, Any]:
    paths.state.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "embodied.models.llamacpp_server", "--settings", json.dumps(asdict(settings)),
           "--state", str(paths.state), "--clients", str(paths.clients), "--lock", str(paths.lock),
           "--linger-s", str(linger_s)]
    with paths.log.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "PYTHONPATH": _pythonpath()})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ModelError(f"the llama.cpp server exited with code {proc.returncode}: {_tail(paths.log)}")
        state = _read_state(paths.state)
        if state and healthy(state["url"]):
            return state
        time.sleep(0.2)
    proc.terminate()
    raise ModelError(f"the llama.cpp server did not become healthy within {timeout_s:.0f} s: {_tail(paths.log)}")


def _pythonpath() -> str:
    """The spawned server imports this package from where this process found it."""
    root = str(Path(__file__).resolve().parents[2])
    rest = os.environ.get("PYTHONPATH", "")
    return root + (os.pathsep + rest if rest else "")


def _tail(path: Path, lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _no_clients(clients: Path) -> bool:
    with clients.open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


def run_shared(settings: ServerSettings, state: Path, clients: Path, lock: Path, linger_s: float) -> None:
    """Body of the detached server process (see the module docstring)."""
    server = start_server(settings)
    url = base_url(server)
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "url": url, "settings": asdict(settings)}))
    os.replace(tmp, state)
    print(f"llama.cpp server for {settings.gguf} at {url}", flush=True)
    idle_since: float | None = None
    while True:
        time.sleep(1.0)
        if not _no_clients(clients):
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since < linger_s:
            continue
        with _locked(lock):
            if _no_clients(clients):
                state.unlink(missing_ok=True)
                print("no clients left: stopping", flush=True)
                return


def serve_forever(settings: ServerSettings) -> None:
    """``embodied serve-model``: run in the foreground until SIGINT/SIGTERM."""
    server = start_server(settings, quiet=False)
    print(f"serving {settings.gguf} (OpenAI-compatible) at {base_url(server)}/v1", flush=True)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    del server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", required=True)
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--clients", required=True, type=Path)
    parser.add_argument("--lock", required=True, type=Path)
    parser.add_argument("--linger-s", type=float, default=30.0)
    args = parser.parse_args(argv)
    settings = ServerSettings(**json.loads(args.settings))
    run_shared(settings, args.state, args.clients, args.lock, args.linger_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
