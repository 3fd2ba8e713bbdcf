"""Write a problem as a TOML case file that `crossgrad check FILE.toml` reads back exactly.

Numbers are written exactly: integers as integers, terminating fractions as TOML decimals (read
back as Decimal, so 0.1 stays one tenth), others as "p/q" strings. Arrays keep the user's layout.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np

from ..problem import Problem


def number(q: Fraction) -> str:
    q = Fraction(q)
    if q.denominator == 1:
        return str(q.numerator)
    d, twos, fives = q.denominator, 0, 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    if d != 1:
        return f'"{q.numerator}/{q.denominator}"'
    k = max(twos, fives)
    with localcontext() as ctx:
        ctx.prec = 1000
        text = str(Decimal(q.numerator * 10 ** k // q.denominator).scaleb(-k))
    return text.replace("E", "e")          # 3e-8: a TOML float


def array(a) -> str:
    a = np.asarray(a, dtype=object)
    if a.ndim == 0:
        return number(a.item())
    return "[" + ", ".join(array(row) for row in a) + "]"


def to_toml(problem: Problem, comments: tuple[str, ...] = ()) -> str:
    lay = problem.layout
    lines = [f"# {c}" for c in comments] + ["[problem]"]
    put = lambda key, value: lines.append(f"{key} = {value}")  # noqa: E731
    put("input", array(lay.to_user("input", problem.x)))
    put("filter", array(lay.to_user("filter", problem.w)))
    if problem.b is not None:
        put("bias", array(lay.to_user("bias", problem.b)))
    if problem.target is not None:
        put("target", array(lay.to_user("output", problem.target)))
    if problem.grad_output is not None:
        put("grad_output", array(lay.to_user("output", problem.grad_output)))
    if problem.lr is not None:
        put("learning_rate", number(problem.lr))
    put("steps", str(problem.steps))
    put("stride", f"[{problem.stride[0]}, {problem.stride[1]}]")
    (t, b), (l, r) = problem.padding
    put("padding", f"[[{t}, {b}], [{l}, {r}]]")
    put("dilation", f"[{problem.dilation[0]}, {problem.dilation[1]}]")
    put("groups", str(problem.groups))
    for key in ("loss", "operation", "activation"):
        put(key, f'"{getattr(problem, key)}"')
    return "\n".join(lines) + "\n"
