"""The model catalog: parts concatenated in order, size and SHA-256 checked, a missing part named."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from embodied.errors import ModelError
from embodied.models import catalog


def _chunk_packages(root: Path, stem: str, chunks: list[bytes]) -> None:
    for i, data in enumerate(chunks, 1):
        pkg = root / f"{stem}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)


@pytest.fixture
def entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> catalog.CatalogModel:
    chunks = [b"GGUF" + bytes(range(200)), b"second" * 50, b"tail"]
    _chunk_packages(tmp_path / "site", "toy_gguf_part", chunks)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("EMBODIED_CACHE_DIR", str(tmp_path / "cache"))
    whole = b"".join(chunks)
    return catalog.CatalogModel(name="toy", file="toy.gguf", package_stem="toy-gguf-part", version="1.0",
                                parts=3, size=len(whole), sha256=hashlib.sha256(whole).hexdigest(), summary="toy")


def test_assemble_concatenates_parts_in_order(entry: catalog.CatalogModel, tmp_path: Path) -> None:
    out = catalog.assemble(entry)
    assert out == tmp_path / "cache" / "models" / "toy.gguf"
    data = out.read_bytes()
    assert data.startswith(b"GGUF") and data.endswith(b"second" * 50 + b"tail")
    assert [p.name for p in out.parent.iterdir()] == ["toy.gguf"]  # no temporary file left


def test_wrong_checksum_is_refused_and_leaves_nothing(entry: catalog.CatalogModel, tmp_path: Path) -> None:
    bad = dataclasses.replace(entry, sha256="0" * 64)
    with pytest.raises(ModelError, match="SHA-256"):
        catalog.assemble(bad)
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_missing_part_names_the_package(entry: catalog.CatalogModel) -> None:
    more = dataclasses.replace(entry, parts=4)
    with pytest.raises(ModelError, match=r"part 4 of 4 is missing.*toy-gguf-part4==1\.0"):
        catalog.assemble(more)


def test_unknown_name_lists_the_catalog() -> None:
    with pytest.raises(ModelError, match=r"qwen2\.5-coder-1\.5b"):
        catalog.lookup("qwen-9000")


def test_catalog_pins_every_model() -> None:
    for entry in catalog.CATALOG.values():
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) != 0
        assert len(entry.distributions()) == entry.parts
