"""Run the chosen implementations on one problem, plus the exact reference."""

from __future__ import annotations

from dataclasses import dataclass

import impls
from impls.base import Config, Trace

from .compare import Comparison, compare
from .errors import UserError
from .problem import Problem
from . import tolerance

# Fractions cost ~1 µs per operation: past this many multiply-adds per step the float64 manual
# derivation stands in as the reference (and the report says so).
EXACT_LIMIT = 2_000_000


@dataclass(frozen=True, eq=False)
class RunResult:
    problem: Problem
    config: Config
    reference: Trace
    traces: dict[str, Trace]              # name -> trace, in the order asked
    unavailable: dict[str, str]           # name -> reason
    comparisons: dict[str, Comparison]    # name -> comparison against the reference

    @property
    def agree(self) -> bool:
        return all(c.agree for c in self.comparisons.values())

    def divergence(self) -> dict[str, str]:
        """name -> 'step k: <quantity> overflowed' for each float trace that left the finite numbers."""
        out = {}
        for name, trace in self.traces.items():
            where = first_non_finite(trace)
            if where:
                out[name] = where
        return out


def first_non_finite(trace: Trace) -> str | None:
    """Where SGD diverged (inf/NaN) first, e.g. 'step 7: grad_filter is not finite'."""
    import numpy as np
    for k, step in enumerate(trace.steps, start=1):
        for quantity, value in step.items():
            if value is None or np.asarray(value).dtype == object:
                continue
            if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
                return f"step {k}: {quantity} is not finite (overflow to inf or NaN)"
    return None


def parse_impls(spec: str | None) -> tuple[tuple[str, ...], bool]:
    """'manual,torch' -> names; the bool says whether the user named them (then missing = error)."""
    if not spec:
        return impls.DEFAULT, False
    names = tuple(dict.fromkeys(s.strip() for s in spec.split(",") if s.strip()))
    unknown = [n for n in names if n not in impls.MODULES]
    if unknown or not names:
        raise UserError(f"unknown implementation {', '.join(unknown) or spec!r}; choose from {', '.join(impls.MODULES)}",
                        "--impl")
    return names, True


def multiply_adds(problem: Problem) -> int:
    n, c_out, ho, wo = problem.out_shape
    _, c_g, kh, kw = problem.w.shape
    return n * c_out * ho * wo * c_g * kh * kw


def reference_for(problem: Problem) -> Trace:
    if multiply_adds(problem) * 3 <= EXACT_LIMIT:
        return impls.load("exact").run(problem)
    trace = impls.load("manual").run(problem, Config(dtype="float64"))
    return Trace("manual-float64", trace.steps, trace.seconds, "cpu",
                 "reference: float64 manual derivation (case too large for exact Fractions)")


def _why_not(name: str, problem: Problem, config: Config) -> str | None:
    reason = impls.unavailable(name)
    if reason:
        return reason
    mod = impls.load(name)
    for check in ("unavailable_for",):
        fn = getattr(mod, check, None)
        if fn is not None:
            try:
                reason = fn(problem, config)
            except TypeError:
                reason = fn(config)
            if reason:
                return reason
    return None


def run_all(problem: Problem, names: tuple[str, ...], config: Config, *, strict: bool = False) -> RunResult:
    """Run each implementation; with `strict` (names given by the user) an unavailable one is an error."""
    import numpy as np
    with np.errstate(all="ignore"):  # overflow during SGD is reported as a divergence, not as warnings
        return _run_all(problem, names, config, strict)


def _run_all(problem: Problem, names: tuple[str, ...], config: Config, strict: bool) -> RunResult:
    reference = reference_for(problem)
    mags = tolerance.magnitudes(problem)
    traces, missing, comparisons = {}, {}, {}
    for name in names:
        reason = _why_not(name, problem, config)
        if reason:
            if strict:
                raise UserError(f"{name} is unavailable: {reason}", "--impl")
            missing[name] = reason
            continue
        if name == "exact" and reference.impl == "exact":
            trace = reference
        else:
            trace = impls.load(name).run(problem, config)
        traces[name] = trace
        comparisons[name] = compare(problem, trace, reference, config.dtype, config.precision, mags)
    return RunResult(problem, config, reference, traces, missing, comparisons)
