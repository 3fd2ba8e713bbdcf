"""Markdown with LaTeX math, in the seed document's form: prose, then one `$$…$$` equation per line."""

from __future__ import annotations

from .document import Block, join_sides


def render(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        if b.kind == "h":
            out.append("#" * b.level + " " + b.text)
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "list":
            out.append("\n".join(f"- {item}" for item in b.items))
        else:
            out.append("$$" + join_sides(b.sides) + "$$")
    return "\n\n".join(out) + "\n"
