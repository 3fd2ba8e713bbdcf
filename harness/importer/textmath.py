"""Math written as plain Unicode text, as in `crossgrad explain --format text` and in notebooks:

        [ 1  2  1 ]
    I = [ 0  1  2 ]                ∂L/∂W₀₀ = 0.3 · 1 + 0.45 · 2 = 1.3        L = 1/4 Σ (Ŷ − Y)²
        [ 2  1  0 ]

Rows written one per line (`[ … ]` at the same column on consecutive lines) form a matrix; a line with `=`
outside the brackets is the equation they belong to. Lines whose left side is a known label become
equations; the rest is left to the plain-text array scanner (with the matrices read here blanked out).
"""

from __future__ import annotations

import re

import numpy as np

from .labels import latex_label
from .latex import Equation, Side, Value
from .numbers import entry_problem, parse_number, rows_differ, token_problem

# [ … ] not right after a name or a closing bracket (W[0,1,:,:] and Ŷ[0][1] are indices, not matrices)
# (nor an Iverson bracket 1[Z > 0])
_SPAN = re.compile(r"(?<![^\W\d_])(?<![\])'′_])\[(?![\d,:]*\])([^\[\]\n<>=≤≥]*)\]")
_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_SUP = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾", "0123456789+-()")
MAX_LINE = 5000


def to_latexish(s: str) -> str:
    """Unicode math -> the LaTeX-like spelling the label and formula readers understand."""
    s = re.sub(r"[₀₁₂₃₄₅₆₇₈₉]+(?:,[₀₁₂₃₄₅₆₇₈₉]+)*", lambda m: "_{" + m.group(0).translate(_SUB) + "}", s)
    s = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾]+", lambda m: "^{" + m.group(0).translate(_SUP) + "}", s)
    return (s.replace("Σ", r"\sum ").replace("∑", r"\sum ").replace("·", r" \cdot ").replace("×", r" \times ")
            .replace("−", "-").replace("′", "'").replace("√", r"\sqrt "))


def matrix_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """Ranges [i, j) of two or more consecutive lines whose `[ … ]` rows line up (a matrix written in text).
    Lines with `$` or a backslash are LaTeX, not text matrices."""
    out = []
    spans = [[] if len(l) > MAX_LINE or "$" in l or "\\" in l or "[[" in l or "]]" in l
             else [m.start() for m in _SPAN.finditer(l)] for l in lines]
    i = 0
    while i < len(lines):
        j = i + 1
        while spans[i] and j < len(lines) and spans[j] == spans[i]:
            j += 1
        if j - i >= 2 and not _inside_printout(lines, i, j):
            out.append((i, j))
        i = j
    return out


_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_ROW_LINE = re.compile(r"^[\s\[\],.\d+\-eE]*(?:(?:#|//).*)?$")   # numbers, brackets, commas (and a comment)
MAX_BRACKET_LINES = 200


def bracket_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """Ranges [i, j) of an array written over several lines in prose (`X = [` / `  [1, 2, 3],` / `]`, as blogs
    and exercise pages write it outside code fences): the line that opens more `[` than it closes, then rows of
    numbers up to the line that balances them. Fenced and indented code is the code reader's."""
    out, fenced, i = [], False, 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            fenced = not fenced
        depth = line.count("[") - line.count("]")
        if fenced or depth <= 0 or len(line) > MAX_LINE or "$" in line or "\\" in line or line.startswith("    ") \
                or not line.rstrip().endswith(("[", ",")):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and j - i <= MAX_BRACKET_LINES and _ROW_LINE.match(lines[j]) and depth > 0:
            depth += lines[j].count("[") - lines[j].count("]")
            j += 1
        if depth == 0 and j - i >= 2:
            out.append((i, j))
            i = j
        else:
            i += 1
    return out


def _inside_printout(lines: list[str], i: int, j: int) -> bool:
    """Rows i..j-1 are the middle rows of a NumPy printout `[[1 2 1]`, ` [0 1 2]`, ` [2 1 0]]` (the array
    scanner's), not a matrix of their own."""
    return (i > 0 and "[[" in lines[i - 1] and "]]" not in lines[i - 1]
            or j < len(lines) and "]]" in lines[j] and "[[" not in lines[j])


def parse_block(text: str, line0: int) -> tuple[list[Equation], str]:
    """Equations in a block of text lines, and the text with what they used blanked out."""
    lines = text.split("\n")
    masked = list(lines)
    eqs: list[Equation] = []
    spans = [[] if len(l) > MAX_LINE or "[[" in l or "]]" in l else list(_SPAN.finditer(l)) for l in lines]
    used = [False] * len(lines)
    i = 0
    while i < len(lines):
        if not spans[i]:
            i += 1
            continue
        cols = [m.start() for m in spans[i]]
        j = i + 1
        while j < len(lines) and spans[j] and [m.start() for m in spans[j]] == cols:
            j += 1
        eq = None if _inside_printout(lines, i, j) else _matrix_equation(lines, spans, i, j, line0)
        if eq is not None:
            eqs.append(eq)
            for k in range(i, j):
                used[k] = True
                masked[k] = " " * len(lines[k])
        i = j
    for k, l in enumerate(lines):
        if used[k] or "=" not in l or len(l) > MAX_LINE:
            continue
        eq = _line_equation(l, line0 + k)
        if eq is not None:
            eqs.append(eq)
            if eq.final is not None:   # a formula line (x = torch.tensor(…)) stays for the array scanner
                masked[k] = " " * len(l)
    eqs.sort(key=lambda e: e.line)
    return eqs, "\n".join(masked)


def _cells(content: str, row: int) -> list | str | None:
    """One row's numbers, or why they are not numbers; None for no row of a text matrix (`[ ]`, or a Python
    list `[1, 2]`: the array scanner's)."""
    parts = content.split()
    if not parts or any(p.endswith(",") for p in parts):
        return None
    parsed = [parse_number(p) for p in parts]
    bad = next((k for k, p in enumerate(parsed) if p is None), None)
    return parsed if bad is None else entry_problem(parts[bad], (row, bad))


def _matrix_equation(lines, spans, i, j, line0) -> Equation | None:
    n = len(spans[i])
    values: list[Value | str | None] = []
    for s in range(n):
        rows = [_cells(spans[k][s].group(1), k - i) for k in range(i, j)]
        if any(r is None for r in rows):
            values.append(None)
            continue
        bad = next((r for r in rows if isinstance(r, str)), None)
        if bad is None and len({len(r) for r in rows}) != 1:
            bad = rows_differ([len(r) for r in rows])
        if bad is not None:
            values.append(bad)
            continue
        arr = np.empty((j - i, len(rows[0])), dtype=object)
        dec = np.empty((j - i, len(rows[0])), dtype=int)
        for a, row in enumerate(rows):
            for b, (v, d) in enumerate(row):
                arr[a, b], dec[a, b] = v, d
        values.append(Value(arr, dec))
    if all(v is None for v in values):
        return None   # no text matrix here (`np.array([0, 0])`: a Python list, the array scanner's)
    # the row that carries the equation: `=` outside the brackets
    eq_row = None
    for k in range(i, j):
        outside = _outside(lines[k], spans[k])
        if "=" in outside or "≈" in outside:
            eq_row = k
            break
    if eq_row is None:
        prefix = next((lines[k][: spans[k][0].start()].strip() for k in range(i, j)
                       if lines[k][: spans[k][0].start()].strip()), "")
        if n != 1 or not isinstance(values[0], Value):
            return None
        last = Side("", line0 + i, values[0])
        return Equation((Side(prefix, line0 + i, None), last) if prefix else (last,), line0 + i, prefix)
    line = lines[eq_row]
    pieces, last = [], 0
    for s, m in enumerate(spans[eq_row]):
        pieces.append(line[last:m.start()])
        pieces.append(f"\x00{s}\x00")
        last = m.end()
    pieces.append(line[last:])
    return _sides("".join(pieces), line0 + eq_row, values)


def _outside(line: str, spans) -> str:
    out, last = [], 0
    for m in spans:
        out.append(line[last:m.start()])
        last = m.end()
    out.append(line[last:])
    return "".join(out)


def split_relations(s: str) -> tuple[list[str], list[str]]:
    sides, rels, depth, start = [], [], 0, 0
    for k, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0 and c in "=≈" and s[k - 1:k] not in ("<", ">", "!", "="):
            sides.append(s[start:k])
            rels.append(c)
            start = k + 1
    sides.append(s[start:])
    return sides, rels


def _sides(s: str, line: int, matrices: list[Value | str | None]) -> Equation | None:
    parts, rels = split_relations(s)
    if len(parts) < 2:
        return None
    sides = []
    for k, p in enumerate(parts):
        p = p.strip().rstrip(".,;")
        m = re.fullmatch(r"\x00(\d+)\x00", p)
        value = None
        why = ""   # why a written matrix or number-like token is not a value
        if m:
            value = matrices[int(m.group(1))]
            if isinstance(value, str):
                value, why = None, value
        elif k > 0:
            parsed = parse_number(p)
            if parsed is not None:
                arr = np.empty((), dtype=object)
                arr[()] = parsed[0]
                value = Value(arr, np.array(parsed[1]))
            else:
                why = token_problem(p)
        if value is not None and k > 0 and rels[k - 1] == "≈":
            value = Value(value.array, value.decimals, "≈")
        written = re.sub(r"\x00\d+\x00", "[…]", p)
        sides.append(Side(to_latexish(written), line, value, why))
    return Equation(tuple(sides), line, " = ".join(x.latex for x in sides))


def _line_equation(l: str, line: int) -> Equation | None:
    lhs = l.split("=", 1)[0].strip()
    if not lhs or len(lhs) > 40 or latex_label(to_latexish(lhs)) is None:
        return None
    return _sides(l, line, [])
