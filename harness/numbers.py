"""Exact numbers: every value a user writes becomes a `Fraction`, never a float.

TOML is read with `parse_float=Decimal`, so 0.1 stays one tenth. Strings such as
"1/3" are parsed by `Fraction` itself (a parser, not an evaluator).
"""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from numbers import Rational

import numpy as np

from .errors import UserError

# Refuse absurd sizes before allocating anything (see README, "Limits").
MAX_ELEMENTS = 1_000_000
MAX_NDIM = 4
# One number: at most 100 significant digits, |x| at most float64's largest (every implementation must be
# able to hold the inputs), and numerator/denominator of at most 2048 bits. Checked before the exact value
# is built: "1e999999999999" would otherwise make Fraction compute 10**999999999999 (a hang).
MAX_DIGITS = 100
MAX_BITS = 2048
MIN_EXPONENT = -600   # |x| >= 1e-600 (or x = 0); smaller exponents are refused before any big power of 10
FLOAT64_MAX = Fraction(sys.float_info.max)


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bounded(f: Fraction, value: object, where: str) -> Fraction:
    if abs(f) > FLOAT64_MAX:
        raise UserError(f"the number {_shown(value)} is beyond the float64 range (|x| <= 1.8e308 expected)", where)
    if max(f.numerator.bit_length(), f.denominator.bit_length()) > MAX_BITS:
        raise UserError(f"the number {_shown(value)} needs more than {MAX_BITS} bits as an exact fraction "
                        f"(expected at most {MAX_DIGITS} significant digits, |x| >= 1e{MIN_EXPONENT} or 0)", where)
    return f


def _from_decimal(value: Decimal, where: str, shown: object) -> Fraction:
    """A finite Decimal as a Fraction, refusing absurd digits/exponents before building big integers."""
    if not value.is_finite():
        raise UserError(f"expected a finite number, got {shown}", where)
    sign, digits, exponent = value.as_tuple()
    text = "".join(map(str, digits)).lstrip("0")
    stripped = text.rstrip("0")
    if not stripped:
        return Fraction(0)
    if len(stripped) > MAX_DIGITS:
        raise UserError(f"the number {_shown(shown)} has {len(stripped)} significant digits; "
                        f"expected at most {MAX_DIGITS}", where)
    exponent += len(text) - len(stripped)
    magnitude = exponent + len(stripped) - 1          # x = d.ddd × 10^magnitude
    if magnitude > 308:
        raise UserError(f"the number {_shown(shown)} is beyond the float64 range (|x| <= 1.8e308 expected)", where)
    if magnitude < MIN_EXPONENT:
        raise UserError(f"the number {_shown(shown)} is too small to be read exactly (|x| >= 1e{MIN_EXPONENT} "
                        "or 0 expected)", where)
    n = int(stripped) * (-1 if sign else 1)
    f = Fraction(n * 10 ** exponent) if exponent >= 0 else Fraction(n, 10 ** -exponent)
    return _bounded(f, shown, where)


def to_fraction(value: object, where: str) -> Fraction:
    """One user-written number as an exact Fraction, or a UserError saying why not."""
    if isinstance(value, bool):
        raise UserError(f"expected a number, got the boolean {str(value).lower()}", where)
    if isinstance(value, int):
        if value.bit_length() > 1024:  # > float64's largest; checked before Fraction's gcd work
            raise UserError(f"the number {_shown(value)} is beyond the float64 range (|x| <= 1.8e308 expected)",
                            where)
        return Fraction(value)
    if isinstance(value, Rational):
        return _bounded(Fraction(value), value, where)
    if isinstance(value, Decimal):
        return _from_decimal(value, where, value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise UserError(f"expected a finite number, got {value}", where)
        return _from_decimal(Decimal(repr(value)), where, value)  # the decimal the user wrote, not the binary float
    if isinstance(value, np.generic):
        return to_fraction(value.item(), where)
    if isinstance(value, str):
        text = value.strip().replace("\u2212", "-")
        bad = UserError(f"expected a number, got the string {_shown(repr(value))}", where)
        if "/" not in text:  # a decimal: read by Decimal (no big powers yet), then bounded
            try:
                dec = Decimal(text)
            except (InvalidOperation, ValueError):
                raise bad from None
            return _from_decimal(dec, where, repr(value))
        if len(text) > 2 * MAX_DIGITS + 3:  # "p/q": no exponent, so only the digits need a bound
            raise UserError(f"the fraction {_shown(repr(value))} has too many digits; expected at most "
                            f"{MAX_DIGITS} in numerator and denominator", where)
        try:
            return _bounded(Fraction(text), repr(value), where)
        except (ValueError, ZeroDivisionError):
            raise bad from None
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
