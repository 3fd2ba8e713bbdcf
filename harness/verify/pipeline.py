"""The pipeline one stage at a time, so each stage can be recomputed from the person's own values.

Everything runs the hand-derived `impls.formulas` on NumPy object arrays (Fractions, or `Interval`s for
rounded inputs), canonical layout. `sign = -1` is the "error = target − output" convention: the backward
signal is the negative gradient and the update adds it.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from impls import formulas as F

xp = F.numpy_namespace()


def obj(a) -> np.ndarray | None:
    """Any result as an object array (0-d for scalars)."""
    if a is None:
        return None
    if isinstance(a, np.ndarray) and a.dtype == object:
        return a
    if np.ndim(a) == 0:
        out = np.empty((), dtype=object)
        out[()] = a.item() if isinstance(a, np.ndarray) else a
        return out
    return np.asarray(a, dtype=object)


def w_eff(p, w):
    return xp.flip(w, axis=(2, 3)) if p.operation == "convolution" else w


def output(p, x, w, b):
    z, _ = F.correlate(xp, x, w_eff(p, w), p.stride, p.padding, p.dilation, p.groups)
    if b is not None:
        z = z + xp.reshape(b, (1, b.shape[0], 1, 1))
    return obj(z)


def positive(z) -> np.ndarray:
    return np.vectorize(lambda v: bool(v > 0), otypes=[bool])(z)


def activation(p, z):
    if p.activation != "relu":
        return None
    return obj(np.where(positive(z), z, z * 0))


def y_hat(p, z, a):
    return a if p.activation == "relu" else z


def loss_and_grad(p, yhat, target, g_given, sign: int = 1):
    loss, g = F.loss_and_grad(xp, yhat, target, g_given, p.loss)
    return obj(loss), obj(g * sign) if sign != 1 else obj(g)


def delta(p, dY, z):
    return obj(np.where(positive(z), dY, dY * 0)) if p.activation == "relu" else dY


def grad_filter(p, x, w_shape, d):
    ones = np.empty(w_shape, dtype=object)
    ones[...] = Fraction(1)
    _, cols = F.correlate(xp, x, ones, p.stride, p.padding, p.dilation, p.groups)
    g = F.grad_filter(xp, d, cols, w_shape, p.groups)
    return obj(xp.flip(g, axis=(2, 3)) if p.operation == "convolution" else g)


def grad_input(p, x_shape, w, d):
    return obj(F.grad_input(xp, d, w_eff(p, w), x_shape, p.stride, p.padding, p.dilation, p.groups))


def grad_bias(d):
    return obj(xp.sum(d, axis=(0, 2, 3)))


def update(w, lr, g, sign: int = 1):
    return obj(w - (lr * sign) * g)
