"""Numbers and arrays written as plain text: Python lists, NumPy and torch printouts, scientific notation.

`scan` finds, on each line of a prose or code segment, the arrays (`[[1, 2], [3, 4]]`,
`array([[1., 2.]], dtype=float32)`, `tensor([[…]])`, a printout `[[ 1. -1.]\\n [ 0.  1.]]` spanning lines)
and the `label: number` / `name = number` scalars, with the text before them (their label).
A bracket scanner and a few regexes; linear in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np

from .latex import Value
from .numbers import MINUS, entry_problem, parse_number, rows_differ, token_problem

_WRAPPED = re.compile(r"(?:\b(?:np|numpy|jnp|torch|tf)\.)?\b(array|tensor|Tensor|Array|asarray|DeviceArray)\s*\(\s*(?=\[)")
_BARE = re.compile(r"\[(?=\s*[\[\d+\-\u2212.])")
_NUM = re.compile(r"[+\-\u2212]?(?:\d+\.?\d*|\.\d+)(?:[eE][+\-]?\d+)?")
_RATIO = re.compile(r"[+\-\u2212]?(?:\d+\.?\d*|\.\d+)/(?:\d+\.?\d*|\.\d+)")   # 3/2 in a list: exact
_ENTRY = re.compile(r"[^\s,\[\]]+")   # one entry as written, up to a separator or bracket
_SCALAR = re.compile(
    r"(?:(?<=[\s:=(,])|^)(?:(?:np\.float\d+|tensor|array|Array)\()?(?P<num>[+\-\u2212]?(?:\d+\.\d*|\.\d+|\d+)"
    r"(?:[eE][+\-]?\d+)?)(?P<comma>,\d+)?(?![\w\[/×x%^])(?!\.\w)")   # a full stop may end the sentence   # comma: a decimal comma, refused below
_LABEL_TAIL = re.compile(r"(?:=|:=|:|≈|~|\bis\b|\bof\b|\bwas\b|\bequals\b|\bbecomes\b|\bgives\b|\bto\b|\bat\b"
                         r"|\blearning[\s-]rate|\bstep[\s-]size|\blr|η)\s*$",   # "learning rate 0.01": no verb needed
                         re.IGNORECASE)
_NAME = re.compile(r"([A-Za-z_][\w.\[\]']*)\s*(?:=|:=|:)\s*$")
MAX_DEPTH = 4
MAX_ARRAY_CHARS = 2_000_000


@dataclass(frozen=True)
class Found:
    label_text: str          # the text before the value on its line
    name: str | None         # a code name when the label is `name =` / `name:`
    value: Value | None      # None: a bracketed array that could not be read (`unreadable` says why)
    line: int
    text: str                # the source snippet (clipped)
    style: str               # "list" | "numpy" | "torch" | "scalar"
    previous: str = ""       # the previous non-empty line (for `>>> dW` / `print(w.grad)` then the printout)
    unreadable: str = ""     # why the array is not one ("entry '0.2q' (row 1, column 2) is not a number")


# a comment after a row of an array written over several lines (`[1, 0, -1],  # vertical edges`): blanked, so
# that the array reads whole; a comment that starts its line may state a value and is kept
_ROW_COMMENT = re.compile(r"(?<=[,\[\]])[ \t]*(?:#|//)[^\n]*")


def scan(text: str, line0: int) -> list[Found]:
    text = _ROW_COMMENT.sub(lambda m: " " * len(m.group(0)), text)
    out: list[Found] = []
    starts = _line_starts(text)
    pos = 0
    spans: list[tuple[int, int]] = []
    closers: dict[int, int] | None = None   # '[' -> its matching ']' (built at the first unreadable array)
    last_end = 0                             # where the previous array (read or not) ended
    m1 = m2 = None
    while True:
        # each pattern is searched again only once the scan has passed its last match (linear overall)
        if m1 is not None and m1.start() < pos or m1 is None and pos == 0:
            m1 = _WRAPPED.search(text, pos)
        if m2 is not None and m2.start() < pos or m2 is None and pos == 0:
            m2 = _BARE.search(text, pos)
        m = min((x for x in (m1, m2) if x), key=lambda x: x.start(), default=None)
        if m is None:
            break
        open_at = m.end() if m is m1 else m.start()
        nested, end, flat, why = _bracketed(text, open_at)
        style = ("torch" if m is m1 and m.group(1) in ("tensor", "Tensor") else "numpy" if m is m1 else
                 "list" if "," in text[open_at:end] else "numpy")   # (a failure: up to where it went wrong)
        value = None
        if not why:
            tail = re.match(r"[^()\n]*\)", text[end:end + 200]) if m is m1 else None
            stop = end + (tail.end() if tail else 0)
            dtype32 = "float32" in text[end:stop] or "float16" in text[end:stop]
            value, why = _array_value(nested, flat, style, dtype32)
        if why:   # the whole array is passed over (its rows are not arrays of their own)
            if closers is None:
                closers = _closers(text)
            close = closers.get(open_at)
            if close is None and "\n" in text[open_at:end]:   # what went wrong on a later line is that
                why = "a '[' is never closed"                # the array never ended
            stop = open_at + 1 if close is None else close + 1
            while close is None and text[stop:stop + 1] == "[":   # never closed: past its run of '['
                stop += 1
        line_index = _line_of(starts, m.start())
        line_start = starts[line_index]
        # an earlier array on the same line (read or not) ends the label: "X: [[..]]  W: [[..]]"
        label_text = text[max(line_start, last_end):m.start()]
        out.append(Found(label_text.strip(), _name(label_text), value, line0 + line_index,
                         _clip(text[m.start():stop]), style, _previous(text, starts, line_index), why))
        if value is not None:
            spans.append((m.start(), stop))
        last_end = stop
        pos = max(stop, m.start() + 1)
    out.extend(_scalars(text, line0, starts, spans))
    out.sort(key=lambda f: (f.line, f.text))
    return out


def _line_starts(text: str) -> list[int]:
    starts = [0]
    i = text.find("\n")
    while i != -1:
        starts.append(i + 1)
        i = text.find("\n", i + 1)
    return starts


def _line_of(starts: list[int], pos: int) -> int:
    import bisect
    return bisect.bisect_right(starts, pos) - 1


def _previous(text: str, starts: list[int], line_index: int) -> str:
    for k in range(line_index - 1, max(-1, line_index - 3), -1):
        end = starts[k + 1] - 1
        s = text[starts[k]:end].strip()
        if s:
            return s
    return ""


def _name(label_text: str) -> str | None:
    m = _NAME.search(label_text.strip())
    if m:
        return m.group(1)
    s = label_text.strip().rstrip(":=").strip().strip("'\"").strip()
    return s if re.fullmatch(r"[A-Za-z_][\w.]*", s or "-") else None


def _clip(s: str, n: int = 80) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _closers(text: str) -> dict[int, int]:
    """Each '[' that is closed -> the position of its ']' (one pass)."""
    out, stack = {}, []
    for k, c in enumerate(text):
        if c == "[":
            stack.append(k)
        elif c == "]" and stack:
            out[stack.pop()] = k
    return out


def _bracketed(text: str, i: int) -> tuple[list | None, int, list[str], str]:
    """Parse a bracketed array of numbers starting at text[i] == '['. Returns (nested, end, flat entries, "")
    or (None, where it went wrong, [], why it is not an array of numbers)."""
    stack: list[list] = []
    root = None
    flat: list[str] = []
    n = len(text)
    j = i
    limit = min(n, i + MAX_ARRAY_CHARS)
    while j < limit:
        c = text[j]
        if c == "[":
            if len(stack) >= MAX_DEPTH:
                return None, j, [], f"it is nested more than {MAX_DEPTH} levels deep"
            new: list = []
            if stack:
                stack[-1].append(new)
            stack.append(new)
            j += 1
        elif c == "]":
            done = stack.pop()
            if not done:
                return None, j, [], "it has an empty list []"
            j += 1
            if not stack:
                root = done
                break
        elif c in " \t\r\n,":
            j += 1
        else:
            m = _ENTRY.match(text, j)
            if not (_NUM.fullmatch(m.group(0)) or _RATIO.fullmatch(m.group(0))):
                index = tuple(len(s) - 1 for s in stack[:-1]) + (len(stack[-1]),)
                return None, j, [], entry_problem(m.group(0), index)
            stack[-1].append(m.group(0))
            flat.append(m.group(0))
            j = m.end()
    if root is None:
        return None, j, [], ("a '[' is never closed" if limit == n else
                             f"it is longer than {MAX_ARRAY_CHARS} characters")
    if _shape(root) is None:
        return None, j, [], _ragged(root)
    return root, j, flat, ""


def _ragged(v: list) -> str:
    """Why a nested list is not rectangular (the first place it goes wrong)."""
    if len({isinstance(x, list) for x in v}) > 1:
        return "it mixes numbers and lists at one level"
    shapes = [_shape(x) for x in v]
    bad = next((k for k, s in enumerate(shapes) if s is None), None)
    if bad is not None:
        return _ragged(v[bad])
    if all(len(s) == 1 for s in shapes):
        return rows_differ([s[0] for s in shapes])
    k = next(k for k, s in enumerate(shapes) if s != shapes[0])
    return f"its parts have different shapes ({list(shapes[0])} and {list(shapes[k])})"


def _shape(v) -> tuple[int, ...] | None:
    if not isinstance(v, list):
        return ()
    shapes = {_shape(x) for x in v}
    if len(shapes) != 1 or None in shapes:
        return None
    return (len(v), *shapes.pop())


def _array_value(nested, flat: list[str], style: str, dtype32: bool) -> tuple[Value | None, str]:
    """The array's value, or (None, why not)."""
    shape = _shape(nested)
    parsed = [parse_number(s) for s in flat]
    bad = next((k for k, p in enumerate(parsed) if p is None), None)
    if bad is not None:
        index = tuple(int(i) for i in np.unravel_index(bad, shape))
        return None, entry_problem(flat[bad], index)
    values = [p[0] for p in parsed]
    decimals = [p[1] for p in parsed]
    floats = any("." in s or "e" in s.lower() for s in flat)
    if any("e" in s.lower() for s in flat):
        values, decimals = _denoise_scientific(flat, values, decimals)
    elif style in ("numpy", "torch") and floats:
        # a printout: one precision for the whole array, trailing zeros dropped ("1." means 1.0000)
        written = max(decimals)
        decimals = [-1 if written <= 0 else written] * len(values)
    cap = 6 if dtype32 else 13
    for k, s in enumerate(flat):
        values[k], decimals[k] = _denoise(s, values[k], decimals[k], cap)
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return Value(arr.reshape(shape), np.array(decimals, dtype=int).reshape(shape)), ""


def _significant_digits(s: str) -> int:
    mantissa = s.translate(MINUS).lstrip("+-").lower().split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa)


def _denoise(s: str, value: Fraction, decimals: int, cap: int) -> tuple[Fraction, int]:
    """Float noise (0.30000000000000004, 0.29999998 in float32) counts as the value it approximates:
    round to `cap` significant digits."""
    if decimals < 0 or _significant_digits(s) <= cap or value == 0:
        return value, decimals
    d = Decimal(value.numerator) / Decimal(value.denominator)
    keep = cap - d.adjusted() - 1
    if keep < 0:
        return value, decimals
    q = d.quantize(Decimal(1).scaleb(-keep))
    return Fraction(q), keep


def _denoise_scientific(flat: list[str], values: list[Fraction], decimals: list[int]):
    """In `[ 1.00e+00 -5.55e-17]`, -5.55e-17 is float noise below the printout's precision: it reads as 0."""
    digits = max(len(s.lower().split("e")[0].split(".")[1]) if "." in s.lower().split("e")[0] else 0 for s in flat)
    biggest = max(abs(v) for v in values)
    if biggest == 0:
        return values, decimals
    exp = (Decimal(biggest.numerator) / Decimal(biggest.denominator)).adjusted()   # exact: no float overflow
    places = max(0, digits - exp)   # absolute decimals the largest entry was printed with
    half = Fraction(1, 2) * Fraction(10) ** -places
    out_v, out_d = [], []
    for v, d in zip(values, decimals):
        if abs(v) < half:
            out_v.append(Fraction(0))
            out_d.append(places)
        else:
            out_v.append(v)
            out_d.append(d)
    return out_v, out_d


def _scalars(text: str, line0: int, starts: list[int], spans: list[tuple[int, int]]) -> list[Found]:
    out = []
    for k, start in enumerate(starts):
        end = starts[k + 1] - 1 if k + 1 < len(starts) else len(text)
        line = text[start:end]
        if len(line) > 2000:
            continue
        prev_end = 0
        for m in _SCALAR.finditer(line):
            a = start + m.start()
            if any(s <= a < e for s, e in spans):
                continue
            before = line[prev_end:m.start()]
            prev_end = m.end()
            printout = not before.strip() and m.group(0).startswith(("tensor(", "array(", "np.float", "Array("))
            if not _LABEL_TAIL.search(before) and not printout:   # tensor(-0.18, grad_fn=…): a printed scalar
                continue
            if m.group("comma"):             # '0,1' would read as 0: say why it is not read instead
                out.append(Found(before.strip(), _name(before), None, line0 + k, _clip(line.strip()), "scalar", "",
                                 token_problem(m.group("num") + m.group("comma"))))
                continue
            parsed = parse_number(m.group("num"))
            if parsed is None:
                continue
            v, d = _denoise(m.group("num"), parsed[0], parsed[1], 13)
            arr = np.empty((), dtype=object)
            arr[()] = v
            out.append(Found(before.strip(), _name(before), Value(arr, np.array(d)), line0 + k,
                             _clip(line.strip()), "torch" if printout else "scalar", ""))
    return out
