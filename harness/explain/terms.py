"""Every quantity of a problem written out term by term, exactly.

Each expanded entry is a `Sum`: value = scale · Σₖ Πᵢ termₖ[i], checked on construction, and every
value is also checked against `impls.exact` (the same pipeline computed by the array formulas), so
`explain` can never print a sum that does not add up nor a total that is not the truth.

Index conventions are the canonical ones of `harness.problem`: x[n, c, h, w], W[o, c, i, j],
Z/Ŷ/δ[n, o, p, q]. Taps that fall on the zero padding are kept as terms with the factor 0, so every
gradient entry lists every output position.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from itertools import product
from math import prod

import numpy as np

from ..problem import Problem

# Beyond these, a quantity is shown as matrices only (and the document says so).
MAX_TERMS = 64
MAX_ENTRIES = 200


@dataclass(frozen=True)
class Sum:
    """value = scale · Σₖ Π termₖ, exactly."""

    terms: tuple[tuple[Fraction, ...], ...]
    value: Fraction
    scale: Fraction = Fraction(1)

    def __post_init__(self):
        total = self.scale * sum((prod(t, start=Fraction(1)) for t in self.terms), Fraction(0))
        if total != self.value:
            raise AssertionError(f"terms add up to {total}, not to {self.value}")


@dataclass(frozen=True, eq=False)
class Iteration:
    """One SGD step: the filter and bias it starts from, the exact quantities, and the expansions.

    An expansion map is None when the quantity is too large to write term by term."""

    k: int                                   # 1-based
    w: np.ndarray                            # W used in this step (canonical)
    b: np.ndarray | None
    q: dict                                  # quantity -> exact array (canonical), from impls.exact
    delta: np.ndarray                        # ∂L/∂Z (= ∂L/∂Ŷ without an activation)
    output: dict | None                      # (n, o, p, q) -> Sum of x·w (+ b)
    loss: Sum | None                         # scale · Σ d·d with d = Ŷ − Y, or Σ G·Ŷ
    grad_filter: dict | None                 # (o, c, i, j) -> Sum of δ·x
    grad_input: dict | None                  # (n, c, h, w) -> Sum of δ·w
    grad_bias: dict | None                   # (o,) -> Sum of δ


@dataclass(frozen=True, eq=False)
class Explanation:
    problem: Problem
    iterations: tuple[Iteration, ...]

    @property
    def n_out(self) -> int:
        return int(np.prod(self.problem.out_shape))


def loss_scale(loss: str, n: int) -> Fraction:
    """c in L = c · Σ(Ŷ − Y)² (1 for the linear loss L = Σ G·Ŷ)."""
    return {"mean": Fraction(1, n), "sum": Fraction(1), "half_sum": Fraction(1, 2),
            "half_mean": Fraction(1, 2 * n), "linear": Fraction(1)}[loss]


def grad_scale(loss: str, n: int) -> Fraction:
    """c' in ∂L/∂Ŷ = c' · (Ŷ − Y)."""
    return 2 * loss_scale(loss, n) if loss != "linear" else Fraction(1)


def _tap(p: Problem, i: int, j: int) -> tuple[int, int]:
    """The filter tap that multiplies window offset (i, j): flipped 180° for true convolution."""
    kh, kw = p.w.shape[2:]
    return (kh - 1 - i, kw - 1 - j) if p.operation == "convolution" else (i, j)


def _x_at(p: Problem, n: int, c: int, r: int, s: int) -> Fraction:
    """x_pad[n, c, r, s]: the input, or 0 on the padding."""
    h, w = r - p.padding[0][0], s - p.padding[1][0]
    if 0 <= h < p.x.shape[2] and 0 <= w < p.x.shape[3]:
        return p.x[n, c, h, w]
    return Fraction(0)


def _expand_output(p: Problem, w, b, z) -> dict:
    c_g, kh, kw = w.shape[1:]
    per_group = w.shape[0] // p.groups
    out = {}
    for n, o, pp, qq in np.ndindex(*z.shape):
        g = o // per_group
        terms = []
        for c, i, j in product(range(c_g), range(kh), range(kw)):
            ti, tj = _tap(p, i, j)
            r, s = pp * p.stride[0] + i * p.dilation[0], qq * p.stride[1] + j * p.dilation[1]
            terms.append((_x_at(p, n, g * c_g + c, r, s), w[o, c, ti, tj]))
        if b is not None:
            terms.append((b[o],))
        out[(n, o, pp, qq)] = Sum(tuple(terms), z[n, o, pp, qq])
    return out


def _expand_grad_filter(p: Problem, delta, dW) -> dict:
    per_group = dW.shape[0] // p.groups
    c_g = dW.shape[1]
    out = {}
    for o, c, i, j in np.ndindex(*dW.shape):
        g = o // per_group
        oi, oj = _tap(p, i, j)   # the window offset where tap (i, j) is used
        terms = []
        for n, pp, qq in np.ndindex(delta.shape[0], *delta.shape[2:]):
            r, s = pp * p.stride[0] + oi * p.dilation[0], qq * p.stride[1] + oj * p.dilation[1]
            terms.append((delta[n, o, pp, qq], _x_at(p, n, g * c_g + c, r, s)))
        out[(o, c, i, j)] = Sum(tuple(terms), dW[o, c, i, j])
    return out


def _expand_grad_input(p: Problem, w, delta, dx) -> dict:
    c_g, kh, kw = w.shape[1:]
    per_group = w.shape[0] // p.groups
    # Every (output position, window offset) pair touches one padded input position.
    contrib: dict = {}
    for n, o, pp, qq in np.ndindex(*delta.shape):
        g = o // per_group
        for c, i, j in product(range(c_g), range(kh), range(kw)):
            h = pp * p.stride[0] + i * p.dilation[0] - p.padding[0][0]
            x_ = qq * p.stride[1] + j * p.dilation[1] - p.padding[1][0]
            if 0 <= h < dx.shape[2] and 0 <= x_ < dx.shape[3]:
                ti, tj = _tap(p, i, j)
                contrib.setdefault((n, g * c_g + c, h, x_), []).append((delta[n, o, pp, qq], w[o, c, ti, tj]))
    return {idx: Sum(tuple(contrib.get(idx, ())), dx[idx]) for idx in np.ndindex(*dx.shape)}


def _expand_grad_bias(delta, db) -> dict:
    return {(o,): Sum(tuple((delta[(n, o, pp, qq)],) for n, pp, qq in
                            np.ndindex(delta.shape[0], *delta.shape[2:])), db[o]) for o in range(len(db))}


def _small(entries: int, terms: int) -> bool:
    return entries <= MAX_ENTRIES and terms <= MAX_TERMS


def _iteration(p: Problem, k: int, w, b, q: dict, expand: bool = True) -> Iteration:
    z, n_out = q["output"], q["output"].size
    y_hat = q["activation"] if q["activation"] is not None else z
    g = q["grad_output"]
    delta = g if p.activation == "none" else np.where((z > 0).astype(bool), g, Fraction(0))   # ReLU'(0) = 0
    n, ho, wo = z.shape[0], z.shape[2], z.shape[3]
    c_g, kh, kw = w.shape[1:]
    taps = c_g * kh * kw
    # ∂L/∂Ŷ, the activation and the update are checked entry by entry here (the writers show them so)
    c2 = grad_scale(p.loss, n_out)
    want = p.grad_output if p.loss == "linear" else (y_hat - p.target) * c2
    assert np.array_equal(want, q["grad_output"]), "∂L/∂Ŷ does not follow from Ŷ and Y"
    if p.activation == "relu":
        assert np.array_equal(np.where((z > 0).astype(bool), z, Fraction(0)), q["activation"]), "ReLU(Z) mismatch"
    if p.lr is not None:
        assert np.array_equal(w - p.lr * q["grad_filter"], q["updated_filter"]), "W' mismatch"
        if b is not None:
            assert np.array_equal(b - p.lr * q["grad_bias"], q["updated_bias"]), "b' mismatch"
    loss = None
    small = _small if expand else (lambda entries, terms: False)
    if expand and n_out <= MAX_TERMS:
        if p.loss == "linear":
            loss = Sum(tuple((g, v) for g, v in zip(p.grad_output.flat, y_hat.flat)), q["loss"][()])
        else:
            d = (y_hat - p.target).flat
            loss = Sum(tuple((v, v) for v in d), q["loss"][()], loss_scale(p.loss, n_out))
    return Iteration(
        k=k, w=w, b=b, q=q, delta=delta,
        output=_expand_output(p, w, b, z) if small(n_out, taps + (b is not None)) else None,
        loss=loss,
        grad_filter=_expand_grad_filter(p, delta, q["grad_filter"]) if small(w.size, n * ho * wo) else None,
        grad_input=(_expand_grad_input(p, w, delta, q["grad_input"])
                    if small(p.x.size, (w.shape[0] // p.groups) * kh * kw) else None),
        grad_bias=_expand_grad_bias(delta, q["grad_bias"]) if b is not None and expand and n * ho * wo <= MAX_TERMS else None,
    )


def explain_problem(p: Problem, expand: bool = True) -> Explanation:
    """Run the exact pipeline and expand every quantity of every step (only the results when not `expand`)."""
    from impls import exact   # Fractions only: no torch / jax
    trace = exact.run(p)
    w, b = p.w, p.b
    iterations = []
    for k, step in enumerate(trace.steps, start=1):
        q = dict(step.items())
        iterations.append(_iteration(p, k, w, b, q, expand))
        if q["updated_filter"] is not None:
            w, b = q["updated_filter"], q["updated_bias"]
    return Explanation(p, tuple(iterations))
