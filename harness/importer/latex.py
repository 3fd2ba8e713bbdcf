"""LaTeX math -> equations: each a chain of sides `a = b = … = value`, with the value of the last side
read when it is a number or a matrix of numbers. A parser (pylatexenc), never an evaluator:
`0.5 - 0.1(0.3)` is not a number here, `\\frac{1.46}{4}` is one only as the final value.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from pylatexenc.latexwalker import (LatexCharsNode, LatexCommentNode, LatexEnvironmentNode, LatexGroupNode,
                                    LatexMacroNode, LatexMathNode, LatexSpecialsNode, LatexWalker,
                                    LatexWalkerError, get_default_latex_context_db)
from pylatexenc.macrospec import std_macro

from .numbers import entry_problem, parse_number, rows_differ, token_problem

MATRIX_ENVS = {"bmatrix", "pmatrix", "vmatrix", "Bmatrix", "Vmatrix", "matrix", "array", "smallmatrix",
               "bmatrix*", "pmatrix*", "matrix*"}
# environments whose body is one or more equations (rows split by \\, & ignored)
MATH_ENVS = {"equation", "equation*", "align", "align*", "aligned", "gather", "gather*", "gathered", "multline",
             "multline*", "split", "eqnarray", "eqnarray*", "displaymath", "math", "alignat", "alignat*",
             "alignedat", "flalign", "flalign*", "cases", "dcases"}
_SPACING = {",", ";", "!", ":", " ", "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
            "displaystyle", "textstyle", "nonumber", "notag", "label", "tag", "hline", "quad", "qquad", "enspace",
            "thinspace", "medspace", "thickspace"}
_WRAPPERS = {"boxed", "mathbf", "boldsymbol", "bm", "mathrm", "textbf", "mathit", "mathsf", "underline",
             "color", "textcolor", "fbox", "text", "textrm", "mbox"}
_FRACS = {"frac", "dfrac", "tfrac", "cfrac"}
_REL_MACROS = {"approx": "≈", "simeq": "≈", "leftarrow": "=", "gets": "=", "coloneqq": "=", "Leftarrow": "=",
               "coloneq": "=", "eq": "="}
_SEP_MACROS = {"quad", "qquad", "Rightarrow", "implies", "Longrightarrow", "therefore", "Longleftrightarrow",
               "iff", "hspace"}
_SEP_WORDS = re.compile(r"^\s*(and|where|with|so|thus|then|or|hence|i\.e\.|giving|gives|since|for)\s*,?\s*$",
                        re.IGNORECASE)
MAX_ROWS = 10_000


@functools.lru_cache(maxsize=1)
def latex_context():
    db = get_default_latex_context_db()
    one = ["boxed", "widehat", "hat", "tilde", "bar", "vec", "boldsymbol", "bm", "mathbf", "mathrm", "mathit",
           "mathsf", "mathcal", "operatorname", "text", "textrm", "textbf", "mbox", "fbox", "underline"]
    db.add_context_category("crossgrad", prepend=True,
                            macros=[std_macro(m, False, 1) for m in one]
                            + [std_macro(m, False, 2) for m in ("frac", "dfrac", "tfrac", "cfrac", "textcolor")])
    return db


@dataclass(frozen=True)
class Value:
    array: np.ndarray      # object array of Fractions; 0-d for a number
    decimals: np.ndarray   # int array, same shape; -1 = exact
    relation: str = "="    # the relation before it: "=" or "≈"


@dataclass(frozen=True)
class Side:
    latex: str
    line: int
    value: Value | None
    # value None: why a written matrix ("entry '0.2q' (row 1, column 2) is not a number") or number ("'0.1q' is
    # not a number": the only reasons that start with a quote) could not be read; "" for a formula
    unreadable: str = ""


@dataclass(frozen=True)
class Equation:
    sides: tuple[Side, ...]
    line: int
    latex: str

    @property
    def lhs(self) -> Side:
        return self.sides[0]

    @property
    def final(self) -> Value | None:
        """The value after the last `=` (`= \\frac{1}{3} \\approx 0.333` is 1/3; a lone `\\approx 0.33` is
        0.33, marked approximate); None when the equation ends in a formula."""
        last = self.sides[-1].value
        if last is None or last.relation != "≈":
            return last
        for side in reversed(self.sides[1:-1]):
            if side.value is None:
                break
            if side.value.relation == "=":
                return side.value
        return last

    @property
    def unreadable(self) -> str:
        """Why the final value could not be read ("entry '0.2q' (row 1, column 2) is not a number"), or ""."""
        return self.sides[-1].unreadable if self.final is None else ""


def parse_math(text: str, line_at) -> list[Equation]:
    """All equations in a math segment. `line_at(offset)` gives the document line of an offset."""
    try:
        nodes, _, _ = LatexWalker(text, latex_context=latex_context(), tolerant_parsing=True).get_latex_nodes()
        stream: list[tuple] = []
        _flatten(nodes, stream, [0])
    except (RecursionError, LatexWalkerError):
        return []
    return _equations(stream, text, line_at)


# --- the stream: nodes and text pieces, with relations, row breaks and separators marked ------------

def _flatten(nodes, out: list, depth: list) -> None:
    for n in nodes:
        if n is None or isinstance(n, LatexCommentNode):
            continue
        if isinstance(n, LatexMathNode) or (isinstance(n, LatexEnvironmentNode) and n.environmentname in MATH_ENVS):
            _flatten(n.nodelist, out, depth)
            out.append(("row", None, n.pos + n.len, n.pos + n.len))
        elif isinstance(n, LatexMacroNode):
            name = n.macroname
            if name in ("\\", "newline", "cr"):
                out.append(("row", None, n.pos, n.pos + n.len))
            elif name in _REL_MACROS:
                out.append(("rel", _REL_MACROS[name], n.pos, n.pos + n.len))
            elif name in _SEP_MACROS or (name in ("text", "textrm", "mbox") and _SEP_WORDS.match(_arg_text(n))):
                out.append(("sep", None, n.pos, n.pos + n.len))
            elif name in ("label", "tag", "nonumber", "notag", "hline"):
                continue
            else:
                out.append(("node", n, n.pos, n.pos + n.len))
        elif isinstance(n, LatexSpecialsNode) and n.specials_chars == "&":
            continue
        elif isinstance(n, LatexCharsNode):
            _split_chars(n, out, depth)
        else:
            out.append(("node", n, n.pos, n.pos + n.len))


def _split_chars(n: LatexCharsNode, out: list, depth: list) -> None:
    s, start, i = n.chars, 0, 0
    while i < len(s):
        c = s[i]
        if c in "([":
            depth[0] += 1
        elif c in ")]":
            depth[0] = max(0, depth[0] - 1)
        elif depth[0] == 0 and c in "=≈,;" and not _part_of_operator(s, i) and not _decimal_comma(s, i):
            if i > start:
                out.append(("text", s[start:i], n.pos + start, n.pos + i))
            if c == "=" and i + 1 < len(s) and s[i + 1] == ":":
                i += 1
            out.append(("rel" if c in "=≈" else "sep", "≈" if c == "≈" else "=", n.pos + i, n.pos + i + 1))
            start = i + 1
        i += 1
    if start < len(s):
        out.append(("text", s[start:], n.pos + start, n.pos + len(s)))


def _decimal_comma(s: str, i: int) -> bool:
    """'0,1': a comma between two digits is a decimal comma (kept in the number, which is then refused
    with a hint), not a separator of equations — read as one, η = 0,1 became η = 0."""
    return s[i] == "," and 0 < i < len(s) - 1 and s[i - 1].isdigit() and s[i + 1].isdigit()


def _part_of_operator(s: str, i: int) -> bool:
    if s[i] != "=":
        return False
    prev = s[i - 1] if i else " "
    nxt = s[i + 1] if i + 1 < len(s) else " "
    return prev in "<>!=" or nxt == "="


def _arg_text(n: LatexMacroNode) -> str:
    args = [a for a in (n.nodeargd.argnlist if n.nodeargd else []) if a is not None]
    return "".join(a.latex_verbatim() for a in args).strip("{} ")


def _equations(stream: list, text: str, line_at) -> list[Equation]:
    eqs: list[Equation] = []
    sides: list[list] = [[]]
    rels: list[str] = []
    new_row = False

    def close():
        nonlocal sides, rels
        if any(_blank(items) is False for items in sides):
            eqs.append(_equation(sides, rels, text, line_at))
        sides, rels = [[]], []

    for kind, payload, pos, end in stream:
        if kind == "rel":
            new_row = False
            sides.append([])
            rels.append(payload)
        elif kind == "row":
            new_row = True
        elif kind == "sep":
            close()
        else:
            if kind == "text" and not payload.strip():
                if not new_row:
                    sides[-1].append((kind, payload, pos, end))
                continue
            if new_row:  # a row that starts with content (not with `&=`) is a new equation
                close()
                new_row = False
            sides[-1].append((kind, payload, pos, end))
    close()
    return eqs


def _blank(items: list) -> bool:
    return all(kind == "text" and not payload.strip() for kind, payload, _, _ in items)


def _equation(sides: list[list], rels: list[str], text: str, line_at) -> Equation:
    out = []
    for k, items in enumerate(sides):
        items = [it for it in items]
        if not items:
            out.append(Side("", line_at(0), None))
            continue
        start, end = items[0][2], items[-1][3]
        value = _value(items)
        if isinstance(value, str):
            out.append(Side(text[start:end].strip(), line_at(start), None, value))
            continue
        if value is not None and k > 0:
            value = Value(value.array, value.decimals, rels[k - 1])
        out.append(Side(text[start:end].strip(), line_at(start), value))
    first = next((s for s in out if s.latex), out[0])
    whole = " = ".join(s.latex for s in out)
    return Equation(tuple(out), first.line, whole)


# --- values --------------------------------------------------------------------------------------

def _significant(items: list) -> list:
    """Drop spacing, \\left/\\right, bracket-only text, trailing punctuation and trailing \\text comments."""
    out = []
    for kind, payload, pos, end in items:
        if kind == "text":
            t = payload.strip()
            if not t or all(c in "[]()|.," for c in t):
                continue
            out.append(("text", t))
        elif isinstance(payload, LatexMacroNode) and payload.macroname in _SPACING:
            continue
        else:
            out.append(("node", payload))
    while out and out[-1][0] == "node" and isinstance(out[-1][1], LatexMacroNode) \
            and out[-1][1].macroname in ("text", "textrm", "mbox", "quad", "qquad") and len(out) > 1:
        out.pop()
    return out


def _value(items: list) -> Value | str | None:
    """The number or matrix a side is; a str says why a written matrix (or a lone number-like token) could
    not be read; None for a formula."""
    sig = _significant(items)
    if not sig:
        return None
    matrices = [p for k, p in sig if k == "node" and isinstance(p, LatexEnvironmentNode)
                and p.environmentname in MATRIX_ENVS]
    if matrices:
        return _matrix(matrices[0]) if len(sig) == 1 else None
    if len(sig) == 1 and sig[0][0] == "node" and isinstance(sig[0][1], LatexMacroNode) \
            and sig[0][1].macroname == "boxed":
        inner = _macro_args(sig[0][1])
        if len(inner) == 1 and isinstance(inner[0], LatexGroupNode):
            return _value([("node", c, 0, 0) for c in inner[0].nodelist if c is not None])
    rendered = []
    for kind, p in sig:
        r = p if kind == "text" else _render(p)
        if r is None:
            return None
        rendered.append(r)
    s = "".join(rendered)
    return _scalar(s) or _bracket_list(s) or token_problem(s) or None


def _bracket_list(s: str) -> Value | None:
    """`b=[1, 2]`, `x = [[1,2],[3,4]]` in math: the list a plain-text reader reads (LaTeX has no list syntax)."""
    s = s.strip()
    if not (s.startswith("[") and s.endswith("]")) or len(s) > 20_000:
        return None
    from .plaintext import scan   # (plaintext reads arrays; imported here: it is not needed for most math)
    found = scan(s, 0)
    return found[0].value if len(found) == 1 and found[0].value is not None else None


def _scalar(s: str) -> Value | None:
    parsed = parse_number(s)
    if parsed is None and s[-1:] == "." and s[-2:-1].isdigit() and "." in s[:-1]:
        parsed = parse_number(s[:-1])   # "L = 0.365." ends a sentence
    if parsed is None:
        return None
    v, d = parsed
    return Value(_obj(v), np.array(d))


def _obj(v) -> np.ndarray:
    a = np.empty((), dtype=object)
    a[()] = v
    return a


def _macro_args(n: LatexMacroNode) -> list:
    return [a for a in (n.nodeargd.argnlist if n.nodeargd else []) if a is not None]


def _render(n) -> str | None:
    """A node as a plain number string ('-1.5', '3/4', '5.55e-17') or None when it is not one."""
    if n is None:
        return ""
    if isinstance(n, LatexCharsNode):
        return n.chars.replace(" ", "").replace("\u2212", "-").replace("{", "").replace("}", "")
    if isinstance(n, LatexGroupNode):
        parts = [_render(c) for c in n.nodelist]
        return None if any(p is None for p in parts) else "".join(parts)
    if isinstance(n, LatexMacroNode):
        name = n.macroname
        if name in _SPACING:
            return ""
        if name in ("times", "cdot"):
            return "*"
        args = _macro_args(n)
        if name in _FRACS and len(args) == 2:
            a, b = _render(args[0]), _render(args[1])
            if a is None or b is None or parse_number(a) is None or parse_number(b) is None or "/" in a + b:
                return None
            return f"{a}/{b}"
        if name in _WRAPPERS and len(args) == 1:
            return _render(args[-1])
        return None
    if isinstance(n, LatexSpecialsNode):
        return None
    return None


def _matrix(env: LatexEnvironmentNode) -> Value | str:
    """The matrix of numbers, or why it is not one (the first bad entry, rows of different lengths)."""
    rows: list[list[list]] = [[[]]]
    for c in env.nodelist:
        if c is None or isinstance(c, LatexCommentNode):
            continue
        if isinstance(c, LatexMacroNode) and c.macroname in ("\\", "cr", "newline"):
            rows.append([[]])
            if len(rows) > MAX_ROWS:
                return f"it has more than {MAX_ROWS} rows"
        elif isinstance(c, LatexMacroNode) and c.macroname in ("hline", "cline", "hdashline"):
            continue
        elif isinstance(c, LatexSpecialsNode) and c.specials_chars == "&":
            rows[-1].append([])
        else:
            rows[-1][-1].append(c)
    def blank(cell) -> bool:
        return all(_render(x) == "" for x in cell)

    while rows and all(blank(cell) for cell in rows[-1]):
        rows.pop()  # a trailing \\ leaves an empty row
    if not rows:
        return "it is empty"
    values, decimals = [], []
    for i, row in enumerate(rows):
        vr, dr = [], []
        for j, cell in enumerate(row):
            rendered = [_render(x) for x in cell]
            s = "\0" if None in rendered else "".join(rendered)
            parsed = parse_number(s)
            if parsed is None:
                written = "".join(x.latex_verbatim() for x in cell if x is not None)
                return entry_problem(written, (i, j), written if None in rendered else s)
            vr.append(parsed[0])
            dr.append(parsed[1])
        values.append(vr)
        decimals.append(dr)
    if len({len(r) for r in values}) != 1:
        return rows_differ([len(r) for r in values])
    arr = np.empty((len(values), len(values[0])), dtype=object)
    for i, r in enumerate(values):
        for j, v in enumerate(r):
            arr[i, j] = v
    return Value(arr, np.array(decimals, dtype=int))
