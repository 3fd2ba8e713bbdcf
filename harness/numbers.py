"""Exact numbers: every value a user writes becomes a `Fraction`, never a float.

TOML is read with `parse_float=Decimal`, so 0.1 stays one tenth. Strings such as
"1/3" are parsed by `Fraction` itself (a parser, not an evaluator).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from numbers import Rational

import numpy as np

from .errors import UserError

# Refuse absurd sizes before allocating anything (see README, "Limits").
MAX_ELEMENTS = 1_000_000
MAX_NDIM = 4


def to_fraction(value: object, where: str) -> Fraction:
    """One user-written number as an exact Fraction, or a UserError saying why not."""
    if isinstance(value, bool):
        raise UserError(f"expected a number, got the boolean {str(value).lower()}", where)
    if isinstance(value, (int, Rational)):
        return Fraction(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise UserError(f"expected a finite number, got {value}", where)
        return Fraction(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise UserError(f"expected a finite number, got {value}", where)
        return Fraction(Decimal(repr(value)))  # the decimal the user wrote, not the binary float
    if isinstance(value, np.generic):
        return to_fraction(value.item(), where)
    if isinstance(value, str):
        text = value.strip().replace("\u2212", "-")
        try:
            return Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise UserError(f"expected a number, got the string {value!r}", where) from None
    raise UserError(f"expected a number, got {type(value).__name__}", where)


def _shape_of(value: object, where: str, depth: int = 0) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        if depth >= MAX_NDIM:
            raise UserError(f"arrays may have at most {MAX_NDIM} dimensions", where)
        if not value:
            raise UserError("empty array", where)
        shapes = {_shape_of(v, where, depth + 1) for v in value}
        if len(shapes) != 1:
            raise UserError("ragged array: rows of different lengths", where)
        return (len(value), *shapes.pop())
    return ()


def to_exact_array(value: object, where: str) -> np.ndarray:
    """A (nested) list of numbers as an object array of Fractions; a scalar stays 0-d."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    shape = _shape_of(value, where)
    size = int(np.prod(shape)) if shape else 1
    if size > MAX_ELEMENTS:
        raise UserError(f"{size} elements is over the limit of {MAX_ELEMENTS}", where)
    flat: list[Fraction] = []

    def walk(v: object, path: str) -> None:
        if isinstance(v, (list, tuple)):
            for i, item in enumerate(v):
                walk(item, f"{path}[{i}]")
        else:
            flat.append(to_fraction(v, path))

    walk(value, where)
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(shape)


def decimals_of(value: object) -> int | None:
    """Digits after the decimal point as written (Decimal / str); None when exact (int, fraction)."""
    if isinstance(value, Decimal):
        exp = value.as_tuple().exponent
        return max(0, -exp) if isinstance(exp, int) else None
    if isinstance(value, str) and "/" not in value:
        try:
            return decimals_of(Decimal(value.strip().replace("\u2212", "-")))
        except ArithmeticError:
            return None
    return None


def as_float(a: np.ndarray | Fraction | None, dtype=np.float64):
    """Exact values as floats (None passes through)."""
    if a is None:
        return None
    return np.asarray(a, dtype=object).astype(dtype)
