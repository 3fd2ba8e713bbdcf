"""One number as written in a document -> (exact Fraction, decimals as written; -1 = exact)."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)"
_DECIMAL = re.compile(rf"^(?P<sign>[+-]?)(?P<num>{_NUM})(?:[eE](?P<e>[+-]?\d{{1,4}}))?"
                      rf"(?:\*10\^(?P<e2>[+-]?\d{{1,4}}))?$")
_RATIO = re.compile(rf"^(?P<sign>[+-]?)(?P<a>[+-]?{_NUM})/(?P<b>{_NUM})$")
FLOAT64_MAX = Fraction(1.7976931348623157e308)
MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2012": "-", "\ufe63": "-", "\uff0d": "-"})


def parse_number(s: str) -> tuple[Fraction, int] | None:
    s = s.strip().translate(MINUS).replace(" ", "")
    if len(s) > 64:
        return None
    m = _DECIMAL.match(s)
    if m:
        num = m["num"]
        exp = int(m["e"] or 0) + int(m["e2"] or 0)
        value = Fraction(Decimal(num)) * Fraction(10) ** exp
        if abs(value) > FLOAT64_MAX:
            return None                                       # as harness.numbers: past float64 is not a value
        if m["sign"] == "-":
            value = -value
        places = len(num.split(".")[1]) if "." in num else None
        if places is None and exp >= 0 and not (m["e"] or m["e2"]):
            return value, -1                                  # an integer: exact
        return value, max(0, (places or 0) - exp)
    m = _RATIO.match(s)
    if m:
        b = Fraction(Decimal(m["b"]))
        if b == 0:
            return None
        value = Fraction(Decimal(m["a"])) / b
        return (-value if m["sign"] == "-" else value), -1
    return None
