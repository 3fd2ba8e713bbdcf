"""Each entry of a claimed sum as its terms: ∂L/∂W₀₀ = 0.3·1 + 0.45·2 + (-0.25)·0 + 0.1·1 = 1.3.

No index arithmetic is written twice: the stages are linear in δ (gradients) or in W (the output), so the
factor that multiplies δ at one output position is the stage applied to that position's unit vector, and
which terms exist at all is read from the stage applied to all-ones inputs (padding and other groups vanish).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from . import fmt
from . import pipeline as P

MAX_BASIS = 400          # stages evaluated per quantity; larger cases get no term-by-term view

SYMBOL = {"output": "Z", "activation": "A", "loss": "L", "grad_output": "∂L/∂Ŷ", "grad_filter": "∂L/∂W",
          "grad_input": "∂L/∂X", "grad_bias": "∂L/∂b", "updated_filter": "W'", "updated_bias": "b'"}


@dataclass(frozen=True)
class Term:
    key: tuple            # what the term belongs to: an output position (n, p, q), a filter tap (c, i, j), ...
    factors: tuple        # the numbers multiplied (Fractions)
    value: Fraction


@dataclass(frozen=True)
class Sums:
    """terms[flat canonical entry] and how keys are named for the person."""

    quantity: str
    terms: tuple[tuple[Term, ...], ...]
    key_kind: str                 # "output position" | "filter tap"
    constant: str = ""            # a common prefix factor written before the bracket (the loss's 1/N)


def _ones(shape) -> np.ndarray:
    a = np.empty(shape, dtype=object)
    a[...] = Fraction(1)
    return a


def _unit(shape, idx) -> np.ndarray:
    a = np.empty(shape, dtype=object)
    a[...] = Fraction(0)
    a[idx] = Fraction(1)
    return a


def _out_key(problem, idx) -> tuple:
    """An output position as the person names it: (p, q), or (n, p, q) with a batch."""
    n, _, p, q = idx
    return (p, q) if problem.x.shape[0] == 1 else (n, p, q)


def sums(problem, quantity: str, base: dict) -> Sums | None:
    """The terms of every entry of `quantity`, from the values in `base` (x, W, b, target, δ, ŷ ...)."""
    p = problem
    if quantity in ("grad_filter", "grad_input", "grad_bias"):
        d = base["delta"]
        if d.size > MAX_BASIS:
            return None
        if quantity == "grad_filter":
            stage = lambda e, ones=False: P.grad_filter(p, _ones(p.x.shape) if ones else base["x"], base["W"].shape, e)  # noqa: E731
        elif quantity == "grad_input":
            stage = lambda e, ones=False: P.grad_input(p, p.x.shape, _ones(base["W"].shape) if ones else base["W"], e)  # noqa: E731
        else:
            stage = lambda e, ones=False: P.grad_bias(e)  # noqa: E731
        shape = None
        per_entry: list[list[Term]] = []
        for k in np.ndindex(d.shape):
            e = _unit(d.shape, k)
            f, s = stage(e), stage(e, True)
            if shape is None:
                shape = f.shape
                per_entry = [[] for _ in range(f.size)]
            for flat, (fv, sv) in enumerate(zip(f.reshape(-1), s.reshape(-1))):
                if sv != 0:
                    factors = (d[k],) if quantity == "grad_bias" else (d[k], fv)
                    per_entry[flat].append(Term(_out_key(p, k), factors, d[k] * fv))
        return Sums(quantity, tuple(tuple(t) for t in per_entry), "output position")
    if quantity == "output":
        w = base["W"]
        if w.size > MAX_BASIS:
            return None
        per_entry = [[] for _ in range(int(np.prod(p.out_shape)))]
        for t in np.ndindex(w.shape):
            e = _unit(w.shape, t)
            f, s = P.output(p, base["x"], e, None), P.output(p, _ones(p.x.shape), e, None)
            key = t[1:] if w.shape[1] > 1 else t[2:]
            for flat, (fv, sv) in enumerate(zip(f.reshape(-1), s.reshape(-1))):
                if sv != 0:
                    per_entry[flat].append(Term(key, (fv, w[t]), fv * w[t]))
        if base.get("b") is not None:
            for flat, idx in enumerate(np.ndindex(p.out_shape)):
                per_entry[flat].append(Term(("bias",), (base["b"][idx[1]],), base["b"][idx[1]]))
        return Sums(quantity, tuple(tuple(t) for t in per_entry), "filter tap")
    if quantity == "loss" and p.loss != "linear":
        yhat, y = base["yhat"], base["target"]
        n = yhat.size
        c = {"mean": Fraction(1, n), "sum": Fraction(1), "half_sum": Fraction(1, 2), "half_mean": Fraction(1, 2 * n)}[p.loss]
        terms = tuple(Term(_out_key(p, k) if p.w.shape[0] == 1 else k, (yhat[k] - y[k],), c * (yhat[k] - y[k]) ** 2)
                      for k in np.ndindex(yhat.shape))
        return Sums(quantity, (terms,), "output position", constant="" if c == 1 else f"({c})")
    return None


def written(sums: Sums, flat: int, user_index: tuple, total=None, keep=None, ix=fmt.Indexing()) -> str:
    """'∂L/∂W₀₀ = 0.3·1 + 0.45·2 + (-0.25)·0 + 0.1·1 = 1.3' (only the terms in `keep`, if given)."""
    terms = [t for t in sums.terms[flat] if keep is None or t.key in keep]
    if sums.quantity == "loss":
        inner = " + ".join(f"{fmt.factor(t.factors[0])}²" for t in terms)
        value = sum((t.value for t in terms), Fraction(0))
        head = f"{sums.constant}·[{inner}]" if sums.constant else inner
        return f"L = {head} = {fmt.num(value if total is None else total)}"
    parts = ["·".join(fmt.factor(f) for f in t.factors) for t in terms]
    value = sum((t.value for t in terms), Fraction(0))
    name = SYMBOL[sums.quantity] + ix.sub(user_index)
    return f"{name} = {' + '.join(parts) or '0'} = {fmt.num(value if total is None else total)}"
