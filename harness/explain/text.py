"""Plain Unicode text: underlined headings, prose, equations with matrices drawn on several lines."""

from __future__ import annotations

from .document import Block
from .style import hjoin_lines

INDENT = "    "


def _hcat(sides: tuple[str, ...]) -> str:
    """Sides joined by ' = ', multi-line sides (matrices) side by side, the '=' on the middle row."""
    parts = []
    for k, side in enumerate(sides):
        parts += ([" " if side.startswith("≈") else " = "] if k else []) + [side]
    return "\n".join(INDENT + r for r in hjoin_lines(parts).split("\n"))


def render(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        if b.kind == "h":
            out.append(b.text + "\n" + {1: "=", 2: "-"}.get(b.level, "·") * len(b.text))
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "list":
            out.append("\n".join(f"  • {item}" for item in b.items))
        else:
            out.append(_hcat(b.sides))
    return "\n\n".join(out) + "\n"
