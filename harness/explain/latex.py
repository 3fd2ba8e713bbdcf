"""A standalone LaTeX document: sections, prose, and `align*` environments (one side per line)."""

from __future__ import annotations

import re

from .document import Block, join_sides

PREAMBLE = r"""\documentclass{article}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\setcounter{MaxMatrixCols}{1000}
\allowdisplaybreaks
\begin{document}
"""
TERMS_PER_LINE = 8
# Unicode in prose that pdflatex does not know, as math.
_PROSE = {"×": r"$\times$", "°": r"$^\circ$", "≤": r"$\le$", "−": "-", "δ": r"$\delta$", "η": r"$\eta$",
          "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\^{}"}


def _prose(text: str) -> str:
    parts = text.split("$")
    for i in range(0, len(parts), 2):   # outside $…$
        parts[i] = re.sub("|".join(map(re.escape, _PROSE)), lambda m: _PROSE[m.group()], parts[i])
    return "$".join(parts)


def _long(side: str) -> bool:
    """A sum of more terms than fit a display line (a matrix is never split)."""
    return r"\begin" not in side and side.count(" + ") >= TERMS_PER_LINE


def render(blocks: list[Block]) -> str:
    out = [PREAMBLE]
    for b in blocks:
        if b.kind == "h":
            command = {1: "section*", 2: "subsection*"}.get(b.level, "subsubsection*")
            out.append(f"\\{command}{{{_prose(b.text)}}}")
        elif b.kind == "p":
            out.append(_prose(b.text))
        elif b.kind == "list":
            out.append("\\begin{itemize}\n" + "\n".join(f"\\item {_prose(item)}" for item in b.items)
                       + "\n\\end{itemize}")
        elif any(_long(side) for side in b.sides):
            # A long sum: inline math, which TeX breaks after + and = to fit the page (a display would
            # overflow, and continuation rows would not read back as one equation).
            out.append("\\noindent$\\displaystyle " + join_sides(b.sides) + "$")
        else:
            rows = [b.sides[0]] + [("& " if side.startswith(r"\approx") else "&= ") + side for side in b.sides[1:]]
            if len(rows) > 1:   # the lhs and its first '=' share a line
                rows[:2] = [rows[0] + " " + rows[1]]
            out.append("\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    out.append("\\end{document}")
    return "\n\n".join(out) + "\n"
