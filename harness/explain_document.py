"""`crossgrad explain FILE.md`: the correct derivation of the problem in a person's own document.

The document is read exactly as `crossgrad verify` reads it (`cmd_verify.read_derivation`, with the same
--stride/--padding/--lr declarations): its input, filter, target or upstream gradient, bias, stride,
padding, loss, operation, activation and number of SGD steps. A learning rate the document does not state
is the one `verify` infers from its claimed update. The derivation is then written by `explain`, in the
document's own format: LaTeX for .tex, Markdown with LaTeX math for Markdown and for text that writes its
math in LaTeX (`$$`, `\\begin{bmatrix}`), plain Unicode text otherwise.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from .errors import UserError

# Math written in LaTeX inside a text file: the file is Markdown-with-math in all but its name.
_LATEX_MATH = re.compile(r"\$\$|\\begin\{|\\frac|\\partial|\\cdot|\\\(|\\\[")


def document_format(path: str, text: str | None = None) -> str:
    """The `explain --format` a document is written in."""
    suffix = Path(path).suffix.lower()
    if suffix in (".tex", ".latex"):
        return "tex"
    if suffix in (".md", ".markdown", ".mdown", ".rmd", ".qmd", ".ipynb"):
        return "md"
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
    return "md" if _LATEX_MATH.search(text) else "text"


def problem_of_document(path: str, *, lr=None, stride=None, padding=None):
    """(problem, notes): the problem the document states, completed as `verify` completes it."""
    from argparse import Namespace

    from .cmd_verify import _declared, _overrides, read_derivation
    declared_args = Namespace(stride=stride, padding=padding, layout=None, role=[], lr=lr, loss=None)
    d = _overrides(read_derivation(path, _declared(declared_args)), declared_args)
    p = d.problem.with_(steps=max(1, len(d.iterations)))
    notes = []
    claims_update = any(q.startswith("updated_") for it in d.iterations for q in it)
    if p.lr is None and claims_update:
        eta = _inferred_lr(d)
        if eta is None:
            raise UserError("the document states no learning rate and none could be inferred exactly from its "
                            "update; give it with --lr ETA", path)
        p = p.with_(lr=eta)
        from .verify.fmt import num
        notes.append(f"learning rate η = {num(eta)} inferred from the document's update (as verify does)")
    elif p.lr is None and p.steps > 1:
        raise UserError("the document claims several steps but states no learning rate; give it with --lr ETA", path)
    return p, notes


def _inferred_lr(d) -> Fraction | None:
    """The η `verify` infers from the claimed update, when it has a finite decimal (as verify writes it)."""
    from .verify import verify
    try:
        verdict = verify(d)
    except UserError:
        return None
    for c in verdict.conventions:
        if c.name == "learning_rate" and "…" not in c.value and "?" not in c.value:
            try:
                return Fraction(c.value)
            except (ValueError, ZeroDivisionError):
                return None
    return None
