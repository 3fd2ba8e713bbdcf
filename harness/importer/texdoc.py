"""A LaTeX file (.tex) -> segments, with pylatexenc: math (inline, display, equation/align…) in order,
verbatim/lstlisting as code, the rest as prose lines."""

from __future__ import annotations

from pylatexenc.latexwalker import (LatexCharsNode, LatexEnvironmentNode, LatexGroupNode, LatexMacroNode,
                                    LatexMathNode, LatexWalker, LatexWalkerError)

from ..errors import UserError
from .latex import MATH_ENVS, latex_context
from .segments import LineIndex, Segment

_CODE_ENVS = {"verbatim", "lstlisting", "minted", "Verbatim"}


def segments(text: str, where: str) -> list[Segment]:
    from .collect import MAX_SEGMENTS
    if text.count("$") // 2 + text.count("\\begin") + text.count("\\[") > MAX_SEGMENTS:
        raise UserError(f"too much math to read (over {MAX_SEGMENTS} formulas); crossgrad reads derivations of "
                        "small cases", where)
    index = LineIndex(text)
    try:
        nodes, _, _ = LatexWalker(text, latex_context=latex_context(), tolerant_parsing=True).get_latex_nodes()
    except RecursionError:
        raise UserError("LaTeX nested too deeply to read", where) from None
    except LatexWalkerError as exc:
        raise UserError(f"unreadable LaTeX: {exc}", where) from None
    out: list[Segment] = []
    prose: dict[int, list[str]] = {}   # line -> the prose pieces on it, in order

    def add_prose(pos: int, chars: str):
        for i, piece in enumerate(chars.split("\n")):
            prose.setdefault(index.line(pos) + i, []).append(piece)

    def flush():
        for line in sorted(prose):
            s = "".join(prose[line])
            if s.strip():
                out.append(Segment("prose", s, line))
        prose.clear()

    def walk(ns):
        for n in ns:
            if n is None:
                continue
            if isinstance(n, LatexMathNode) or (isinstance(n, LatexEnvironmentNode)
                                                and n.environmentname in MATH_ENVS):
                flush()
                body = n.latex_verbatim()
                if isinstance(n, LatexMathNode):
                    inner = "".join(c.latex_verbatim() for c in n.nodelist if c is not None)
                    out.append(Segment("math", inner, index.line(n.pos + len(n.delimiters[0])),
                                       n.displaytype == "display"))
                else:
                    out.append(Segment("math", body, index.line(n.pos), True))
            elif isinstance(n, LatexEnvironmentNode) and n.environmentname in _CODE_ENVS:
                flush()
                body = "".join(c.latex_verbatim() for c in n.nodelist if c is not None)
                out.append(Segment("code", body.lstrip("\n"), index.line(n.pos) + 1))
            elif isinstance(n, LatexEnvironmentNode):
                walk(n.nodelist)
            elif isinstance(n, LatexGroupNode):
                walk(n.nodelist)
            elif isinstance(n, LatexMacroNode):
                if n.nodeargd is not None:  # \section{Input}, \textbf{Filter:} … carry labels
                    add_prose(n.pos, " ")
                    walk([a for a in n.nodeargd.argnlist if a is not None])
            elif isinstance(n, LatexCharsNode):
                add_prose(n.pos, n.chars)
            # comments and specials carry nothing
        return out

    try:
        walk(nodes)
    except RecursionError:
        raise UserError("LaTeX nested too deeply to read", where) from None
    flush()
    return out
