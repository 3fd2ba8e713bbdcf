"""Run the chosen implementations on one problem, plus the exact reference."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

import impls
from impls.base import Config, Trace

from .compare import Comparison, compare
from .errors import UserError
from .problem import Problem
from . import tolerance

# Exact cost, measured on 2 cores: ≈ (6 + 0.028 · bits) µs per multiply-add and step, `bits` the size of
# the exact values' numerators/denominators. Those grow linearly with the steps (~10 bits per step for
# tenths, ~170 for denominators like 1/7, 1/13 with η = 1/3), so a 3-step probe measures the growth. Past
# EXACT_SECONDS, or values past EXACT_MAX_BITS (~2400 digits; Python refuses to print ints of 4300), the
# float64 manual derivation is the reference (the report says so) and `exact` is unavailable.
EXACT_SECONDS = 3.0
EXACT_MAX_BITS = 8000


@dataclass(frozen=True, eq=False)
class RunResult:
    problem: Problem
    config: Config
    reference: Trace
    traces: dict[str, Trace]              # name -> trace, in the order asked
    unavailable: dict[str, str]           # name -> reason
    comparisons: dict[str, Comparison]    # name -> comparison against the reference
    out_of_range: str | None = None       # why the float dtype cannot hold this case's values, if it cannot

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


def _max_bits(arrays) -> int:
    import numpy as np
    return max((max(f.numerator.bit_length(), f.denominator.bit_length())
                for a in arrays if a is not None for f in np.asarray(a, dtype=object).flat), default=1)


@functools.lru_cache(maxsize=8)   # by identity (Problem has eq=False): asked for the reference and for `exact`
def exact_too_big(problem: Problem) -> str | None:
    """Why the exact Fractions would take too long on this case (None when they would not)."""
    from fractions import Fraction
    macs, k = multiply_adds(problem), problem.steps
    size = f"{macs} multiply-adds per step, {k} step(s)"
    if macs * k * 6e-6 > EXACT_SECONDS:
        return f"too large for exact Fractions ({size}; limit: ~{EXACT_SECONDS:g} s at 6 µs each)"
    lr = None if problem.lr is None else np.array([Fraction(problem.lr)], dtype=object)
    b_in = _max_bits((problem.x, problem.w, problem.b, problem.target, problem.grad_output, lr))
    b1, bk = 2 * b_in + 16, 2 * b_in + 16
    if k > 3:  # measure the growth of the digits on 3 steps, extrapolate to k
        probe = impls.load("exact").run(problem.with_(steps=3)).steps
        b1, b3 = (_max_bits(v for _, v in probe[i].items()) for i in (0, 2))
        bk = b1 + (b3 - b1) / 2 * (k - 1)
    if bk > EXACT_MAX_BITS:
        return (f"the exact values would grow to ~{int(bk * 0.30103)} digits over {k} steps (limit "
                f"{int(EXACT_MAX_BITS * 0.30103)}): too long for exact Fractions")
    seconds = macs * k * (6 + 0.028 * (b1 + bk) / 2) * 1e-6
    if seconds > EXACT_SECONDS:
        return f"too large for exact Fractions ({size}: ~{seconds:.0f} s, limit {EXACT_SECONDS:g} s)"
    return None


def first_beyond_float64(trace: Trace) -> str | None:
    """Where exact values first leave the float64 range, e.g. 'step 2: grad_filter' (None if never)."""
    import numpy as np
    from .numbers import FLOAT64_MAX
    for k, step in enumerate(trace.steps, start=1):
        for quantity, value in step.items():
            if value is not None and any(abs(v) > FLOAT64_MAX for v in np.asarray(value, dtype=object).flat):
                return f"step {k}: {quantity}"
    return None


def reference_for(problem: Problem) -> Trace:
    if exact_too_big(problem) is None:
        trace = impls.load("exact").run(problem)
        where = first_beyond_float64(trace)
        if where:  # every float implementation overflows there: nothing left to cross-check
            raise UserError(f"SGD diverges: the exact values leave the float64 range (|x| > 1.8e308) at {where}; "
                            "expected a case whose values stay finite (smaller numbers, learning_rate or steps)",
                            "problem")
        return trace
    trace = impls.load("manual").run(problem, Config(dtype="float64"))
    return Trace("manual-float64", trace.steps, trace.seconds, "cpu",
                 "reference: float64 manual derivation (case too large for exact Fractions)")


def _why_not(name: str, problem: Problem, config: Config) -> str | None:
    reason = impls.unavailable(name)
    if reason:
        return reason
    if name == "exact":
        return exact_too_big(problem)
    fn = getattr(impls.load(name), "unavailable_for", None)
    return fn(problem, config) if fn is not None else None


def run_all(problem: Problem, names: tuple[str, ...], config: Config, *, strict: bool = False) -> RunResult:
    """Run each implementation; with `strict` (names given by the user) an unavailable one is an error."""
    import numpy as np
    with np.errstate(all="ignore"):  # overflow during SGD is reported as a divergence, not as warnings
        return _run_all(problem, names, config, strict)


def _run_all(problem: Problem, names: tuple[str, ...], config: Config, strict: bool) -> RunResult:
    reference = reference_for(problem)
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
    dt = config.dtype
    mags = tolerance.magnitudes_for(problem, dt, traces)
    for name, trace in traces.items():
        comparisons[name] = compare(problem, trace, reference, dt, config.precision,
                                    mags.get(tolerance.arithmetic(dt, name), mags[dt]))
    why = None
    if any(tolerance.arithmetic(dt, n) == dt for n in traces):       # some trace computed in the dtype itself
        why = tolerance.out_of_range(problem, mags[dt], dt)
    return RunResult(problem, config, reference, traces, missing, comparisons, why)
