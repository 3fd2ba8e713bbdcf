"""`fd`: central finite differences in float64 on a plainly written forward — no backward formula.

    ∂L/∂θᵢ ≈ (L(θ + h eᵢ) − L(θ − h eᵢ)) / (2h)     for θ in Ŷ, W, x, b

The forward is `formulas.correlate` (+ bias, ReLU) and a loss written out per convention below;
the updates W − η·∂L/∂W use the finite-difference gradient, and step k+1 starts from them.

Error. Without ReLU the loss is a quadratic polynomial in each θᵢ (the convolution is linear in
W, in x and in b; every loss is quadratic or linear in Ŷ), so the central difference has no
truncation error at all: what is left is rounding. Along eᵢ, L = L0 + gᵢt + cᵢt²/2, and the computed
difference is off by ≈ (ε + u·cᵢh²/2)/h, with ε the rounding error of evaluating L (see `loss_noise`).
So a first pass with a large step (a quarter of the largest |θ|) measures each curvature cᵢ, and the
second pass uses h = √(2ε/(u·cᵢ)) per entry (a large h where L is linear in θᵢ): accurate for tiny,
huge and mixed-scale values alike (~1e-14 relative on the built-in cases). Where the first step is
far too small for θᵢ's effect on L (θ ≈ 0 beside huge targets: the second difference is lost in ε),
it grows ×2^10 until the curvature stands out (up to GROW times): without that, 1 configuration in
~200 of the sweep got ∂L/∂Ŷ 1e-5 off.
With ReLU, L is piecewise quadratic; the difference is still exact when no pre-activation z
changes sign between θ − h and θ + h (z is affine along the segment, so equal signs at both
ends and the middle mean one quadratic piece). Each perturbation is checked, and h is divided by
16 (up to 20 times) where a sign changes. Where z is exactly 0 at θ (a kink), no h helps: the
difference is then the mean of the one-sided slopes, not ReLU'(0) = 0 — counted in Trace.note.

Vectorised: P perturbed copies run as one convolution, stacked along the channel axis with
P·groups groups (copy p's channels form groups p·g … p·g + g − 1). Problems needing more than
MAX_PERTURBATIONS perturbations per step (or too much arithmetic) are refused.
Always float64 on the CPU, whatever the config's dtype and device (recorded in Trace.note).
"""

from __future__ import annotations

import time

import numpy as np

from . import formulas

xp = formulas.numpy_namespace()
from .base import Config, Step, Trace

NAME = "fd"
MAX_PERTURBATIONS = 20_000
MAX_MULTIPLY_ADDS = 400_000_000     # over all perturbed forwards of all steps (~ seconds on a laptop)
CHUNK_ELEMENTS = 2_000_000          # unfolded-input elements per batched forward (memory)
SHRINK, RETRIES = 16.0, 20     # 16^20 ≈ 1e24: reaches the kinks of tiny-valued problems too
GROW = 4                       # first-pass step ×2^10 up to 4 times where it measured only noise
U = 2.0 ** -53


def perturbations(problem) -> int:
    """Perturbed entries per step: every entry of Ŷ, W, x and b."""
    n = int(np.prod(problem.out_shape)) + problem.w.size + problem.x.size
    return n + (0 if problem.b is None else problem.b.size)


def _multiply_adds(problem) -> int:
    _, c_g, kh, kw = problem.w.shape
    return int(np.prod(problem.out_shape)) * c_g * kh * kw


def unavailable_for(problem, config: Config) -> str | None:
    count = perturbations(problem)
    if count > MAX_PERTURBATIONS:
        return (f"the case has {count} entries in Ŷ, W, x and b to perturb per step, over fd's limit of "
                f"{MAX_PERTURBATIONS}: too big for finite differences")
    work = 2 * count * _multiply_adds(problem) * problem.steps
    if work > MAX_MULTIPLY_ADDS:
        return (f"finite differences would need {work:.2g} multiply-adds, over fd's limit of "
                f"{MAX_MULTIPLY_ADDS:.0g}: too big for finite differences")
    return None


# --- the plain forward, batched over P perturbed copies ------------------------------------------

def forward(p, X, W, B):
    """Z for P copies: X (P, N, C_in, H, W), W (P, C_out, C_in/g, kh, kw), B (P, C_out) or None."""
    P, n, c_in, h, wd = X.shape
    c_out = W.shape[1]
    if p.operation == "convolution":
        W = W[..., ::-1, ::-1]
    x2 = np.ascontiguousarray(X.transpose(1, 0, 2, 3, 4)).reshape(n, P * c_in, h, wd)
    w2 = np.ascontiguousarray(W).reshape(P * c_out, *W.shape[2:])
    z, _ = formulas.correlate(xp, x2, w2, p.stride, p.padding, p.dilation, P * p.groups)
    z = z.reshape(n, P, c_out, *z.shape[2:]).transpose(1, 0, 2, 3, 4)
    return z if B is None else z + B[:, None, :, None, None]


def activate(p, z):
    return np.maximum(z, 0.0) if p.activation == "relu" else z


def losses(p, Y, target, g):
    """L of each of P copies of Ŷ (P, N, C_out, H_out, W_out), per the loss convention."""
    axes = tuple(range(1, Y.ndim))
    if p.loss == "linear":
        return np.sum(g * Y, axis=axes)
    d = Y - target
    sq = np.sum(d * d, axis=axes)
    n = Y[0].size
    return {"mean": sq / n, "sum": sq, "half_sum": sq / 2, "half_mean": sq / (2 * n)}[p.loss]


# --- central differences -------------------------------------------------------------------------

def _step_size(theta: np.ndarray) -> float:
    """The first, large step: a power of two, a quarter of the largest |θ| (at least 1/4)."""
    scale = max(float(np.max(np.abs(theta), initial=0.0)), 1.0)
    return 2.0 ** np.floor(np.log2(scale)) / 4


def _differences(flat, shape, h, idx, evaluate, chunk):
    """L(θ + hᵢeᵢ) and L(θ − hᵢeᵢ) for the entries idx, the steps 2hᵢ actually taken, and sign patterns."""
    size = flat.size
    Lp, Lm, steps, patterns = [], [], [], []
    for start in range(0, idx.size, chunk):
        part = idx[start:start + chunk]
        k = part.size
        stack = np.broadcast_to(flat, (2 * k, size)).copy()
        rows = np.arange(k)
        stack[rows, part] += h[part]
        stack[k + rows, part] -= h[part]
        steps.append(stack[rows, part] - stack[k + rows, part])      # the 2h actually taken, after rounding
        L, pattern = evaluate(stack.reshape((2 * k,) + shape))
        Lp.append(L[:k])
        Lm.append(L[k:])
        patterns.append(pattern)
    cat = lambda parts: np.concatenate(parts) if parts else np.empty(0)  # noqa: E731
    return cat(Lp), cat(Lm), cat(steps), patterns


def central_differences(theta, evaluate, chunk: int, noise: float):
    """∂L/∂θ for every entry; `evaluate(stack of P copies of θ)` -> (L (P,), sign pattern (P, ...) or None).

    Two passes. Along eᵢ the loss is the quadratic L0 + gᵢt + cᵢt²/2 (piecewise, with ReLU), so a first
    pass with a large step gives the curvature cᵢ = (L₊ + L₋ − 2L0)/h² exactly. The error of the
    difference is ≈ (ε + u·cᵢh²/2)/h with ε (`noise`) the rounding error of evaluating L at θ, smallest
    at h = √(2ε/(u·cᵢ)); the second pass uses that step (a power of two), which keeps tiny and
    mixed-scale problems accurate. Returns (gradient, number of entries at a ReLU kink)."""
    flat = theta.reshape(-1)
    size = flat.size
    L0_arr, base_pattern = evaluate(theta[None])
    L0 = float(L0_arr[0])
    h = np.full(size, _step_size(theta))
    every = np.arange(size)
    second = np.zeros(size)          # L₊ + L₋ − 2L0 = cᵢhᵢ², once it stands out of the rounding noise
    todo = every
    for grown in range(GROW + 1):
        Lp, Lm, _, _ = _differences(flat, theta.shape, h, todo, evaluate, chunk)
        with np.errstate(invalid="ignore", over="ignore"):
            second[todo] = Lp + Lm - 2 * L0
        if grown == GROW:
            break
        # a step far below θ's effect on L (θ ≈ 0 beside large other values) measures only noise:
        # grow it, while L stays finite (where L is linear in θᵢ, c = 0 and the step grows to the cap)
        grow = (np.abs(second[todo]) <= 16 * noise) & np.isfinite(Lp) & np.isfinite(Lm)
        todo = todo[grow]
        if todo.size == 0:
            break
        h[todo] *= 2.0 ** 10
    bad = ~np.isfinite(second)                 # grown too far for L's range: back one growth step
    h[bad] /= 2.0 ** 10
    second[bad] = 0.0
    curvature = second / h ** 2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        best = np.where(curvature > 0, np.sqrt(2 * noise / (U * curvature)), h)
    floor = np.maximum(np.abs(flat), np.finfo(np.float64).tiny) * 2.0 ** -26   # stay well above ulp(θᵢ)
    best = np.clip(np.nan_to_num(best, nan=h[0], posinf=h[0]), floor, h * 2.0 ** 10)
    h = 2.0 ** np.round(np.log2(best))
    grad = np.empty(size)
    todo, kinks = every, 0
    for attempt in range(RETRIES + 1):
        Lp, Lm, step, patterns = _differences(flat, theta.shape, h, todo, evaluate, chunk)
        grad[todo] = (Lp - Lm) / step
        if patterns[0] is None:
            todo = np.empty(0, dtype=int)
            break
        pattern = np.concatenate([np.concatenate([q[: q.shape[0] // 2] for q in patterns])[None]]).squeeze(0)
        minus = np.concatenate([q[q.shape[0] // 2:] for q in patterns])
        same = np.all((pattern == base_pattern) & (minus == base_pattern), axis=tuple(range(1, pattern.ndim)))
        todo = todo[~same]
        at_floor = h[todo] <= floor[todo]      # a sign still changes with the smallest sensible step: a kink
        kinks += int(at_floor.sum())
        todo = todo[~at_floor]
        if todo.size == 0 or attempt == RETRIES:
            break
        h[todo] = np.maximum(h[todo] / SHRINK, floor[todo])
    return grad.reshape(theta.shape), kinks + int(todo.size)


def loss_noise(p, x, w, b, y_hat, target, g, L0: float) -> float:
    """ε, the rounding error of evaluating L at θ: each Ŷⱼ carries ≈ n·u·Mⱼ (M = |x| ⋆ |W| + |b|, n the
    convolution's sum length), which enters L through ∂L/∂Ŷⱼ; the loss's own sum adds ≈ numel·u·|L|."""
    m = forward(p, np.abs(x)[None], np.abs(w)[None], None if b is None else np.abs(b)[None])[0]
    n = w.shape[1] * w.shape[2] * w.shape[3] + 2
    if p.loss == "linear":
        slope = np.abs(g)
    else:
        scale = {"mean": 2 / y_hat.size, "sum": 2.0, "half_sum": 1.0, "half_mean": 1 / y_hat.size}[p.loss]
        slope = scale * (np.abs(y_hat - target) + U * (m + np.abs(target)))
    return U * (n * float(np.sum(slope * (m + (0 if target is None else np.abs(target))))) + y_hat.size * abs(L0)) \
        + np.finfo(np.float64).tiny


def one_step(p, x, w, b, target, g):
    z = forward(p, x[None], w[None], None if b is None else b[None])[0]
    y_hat = activate(p, z)
    L = losses(p, y_hat[None], target, g)[0]
    relu = p.activation == "relu"
    per_copy = x[0].size * w.shape[1] * w.shape[2] * w.shape[3] * int(np.prod(p.out_hw))
    chunk = max(1, CHUNK_ELEMENTS // (2 * per_copy))

    def through(X, W, B):
        Z = forward(p, X, W, B)
        return losses(p, activate(p, Z), target, g), (Z > 0 if relu else None)

    P = lambda a, k: np.broadcast_to(a, (k,) + a.shape)  # noqa: E731
    eps = loss_noise(p, x, w, b, y_hat, target, g, float(L))
    dY, _ = central_differences(y_hat, lambda Y: (losses(p, Y, target, g), None), max(1, CHUNK_ELEMENTS // y_hat.size),
                                eps)
    dW, kink_w = central_differences(w, lambda W: through(P(x, len(W)), W, None if b is None else P(b, len(W))), chunk,
                                     eps)
    dx, kink_x = central_differences(x, lambda X: through(X, P(w, len(X)), None if b is None else P(b, len(X))), chunk,
                                     eps)
    db, kink_b = (None, 0) if b is None else central_differences(
        b, lambda B: through(P(x, len(B)), P(w, len(B)), B), chunk, eps)
    new_w = new_b = None
    if p.lr is not None:
        lr = float(p.lr)
        new_w = w - lr * dW
        new_b = None if b is None else b - lr * db
    q = {"output": z, "activation": y_hat if relu else None, "loss": np.asarray(L), "grad_output": dY,
         "grad_filter": dW, "grad_input": dx, "grad_bias": db, "updated_filter": new_w, "updated_bias": new_b}
    return q, kink_w + kink_x + kink_b


def run(problem, config: Config = Config()) -> Trace:
    a = problem.float_arrays(np.float64)
    x, w, b, target, g = a["x"], a["w"], a["b"], a["target"], a["grad_output"]
    t0 = time.perf_counter()
    steps, kinks = [], 0
    for _ in range(problem.steps):
        q, k = one_step(problem, x, w, b, target, g)
        steps.append(Step(**q))
        kinks += k
        if q["updated_filter"] is not None:
            w, b = q["updated_filter"], q["updated_bias"]
    secs = time.perf_counter() - t0
    note = "central differences, float64 on the CPU"
    if config.dtype != "float64" or config.device != "cpu":
        note += f" (asked for {config.dtype} on {config.device})"
    if kinks:
        note += (f"; {kinks} derivative(s) taken at a ReLU kink (some z exactly 0): there fd gives the mean "
                 "of the one-sided slopes, not ReLU'(0) = 0")
    elif problem.activation == "relu":
        note += "; ReLU: no pre-activation changed sign within any step h (exact up to rounding)"
    return Trace(NAME, tuple(steps), secs, "cpu", note)
