"""Benchmark shapes (N, C_in, C_out, H, k) and the problems built from them."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import UserError

DEFAULT_SHAPES = ("1,1,1,3,2", "8,3,16,32,3", "32,16,32,32,3", "32,64,64,32,3", "16,64,64,56,3")
LR = Fraction(1, 10)


@dataclass(frozen=True)
class Shape:
    """A square input H×H, a k×k filter, valid cross-correlation, stride 1, mean-squared error, one step."""

    n: int
    c_in: int
    c_out: int
    h: int
    k: int

    @property
    def label(self) -> str:
        return f"({self.n},{self.c_in},{self.c_out},{self.h},{self.k})"

    @property
    def ho(self) -> int:
        return self.h - self.k + 1

    @property
    def macs(self) -> int:
        """Multiply-adds of the forward convolution; ∂L/∂W and ∂L/∂x take as many each."""
        return self.n * self.c_out * self.ho * self.ho * self.c_in * self.k * self.k

    @property
    def step_flops(self) -> int:
        """The step's useful floating-point operations: three convolution-sized products, 2 flops per multiply-add."""
        return 6 * self.macs

    def gemm_dims(self) -> dict[str, tuple[int, int, int]]:
        """The im2col step's three products as (M, K, N): Z = W·cols, ∂L/∂Wᵀ = cols·δᵀ, ∂L/∂cols = Wᵀ·δ."""
        kk, p = self.c_in * self.k * self.k, self.n * self.ho * self.ho
        return {"forward": (self.c_out, kk, p), "grad_filter": (kk, p, self.c_out), "grad_cols": (kk, self.c_out, p)}


def parse_shape(text: str, where: str = "--shape") -> Shape:
    parts = [s.strip() for s in text.strip().strip("()").split(",")]
    if len(parts) != 5 or not all(p.isdigit() for p in parts):
        raise UserError(f"a shape is five positive integers N,C_in,C_out,H,k (e.g. 32,16,32,32,3), got {text!r}", where)
    n, c_in, c_out, h, k = (int(p) for p in parts)
    if min(n, c_in, c_out, h, k) < 1:
        raise UserError(f"every entry of a shape must be >= 1, got {text!r}", where)
    if k > h:
        raise UserError(f"the filter ({k}×{k}) is larger than the input ({h}×{h}) in {text!r}", where)
    shape = Shape(n, c_in, c_out, h, k)
    if shape.macs > 2_000_000_000:
        raise UserError(f"{text!r} needs {shape.macs:.3g} multiply-adds per convolution; the limit is 2e9", where)
    return shape


@dataclass(frozen=True, eq=False)
class Case:
    """Float arrays for one shape (values k/10, so the exact path gets the same numbers) and the conventions."""

    shape: Shape
    dtype: str
    problem: object           # harness.problem.Problem carrying the conventions (and, when small, exact arrays)
    x: np.ndarray
    w: np.ndarray
    target: np.ndarray


EXACT_MAX_MACS = 20_000       # Fractions cost ~1 µs per operation: only tiny shapes run exactly


def make_case(shape: Shape, dtype: str, seed: int = 0) -> Case:
    from ..problem import Problem
    rng = np.random.default_rng(seed)
    tenths = lambda *dims: rng.integers(-9, 10, size=dims)   # noqa: E731  (tenths: exact in Fractions)
    xi, wi = tenths(shape.n, shape.c_in, shape.h, shape.h), tenths(shape.c_out, shape.c_in, shape.k, shape.k)
    yi = tenths(shape.n, shape.c_out, shape.ho, shape.ho)
    dt = np.dtype(dtype)
    x, w, y = (a.astype(dt) / dt.type(10) for a in (xi, wi, yi))
    if shape.macs <= EXACT_MAX_MACS:
        frac = np.frompyfunc(lambda v: Fraction(int(v), 10), 1, 1)
        problem = Problem(x=frac(xi), w=frac(wi), target=frac(yi), lr=LR, name=f"bench{shape.label}")
    else:   # conventions only: the float implementations read x, w, target from the Case
        problem = Problem(x=x, w=w, target=y, lr=LR, name=f"bench{shape.label}")
    return Case(shape, dtype, problem, x, w, y)
