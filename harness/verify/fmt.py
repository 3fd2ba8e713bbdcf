"""Numbers and indices as a person writes them: 1.3, 0.365, (-0.25), W₀₀."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
MAX_PLACES = 12


def num(v) -> str:
    """An exact value: its finite decimal when it has one (≤ 12 places), else 6 significant digits + '…'."""
    if v is None:
        return "?"
    if hasattr(v, "lo"):  # Interval
        return f"[{num(v.lo)}, {num(v.hi)}]"
    v = Fraction(v)
    if v.denominator == 1:
        return str(v.numerator)
    d = v.denominator
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    places = max(twos, fives)
    if d == 1 and places <= MAX_PLACES:
        scaled = abs(v.numerator) * (10 ** places // v.denominator)
        text = f"{scaled // 10 ** places}.{scaled % 10 ** places:0{places}d}".rstrip("0").rstrip(".")
        return ("-" if v < 0 else "") + text
    return f"{to_float(v):.6g}…"


def to_float(v) -> float:
    """float(v), but ±inf where an exact value is beyond the float64 range (instead of OverflowError)."""
    try:
        return float(v)
    except OverflowError:
        return float("inf") if v > 0 else float("-inf")


def factor(v) -> str:
    """A number inside a product: negatives in parentheses."""
    s = num(v)
    return f"({s})" if s.startswith("-") else s


def index(idx: tuple[int, ...]) -> str:
    """(0, 1) -> '₀₁' for small 2-D indices, else '[0,1,2]'."""
    if not idx:
        return ""
    if len(idx) <= 2 and all(i < 10 for i in idx):
        return "".join(str(i) for i in idx).translate(_SUB)
    return "[" + ",".join(str(i) for i in idx) + "]"


def position(idx: tuple) -> str:
    return "(" + ",".join(str(i) for i in idx) + ")"


@dataclass(frozen=True)
class Indexing:
    """How the person numbers entries. Internally every index is 0-based (a position in the arrays); what
    is shown is in the document's own numbering (`base` 1 for W₁₁ as the top-left) when the document
    shows it, else 0-based and marked so (`known` False: a TOML file, or a document with matrices only)."""

    base: int = 0
    known: bool = False

    def shift(self, idx: tuple) -> tuple:
        return tuple(i + self.base if isinstance(i, int) else i for i in idx)

    def sub(self, idx: tuple) -> str:
        """'₁₂' for the 0-based (0, 1) in a 1-based document."""
        return index(self.shift(idx))

    def pos(self, idx: tuple) -> str:
        return position(self.shift(idx))

    @property
    def mark(self) -> str:
        """Appended to any text that shows an index the document did not number itself."""
        return "" if self.known or self.base else " (indices 0-based)"

    @property
    def mark_inside(self) -> str:
        """The same, inside a parenthesised list of positions: '((0,1), (1,1); indices 0-based)'."""
        return "" if self.known or self.base else "; indices 0-based"


def array(a: np.ndarray | None) -> str:
    """A small array in nested-list form with exact decimals."""
    if a is None:
        return "-"
    a = np.asarray(a, dtype=object)
    if a.ndim == 0:
        return num(a[()])
    return "[" + ", ".join(array(s) for s in a) + "]"


def names(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
