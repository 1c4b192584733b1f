"""Keep the terminal clean for people and for pipes."""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType


def import_quietly(name: str) -> ModuleType:
    """Import a module whose C extension writes to file descriptor 2 while loading (pybullet
    prints its build date). Errors still raise as exceptions, after stderr is restored."""
    if name in sys.modules:
        return sys.modules[name]
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        return importlib.import_module(name)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
