"""Random valid configurations from a seed, with exact (Fraction) values so `exact` is the reference.

A configuration is a `Geometry` (shapes, stride, padding, dilation, groups, bias, conventions: the
static part, which jax compiles once) and `Values` (how the numbers are drawn, the SGD steps).
Configurations come in families of FAMILY_SIZE that share one Geometry and differ in their Values,
so compiled functions (jax, per shape) are reused across a family.

Reproducible by construction: configuration i of seed s depends only on (s, i, max_size, dtype), never
on --count or on what ran before, so `--only i` redraws exactly configuration i.

Value styles (x, W, b, Y or G; exact rationals, rounded to the dtype by each implementation):
    tenths    k/10, |k| ≤ 9         (not representable in binary: input rounding is exercised)
    integers  k, |k| ≤ 4            (exact in every float dtype)
    dyadic    k/16, |k| ≤ 31        (exact in binary)
    tiny      tenths · 10^e, e ∈ [-8, -3] per array     (small magnitudes)
    large     tenths · 10^e, e ∈ [3, 6] per array       (large magnitudes)
    mixed     tenths · 10^e, e ∈ [-6, 6] per array      (x and W on different scales)
The exponent ranges are sized for float32 (and used as drawn for float64 and bfloat16, whose range is
float32's or wider): the target Y sits on the output's own scale. For a dtype of narrower range
(float16: 6.1e-5 to 65504) the same draw is then fitted to the dtype (`fit`): while some input or
quantity of the pipeline on magnitudes (`tolerance.magnitudes`) would leave the dtype's finite range,
or all of one would lie below its smallest normal number (underflow entirely: not what the style is
for), the exponent furthest from 0 moves one decade towards 0. So the styles mean "as tiny / large /
mixed as the dtype holds"; a configuration that still does not fit (at exponent 0, e.g. integers in a
large sum) is skipped by the runner and counted, never reported as a mismatch.

ReLU is tested where it is differentiable: with an activation the bias is always on and drawn at
(k + ½) times the grid that Σ x·W lies on, so no pre-activation Z is 0 at step 1 (at Z = 0 the
derivative is a convention, ReLU'(0) = 0, checked by the unit tests, and central differences
straddle the kink). Later steps are checked for near-kinks by the runner (`run.relu_ambiguous`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property

import numpy as np

from ..problem import Problem, make_problem, output_hw, resolve_padding

DEFAULT_MAX_SIZE = 600     # multiply-adds of the forward convolution (N·C_out·H_out·W_out·C_in/g·kh·kw)
FAMILY_SIZE = 10           # value sets per geometry
MAX_STEPS = 3

STYLES = ("tenths", "integers", "dyadic", "tiny", "large", "mixed")
UNIT = {"tenths": Fraction(1, 10), "integers": Fraction(1), "dyadic": Fraction(1, 16)}
RANGE = {"tenths": 9, "integers": 4, "dyadic": 31}
EXPONENTS = {"tiny": (-8, -3), "large": (3, 6), "mixed": (-6, 6)}


@dataclass(frozen=True)
class Geometry:
    """The static part of a configuration: what a compiled function depends on."""

    n: int = 1
    c_in: int = 1
    c_out: int = 1
    h: int = 3
    w: int = 3
    kh: int = 2
    kw: int = 2
    stride: tuple[int, int] = (1, 1)
    padding: str | tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))   # or "same"
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: bool = False
    loss: str = "mean"
    operation: str = "cross_correlation"
    activation: str = "none"
    update: bool = True          # a learning rate (SGD update) or not
    flat: bool = False           # written 2-D, (H, W) and (kh, kw), as single-channel examples are

    @property
    def pads(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return resolve_padding(self.padding, (self.kh, self.kw), self.stride, self.dilation, (self.h, self.w))

    @property
    def out_hw(self) -> tuple[int, int]:
        return output_hw((self.h, self.w), (self.kh, self.kw), self.stride, self.pads, self.dilation)

    @property
    def multiply_adds(self) -> int:
        ho, wo = self.out_hw
        return self.n * self.c_out * ho * wo * (self.c_in // self.groups) * self.kh * self.kw

    @property
    def valid(self) -> bool:
        return (self.c_in % self.groups == 0 and self.c_out % self.groups == 0 and min(self.out_hw) >= 1
                and (not self.flat or (self.n == self.c_in == self.c_out == 1)))


@dataclass(frozen=True)
class Values:
    """How the numbers are drawn (from `seed`), and the number of SGD steps."""

    seed: int
    style: str = "tenths"
    x_exp: int = 0               # x scaled by 10^x_exp (tiny / large / mixed)
    w_exp: int = 0
    g_exp: int = 0               # the given upstream gradient G (loss = "linear")
    steps: int = 1


@dataclass(frozen=True)
class Case:
    index: int                   # position in the sweep (-1: a reduced configuration)
    geometry: Geometry
    values: Values
    name: str = field(default="", compare=False)

    @cached_property
    def problem(self) -> Problem:
        return build_problem(self.geometry, self.values, self.name or f"sweep-{self.index}")

    def features(self) -> tuple[str, ...]:
        return features(self.geometry, self.values)

    def describe(self) -> str:
        v = self.values
        text = describe(self.geometry, v.steps, None) + f" values={v.style}"
        return text + (f"(x·1e{v.x_exp}, W·1e{v.w_exp})" if v.style in EXPONENTS else "")


def geometry_of(p: Problem) -> Geometry:
    """The geometry of any problem (e.g. a shrunk one)."""
    n, c_in, h, w = p.x.shape
    c_out, _, kh, kw = p.w.shape
    return Geometry(n, c_in, c_out, h, w, kh, kw, p.stride, p.padding, p.dilation, p.groups, p.b is not None,
                    p.loss, p.operation, p.activation, p.lr is not None, p.layout.input_ndim == 2)


def describe(g: Geometry, steps: int, lr: Fraction | None) -> str:
    """One line: shapes, geometry and conventions."""
    pad = "same" if g.padding == "same" else ("valid" if g.pads == ((0, 0), (0, 0)) else
                                               str([list(p) for p in g.pads]).replace(" ", ""))
    parts = [f"N={g.n}", f"C_in={g.c_in}", f"C_out={g.c_out}", f"H×W={g.h}×{g.w}", f"k={g.kh}×{g.kw}",
             f"stride={g.stride[0]},{g.stride[1]}", f"pad={pad}", f"dilation={g.dilation[0]},{g.dilation[1]}",
             f"groups={g.groups}", f"bias={'yes' if g.bias else 'no'}", f"loss={g.loss}",
             f"op={'conv' if g.operation == 'convolution' else 'xcorr'}", f"act={g.activation}",
             f"steps={steps}" if g.update else "no update"]
    if lr is not None and g.update:
        parts.append(f"lr={lr}")
    if g.flat:
        parts.append("2-D layout")
    return " ".join(parts)


def describe_problem(p: Problem) -> str:
    return describe(geometry_of(p), p.steps, p.lr)


# --- drawing ------------------------------------------------------------------------------------

def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def _pick(rng, options, weights=None):
    p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    return options[int(rng.choice(len(options), p=p))]


def draw_geometry(rng: np.random.Generator, max_size: int = DEFAULT_MAX_SIZE) -> Geometry:
    """One valid geometry with at most `max_size` forward multiply-adds (rejection sampling)."""
    for _ in range(10_000):
        groups = _pick(rng, (1, 2, 3), (6, 2, 1))
        c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        n = _pick(rng, (1, 2, 3), (4, 2, 1))
        kh = int(rng.integers(1, 5))
        kw = kh if rng.random() < 0.6 else int(rng.integers(1, 5))
        stride = (1, 1) if rng.random() < 0.6 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        dilation = (1, 1) if rng.random() < 0.7 else (int(rng.integers(1, 4)), int(rng.integers(1, 3)))
        kind = _pick(rng, ("valid", "same", "symmetric", "asymmetric"), (4, 2, 2, 2))
        if kind == "valid":
            padding = ((0, 0), (0, 0))
        elif kind == "same":
            padding = "same"
        elif kind == "symmetric":
            ph, pw = (int(v) for v in rng.integers(0, 3, size=2))
            padding = ((ph, ph), (pw, pw))
        else:
            t, b, l, r = (int(v) for v in rng.integers(0, 3, size=4))
            padding = ((t, b), (l, r))
        h, w = (int(v) for v in rng.integers(1, 10, size=2))
        loss = _pick(rng, ("mean", "sum", "half_sum", "half_mean", "linear"), (3, 2, 1, 1, 2))
        operation = _pick(rng, ("cross_correlation", "convolution"), (7, 3))
        activation = _pick(rng, ("none", "relu"), (7, 3))
        bias = activation == "relu" or rng.random() < 0.5      # relu: bias keeps Z off the kink (see above)
        update = rng.random() < 0.85
        flat = n == c_in == c_out == 1 and rng.random() < 0.5
        g = Geometry(n, c_in, c_out, h, w, kh, kw, stride, padding, dilation, groups, bias, loss, operation,
                     activation, update, flat)
        if g.valid and g.multiply_adds <= max_size:
            return g
    raise RuntimeError(f"no geometry within max_size={max_size}")   # unreachable for max_size ≥ 1


def draw_values(rng: np.random.Generator, geometry: Geometry) -> Values:
    style = _pick(rng, STYLES, (3, 2, 2, 1, 1, 1))
    x_exp = w_exp = g_exp = 0
    if style in EXPONENTS:
        lo, hi = EXPONENTS[style]
        x_exp, w_exp = (int(v) for v in rng.integers(lo, hi + 1, size=2))
        g_exp = int(rng.integers(-3, 4))
    steps = _pick(rng, (1, 2, 3), (5, 3, 2)) if geometry.update else 1
    return Values(int(rng.integers(0, 2**63 - 1)), style, x_exp, w_exp, g_exp, steps)


def draw_case(seed: int, index: int, max_size: int = DEFAULT_MAX_SIZE, dtype: str = "float64") -> Case:
    """Configuration `index` of the sweep with this seed (independent of every other index), fitted to `dtype`."""
    geometry = draw_geometry(_rng(seed, index // FAMILY_SIZE, 1), max_size)
    values = draw_values(_rng(seed, index, 2), geometry)
    return fit(Case(index, geometry, values, f"sweep-s{seed}-i{index}"), dtype)


def draw(seed: int, count: int, max_size: int = DEFAULT_MAX_SIZE, start: int = 0,
         dtype: str = "float64") -> list[Case]:
    return [draw_case(seed, i, max_size, dtype) for i in range(start, start + count)]


# --- fitting the scales to the dtype ---------------------------------------------------------------

def drawing_dtype(dtype: str) -> str:
    """The dtype whose range draws must fit: `dtype`, or float32 for a wider one (float64)."""
    from .. import tolerance
    return "float32" if tolerance.TABLE[dtype].largest > tolerance.TABLE["float32"].largest else dtype


def misfit(problem: Problem, dtype: str) -> str | None:
    """Why the scales do not suit `dtype` (see `drawing_dtype`), or None: the pipeline on magnitudes
    would leave its finite range (`tolerance.out_of_range`), or an input, the learning rate or a
    quantity would lie entirely below its smallest normal number."""
    from .. import tolerance
    dtype = drawing_dtype(dtype)
    mags = tolerance.magnitudes(problem)
    beyond = tolerance.out_of_range(problem, mags, dtype)
    if beyond:
        return beyond
    tiny = tolerance.TABLE[dtype].smallest_normal
    inputs = [problem.x, problem.w, problem.b, problem.target, problem.grad_output]
    tops = [float(np.max(np.abs(a.astype(np.float64)))) for a in inputs if a is not None and a.size]
    tops += [float(np.max(m)) for step in mags for m in step.values() if m is not None and np.size(m)]
    tops += [] if problem.lr is None else [float(problem.lr)]
    if any(0 < top < tiny for top in tops):
        return f"some values entirely below {dtype}'s smallest normal number {tiny:.3g}"
    return None


def fit(case: Case, dtype: str) -> Case:
    """The case with its exponents moved towards 0, one decade at a time (the one furthest from 0
    first), until its scales suit `dtype` (`misfit`) or all are 0. Draws that fit are left as drawn."""
    while misfit(case.problem, dtype):
        v = case.values
        names = ("x_exp", "w_exp", "g_exp") if case.geometry.loss == "linear" else ("x_exp", "w_exp")
        far = max(names, key=lambda k: abs(getattr(v, k)))
        e = getattr(v, far)
        if e == 0:
            break
        case = replace(case, values=replace(v, **{far: e - 1 if e > 0 else e + 1}))
    return case


# --- values -------------------------------------------------------------------------------------

def _scaled(ints: np.ndarray, scale: Fraction, offset: Fraction = Fraction(0)) -> np.ndarray:
    out = np.empty(ints.shape, dtype=object)
    flat = out.reshape(-1)
    flat[:] = [(int(k) + offset) * scale for k in ints.reshape(-1)]
    return out


def _units(values: Values) -> tuple[Fraction, int, Fraction, Fraction]:
    """(unit, range, scale of x, scale of W)."""
    base = values.style if values.style in UNIT else "tenths"
    ten = Fraction(10)
    return UNIT[base], RANGE[base], ten ** values.x_exp, ten ** values.w_exp


def learning_rate(g: Geometry, values: Values) -> Fraction:
    """A simple decimal η (1, 2 or 5 × 10^e) that keeps K SGD steps stable and W on its scale.

    Squared losses: η ≈ 0.5 / trace of the Hessian of L in W (≈ c · P · fan-in · x²), below the
    2/λ_max stability limit. Linear loss (no curvature): η·|∂L/∂W| ≈ |W| / 10."""
    unit, k, sx, sw = _units(values)
    x_typ, w_typ = unit * k * sx / 2, unit * k * sw / 2
    ho, wo = g.out_hw
    positions, fan = g.n * ho * wo, (g.c_in // g.groups) * g.kh * g.kw
    if g.loss == "linear":
        g_typ = unit * k * Fraction(10) ** values.g_exp / 2
        raw = w_typ / (10 * g_typ * x_typ * positions)
    else:
        numel = positions * g.c_out
        c = {"mean": Fraction(2, numel), "sum": 2, "half_sum": 1, "half_mean": Fraction(1, numel)}[g.loss]
        raw = Fraction(1, 2) / (c * positions * fan * x_typ * x_typ)
    e = 0
    while Fraction(10) ** e > raw:
        e -= 1
    while Fraction(10) ** (e + 1) <= raw:
        e += 1
    lead = max(d for d in (1, 2, 5) if d * Fraction(10) ** e <= raw)
    return min(Fraction(lead) * Fraction(10) ** e, Fraction(1))


def build_problem(g: Geometry, values: Values, name: str = "sweep") -> Problem:
    """The exact problem: the same Geometry and Values give the same numbers, always."""
    rng = _rng(values.seed, 3)
    unit, k, sx, sw = _units(values)
    ints = lambda shape, bound: rng.integers(-bound, bound + 1, size=shape)  # noqa: E731
    x_shape, w_shape = (g.n, g.c_in, g.h, g.w), (g.c_out, g.c_in // g.groups, g.kh, g.kw)
    x = _scaled(ints(x_shape, k), unit * sx)
    w = _scaled(ints(w_shape, k), unit * sw)
    grid = unit * unit * sx * sw                 # every Σ x·W is a multiple of this
    out_shape = (g.n, g.c_out, *g.out_hw)
    b = None
    if g.bias:   # with ReLU (k + ½)·grid: never on the grid, so no Z is 0
        b = _scaled(ints((g.c_out,), k * k), grid, Fraction(1, 2) if g.activation != "none" else Fraction(0))
    target = grad_output = None
    if g.loss == "linear":
        grad_output = _scaled(ints(out_shape, k), unit * Fraction(10) ** values.g_exp)
    else:
        target = _scaled(ints(out_shape, k * k), grid)
    if g.flat:
        x, w = x.reshape(g.h, g.w), w.reshape(g.kh, g.kw)
        target = None if target is None else target.reshape(out_shape[2:])
        grad_output = None if grad_output is None else grad_output.reshape(out_shape[2:])
        b = None if b is None else b.reshape(())
    lr = learning_rate(g, values) if g.update else None
    return make_problem(x=x, w=w, target=target, b=b, lr=lr, stride=g.stride, padding=g.padding,
                        dilation=g.dilation, groups=g.groups, steps=values.steps if g.update else 1,
                        loss=g.loss, operation=g.operation, activation=g.activation,
                        grad_output=grad_output, name=name)


# --- features (what a mismatch is grouped by) --------------------------------------------------------

def features(g: Geometry, v: Values | None = None, steps: int | None = None) -> tuple[str, ...]:
    """The non-default features of a configuration, as short names."""
    out = []
    if g.n > 1:
        out.append("batch")
    if g.c_in > 1 or g.c_out > 1:
        out.append("channels")
    if g.groups > 1:
        out.append("groups")
    if g.kh != g.kw:
        out.append("non-square kernel")
    if g.stride != (1, 1):
        out.append("stride")
    if g.dilation != (1, 1):
        out.append("dilation")
    (t, b), (l, r) = g.pads
    if g.padding == "same":
        out.append("padding same")
    elif (t, b, l, r) != (0, 0, 0, 0):
        out.append("padding asymmetric" if (t != b or l != r) else "padding")
    if g.bias:
        out.append("bias")
    out.append(f"loss {g.loss}")
    if g.operation == "convolution":
        out.append("convolution")
    if g.activation != "none":
        out.append(g.activation)
    if not g.update:
        out.append("no update")
    elif (v.steps if v is not None else steps or 1) > 1:
        out.append("steps>1")
    if g.flat:
        out.append("2-D layout")
    if v is not None:
        out.append(f"values {v.style}")
    return tuple(out)
