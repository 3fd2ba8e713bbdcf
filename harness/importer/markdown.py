"""Markdown (and plain text) -> segments, with markdown-it-py and its math plugins.

`$…$`, `$$…$$` (dollarmath), `\\(…\\)`, `\\[…\\]` (texmath brackets) and `\\begin{align}…` (amsmath) become
math segments; fenced and indented code become code segments (NumPy/torch printouts live there);
everything else is prose, one segment per source line so that labels keep their line numbers.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.texmath import texmath_plugin

from .segments import LineIndex, Segment
from .textmath import bracket_blocks, matrix_blocks

_MATH_BLOCKS = {"math_block", "math_block_label", "math_block_eqno", "amsmath"}
_MATH_INLINE = {"math_inline", "math_inline_double", "math_single", "math_inline_eqno"}


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"maxNesting": 20})
    md.use(dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True)
    md.use(amsmath_plugin)
    md.use(texmath_plugin, delimiters="brackets")
    # links, emphasis and HTML carry nothing we read, and their matching is the slow part on hostile input
    md.disable(["link", "image", "reference", "autolink", "html_inline", "html_block", "entity", "emphasis"])
    return md


def segments(text: str) -> list[Segment]:
    # matrices written as aligned text rows are taken out first: Markdown would split them into list
    # items, code and paragraphs by their indentation
    lines = text.split("\n")
    arrays = bracket_blocks(lines)
    inside = {k for i, j in arrays for k in range(i, j)}
    blocks = sorted(arrays + [(i, j) for i, j in matrix_blocks(lines) if not inside & set(range(i, j))])
    pre = [Segment("text", "\n".join(lines[i:j]), i + 1) for i, j in blocks]
    for i, j in blocks:
        for k in range(i, j):
            lines[k] = ""
    if blocks:
        text = "\n".join(lines)
    out = _segments(text)
    return sorted(out + pre, key=lambda seg: seg.line) if pre else out


def _segments(text: str) -> list[Segment]:
    index = LineIndex(text)
    out: list[Segment] = []
    cursor = 0  # where the previous located block ended (tokens without a line map are found after it)

    def locate(content: str, start_line: int | None) -> int:
        """The 1-based line where `content` starts in the source (searching from a block's first line)."""
        nonlocal cursor
        start = index.offset(start_line + 1) if start_line is not None else cursor
        probe = content.strip()[:200]
        pos = text.find(probe, start) if probe else -1
        if pos == -1:
            return start_line + 1 if start_line is not None else index.line(cursor)
        cursor = pos + len(probe)
        return index.line(pos)

    for tok in _parser().parse(text):
        if tok.map is not None:
            cursor = max(cursor, index.offset(tok.map[0] + 1))
        if tok.type in _MATH_BLOCKS:
            out.append(Segment("math", tok.content, locate(tok.content, tok.map[0] if tok.map else None), True))
        elif tok.type in ("fence", "code_block"):
            first = tok.map[0] + (2 if tok.type == "fence" else 1) if tok.map else index.line(cursor)
            out.append(Segment("code", tok.content, first))
        elif tok.type == "html_block":
            out.extend(_prose_lines(tok.content, tok.map[0] + 1 if tok.map else index.line(cursor)))
        elif tok.type == "inline":
            has_math = any(ch.type in _MATH_INLINE for ch in tok.children or ())
            if tok.map and not has_math and "[" in tok.content and tok.map[1] - tok.map[0] > 1:
                # a paragraph with a printed array spanning lines: keep its raw lines (columns matter)
                raw = text[index.offset(tok.map[0] + 1):index.offset(tok.map[1] + 1)].rstrip("\n")
                out.append(Segment("text", raw, tok.map[0] + 1))
            else:
                out.extend(_inline(tok, tok.map[0] + 1 if tok.map else index.line(cursor)))
    return out


def _prose_lines(content: str, line: int) -> list[Segment]:
    return [Segment("prose", s, line + i) for i, s in enumerate(content.split("\n")) if s.strip()]


def _inline(tok, line: int) -> list[Segment]:
    """A paragraph/heading: prose lines with the inline math cut out as its own segments, in order."""
    out: list[Segment] = []
    buf: list[str] = []

    def flush():
        s = "".join(buf)
        if s.strip():
            out.append(Segment("prose", s, line))
        buf.clear()

    for child in tok.children or ():
        if child.type in ("softbreak", "hardbreak"):
            flush()
            line += 1
        elif child.type in _MATH_INLINE:
            buf.append(" \u2063 ")  # an invisible marker: "a value was here" (keeps label and value apart)
            flush()
            out.append(Segment("math", child.content, line, child.type == "math_inline_double"))
            line += child.content.count("\n")
        elif child.type in ("text", "code_inline", "html_inline"):
            parts = child.content.split("\n")
            for i, part in enumerate(parts):
                if i:
                    flush()
                    line += 1
                buf.append(part)
        elif child.type == "image":
            buf.append(child.content)
    flush()
    return out
