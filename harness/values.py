"""Turning arrays (float or exact) into JSON values and short human-readable text."""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def to_json(a, exact: bool = False):
    """Nested lists of floats (or of 'p/q' strings when `exact`); None stays None."""
    if a is None:
        return None
    arr = np.asarray(a)
    if exact and arr.dtype == object:
        return np.vectorize(fraction_text, otypes=[object])(arr).tolist() if arr.ndim else fraction_text(arr.item())
    if arr.dtype == object:
        arr = arr.astype(np.float64)
    out = arr.astype(np.float64).tolist()
    return _clean(out)


def _clean(v):
    if isinstance(v, list):
        return [_clean(x) for x in v]
    if isinstance(v, float) and not np.isfinite(v):
        return None if np.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def fraction_text(q) -> str:
    q = Fraction(q)
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def decimal_text(q, digits: int = 6) -> str:
    """A Fraction as a decimal: exact when it terminates within `digits` places, else rounded with '≈'."""
    q = Fraction(q)
    scaled = q * 10 ** digits
    if scaled.denominator == 1:
        return _exact_decimal(q, digits)
    return "≈" + _exact_decimal(Fraction(round(scaled), 10 ** digits), digits)


def _exact_decimal(q: Fraction, digits: int) -> str:
    sign = "-" if q < 0 else ""
    q = abs(q)
    whole, rest = divmod(q.numerator * 10 ** digits // q.denominator, 10 ** digits)
    frac = f"{rest:0{digits}d}".rstrip("0")
    return f"{sign}{whole}" + (f".{frac}" if frac else "")


def _exact_short(q) -> str:
    """Exact decimals while they are short; huge or long ones as ≈ scientific notation."""
    text = decimal_text(q)
    return text if len(text) <= 12 else f"≈{float(Fraction(q)):.6g}"


def short(a, exact: bool = False, limit: int = 16) -> str:
    """A compact one-line rendering of a small array (elided when large)."""
    if a is None:
        return "—"
    arr = np.asarray(a)
    fmt = _exact_short if (exact or arr.dtype == object) else (lambda v: f"{float(v):.6g}")
    if arr.ndim == 0:
        return fmt(arr.item())
    if arr.size > limit:
        return f"{arr.dtype if arr.dtype != object else 'exact'} array {list(arr.shape)}"
    def rec(x):
        return "[" + ", ".join(rec(y) for y in x) + "]" if isinstance(x, list) else fmt(x)
    return rec(arr.tolist())
