"""Compare every quantity of every step of a trace against the reference; collect every mismatch.

Like torch.testing's comparison: nothing stops at the first difference — all mismatches are
collected (quantity, step, implementation, element index in the user's shape, observed,
expected, allowed), then reported together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impls.base import Trace

from . import tolerance
from .problem import Problem


@dataclass(frozen=True)
class Mismatch:
    impl: str
    step: int                  # 1-based SGD step
    quantity: str
    index: tuple[int, ...]     # in the user's shape; () for the loss
    observed: float | None
    expected: float | None
    allowed: float

    def describe(self) -> str:
        where = f"{self.quantity}{list(self.index) if self.index else ''}, step {self.step}, {self.impl}"
        return f"observed {self.observed!r}, expected {self.expected!r} (allowed ±{self.allowed:.3g}; {where})"


@dataclass(frozen=True)
class QuantityResult:
    """Agreement of one quantity of one step of one implementation."""

    impl: str
    step: int
    quantity: str
    checked: int               # entries compared
    failed: int
    max_abs_err: float
    max_rel_err: float


@dataclass(frozen=True)
class Comparison:
    results: tuple[QuantityResult, ...]
    mismatches: tuple[Mismatch, ...]

    @property
    def agree(self) -> bool:
        return not self.mismatches


def _floats(a) -> np.ndarray:
    return np.asarray(a, dtype=object).astype(np.float64) if np.asarray(a).dtype == object else np.asarray(a, dtype=np.float64)


def compare(problem: Problem, trace: Trace, reference: Trace, dtype: str, precision: str = "highest",
            magnitudes: list[dict] | None = None, max_listed: int = 50) -> Comparison:
    """Check `trace` against `reference` entry by entry with the dtype's tolerance."""
    tol = tolerance.for_run(dtype, precision, trace.impl)
    lengths = tolerance.reduction_lengths(problem)
    mags = magnitudes if magnitudes is not None else tolerance.magnitudes(problem, tolerance.arithmetic(dtype, trace.impl))
    results, mismatches = [], []
    for k, (step, ref) in enumerate(zip(trace.steps, reference.steps), start=1):
        for quantity, expected in ref.items():
            observed = getattr(step, quantity)
            if expected is None and observed is None:
                continue
            if expected is None or observed is None:
                mismatches.append(Mismatch(trace.impl, k, quantity, (), None if observed is None else np.nan,
                                           None if expected is None else np.nan, 0.0))
                results.append(QuantityResult(trace.impl, k, quantity, 0, 1, np.inf, np.inf))
                continue
            exact_ref = np.asarray(expected).dtype == object and np.asarray(observed).dtype == object
            if exact_ref:  # Fractions against Fractions: equality, nothing less
                bad = np.asarray(observed != expected, dtype=bool)
                err = np.abs(_floats(observed) - _floats(expected))
                allow = np.zeros(err.shape)
            else:
                obs, exp = _floats(observed), _floats(expected)
                err = np.abs(obs - exp)
                allow = tolerance.allowed(tol, exp, np.asarray(mags[k - 1][quantity], dtype=np.float64), lengths[quantity] * k)
                bad = ~(err <= allow)   # NaN observed -> bad
            with np.errstate(over="ignore", invalid="ignore"):
                rel = err / np.maximum(np.abs(_floats(expected)), np.finfo(np.float64).tiny)
            results.append(QuantityResult(trace.impl, k, quantity, int(err.size), int(bad.sum()),
                                          float(np.max(err)) if err.size else 0.0,
                                          float(np.max(rel)) if rel.size else 0.0))
            if bad.any():
                user_obs = problem.layout.to_user(quantity, np.asarray(_floats(observed)))
                user_exp = problem.layout.to_user(quantity, np.asarray(_floats(expected)))
                user_bad = problem.layout.to_user(quantity, np.asarray(bad))
                user_allow = problem.layout.to_user(quantity, np.broadcast_to(allow, np.shape(bad)))
                for idx in list(zip(*np.nonzero(user_bad)))[:max_listed] if user_bad.ndim else [()]:
                    idx = tuple(int(i) for i in idx)
                    mismatches.append(Mismatch(trace.impl, k, quantity, idx, float(user_obs[idx]),
                                               float(user_exp[idx]), float(user_allow[idx])))
    return Comparison(tuple(results), tuple(mismatches))
