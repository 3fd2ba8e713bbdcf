"""When does a written number count as the true one?

- Written with d ≥ 1 decimals: right when it is the truth rounded to d places, i.e. |claim − truth| ≤ ½·10⁻ᵈ
  (inclusive, so both roundings of a tie pass). Integers and fractions (d ≤ 0) are exact claims.
- Machine printouts (more than `PRINTOUT_DECIMALS` digits, e.g. 0.30000001 or -5.55e-17): float noise
  below single precision counts as the printed value (relative to the array's largest entry).
- Rounded inputs: the truth is an `Interval` (every value the shown inputs could have stood for);
  a claim is right when its own rounding band meets that interval.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

PRINTOUT_DECIMALS = 6
FLOAT_NOISE = Fraction(1, 2 ** 20)   # ≈ 1e-6: float32 printouts keep ~7 significant digits


class Interval:
    """A closed interval of Fractions with just enough arithmetic for the convolution pipeline."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo, hi=None):
        self.lo = Fraction(lo)
        self.hi = Fraction(lo if hi is None else hi)

    @staticmethod
    def of(v) -> "Interval":
        return v if isinstance(v, Interval) else Interval(v)

    @property
    def mid(self) -> Fraction:
        return (self.lo + self.hi) / 2

    def __add__(self, o):
        o = Interval.of(o)
        return Interval(self.lo + o.lo, self.hi + o.hi)

    __radd__ = __add__

    def __neg__(self):
        return Interval(-self.hi, -self.lo)

    def __sub__(self, o):
        o = Interval.of(o)
        return Interval(self.lo - o.hi, self.hi - o.lo)

    def __rsub__(self, o):
        return Interval.of(o) - self

    def __mul__(self, o):
        o = Interval.of(o)
        p = (self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi)
        return Interval(min(p), max(p))

    __rmul__ = __mul__

    # ReLU's mask: the sign at the values as shown (an interval straddling 0 is rare and only widens nothing)
    def __gt__(self, o):
        return self.mid > Interval.of(o).mid

    def __lt__(self, o):
        return self.mid < Interval.of(o).mid

    def __repr__(self) -> str:
        from .fmt import to_float
        return f"[{to_float(self.lo):.6g}, {to_float(self.hi):.6g}]"


def half_band(decimals: int) -> Fraction:
    return Fraction(1, 2 * 10 ** decimals) if decimals >= 1 else Fraction(0)


def widen(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """Shown (rounded) inputs as intervals over their rounding band."""
    out = np.empty(values.shape, dtype=object)
    for idx in np.ndindex(values.shape):
        h = half_band(int(decimals[idx]))
        out[idx] = Interval(values[idx] - h, values[idx] + h)
    return out


def entry_match(claim: Fraction, decimals: int, ref, noise: Fraction) -> str | None:
    """'exact' | 'rounded' | 'noise' | 'interval' | None (no match)."""
    h = half_band(decimals)
    tol = h + (noise if decimals > PRINTOUT_DECIMALS else 0)
    if isinstance(ref, Interval):
        if claim + tol >= ref.lo and claim - tol <= ref.hi:
            return "interval"
        return None
    diff = abs(claim - ref)
    if diff == 0:
        return "exact"
    if diff <= h:
        return "rounded"
    if diff <= tol:
        return "noise"
    return None


def noise_of(claim: np.ndarray) -> Fraction:
    """The float-noise allowance for a printed array: single precision relative to its largest entry."""
    mags = [abs(v) for v in claim.reshape(-1) if v is not None]
    return FLOAT_NOISE * max([Fraction(1), *mags])


def match_array(claim: np.ndarray, decimals: np.ndarray, ref: np.ndarray) -> list[str | None] | None:
    """Per claimed entry (flat order, None entries skipped as 'unclaimed') the match kind, or None
    when some claimed entry does not match."""
    noise = noise_of(claim)
    kinds: list[str | None] = []
    flat_c, flat_d, flat_r = claim.reshape(-1), decimals.reshape(-1), np.asarray(ref, dtype=object).reshape(-1)
    for c, d, r in zip(flat_c, flat_d, flat_r):
        if c is None:
            kinds.append("unclaimed")
            continue
        k = entry_match(c, int(d), r, noise)
        if k is None:
            return None
        kinds.append(k)
    return kinds


def mismatches(claim: np.ndarray, decimals: np.ndarray, ref: np.ndarray) -> list[int]:
    """Flat indices of the claimed entries that do not match `ref`."""
    noise = noise_of(claim)
    flat_r = np.asarray(ref, dtype=object).reshape(-1)
    return [i for i, (c, d) in enumerate(zip(claim.reshape(-1), decimals.reshape(-1)))
            if c is not None and entry_match(c, int(d), flat_r[i], noise) is None]
