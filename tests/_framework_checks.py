"""Shared by test_frameworks, test_devices and test_gpu: compare a trace with the exact one.

The bound is the textbook one for sums of products (Higham §3.1):
    |fl(Σ aᵢbᵢ) − Σ aᵢbᵢ| ≤ γₙ Σ|aᵢbᵢ|,  γₙ ≈ n·u,
so an entry passes when |observed − expected| ≤ SAFETY·n·u·M + 2u·|expected|, where M ("magnitude",
the Σ|terms|) comes from the pipeline run on absolute values — |x|, |W|, |b|, diff = |Ŷ| + |Y|,
W + |η|·M_∂W — in float64, and n bounds every reduction length of a step, times the steps.
The magnitude run only scales the tolerance; the expected values are exact Fractions.
"""

from __future__ import annotations

import numpy as np

from impls.base import Config

UNIT_ROUNDOFF = {"float64": 2.0 ** -53, "float32": 2.0 ** -24, "float16": 2.0 ** -11, "bfloat16": 2.0 ** -8,
                 "tf32": 2.0 ** -11}
SAFETY = 2.0
FD_RTOL = 1e-9   # fd: exact up to rounding ~ n·u·S/h; h shrinks near ReLU kinks (see impls.fd)


def magnitudes(problem):
    """Σ|terms| of every quantity of every step (a float64 run of the pipeline on absolute values)."""
    from impls import manual
    absolute = lambda a: None if a is None else np.abs(a)  # noqa: E731
    p = problem.with_(x=absolute(problem.x), w=absolute(problem.w), b=absolute(problem.b),
                      target=None if problem.target is None else -absolute(problem.target),
                      grad_output=absolute(problem.grad_output), activation="none",
                      lr=None if problem.lr is None else -abs(problem.lr))
    return manual.run(p, Config(dtype="float64")).steps


def reduction_bound(problem) -> int:
    n, _, _, _ = problem.x.shape
    c_out, c_g, kh, kw = problem.w.shape
    ho, wo = problem.out_hw
    per_step = c_g * kh * kw + n * ho * wo + (c_out // problem.groups) * kh * kw + n * c_out * ho * wo + 10
    return per_step * problem.steps


def mismatches(problem, trace, reference, dtype: str, where: str = "") -> list[str]:
    """Every entry outside the tolerance, as 'observed X, expected Y (quantity[index], step, impl)'."""
    u = UNIT_ROUNDOFF[dtype]
    n = reduction_bound(problem)
    out = []
    if len(trace.steps) != len(reference.steps):
        return [f"observed {len(trace.steps)} steps, expected {len(reference.steps)} ({trace.impl}{where})"]
    for k, (obs_step, ref_step, mag_step) in enumerate(zip(trace.steps, reference.steps, magnitudes(problem)), 1):
        for (name, obs), (_, ref), (_, mag) in zip(obs_step.items(), ref_step.items(), mag_step.items()):
            if name == "activation" and ref is not None:
                mag = dict(mag_step.items())["output"]
            if ref is None or obs is None:
                if (ref is None) != (obs is None):
                    out.append(f"observed {obs!r}, expected {ref!r} ({name}, step {k}, {trace.impl}{where})")
                continue
            expected = np.asarray(ref, dtype=object).astype(np.float64)
            observed = np.asarray(obs, dtype=np.float64)
            if observed.shape != expected.shape:
                out.append(f"observed shape {observed.shape}, expected {expected.shape} ({name}, step {k}, "
                           f"{trace.impl}{where})")
                continue
            mag = np.asarray(mag, dtype=np.float64)
            if trace.impl == "fd":
                allowed = FD_RTOL * (mag + np.abs(expected))
            else:
                allowed = SAFETY * n * u * mag + 2 * u * np.abs(expected)
            bad = ~(np.abs(observed - expected) <= allowed)
            for idx in zip(*np.nonzero(bad)) if bad.ndim else ([()] if bad else []):
                out.append(f"observed {observed[idx]!r}, expected {expected[idx]!r} (allowed ±{allowed[idx]:.3g}; "
                           f"{name}{list(map(int, idx))}, step {k}, {trace.impl}{where})")
    return out


def assert_agrees(problem, trace, reference, dtype: str, where: str = "") -> None:
    bad = mismatches(problem, trace, reference, dtype, where)
    assert not bad, f"{len(bad)} mismatch(es):\n" + "\n".join(bad[:10])
