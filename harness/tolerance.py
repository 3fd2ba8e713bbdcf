"""One tolerance table per dtype, from the floating-point error analysis of the pipeline.

Every quantity is a sum of products. The model of one rounded operation (Higham, *Accuracy and
Stability of Numerical Algorithms*, §2.1) is

    fl(a op b) = (a op b)(1 + δ) + η,    |δ| ≤ u,   |η| ≤ u·λ,

u the unit roundoff, λ the smallest normal number: η is the underflow error, at most half the
spacing of the subnormals (u·λ = smallest subnormal / 2: 2⁻²⁵ for float16, 2⁻¹³⁴ for bfloat16,
2⁻¹⁵⁰ for float32), and 0 for + and − (their subnormal results are exact). For a sum of n products
this gives (Higham §3.1, with Σ|ηᵢ| ≤ n·u·λ ≤ γₙ·λ)

    |fl(Σ aᵢbᵢ) − Σ aᵢbᵢ|  ≤  γₙ · (Σ |aᵢ bᵢ| + λ),      γₙ = n·u / (1 − n·u).

So an entry is accepted when

    |observed − expected|  ≤  SAFETY · γₙ · M  +  rtol · |expected|

where M ("magnitude") is the same quantity computed on absolute values — the pipeline run
on |x|, |W|, |b| and |Ŷ|+|Y| (see `magnitudes`) — with λ added to every input (rounding an input
to the dtype is one more operation: |fl(v) − v| ≤ u·(|v| + λ)) and to every product stage (the
bound above); an error carried from an earlier stage, λ included, is scaled by what multiplies it,
as the pipeline on magnitudes does. Where all values are normal, the λ terms are negligible
(float32: λ ≈ 1.2e-38; float64: 2.2e-308); where values underflow (float16: λ ≈ 6.1e-5) they are
the bound. n is the reduction length of that quantity in that step, accumulated over the steps so far:
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

Overflow is not modelled: M bounds every partial sum of a quantity (|fl(s_k)| ≤ (1 + γₙ)·M), so
where SAFETY·γₙ·M and M together stay below the dtype's largest finite number no result can
overflow; where they do not (`out_of_range`), a comparison means nothing and the configuration is
not compared.
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
    smallest_normal: float = 0.0      # λ: below it values are subnormal and lose relative precision
    largest: float = float("inf")     # the largest finite number

    def gamma(self, n: int) -> float:
        nu = n * self.unit_roundoff
        return nu / (1 - nu) if nu < 0.5 else 1.0


_F16, _F32, _F64 = (np.finfo(t) for t in (np.float16, np.float32, np.float64))
# dtype -> unit roundoff u (half the distance from 1 to the next float), a small rtol floor, the
# smallest normal λ and the largest finite number. bfloat16 has float32's exponent range (NumPy has
# no bfloat16): λ = 2⁻¹²⁶, largest (2 − 2⁻⁷)·2¹²⁷.
TABLE = {
    "float64": Tolerance("float64", 2.0 ** -53, 2.0 ** -50, float(_F64.tiny), float(_F64.max)),
    "float32": Tolerance("float32", 2.0 ** -24, 2.0 ** -21, float(_F32.tiny), float(_F32.max)),
    # float32 storage, 10-bit mantissa products on GPU
    "tf32": Tolerance("tf32", 2.0 ** -11, 2.0 ** -8, float(_F32.tiny), float(_F32.max)),
    "bfloat16": Tolerance("bfloat16", 2.0 ** -8, 2.0 ** -5, 2.0 ** -126, (2 - 2.0 ** -7) * 2.0 ** 127),
    "float16": Tolerance("float16", 2.0 ** -11, 2.0 ** -8, float(_F16.tiny), float(_F16.max)),
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


def arithmetic(dtype: str, impl: str = "") -> str | None:
    """The dtype whose underflow `impl`'s magnitudes carry: fd computes in float64; exact has none."""
    return None if impl == "exact" else "float64" if impl == "fd" else dtype


def magnitudes_for(problem, dtype: str, names) -> dict[str, list]:
    """`magnitudes` with the underflow terms of each arithmetic the implementations `names` compute in
    (fd: float64), and of `dtype` itself; exact, which has none, is compared with `dtype`'s."""
    return {d: magnitudes(problem, d) for d in ({arithmetic(dtype, n) for n in names} - {None}) | {dtype}}


def magnitudes(problem, dtype: str | None = None) -> list[dict[str, np.ndarray | None]]:
    """Each quantity computed on absolute values (float64): the Σ|terms| that rounding errors scale with.

    With a dtype, its smallest normal λ is added to every input and to the result of every product
    stage (see the module docstring): the underflow terms. Without one, λ = 0 (the plain Σ|terms|).
    Each step's dict also holds "loss_terms", the loss's Σ|terms| before its 1/n or ½ factor
    (an implementation may hold that sum: `out_of_range` checks it too)."""
    from impls import formulas
    xp = formulas.numpy_namespace()

    lam = 0.0 if dtype is None else TABLE[dtype].smallest_normal
    a = problem.float_arrays(np.float64)
    rounded = lambda v: None if v is None else np.abs(v) + lam  # noqa: E731  |fl(v) − v| ≤ u·(|v| + λ)
    x, w, b = rounded(a["x"]), rounded(a["w"]), rounded(a["b"])
    lr = 0.0 if problem.lr is None else abs(float(problem.lr)) + lam
    mags = []
    for _ in range(problem.steps):
        flip = problem.operation == "convolution"
        w_eff = w[:, :, ::-1, ::-1] if flip else w
        m_out, cols = formulas.correlate(xp, x, w_eff, problem.stride, problem.padding, problem.dilation,
                                         problem.groups)
        m_out = m_out + lam
        if b is not None:
            m_out = m_out + b.reshape(1, -1, 1, 1)
        if problem.loss == "linear":
            m_diff = rounded(a["grad_output"])
            m_go = m_diff
            m_terms = float(np.sum(m_diff * m_out)) + lam
            m_loss = m_terms
        else:
            m_diff = m_out + rounded(a["target"])
            scale = {"mean": 2 / m_out.size, "sum": 2.0, "half_sum": 1.0, "half_mean": 1 / m_out.size}[problem.loss]
            m_go = scale * m_diff + lam
            m_terms = float(np.sum(m_diff * m_diff)) + lam
            m_loss = m_terms * max(scale, 1 / m_out.size) + lam
        m_dw = formulas.grad_filter(xp, m_go, cols, w.shape, problem.groups) + lam
        m_dw = m_dw[:, :, ::-1, ::-1] if flip else m_dw
        m_dx = np.abs(formulas.grad_input(xp, m_go, w_eff, x.shape, problem.stride, problem.padding,
                                          problem.dilation, problem.groups)) + lam
        m_db = None if b is None else m_go.sum(axis=(0, 2, 3))          # sums: no underflow error
        m_w1 = w + lr * m_dw + lam
        m_b1 = None if b is None else b + lr * m_db + lam
        mags.append({"output": m_out, "activation": m_out, "loss": np.asarray(m_loss), "grad_output": m_go,
                     "grad_filter": m_dw, "grad_input": m_dx, "grad_bias": m_db, "updated_filter": m_w1,
                     "updated_bias": m_b1, "loss_terms": np.asarray(m_terms)})
        w, b = m_w1, m_b1
    return mags


def out_of_range(problem, mags, dtype: str) -> str | None:
    """Why `dtype` cannot hold this configuration's values, or None: an input beyond its largest finite
    number, or a quantity whose Σ|terms| M (a bound on each of its partial sums) could round past it,
    (1 + SAFETY·γₙ)·M > largest. Then an implementation may overflow where exact arithmetic does not."""
    tol = TABLE[dtype]
    a = problem.float_arrays(np.float64)
    inputs = {"x": a["x"], "W": a["w"], "b": a["b"], "Y": a["target"], "G": a["grad_output"],
              "learning rate": None if problem.lr is None else np.asarray(float(problem.lr))}
    for name, v in inputs.items():
        if v is not None and v.size and float(np.max(np.abs(v))) * (1 + tol.unit_roundoff) > tol.largest:
            return f"{name} beyond {dtype}'s largest finite number {tol.largest:.5g}"
    lengths = reduction_lengths(problem)
    for k, step in enumerate(mags, start=1):
        for quantity, m in step.items():
            if m is None or not np.size(m) or quantity == "loss":   # the loss ≤ loss_terms (factor ≤ 1)
                continue
            n = lengths["loss" if quantity == "loss_terms" else quantity] * k
            worst = float(np.max(m))
            if worst * (1 + SAFETY * tol.gamma(n)) > tol.largest:
                name = "the loss's sum (before its 1/n or ½)" if quantity == "loss_terms" else quantity
                return (f"{name} at step {k} may reach {dtype}'s largest finite number {tol.largest:.5g} "
                        f"(Σ|terms| up to {worst:.3g})")
    return None
