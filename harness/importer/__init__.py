"""Read a hand-written derivation (Markdown, LaTeX or plain text) into a `Derivation`.

    read_document(path) -> Derivation

A parser, never an evaluator: it reads the final value of each labelled quantity (after the last `=`,
or the last matrix of an equation) and leaves formulas alone. See `assemble` for how repeated and
conflicting values are treated.
"""

from __future__ import annotations

from pathlib import Path

from ..derivation import Declared, Derivation
from .. import textfile
from ..errors import UserError

# A worked derivation of a small case is a few KB to ~100 KB; hostile Markdown/LaTeX near the limit still
# reads in a few seconds (the 5 MB limit of TOML files would allow tens of seconds here).
MAX_BYTES = 1_000_000


def read_text(path: Path) -> str:
    return textfile.read_text(path, MAX_BYTES, "derivation")


def read_document(path: Path, declared: Declared | None = None) -> Derivation:
    """The derivation a Markdown/LaTeX/text document claims. Raises UserError (with the line) when a needed
    quantity is missing, ambiguous or unreadable. `declared`: what the command line says (stride, padding,
    layout, roles), over what the document says."""
    from .assemble import assemble
    from .collect import collect

    path = Path(path)
    text = read_text(path)
    try:
        if path.suffix.lower() == ".tex":
            from .texdoc import segments as tex_segments
            segs = tex_segments(text, str(path))
        else:
            from .markdown import segments as md_segments
            segs = md_segments(text)
        declared = declared or Declared()
        return assemble(collect(segs, str(path), text, declared.roles), str(path), declared)
    except RecursionError:
        raise UserError("nested too deeply to read", str(path)) from None


__all__ = ["read_document", "MAX_BYTES"]
