"""The worked derivation as a list of blocks (headings, prose, equations), in the seed's style.

The same builder writes LaTeX math (Markdown and .tex) or plain Unicode, through a `style`.
Labels follow the notation `crossgrad verify`'s importer reads: input `I`, filter `W`, target `Y`,
output `\\hat{Y}` (`Z` before a ReLU, `A` after it), loss `L`, `\\eta`, per-entry gradients
`\\frac{\\partial L}{\\partial W_{00}}`, whole-matrix `\\frac{\\partial L}{\\partial W}`, updated filter `W'`.
Every equation ends with its numeric value (or matrix); formula lines end with a formula. A value that
is not a terminating decimal ends as `\\frac{p}{q} \\approx 0.333333` (matrices: the exact matrix, then
`\\approx` and the rounded one: the importer reads the last). Conventions are stated where the importer
looks for them: a "Conventions:" list (operation, stride `$s = 2$`, padding, dilation, activation, loss)
and the loss formula line (`L = \\frac{1}{4} \\sum (\\hat{Y} - Y)^2`). Prose avoids digits next to
quantity words (a reader would take "bias ... 0" as a value) and words such as "before"/"initial".

Arrays with batch or channel axes are written one matrix per leading index, labelled with a
NumPy-style slice: `W_{0,1,:,:}` is the kh×kw matrix of filter o=0, input channel c=1 (the user's
own number of axes is kept: a 3-D input (C, H, W) is written `I_{c,:,:}`); entries are indexed in full,
`\\frac{\\partial L}{\\partial W_{0,1,0,0}}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import prod

import numpy as np

from .style import MAX_FRACTION_CHARS, Tex, is_exact_decimal
from .terms import MAX_ENTRIES, MAX_TERMS, Explanation, Iteration, Sum, grad_scale, loss_scale

W_PRIME = "W'"
LOSS_NAMES = {"mean": "Mean Squared Error", "sum": "Sum of Squared Errors",
              "half_sum": "Half Sum of Squared Errors", "half_mean": "Half Mean Squared Error"}


@dataclass(frozen=True)
class Block:
    kind: str                    # "h" heading, "p" prose, "list" items, "eq" equation (sides joined by =)
    text: str = ""
    level: int = 2
    sides: tuple[str, ...] = ()
    items: tuple[str, ...] = ()  # "list": one item per line


def join_sides(sides: tuple[str, ...]) -> str:
    """LaTeX sides joined by '=', except a final value given only as a rounding, which brings its ≈."""
    line = sides[0]
    for side in sides[1:]:
        line += (" " if side.startswith(r"\approx") else " = ") + side
    return line


def H(text: str, level: int = 2) -> Block:
    return Block("h", text, level)


def P(text: str) -> Block:
    return Block("p", text)


def EQ(*sides: str) -> Block:
    return Block("eq", sides=tuple(s for s in sides if s))


class Writer:
    """Builds the blocks of one explanation in one style."""

    def __init__(self, e: Explanation, S: Tex):
        self.e, self.p, self.S = e, e.problem, S
        p = self.p
        self.flat = p.x.shape[:2] == (1, 1) and p.w.shape[:2] == (1, 1)
        relu = p.activation == "relu"
        self.Z = "Z" if relu else S.sym("Yhat")          # the convolution's output
        self.A = "A" if relu else S.sym("Yhat")          # the prediction the loss sees
        self.n_out = int(np.prod(p.out_shape))
        self.blocks: list[Block] = []

    # --- small pieces -------------------------------------------------------------------------
    def m(self, s: str) -> str:
        """Inline math."""
        return f"${s}$" if self.S.name == "tex" else s

    def ix(self, kind: str, idx: tuple[int, ...]) -> tuple[int, ...]:
        """A canonical index as the reader sees it: 2 indices for single-image single-channel cases."""
        if self.flat:
            return idx[-2:] if kind != "bias" else ()
        lay = self.p.layout
        nd = {"input": lay.input_ndim, "filter": lay.filter_ndim, "output": lay.output_ndim,
              "bias": 1 if lay.filter_ndim == 4 else 0}[kind]
        return idx[len(idx) - nd:] if nd else ()

    def mat(self, a2: np.ndarray) -> str:
        """A matrix (or a row for 1-D): exact entries, then rounded ones when some do not terminate
        (the importer reads the last matrix, and does not read fractions inside matrices)."""
        S = self.S
        rows = [list(r) for r in (a2.reshape(1, -1) if a2.ndim < 2 else a2)]
        rounded = S.matrix([[S.cell(v) for v in r] for r in rows])
        if all(is_exact_decimal(v) for r in rows for v in r):
            return rounded
        exact = [[S.num(v) for v in r] for r in rows]
        if max(len(c) for r in exact for c in r) > MAX_FRACTION_CHARS:
            return rounded
        return S.hjoin(S.matrix(exact), S.approx, rounded)

    def show(self, label: str, kind: str, a: np.ndarray, middle=None, grad: bool = False) -> None:
        """label = matrix, one equation per leading index for arrays with batch/channel axes
        (`grad`: the label is ∂L/∂label); `middle(lead)` gives an optional formula side in between."""
        S = self.S
        for lead, a2 in self.slices(kind, a):
            name = S.sub(label, lead) if lead else label
            self.blocks.append(EQ(S.grad(name) if grad else name, middle(lead) if middle else "", self.mat(a2)))

    def slices(self, kind: str, a: np.ndarray):
        """(leading index + (':', ':'), 2-D slice) pairs; ((), a) for 2-D data."""
        if kind == "bias":
            return [((), a)]
        if self.flat:
            return [((), a[0, 0])]
        nd = len(self.ix(kind, (0,) * 4))
        if nd == 2:
            return [((), a[0, 0])]
        out = []
        for lead in np.ndindex(*a.shape[:2]):
            shown = lead[len(lead) - (nd - 2):] if nd > 2 else ()
            out.append(((*shown, ":", ":"), a[lead]))
        return out

    def sum_line(self, s: Sum, term) -> tuple[str, str]:
        """(the terms, the terms' values) of a Sum, each as '… + …'."""
        S = self.S
        terms = " + ".join(term(t) for t in s.terms)   # empty: no window covers the entry, its value is 0
        values = " + ".join(S.factor(prod(t)) for t in s.terms)
        return terms, values

    def too_big(self, what: str, entries: int, terms: int) -> None:
        self.blocks.append(P(f"This case is too large to write out every term here ({entries} entries of up to "
                             f"{terms} terms each; the limit is {MAX_ENTRIES} entries of at most {MAX_TERMS} terms): "
                             f"for {what} only the results are shown, still exact."))

    # --- the document ---------------------------------------------------------------------------
    def build(self) -> list[Block]:
        p, S = self.p, self.S
        self.blocks.append(H(f"Worked derivation: {p.name}", 1))
        self.intro()
        self.given()
        for it in self.e.iterations:
            level = 2
            if len(self.e.iterations) > 1:
                self.blocks.append(H(f"Iteration {it.k}", 2))
                level = 3
                if it.k > 1:
                    self.blocks.append(P(f"This iteration starts from the updated filter {self.m(W_PRIME)}"
                                         + (" and the updated bias" if p.b is not None else "")
                                         + " of the previous iteration; their entries appear in the products below."))
            self.iteration(it, level)
        return self.blocks

    def intro(self) -> None:
        p, S = self.p, self.S
        steps = "one step" if p.steps == 1 else f"{p.steps} steps"
        self.blocks.append(P(
            f"We work through {steps} of training a convolution layer by hand: the forward pass, "
            + ("the loss, " if p.loss != "linear" else "")
            + "the backward pass" + (" and the gradient-descent update of the filter" if p.lr is not None else "")
            + ". Every term is shown. Values are exact; a value that is not a terminating decimal is "
            "written as a fraction and then rounded to six decimal places."))
        items = ["Operation: " + ("cross-correlation (the filter slides over the input as it is, as in "
                                  "deep-learning libraries)" if p.operation == "cross_correlation" else
                                  "true convolution (the filter is flipped, rotated 180°, and then slides over "
                                  "the input, as in scipy.signal.convolve2d)")]
        pair = lambda v: str(v[0]) if v[0] == v[1] else f"{v[0]} (rows), {v[1]} (columns)"  # noqa: E731
        items.append("Stride: " + (self.m(f"s = {p.stride[0]}") if p.stride[0] == p.stride[1] else pair(p.stride)))
        (t, b), (l, r) = p.padding
        items.append("Padding: " + ("none (\"valid\")" if (t, b, l, r) == (0, 0, 0, 0) else
                                    f"{t} (zeros on every side)" if len({t, b, l, r}) == 1 else
                                    f"zeros: top {t}, bottom {b}, left {l}, right {r}"))
        if p.dilation != (1, 1):
            items.append(f"Dilation: {pair(p.dilation)}")
        if p.groups != 1:
            items.append(f"Groups: {p.groups}")
        items.append("Activation: " + ("ReLU after the convolution, with ReLU'(0) = 0" if p.activation == "relu"
                                       else "none"))
        items.append("Loss: " + (LOSS_NAMES[p.loss].lower() if p.loss != "linear"
                                 else "none: the upstream gradient is given"))
        self.blocks.append(P("Conventions:"))
        self.blocks.append(Block("list", items=tuple(items)))
        if not self.flat:
            self.blocks.append(P(
                "Arrays with batch or channel axes are written one matrix per leading index, labelled with "
                "NumPy-style slices: " + self.m(S.sub("W", (0, 1, ":", ":"))) + " is the matrix of filter 0, "
                "input channel 1; " + self.m(S.sub("I", (0, 1, ":", ":"))) + " is channel 1 of image 0. "
                "Entries carry all their indices."))

    def dims(self, a2: np.ndarray) -> str:
        return f"{a2.shape[0]}×{a2.shape[1]}"

    def given(self) -> None:
        p, S = self.p, self.S
        self.blocks.append(H("Given Data", 2))
        n = 1
        self.blocks.append(P(f"{n}. Input Image ({self.dims(p.x[0, 0])}{'' if self.flat else ' per channel'})"))
        self.show("I", "input", p.x)
        n += 1
        self.blocks.append(P(f"{n}. Filter ({self.dims(p.w[0, 0])}{'' if self.flat else ' per channel'})"))
        self.show("W", "filter", p.w)
        if p.b is not None:
            n += 1
            self.blocks.append(P(f"{n}. Bias"))
            self.blocks.append(EQ("b", S.num(p.b[0]) if self.flat else self.mat(p.b)))
        n += 1
        if p.loss == "linear":
            self.blocks.append(P(f"{n}. Given upstream gradient {self.m('G = ' + S.grad(self.A))}"
                                 " (there is no loss to evaluate)"))
            self.show(self.A, "output", p.grad_output, grad=True)
        else:
            self.blocks.append(P(f"{n}. Target Output ({self.dims(p.target[0, 0])})"))
            self.show("Y", "output", p.target)
        if p.lr is not None:
            n += 1
            self.blocks.append(P(f"{n}. Learning rate {self.m(S.eta + ' = ' + S.num(p.lr))}"))

    def iteration(self, it: Iteration, level: int) -> None:
        p = self.p
        step = iter(range(1, 20))
        self.forward(it, level, next(step))
        if p.activation == "relu":
            self.relu(it, level, next(step))
        if p.loss != "linear":
            self.loss(it, level, next(step))
            self.grad_output(it, level, next(step))
        if p.activation == "relu":
            self.relu_backward(it, level, next(step))
        self.grad_filter(it, level, next(step))
        self.grad_input(it, level, next(step))
        if p.b is not None:
            self.grad_bias(it, level, next(step))
        if p.lr is not None:
            self.update(it, level, next(step))

    # --- steps ----------------------------------------------------------------------------------
    def forward(self, it: Iteration, level: int, k: int) -> None:
        p, S = self.p, self.S
        self.blocks.append(H(f"Step {k}: Compute Convolution Output", level))
        kh, kw = it.w.shape[2:]
        how = ("We slide the filter over the image; each output entry is the sum of the products of the filter "
               "with the window under it" if p.operation == "cross_correlation" else
               "True convolution turns the filter around: each output entry is the sum of the products of "
               "each window entry with the filter entry mirrored through the filter's centre")
        if p.b is not None:
            how += ", plus the bias"
        if p.padding != ((0, 0), (0, 0)):
            how += " (a window entry on the zero padding is 0)"
        self.blocks.append(P(how + ":"))
        if it.output is None:
            self.too_big("the output", self.n_out, it.w[0].size + (p.b is not None))
        else:
            for idx, s in it.output.items():
                shown = self.ix("output", idx)
                names = "nopq"[4 - len(shown):] if len(shown) > 2 else "ij"
                self.blocks.append(P("Position (" + ", ".join(f"{a}={v}" for a, v in zip(names, shown)) + ")"))
                term = lambda t: (f"({S.factor(t[0])}{S.cdot}{S.factor(t[1])})" if len(t) == 2  # noqa: E731
                                  else S.factor(t[0]))
                terms, values = self.sum_line(s, term)
                self.blocks.append(EQ(terms, values, S.final(s.value)))
        self.blocks.append(P("Computed Feature Map" + (" (the convolution's output Z, where the ReLU acts next)"
                                                       if p.activation == "relu" else "")))
        self.show(self.Z, "output", it.q["output"])

    def relu(self, it: Iteration, level: int, k: int) -> None:
        S = self.S
        self.blocks.append(H(f"Step {k}: Apply the ReLU", level))
        self.blocks.append(P(f"{self.m(S.sym('relu') + '(z) = ' + S.sym('max') + '(0, z)')}, entry by entry. "
                             "Its derivative is 1 where z > 0 and 0 where z ≤ 0 (we take ReLU'(0) = 0, "
                             "as PyTorch and JAX do)."))
        self.show("A", "output", it.q["activation"],
                  lambda lead: S.sym("relu") + f"({S.sub('Z', lead) if lead else 'Z'})")

    def loss(self, it: Iteration, level: int, k: int) -> None:
        p, S = self.p, self.S
        self.blocks.append(H(f"Step {k}: Compute Loss ({LOSS_NAMES[p.loss]})", level))
        c = loss_scale(p.loss, self.n_out)
        scale = {"mean": S.frac(1, self.n_out), "sum": "", "half_sum": S.frac(1, 2),
                 "half_mean": S.frac(1, f"2{S.cdot}{self.n_out}")}[p.loss]
        pre = scale + " " if scale else ""
        self.blocks.append(EQ("L", f"{pre}{S.sigma} {S.square(self.A + S.minus + 'Y')}"))
        s = it.loss
        if s is None:
            self.blocks.append(P(f"The sum has {self.n_out} terms, more than the {MAX_TERMS} written out here."))
            self.blocks.append(EQ("L", S.final(it.q["loss"][()])))
            return
        y_hat = it.q["activation"] if p.activation == "relu" else it.q["output"]
        pairs = list(zip(y_hat.flat, p.target.flat))
        br = (lambda x: f"{pre}[{x}]") if scale else (lambda x: x)  # noqa: E731
        diffs = " + ".join(S.square(f"{S.num(a)}{S.minus}{S.factor(b)}") for a, b in pairs)
        squares = " + ".join(S.square(S.num(t[0])) for t in s.terms)
        values = " + ".join(S.factor(t[0] * t[0]) for t in s.terms)
        total = sum((t[0] * t[0] for t in s.terms), Fraction(0))
        sides = [br(diffs), br(squares), br(values)]
        if scale:
            sides.append(f"{scale}{S.cdot}{S.factor(total)}")
        self.blocks.append(EQ("L", *sides, S.final(s.value)))
        assert c * total == s.value

    def grad_output(self, it: Iteration, level: int, k: int) -> None:
        p, S = self.p, self.S
        self.blocks.append(H(f"Step {k}: Gradient of the Loss with respect to the Output", level))
        c = grad_scale(p.loss, self.n_out)
        scale = {"mean": S.frac(2, self.n_out), "sum": "2", "half_sum": "",
                 "half_mean": S.frac(1, self.n_out)}[p.loss]
        self.blocks.append(EQ(S.grad(self.A), f"{scale}({self.A}{S.minus}Y)"))
        y_hat = it.q["activation"] if p.activation == "relu" else it.q["output"]
        for (lead, yh), (_, y) in zip(self.slices("output", y_hat), self.slices("output", p.target)):
            diffs = S.matrix([[f"{S.num(a)}{S.minus}{S.factor(b)}" for a, b in zip(ra, rb)] for ra, rb in zip(yh, y)])
            g = (yh - y) * c
            label = S.grad(S.sub(self.A, lead) if lead else self.A)
            self.blocks.append(EQ(label, S.hjoin(scale, diffs) if scale else "", self.mat(g)))

    def relu_backward(self, it: Iteration, level: int, k: int) -> None:
        S = self.S
        self.blocks.append(H(f"Step {k}: Backpropagate through the ReLU", level))
        self.blocks.append(P("The gradient passes where the convolution output is positive and is 0 elsewhere "
                             "(ReLU'(0) = 0); call it δ:"))
        mask = f"{S.sym('ind')}[Z > 0]"
        self.show("Z", "output", it.delta, lambda lead: f"{S.grad(self.A)}{S.odot}{mask}", grad=True)

    def delta_name(self) -> str:
        return ("δ" if self.S.name == "text" else r"\delta") if self.p.activation == "relu" else self.S.grad(self.A)

    def grad_filter(self, it: Iteration, level: int, k: int) -> None:
        p, S = self.p, self.S
        self.blocks.append(H(f"Step {k}: Compute Gradients (dL/dW)", level))
        d = self.m(self.delta_name())
        where = ("the input entry that weight met in that window" if p.operation == "cross_correlation"
                 else "the input entry that weight met in that window (true convolution: the filter turned by 180°)")
        self.blocks.append(P(f"Each weight's gradient sums, over every output position, the output gradient "
                             f"{d} there times {where}:"))
        if it.grad_filter is None:
            self.too_big("the filter gradient", it.w.size, self.n_out // p.w.shape[0])
        else:
            for idx, s in it.grad_filter.items():
                terms, values = self.sum_line(s, lambda t: f"{S.factor(t[0])}{S.cdot}{S.factor(t[1])}")
                self.blocks.append(EQ(S.grad(S.sub("W", self.ix("filter", idx))), terms, values, S.final(s.value)))
        self.show("W", "filter", it.q["grad_filter"], grad=True)

    def grad_input(self, it: Iteration, level: int, k: int) -> None:
        p, S = self.p, self.S
        self.blocks.append(H(f"Step {k}: Compute Gradients (dL/dI)", level))
        self.blocks.append(P(f"Each input entry's gradient sums the output gradient {self.m(self.delta_name())} "
                             "times the filter weight, over every window that covers the entry "
                             "(an entry that no window covers gets 0):"))
        if it.grad_input is None:
            self.too_big("the input gradient", p.x.size, it.w.shape[0] * it.w[0, 0].size)
        else:
            for idx, s in it.grad_input.items():
                terms, values = self.sum_line(s, lambda t: f"{S.factor(t[0])}{S.cdot}{S.factor(t[1])}")
                self.blocks.append(EQ(S.grad(S.sub("I", self.ix("input", idx))), terms,
                                      values if len(s.terms) > 1 else "", S.final(s.value)))
        self.show("I", "input", it.q["grad_input"], grad=True)

    def grad_bias(self, it: Iteration, level: int, k: int) -> None:
        S = self.S
        self.blocks.append(H(f"Step {k}: Compute Gradients (dL/db)", level))
        self.blocks.append(P(f"The bias gradient is the sum of the output gradient {self.m(self.delta_name())} "
                             "over every output position (of its output channel):"))
        for idx, s in (it.grad_bias or {}).items():
            terms, _ = self.sum_line(s, lambda t: S.factor(t[0]))
            self.blocks.append(EQ(S.grad(S.sub("b", self.ix("bias", idx))), terms, S.final(s.value)))
        if it.grad_bias is None:
            self.too_big("the bias gradient", len(it.b), self.n_out // self.p.w.shape[0])
        if not self.flat:
            self.blocks.append(EQ(S.grad("b"), self.mat(it.q["grad_bias"])))

    def update(self, it: Iteration, level: int, k: int) -> None:
        p, S = self.p, self.S
        self.blocks.append(H(f"Step {k}: Update the Filter Using Gradient Descent", level))
        self.blocks.append(EQ("W'", f"W{S.minus}{S.eta}{S.cdot}{S.grad('W')}"))
        self.blocks.append(P(f"(With learning rate {self.m(S.eta + ' = ' + S.num(p.lr))})"))
        lr = S.num(p.lr)
        for (lead, w2), (_, g2) in zip(self.slices("filter", it.w), self.slices("filter", it.q["grad_filter"])):
            entries = S.matrix([[f"{S.num(a)}{S.minus}{lr}{S.cdot}{S.factor(g)}" for a, g in zip(ra, rg)]
                                for ra, rg in zip(w2, g2)])
            self.blocks.append(EQ(S.sub("W'", lead) if lead else "W'", entries, self.mat(w2 - p.lr * g2)))
        if it.b is not None:
            self.blocks.append(EQ("b'", f"b{S.minus}{S.eta}{S.cdot}{S.grad('b')}"))
            if self.flat:
                self.blocks.append(EQ("b'", f"{S.num(it.b[0])}{S.minus}{lr}{S.cdot}{S.factor(it.q['grad_bias'][0])}",
                                      S.final(it.q["updated_bias"][0])))
            else:
                self.blocks.append(EQ("b'", self.mat(it.q["updated_bias"])))


def build(e: Explanation, S: Tex) -> list[Block]:
    return Writer(e, S).build()
