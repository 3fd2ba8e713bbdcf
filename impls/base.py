"""The small interface every implementation shares.

An implementation is a module with
    NAME: str                       # "manual", "torch", ...
    def run(problem, config) -> Trace
and an optional `unavailable() -> str | None` (the reason it cannot run here, e.g. a
framework not installed). Results come back as NumPy arrays (float or exact object
arrays) in the canonical layout; the harness reshapes them for the user.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


def missing_framework(module: str) -> str | None:
    """Why `module` (torch, jax) cannot be imported here, or None; never raises."""
    import importlib
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"{module} is not installed ({exc})"
    return None


@dataclass(frozen=True, eq=False)
class Step:
    """Every quantity of one SGD step (None for what the case does not have)."""

    output: np.ndarray
    activation: np.ndarray | None
    loss: np.ndarray | None          # 0-d
    grad_output: np.ndarray
    grad_filter: np.ndarray
    grad_input: np.ndarray
    grad_bias: np.ndarray | None
    updated_filter: np.ndarray | None
    updated_bias: np.ndarray | None

    def items(self):
        for f in fields(self):
            yield f.name, getattr(self, f.name)


@dataclass(frozen=True)
class Config:
    """How to run: dtype ('float32', 'float64', 'float16', 'bfloat16' or 'exact'), device, GPU modes."""

    dtype: str = "float64"
    device: str = "cpu"
    precision: str = "highest"   # 'highest' (TF32 off) | 'tf32' (framework GPU defaults)
    deterministic: bool = True


@dataclass(frozen=True, eq=False)
class Trace:
    """What one implementation computed for a problem: one Step per SGD step."""

    impl: str
    steps: tuple[Step, ...]
    seconds: float = 0.0
    device: str = "cpu"
    note: str = ""
