"""One tolerance table per dtype, from the floating-point error analysis of the pipeline.

Every quantity is a sum of products. For a sum of n products computed in floating point
with unit roundoff u, the classic bound (Higham, *Accuracy and Stability of Numerical
Algorithms*, §3.1) is

    |fl(Σ aᵢbᵢ) − Σ aᵢbᵢ|  ≤  γₙ · Σ |aᵢ bᵢ|,      γₙ = n·u / (1 − n·u).

So an entry is accepted when

    |observed − expected|  ≤  SAFETY · γₙ · M  +  rtol · |expected|

where M ("magnitude") is the same quantity computed on absolute values — the pipeline run
on |x|, |W|, |b| and |Ŷ|+|Y| (see `magnitudes`) — and n is the reduction length of that quantity
in that step, accumulated over the steps so far:
    output            C_in/g · kh · kw (+1 with a bias)
    loss              numel(Ŷ) + output's n
    grad_output       output's n + 2
    grad_filter       N · H_out · W_out + grad_output's n
    grad_input        C_out/g · kh · kw + grad_output's n
    grad_bias         N · H_out · W_out + grad_output's n
    updated_*         the gradient's n + 2
Inputs are themselves rounded to the dtype (0.1 is not a float), which the +2/+1 terms and
SAFETY cover. `exact` must match exactly (tolerance 0). `fd` (central differences in
float64, step h) carries its own truncation/rounding error, bounded by FD_RTOL·M.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAFETY = 4.0


@dataclass(frozen=True)
class Tolerance:
    dtype: str
    unit_roundoff: float
    rtol: float

    def gamma(self, n: int) -> float:
        nu = n * self.unit_roundoff
        return nu / (1 - nu) if nu < 0.5 else 1.0


# dtype -> unit roundoff u (half the distance from 1 to the next float) and a small rtol floor.
TABLE = {
    "float64": Tolerance("float64", 2.0 ** -53, 2.0 ** -50),
    "float32": Tolerance("float32", 2.0 ** -24, 2.0 ** -21),
    "tf32": Tolerance("tf32", 2.0 ** -11, 2.0 ** -8),        # float32 storage, 10-bit mantissa products on GPU
    "bfloat16": Tolerance("bfloat16", 2.0 ** -8, 2.0 ** -5),
    "float16": Tolerance("float16", 2.0 ** -11, 2.0 ** -8),
    "exact": Tolerance("exact", 0.0, 0.0),
}
FD_RTOL = 1e-6   # central differences on a quadratic: exact up to rounding, ~ u·|L|/h with h ~ 1e-4·scale


def for_run(dtype: str, precision: str = "highest", impl: str = "") -> Tolerance:
    if impl == "exact":
        return TABLE["exact"]
    if impl == "fd":
        return Tolerance("fd", FD_RTOL / SAFETY, FD_RTOL)
    if dtype == "float32" and precision in ("tf32", "default"):
        return TABLE["tf32"]
    return TABLE[dtype]


def reduction_lengths(problem) -> dict[str, int]:
    """n per quantity for ONE step (see the module docstring)."""
    n, c_in, _, _ = problem.x.shape
    c_out, c_g, kh, kw = problem.w.shape
    ho, wo = problem.out_hw
    n_out = c_g * kh * kw + (1 if problem.b is not None else 0) + 1
    n_go = n_out + 2
    positions = n * ho * wo
    return {"output": n_out, "activation": n_out, "loss": n * c_out * ho * wo + n_out, "grad_output": n_go,
            "grad_filter": positions + n_go, "grad_input": (c_out // problem.groups) * kh * kw + n_go,
            "grad_bias": positions + n_go, "updated_filter": positions + n_go + 2,
            "updated_bias": positions + n_go + 2}


def allowed(tol: Tolerance, expected: np.ndarray, magnitude: np.ndarray, n: int) -> np.ndarray:
    """Per-entry allowed |observed − expected|."""
    if tol.unit_roundoff == 0 and tol.rtol == 0:
        return np.zeros(np.shape(expected))
    if tol.dtype == "fd":
        return tol.rtol * (np.abs(expected) + magnitude)
    return SAFETY * tol.gamma(n) * magnitude + tol.rtol * np.abs(expected)


def magnitudes(problem) -> list[dict[str, np.ndarray | None]]:
    """Each quantity computed on absolute values (float64): the Σ|terms| that rounding errors scale with."""
    from impls import formulas
    xp = formulas.numpy_namespace()

    a = problem.float_arrays(np.float64)
    x, w = np.abs(a["x"]), np.abs(a["w"])
    b = None if a["b"] is None else np.abs(a["b"])
    mags = []
    for _ in range(problem.steps):
        flip = problem.operation == "convolution"
        w_eff = w[:, :, ::-1, ::-1] if flip else w
        m_out, cols = formulas.correlate(xp, x, w_eff, problem.stride, problem.padding, problem.dilation,
                                         problem.groups)
        if b is not None:
            m_out = m_out + b.reshape(1, -1, 1, 1)
        if problem.loss == "linear":
            m_diff = np.abs(a["grad_output"])
            m_go = m_diff
            m_loss = float(np.sum(m_diff * m_out))
        else:
            m_diff = m_out + np.abs(a["target"])
            scale = {"mean": 2 / m_out.size, "sum": 2.0, "half_sum": 1.0, "half_mean": 1 / m_out.size}[problem.loss]
            m_go = scale * m_diff
            m_loss = float(np.sum(m_diff * m_diff)) * max(scale, 1 / m_out.size)
        m_dw = formulas.grad_filter(xp, m_go, cols, w.shape, problem.groups)
        m_dw = m_dw[:, :, ::-1, ::-1] if flip else m_dw
        m_dx = np.abs(formulas.grad_input(xp, m_go, w_eff, x.shape, problem.stride, problem.padding,
                                          problem.dilation, problem.groups))
        m_db = None if b is None else m_go.sum(axis=(0, 2, 3))
        lr = 0.0 if problem.lr is None else abs(float(problem.lr))
        m_w1 = w + lr * m_dw
        m_b1 = None if b is None else b + lr * m_db
        mags.append({"output": m_out, "activation": m_out, "loss": np.asarray(m_loss), "grad_output": m_go,
                     "grad_filter": m_dw, "grad_input": m_dx, "grad_bias": m_db, "updated_filter": m_w1,
                     "updated_bias": m_b1})
        w, b = m_w1, m_b1
    return mags
