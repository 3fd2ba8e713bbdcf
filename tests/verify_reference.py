"""An independent reference for the verify tests: conv -> activation -> loss -> SGD written as the plain
definitions (explicit loops over Fractions), sharing no code with impls.formulas or harness.verify.
Also builds `Derivation`s directly from claimed arrays, so tests can plant mistakes exactly."""

from __future__ import annotations

from fractions import Fraction
from types import MappingProxyType

import numpy as np

from harness.derivation import Claim, Derivation, Source
from harness.numbers import to_exact_array
from harness.problem import make_problem


def zeros(shape):
    a = np.empty(shape, dtype=object)
    a[...] = Fraction(0)
    return a


def step(x, w, b, *, target=None, G=None, lr=None, stride=(1, 1), pad=((0, 0), (0, 0)), dil=(1, 1),
         loss="mean", op="cross_correlation", act="none", skip=frozenset()):
    """One SGD step by the definitions. x (N,C,H,W), w (O,C,kh,kw), b (O,) or None. `skip`: output
    positions (n, p, q) left out of the gradient sums (to plant a partial sum)."""
    N, C, H, Wd = x.shape
    O, _, KH, KW = w.shape
    (pt, pb), (pl, pr) = pad
    weff = w[:, :, ::-1, ::-1] if op == "convolution" else w
    xp = zeros((N, C, H + pt + pb, Wd + pl + pr))
    xp[:, :, pt:pt + H, pl:pl + Wd] = x
    Ho = (H + pt + pb - dil[0] * (KH - 1) - 1) // stride[0] + 1
    Wo = (Wd + pl + pr - dil[1] * (KW - 1) - 1) // stride[1] + 1
    at = lambda n, c, p, q, i, j: xp[n, c, p * stride[0] + i * dil[0], q * stride[1] + j * dil[1]]  # noqa: E731
    Z = zeros((N, O, Ho, Wo))
    for n, o, p, q in np.ndindex(Z.shape):
        s = sum((at(n, c, p, q, i, j) * weff[o, c, i, j] for c in range(C) for i in range(KH) for j in range(KW)),
                Fraction(0))
        Z[n, o, p, q] = s + (b[o] if b is not None else 0)
    A = zeros(Z.shape)
    for k in np.ndindex(Z.shape):
        A[k] = Z[k] if Z[k] > 0 else Fraction(0)
    Yh = A if act == "relu" else Z
    m = Z.size
    if loss == "linear":
        L = sum((G[k] * Yh[k] for k in np.ndindex(Z.shape)), Fraction(0))
        dY = G.copy()
    else:
        sq = sum(((Yh[k] - target[k]) ** 2 for k in np.ndindex(Z.shape)), Fraction(0))
        c_loss = {"mean": Fraction(1, m), "sum": Fraction(1), "half_sum": Fraction(1, 2), "half_mean": Fraction(1, 2 * m)}[loss]
        L = c_loss * sq
        dY = zeros(Z.shape)
        for k in np.ndindex(Z.shape):
            dY[k] = 2 * c_loss * (Yh[k] - target[k])
    delta = zeros(Z.shape)
    for k in np.ndindex(Z.shape):
        on = Z[k] > 0 if act == "relu" else True
        delta[k] = dY[k] if on and (k[0], k[2], k[3]) not in skip else Fraction(0)
    dWeff = zeros(w.shape)
    dxp = zeros(xp.shape)
    for n, o, p, q in np.ndindex(Z.shape):
        for c in range(C):
            for i in range(KH):
                for j in range(KW):
                    dWeff[o, c, i, j] += delta[n, o, p, q] * at(n, c, p, q, i, j)
                    dxp[n, c, p * stride[0] + i * dil[0], q * stride[1] + j * dil[1]] += delta[n, o, p, q] * weff[o, c, i, j]
    dW = dWeff[:, :, ::-1, ::-1].copy() if op == "convolution" else dWeff
    dx = dxp[:, :, pt:pt + H, pl:pl + Wd].copy()
    db = None
    if b is not None:
        db = zeros((O,))
        for n, o, p, q in np.ndindex(Z.shape):
            db[o] += delta[n, o, p, q]
    out = {"output": Z, "activation": A if act == "relu" else None, "loss": L, "grad_output": dY,
           "grad_filter": dW, "grad_input": dx, "grad_bias": db, "updated_filter": None, "updated_bias": None}
    if lr is not None:
        out["updated_filter"] = w - lr * dW
        out["updated_bias"] = None if b is None else b - lr * db
    return out


def tenths(rng, shape, lo=-9, hi=10):
    a = np.empty(shape, dtype=object)
    for k in np.ndindex(shape):
        a[k] = Fraction(int(rng.integers(lo, hi)), 10)
    return a


def problem(x, w, **kw):
    return make_problem(x=x, w=w, **kw)


def claim(q, value, decimals=None):
    value = np.asarray(value, dtype=object) if not isinstance(value, Fraction) else np.array(value, dtype=object)
    if value.ndim == 0:
        v = np.empty((), dtype=object)
        v[()] = value[()] if isinstance(value, np.ndarray) else value
        value = v
    dec = np.full(value.shape, -1 if decimals is None else decimals, dtype=int)
    return Claim(q, value, dec, f"test.{q}", "")


def derivation(p, iterations, *, conventions=None, input_decimals=None, title="test"):
    conv = {"loss": Source("default"), "operation": Source("default"), "activation": Source("default")}
    conv.update(conventions or {})
    its = tuple(MappingProxyType({q: (c if isinstance(c, Claim) else claim(q, c)) for q, c in it.items()})
                for it in iterations)
    return Derivation(title, "test", p, its, MappingProxyType(conv), MappingProxyType(input_decimals or {}))


def rounded(value, d):
    """Round half-up to d decimals, exactly, and the decimals each entry is written with."""
    q = Fraction(1, 10 ** d)

    def r(v):
        return Fraction(int((abs(v) / q) + Fraction(1, 2)), 1) * q * (1 if v >= 0 else -1)
    if isinstance(value, np.ndarray):
        out = np.empty(value.shape, dtype=object)
        for k in np.ndindex(value.shape):
            out[k] = r(value[k])
        return out
    return r(value)


SEED_X = to_exact_array([[1, 2, 1], [0, 1, 2], [2, 1, 0]], "x")
SEED_W = to_exact_array(["0.5", "0.2", "0.3", "0.7"], "w").reshape(2, 2)
SEED_Y = to_exact_array([[1, 2], [2, 1]], "y")
