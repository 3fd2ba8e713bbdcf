"""`exact`: the hand derivation of `impls.formulas` on Python Fractions (NumPy object arrays).

Decimal inputs such as 0.1 are exact here, so this is the reference for every case whose
numbers are decimals: no rounding anywhere, every result is the true rational value.
"""

from __future__ import annotations

import time

import numpy as np

from . import formulas
from .base import Config, Step, Trace

xp = formulas.numpy_namespace()

NAME = "exact"


def _obj(a):
    """Object arrays stay object arrays; scalars become 0-d object arrays."""
    if a is None:
        return None
    out = np.empty((), dtype=object) if np.ndim(a) == 0 else None
    if out is not None:
        out[()] = a if not isinstance(a, np.ndarray) else a.item()
        return out
    return np.asarray(a, dtype=object)


def steps_of(results) -> tuple[Step, ...]:
    return tuple(Step(**{k: _obj(v) for k, v in q.items()}) for q in results)


def run(problem, config: Config = Config(dtype="exact")) -> Trace:
    t0 = time.perf_counter()
    res = formulas.run_steps(xp, problem, problem.x, problem.w, problem.b, problem.target, problem.grad_output)
    return Trace(NAME, steps_of(res), time.perf_counter() - t0, "cpu", "Fractions, exact")
