"""The derivation as `crossgrad verify` reads TOML: `[problem]` and the true values as `[claimed]`.

Works for every case (batch, channels, groups, ...), in the user's own array shapes. Numbers are exact:
a terminating decimal is written as a TOML float (read back exactly, as a Decimal), anything else as a
fraction string such as "13/9".
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .style import decimal_str, places
from .terms import Explanation

CLAIMS = ("output", "activation", "loss", "grad_output", "grad_filter", "grad_input", "grad_bias",
          "updated_filter", "updated_bias")


def number(f: Fraction) -> str:
    k = places(f)
    if k is None:
        return f'"{f.numerator}/{f.denominator}"'
    return decimal_str(f, k) if k else str(f.numerator)


def array(a) -> str:
    a = np.asarray(a, dtype=object)
    if a.ndim == 0:
        return number(a[()])
    return "[" + ", ".join(array(v) for v in a) + "]"


def render(e: Explanation) -> str:
    p, lay = e.problem, e.problem.layout
    lines = [f'title = "crossgrad explain: {p.name}"', "", "[problem]",
             f"input = {array(lay.to_user('input', p.x))}",
             f"filter = {array(lay.to_user('filter', p.w))}"]
    if p.b is not None:
        lines.append(f"bias = {array(lay.to_user('bias', p.b))}")
    if p.loss == "linear":
        lines.append(f"grad_output = {array(lay.to_user('output', p.grad_output))}")
    else:
        lines.append(f"target = {array(lay.to_user('output', p.target))}")
    if p.lr is not None:
        lines.append(f"learning_rate = {number(p.lr)}")
    (t, b), (l, r) = p.padding
    lines += [f"stride = [{p.stride[0]}, {p.stride[1]}]", f"padding = [[{t}, {b}], [{l}, {r}]]",
              f"dilation = [{p.dilation[0]}, {p.dilation[1]}]", f"groups = {p.groups}", f"steps = {p.steps}",
              f'loss = "{p.loss}"', f'operation = "{p.operation}"', f'activation = "{p.activation}"']
    for it in e.iterations:
        lines += ["", "[claimed]" if p.steps == 1 else "[[claimed.steps]]"]
        for name in CLAIMS:
            value = it.q.get(name)
            if value is None or (name == "grad_output" and p.loss == "linear"):
                continue   # a given upstream gradient is data, not a claim
            kind = name.replace("updated_", "").replace("grad_", "")
            kind = {"filter": "filter", "input": "input", "bias": "bias", "loss": "loss"}.get(kind, "output")
            lines.append(f"{name} = {array(value if kind == 'loss' else lay.to_user(kind, value))}")
    return "\n".join(lines) + "\n"
