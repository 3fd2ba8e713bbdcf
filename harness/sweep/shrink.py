"""Reduce a failing configuration to a smallest one that still fails the same way.

Greedy delta reduction (as in Zeller's ddmin and hypothesis's shrinker, on our own structure):
try each simplification in turn, keep the first that still fails, start over from it; stop when
none does (a local minimum: every single simplification makes the failure go away) or when the
budget is spent. "Still fails" means the same implementation still disagrees with the exact
reference on the same quantity (`Outcome.failing`), and the case is not skipped.

  1. structure: batch, groups, channels, steps, update, activation, operation, loss, bias, padding,
     stride, dilation, kernel, input size, 2-D layout — each towards its default or smaller; the
     numbers are redrawn from the same value seed for the new shapes;
  2. values: integers instead of decimals, no scaling;
  3. the numbers themselves, alternating until neither changes anything: crop the arrays (one
     sample, channel, filter, input row or column less; Y / G cut or zero-filled to the new output
     shape) and set single entries of x, W, b, Y / G to 0, else to 1.
Every simplification strictly decreases a well-founded measure, so the loop ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from impls.base import Config

from ..errors import UserError
from ..problem import Problem, make_problem
from .draw import Case, Geometry
from .run import Outcome, run_problem

MAX_EVALUATIONS = 400
MAX_SECONDS = 30.0


@dataclass(frozen=True)
class Shrunk:
    impl: str
    quantity: str
    original: Case
    case: Case                 # the smallest drawn configuration (structure + value style)
    problem: Problem           # after entry-wise simplification: what the case file holds
    outcome: Outcome           # its failure
    evaluations: int
    seconds: float
    complete: bool             # False: the budget ran out before a local minimum


def _geometry_steps(g: Geometry):
    """Simpler geometries, most drastic first."""
    R = lambda **kw: replace(g, **kw)  # noqa: E731
    if g.n > 1:
        yield R(n=1)
        yield R(n=g.n - 1)
    if g.groups > 1:
        yield R(groups=1, c_in=g.c_in // g.groups, c_out=g.c_out // g.groups)
    if g.c_in > g.groups:
        yield R(c_in=g.c_in - g.groups)
    if g.c_out > g.groups:
        yield R(c_out=g.c_out - g.groups)
    if g.activation != "none":
        yield R(activation="none")
    if g.operation != "cross_correlation":
        yield R(operation="cross_correlation")
    if g.loss != "mean":
        yield R(loss="mean")
    if g.bias and g.activation == "none":
        yield R(bias=False)
    if g.padding == "same":
        yield R(padding=g.pads)
    elif g.pads != ((0, 0), (0, 0)):
        yield R(padding=((0, 0), (0, 0)))
        flat = [v for pair in g.pads for v in pair]
        for i, v in enumerate(flat):
            if v:
                smaller = flat[:i] + [v - 1] + flat[i + 1:]
                yield R(padding=((smaller[0], smaller[1]), (smaller[2], smaller[3])))
    if g.stride != (1, 1):
        yield R(stride=(1, 1))
        yield from (R(stride=s) for s in ((1, g.stride[1]), (g.stride[0], 1)) if s != g.stride)
    if g.dilation != (1, 1):
        yield R(dilation=(1, 1))
        yield from (R(dilation=d) for d in ((1, g.dilation[1]), (g.dilation[0], 1)) if d != g.dilation)
    if g.kh > 1:
        yield R(kh=g.kh - 1)
    if g.kw > 1:
        yield R(kw=g.kw - 1)
    if g.h > 1:
        yield R(h=g.h - 1)
    if g.w > 1:
        yield R(w=g.w - 1)
    if not g.flat and g.n == g.c_in == g.c_out == 1:
        yield R(flat=True)


def _case_steps(case: Case):
    g, v = case.geometry, case.values
    for g2 in _geometry_steps(g):
        if g2.valid:
            yield replace(case, geometry=g2)
    if g.update and v.steps > 1:
        yield replace(case, values=replace(v, steps=1))
        yield replace(case, values=replace(v, steps=v.steps - 1))
    if g.update and v.steps == 1:
        yield replace(case, geometry=replace(g, update=False))
    if v.style != "integers":
        yield replace(case, values=replace(v, style="integers", x_exp=0, w_exp=0, g_exp=0))
    if (v.x_exp, v.w_exp, v.g_exp) != (0, 0, 0):
        yield replace(case, values=replace(v, x_exp=0, w_exp=0, g_exp=0))


def _simpler_entries(p: Problem, key: str, idx: tuple[int, ...]):
    """The problem with entry `idx` of input array `key` set to 0, or else to 1."""
    a = getattr(p, key)
    for value in (Fraction(0), Fraction(1)):
        if a[idx] == value or (value == 1 and a[idx] == 0):
            return
        b = a.copy()
        b[idx] = value
        yield p.with_(**{key: b})


def _fit(a, shape):
    """`a` cut, or zero-filled, to `shape`."""
    out = np.full(shape, Fraction(0), dtype=object)
    common = tuple(slice(0, min(i, j)) for i, j in zip(a.shape, shape))
    out[common] = a[common]
    return out


def _crops(p: Problem):
    """Valid problems with one sample, channel, filter, input row or input column less."""
    x, w, b = p.x, p.w, p.b
    g = p.groups
    options = []
    if x.shape[0] > 1:
        options.append((x[:-1], w, b))
    if g == 1 and w.shape[0] > 1:
        options.append((x, w[:-1], None if b is None else b[:-1]))
    if g == 1 and x.shape[1] > 1:
        options.append((x[:, :-1], w[:, :-1], b))
    for axis in (2, 3):
        if x.shape[axis] > 1:
            options.append((np.delete(x, -1, axis=axis), w, b))
        if w.shape[axis] > 1:
            options.append((x, np.delete(w, -1, axis=axis), b))
    for x2, w2, b2 in options:
        try:
            q = make_problem(x=x2, w=w2, b=b2, lr=p.lr,
                             stride=p.stride, padding=p.padding, dilation=p.dilation, groups=g, steps=p.steps,
                             loss=p.loss, operation=p.operation, activation=p.activation, name=p.name,
                             **_fitted(p, x2, w2))
        except UserError:
            continue
        yield q.with_(layout=p.layout)


def _fitted(p: Problem, x2, w2) -> dict:
    """Target / grad_output fitted to the output shape of the cropped x2, w2."""
    from ..problem import output_hw
    out = (x2.shape[0], w2.shape[0], *output_hw(x2.shape[2:], w2.shape[2:], p.stride, p.padding, p.dilation))
    if min(out) < 1:
        raise UserError("empty output")
    return {k: None if getattr(p, k) is None else _fit(getattr(p, k), out) for k in ("target", "grad_output")}


def _entries(p: Problem):
    for key in ("x", "w", "b", "target", "grad_output"):
        a = getattr(p, key)
        if a is not None:
            yield from ((key, idx) for idx in np.ndindex(a.shape))


def shrink(case: Case, impl: str, quantity: str, config: Config, *, max_evaluations: int = MAX_EVALUATIONS,
           max_seconds: float = MAX_SECONDS) -> Shrunk:
    """The smallest configuration found on which `impl` still fails on `quantity`."""
    t0 = time.perf_counter()
    names = tuple(dict.fromkeys(("exact", impl)))
    evaluations = 0

    def fails(problem: Problem) -> Outcome | None:
        nonlocal evaluations
        evaluations += 1
        out = run_problem(problem, names, config)
        return out if not out.skipped and (impl, quantity) in out.failing() else None

    def spent() -> bool:
        return evaluations >= max_evaluations or time.perf_counter() - t0 > max_seconds

    current = replace(case, index=-1, name=f"shrunk-{impl}-{quantity}")
    outcome = fails(current.problem)
    if outcome is None:          # flaky: does not fail again on its own
        return Shrunk(impl, quantity, case, case, case.problem, Outcome((), {}, {}, {}), evaluations,
                      time.perf_counter() - t0, False)
    improved = True
    while improved and not spent():
        improved = False
        for candidate in _case_steps(current):
            if spent():
                break
            try:
                problem = candidate.problem
            except UserError:     # not a valid configuration
                continue
            out = fails(problem)
            if out is not None:
                current, outcome, improved = candidate, out, True
                break
    def first_failing(candidates):
        """The first candidate that still fails, with its outcome (None when none does or time is up)."""
        for candidate in candidates:
            if spent():
                return None
            out = fails(candidate)
            if out is not None:
                return candidate, out
        return None

    def simpler_entries(problem):
        for key, idx in list(_entries(problem)):
            yield from _simpler_entries(problem, key, idx)

    problem = current.problem
    while not spent():          # until neither a crop nor a simpler entry still fails
        found = first_failing(_crops(problem)) or first_failing(simpler_entries(problem))
        if found is None:
            break
        problem, outcome = found
    return Shrunk(impl, quantity, case, current, problem, outcome, evaluations, time.perf_counter() - t0,
                  not spent())
