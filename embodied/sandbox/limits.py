"""Budgets and caps of one policy run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxLimits:
    """Budgets and caps of one policy run. Sizes are items or characters; time in seconds."""

    max_steps: int = 200_000
    timeout_s: float = 300.0
    max_depth: int = 200
    max_len: int = 10_000_000
    max_range: int = 1_000_000
    max_int_digits: int = 10_000
    max_memory_mb: float | None = 1024.0
    max_output_chars: int = 100_000

    def __post_init__(self) -> None:
        for name in ("max_steps", "max_depth", "max_len", "max_range", "max_int_digits", "max_output_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"SandboxLimits.{name} must be a positive int, got {value!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"SandboxLimits.timeout_s must be > 0, got {self.timeout_s!r}")
        if self.max_memory_mb is not None and not self.max_memory_mb > 0:
            raise ValueError(f"SandboxLimits.max_memory_mb must be > 0 or None, got {self.max_memory_mb!r}")

    @property
    def max_memory_bytes(self) -> int | None:
        return None if self.max_memory_mb is None else int(self.max_memory_mb * 2**20)
