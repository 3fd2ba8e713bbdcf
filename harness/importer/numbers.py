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


def shown(s: str) -> str:
    """A written entry quoted for a message (clipped)."""
    s = " ".join(s.split())
    return "'" + (s if len(s) <= 30 else s[:29] + "…") + "'"   # not repr: LaTeX keeps single backslashes


def why_not(s: str) -> str:
    """Why `s` is not a number, as the end of a sentence about it: "is not a number", "is beyond …"."""
    t = s.strip().translate(MINUS).replace(" ", "")
    if not t:
        return "is empty"
    if len(t) > 64:
        return "is too long to be a number (over 64 characters)"
    if re.fullmatch(r"[+-]?\d+,\d+", t):
        return f"is not a number (a decimal comma? write {t.replace(',', '.')})"
    if re.fullmatch(r"[+-]?(?:nan|inf|infinity|∞|\\infty)", t, re.IGNORECASE):
        return "is not a finite number"
    m = re.fullmatch(rf"[+-]?{_NUM}(?:[eE]|\*10\^)(?P<minus>-?)\d+", t.replace("+", ""))
    if m and m["minus"]:
        return "is too small to be read exactly"
    if _DECIMAL.match(t) or m:
        return "is beyond the float64 range (|x| <= 1.8e308 expected)"
    if _RATIO.match(t):
        return "divides by zero"
    if re.search(r"[\d.)]\s*[-+*/×·^(]", t.lstrip("+-")) and re.search(r"\d", t):
        return "is a formula, not a number"
    return "is not a number"


# one number-like token ("0.1q", "1e999", "½", "0,5"), not a formula: worth saying why it is not a number
_TOKEN = re.compile(r"[+\-\u2212]?[\d.½⅓⅔¼¾⅛][^+\-\u2212*/^()\[\]=\s]*")


def token_problem(s: str) -> str:
    """"'0.1q' is not a number" when `s` (not a number) is one number-like token; "" for a formula."""
    return f"{shown(s)} {why_not(s)}" if _TOKEN.fullmatch(s.strip()) else ""


def entry_problem(written: str, index: tuple[int, ...], read: str | None = None) -> str:
    """"entry '0.2q' (row 1, column 2) is not a number": an entry (0-based index) that is not a number;
    `read` is the entry as the reader saw it (LaTeX macros rendered), when it differs from `written`."""
    read = written if read is None else read
    if not read.strip():
        return f"the entry at {position(index)} is empty"
    return f"entry {shown(written)} ({position(index)}) {why_not(read)}"


def position(index: tuple[int, ...]) -> str:
    """A 0-based index as a person counts: 'entry 3', 'row 1, column 2', 'matrix [1, 2], row 1, column 2'."""
    if len(index) == 1:
        return f"entry {index[0] + 1}"
    rc = f"row {index[-2] + 1}, column {index[-1] + 1}"
    if len(index) == 2:
        return rc
    return "matrix [" + ", ".join(str(i + 1) for i in index[:-2]) + "], " + rc


def rows_differ(lengths: list[int]) -> str:
    """'rows have different lengths (row 1 has 2 entries, row 2 has 1)': the first row unlike row 1."""
    k = next(k for k, n in enumerate(lengths) if n != lengths[0])
    first = "1 entry" if lengths[0] == 1 else f"{lengths[0]} entries"
    return f"rows have different lengths (row 1 has {first}, row {k + 1} has {lengths[k]})"
