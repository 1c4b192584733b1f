"""A small device shell for the twin: enough of ``sh`` for the command lines adb clients send.

Supported: words and quotes as POSIX ``sh`` reads them (``shlex``), ``;``, ``&&``, ``||``,
pipes into ``grep``/``head``/``tail``/``wc``, redirections ``> FILE``, ``>> FILE``, ``2> FILE``,
``2>&1`` (``/dev/null`` discards), ``$?``, and the builtins ``echo``, ``cat``, ``rm``, ``ls``,
``true``, ``false``, ``sleep``. Every other command name is looked up in the device's command
table; an unknown one prints ``/system/bin/sh: NAME: inaccessible or not found`` with status
127, as Android's shell does.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sim.gui.phone_twin.transport import FileStat, ShellResult

Command = Callable[[list[str], bytes], ShellResult]
_OPERATORS = {";", "&&", "||", "|"}


class ShellSyntaxError(ValueError):
    """A command line the twin's shell cannot read (unbalanced quotes, a dangling operator)."""


@dataclass
class FileStore:
    """The twin's files: path -> (bytes, mtime seconds)."""

    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)

    def write(self, path: str, data: bytes, append: bool = False) -> None:
        if path == "/dev/null":
            return
        old = self.files.get(path, (b"", 0))[0] if append else b""
        self.files[path] = (old + data, int(time.time()))

    def read(self, path: str) -> bytes:
        if path not in self.files:
            raise FileNotFoundError(path)
        return self.files[path][0]

    def stat(self, path: str) -> FileStat | None:
        path = path.rstrip("/") or "/"
        if path in self.files:
            data, mtime = self.files[path]
            return FileStat(0o100644, len(data), mtime)
        if any(p.startswith(path + "/") for p in self.files) or path in ("/", "/sdcard", "/data/local/tmp"):
            return FileStat(0o040771, 4096, int(time.time()))
        return None

    def list_dir(self, path: str) -> list[tuple[str, FileStat]]:
        prefix = path.rstrip("/") + "/"
        names = sorted({p[len(prefix):].split("/", 1)[0] for p in self.files if p.startswith(prefix)})
        return [(n, st) for n in names if (st := self.stat(prefix + n)) is not None]


@dataclass
class _Simple:
    argv: list[str]
    stdout_to: str | None = None
    append: bool = False
    stderr_to: str | None = None  # "&1": into stdout


def _tokens(line: str) -> list[str]:
    lex = shlex.shlex(line, posix=True, punctuation_chars=";&|>")
    lex.whitespace_split = True
    try:
        return list(lex)
    except ValueError as exc:
        raise ShellSyntaxError(f"syntax error: {exc}") from exc


def _split(tokens: list[str], ops: set[str]) -> list[tuple[str, list[str]]]:
    """[(operator before, tokens)] split at the given operators."""
    out: list[tuple[str, list[str]]] = [("", [])]
    for tok in tokens:
        if tok in ops:
            if not out[-1][1]:
                raise ShellSyntaxError(f"syntax error: unexpected '{tok}'")
            out.append((tok, []))
        else:
            out[-1][1].append(tok)
    if not out[-1][1] and len(out) > 1 and out[-1][0] != ";":
        raise ShellSyntaxError("syntax error: unexpected end of line")
    return [(op, toks) for op, toks in out if toks]


def _simple(tokens: list[str]) -> _Simple:
    cmd = _Simple([])
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok in (">", ">>") and nxt is not None:
            cmd.stdout_to, cmd.append = nxt, tok == ">>"
            i += 2
        elif tok == "2" and nxt in (">", ">&") and i + 2 < len(tokens):
            cmd.stderr_to = "&1" if nxt == ">&" else tokens[i + 2]
            i += 3
        elif tok in (">", ">>", ">&", "&"):
            raise ShellSyntaxError(f"syntax error: unexpected '{tok}'")
        else:
            cmd.argv.append(tok)
            i += 1
    return cmd


class DeviceShell:
    """Runs command lines against ``commands`` (name -> handler(argv, stdin) -> ShellResult)."""

    def __init__(self, commands: dict[str, Command], files: FileStore) -> None:
        self.commands = commands
        self.files = files
        self.builtins: dict[str, Command] = {"echo": self._echo, "cat": self._cat, "rm": self._rm, "ls": self._ls,
                                             "true": lambda a, i: ShellResult(b""),
                                             "false": lambda a, i: ShellResult(b"", b"", 1),
                                             "sleep": self._sleep, "grep": self._grep, "head": self._head,
                                             "tail": self._tail, "wc": self._wc}

    def run(self, line: str) -> ShellResult:
        try:
            tokens = _tokens(line)
            chain = _split(tokens, {";", "&&", "||"})
        except ShellSyntaxError as exc:
            return ShellResult(b"", f"/system/bin/sh: {exc}\n".encode(), 2)
        out, err, status = b"", b"", 0
        for op, part in chain:
            if (op == "&&" and status != 0) or (op == "||" and status == 0):
                continue
            part = [t.replace("$?", str(status)) for t in part]
            try:
                result = self._pipeline(part)
            except ShellSyntaxError as exc:
                result = ShellResult(b"", f"/system/bin/sh: {exc}\n".encode(), 2)
            out, err, status = out + result.stdout, err + result.stderr, result.status
        return ShellResult(out, err, status)

    def _pipeline(self, tokens: list[str]) -> ShellResult:
        stdin, err, result = b"", b"", ShellResult(b"")
        for _, part in _split(tokens, {"|"}):
            cmd = _simple(part)
            result = self._one(cmd.argv, stdin)
            stdout, stderr = result.stdout, result.stderr
            if cmd.stderr_to == "&1":
                stdout, stderr = stdout + stderr, b""
            elif cmd.stderr_to:
                self.files.write(cmd.stderr_to, stderr)
                stderr = b""
            if cmd.stdout_to:
                self.files.write(cmd.stdout_to, stdout, cmd.append)
                stdout = b""
            stdin, err = stdout, err + stderr
        return ShellResult(stdin, err, result.status)

    def _one(self, argv: list[str], stdin: bytes) -> ShellResult:
        if not argv:
            return ShellResult(b"")
        name = argv[0]
        handler = self.builtins.get(name) or self.commands.get(name)
        if handler is None:
            return ShellResult(b"", f"/system/bin/sh: {name}: inaccessible or not found\n".encode(), 127)
        return handler(argv[1:], stdin)

    # ------------------------------------------------------------------ builtins

    def _echo(self, args: list[str], stdin: bytes) -> ShellResult:
        newline = not (args and args[0] == "-n")
        words = args[1:] if not newline else args
        return ShellResult((" ".join(words) + ("\n" if newline else "")).encode())

    def _cat(self, args: list[str], stdin: bytes) -> ShellResult:
        if not args:
            return ShellResult(stdin)
        out, err, status = b"", b"", 0
        for path in args:
            try:
                out += self.files.read(path)
            except FileNotFoundError:
                err += f"cat: {path}: No such file or directory\n".encode()
                status = 1
        return ShellResult(out, err, status)

    def _rm(self, args: list[str], stdin: bytes) -> ShellResult:
        for path in args:
            if not path.startswith("-"):
                self.files.files.pop(path, None)
        return ShellResult(b"")

    def _ls(self, args: list[str], stdin: bytes) -> ShellResult:
        paths = [a for a in args if not a.startswith("-")] or ["/sdcard"]
        out = []
        for path in paths:
            st = self.files.stat(path)
            if st is None:
                return ShellResult(b"", f"ls: {path}: No such file or directory\n".encode(), 1)
            out += [name for name, _ in self.files.list_dir(path)] if st.mode & 0o040000 else [path]
        return ShellResult("".join(f"{n}\n" for n in out).encode())

    def _sleep(self, args: list[str], stdin: bytes) -> ShellResult:
        try:
            time.sleep(min(float(args[0]), 5.0) if args else 0)
        except ValueError:
            return ShellResult(b"", f"sleep: invalid number '{args[0]}'\n".encode(), 1)
        return ShellResult(b"")

    def _grep(self, args: list[str], stdin: bytes) -> ShellResult:
        flags = {a for a in args if a.startswith("-")}
        words = [a for a in args if not a.startswith("-")]
        if not words:
            return ShellResult(b"", b"usage: grep [-iEv] PATTERN\n", 2)
        pattern = re.compile(words[0], re.I if "-i" in flags else 0)
        invert = "-v" in flags
        lines = [ln for ln in stdin.decode("utf-8", "replace").splitlines()
                 if bool(pattern.search(ln)) != invert]
        return ShellResult("".join(f"{ln}\n" for ln in lines).encode(), b"", 0 if lines else 1)

    def _head(self, args: list[str], stdin: bytes) -> ShellResult:
        n = _count(args)
        return ShellResult(b"".join(stdin.splitlines(keepends=True)[:n]))

    def _tail(self, args: list[str], stdin: bytes) -> ShellResult:
        n = _count(args)
        return ShellResult(b"".join(stdin.splitlines(keepends=True)[-n:] if n else []))

    def _wc(self, args: list[str], stdin: bytes) -> ShellResult:
        return ShellResult(f"{len(stdin.splitlines())}\n".encode())


def _count(args: list[str]) -> int:
    for i, a in enumerate(args):
        if a == "-n" and i + 1 < len(args) and args[i + 1].isdigit():
            return int(args[i + 1])
        if a.startswith("-") and a[1:].isdigit():
            return int(a[1:])
    return 10
