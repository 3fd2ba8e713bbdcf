"""The problem every implementation solves: conv -> activation -> loss -> K SGD steps.

Arrays are stored exactly (object arrays of `Fraction`) in the canonical layout
x: (N, C_in, H, W), W: (C_out, C_in/groups, kh, kw), b: (C_out,), Y: (N, C_out, H_out, W_out).
`Layout` remembers the shapes the user wrote (a 2-D seed stays 2-D in every report).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from .errors import UserError
from .numbers import MAX_ELEMENTS

LOSSES = ("mean", "sum", "half_sum", "half_mean", "linear")
# The names people write for them (case, spaces and hyphens aside): each says which sum and which factor.
LOSS_ALIASES = {"mse": "mean", "mean_squared_error": "mean", "sse": "sum", "sum_of_squares": "sum",
                "sum_of_squared_errors": "sum", "sum_squared_error": "sum", "half_sse": "half_sum",
                "half_mse": "half_mean"}
OPERATIONS = ("cross_correlation", "convolution")
ACTIVATIONS = ("none", "relu")
# Limits (docs/robustness.md): beyond them a case is refused before anything is allocated.
# 100 steps: at 1000, `explain` ran for minutes and the exact Fractions' digits grow with every step.
MAX_STEPS = 100
MAX_MULTIPLY_ADDS = 50 * MAX_ELEMENTS   # forward multiply-adds × steps
MAX_GEOMETRY = MAX_ELEMENTS             # stride, padding, dilation: anything larger cannot fit an input anyway

# Every quantity one step reports, in order of dependence.
QUANTITIES = (
    "output",          # Z = x ⋆ W + b (the convolution's output)
    "activation",      # A = relu(Z); None without an activation
    "loss",            # L
    "grad_output",     # ∂L/∂Ŷ, Ŷ the prediction (A with an activation, else Z)
    "grad_filter",     # ∂L/∂W
    "grad_input",      # ∂L/∂x
    "grad_bias",       # ∂L/∂b; None without a bias
    "updated_filter",  # W - η ∂L/∂W; None without a learning rate
    "updated_bias",    # b - η ∂L/∂b
)


@dataclass(frozen=True)
class Layout:
    """The number of dimensions the user wrote for each array (to give results back in that shape)."""

    input_ndim: int = 4   # 2: (H, W)  3: (C, H, W)  4: (N, C, H, W)
    filter_ndim: int = 4  # 2: (kh, kw)  3: (C_in, kh, kw), one filter  4: (C_out, C_in/g, kh, kw)

    @property
    def output_ndim(self) -> int:
        if self.input_ndim == 4:
            return 4
        return 3 if self.filter_ndim == 4 else 2

    def user_shape(self, quantity: str, canonical: tuple[int, ...]) -> tuple[int, ...]:
        """The shape the user would write for a quantity given its canonical shape."""
        if quantity in ("loss",):
            return ()
        if quantity in ("grad_bias", "updated_bias", "bias"):
            return canonical if self.filter_ndim == 4 else ()
        if quantity in ("grad_filter", "updated_filter", "filter"):
            return canonical[4 - self.filter_ndim:]
        if quantity in ("grad_input", "input"):
            return canonical[4 - self.input_ndim:]
        # output-shaped: output, activation, grad_output, target
        return canonical[4 - self.output_ndim:]

    def to_user(self, quantity: str, a):
        """Reshape a canonical array (any array library) to the user's layout."""
        if a is None:
            return None
        shape = self.user_shape(quantity, tuple(a.shape))
        return a.reshape(shape) if tuple(a.shape) != shape else a


@dataclass(frozen=True, eq=False)
class Problem:
    """One case. Arrays are exact object arrays of Fractions in the canonical layout."""

    x: np.ndarray
    w: np.ndarray
    target: np.ndarray | None = None           # Y; None when the upstream gradient is given
    b: np.ndarray | None = None
    lr: Fraction | None = None                 # η; None when no update is asked for
    stride: tuple[int, int] = (1, 1)
    padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))  # ((top, bottom), (left, right))
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    steps: int = 1
    loss: str = "mean"
    operation: str = "cross_correlation"
    activation: str = "none"
    grad_output: np.ndarray | None = None      # G for loss = "linear" (L = Σ G⊙Ŷ)
    layout: Layout = field(default_factory=Layout)
    name: str = "case"

    # --- geometry -------------------------------------------------------------------------------
    @property
    def out_hw(self) -> tuple[int, int]:
        return output_hw(self.x.shape[2:], self.w.shape[2:], self.stride, self.padding, self.dilation)

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.x.shape[0], self.w.shape[0], *self.out_hw)

    @property
    def has_loss_target(self) -> bool:
        return self.loss != "linear"

    def with_(self, **changes) -> "Problem":
        return replace(self, **changes)

    def float_arrays(self, dtype=np.float64) -> dict[str, np.ndarray | None]:
        """x, w, b, target, grad_output as float arrays (for the float implementations)."""
        conv = lambda a: None if a is None else a.astype(dtype)  # noqa: E731
        return {"x": conv(self.x), "w": conv(self.w), "b": conv(self.b),
                "target": conv(self.target), "grad_output": conv(self.grad_output)}


def output_hw(hw, khw, stride, padding, dilation) -> tuple[int, int]:
    out = []
    for size, k, s, (p0, p1), d in zip(hw, khw, stride, padding, dilation):
        span = d * (k - 1) + 1
        out.append((size + p0 + p1 - span) // s + 1 if size + p0 + p1 >= span else 0)
    return tuple(out)


def _shown(value) -> str:
    """A TOML value as the user wrote it (1.5, not Decimal('1.5'))."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def _pair(value, name: str, where: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, bool):
        raise UserError(f"{name} must be an integer or a pair of integers", where)
    if isinstance(value, int):
        value = (value, value)
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise UserError(f"{name} must be an integer or a pair of integers, got {_shown(value)}", where)
    if min(value) < minimum:
        raise UserError(f"{name} must be >= {minimum}, got {list(value)}", where)
    if max(value) > MAX_GEOMETRY:
        raise UserError(f"{name} must be at most {MAX_GEOMETRY}, got {list(value)}", where)
    return (int(value[0]), int(value[1]))


def resolve_padding(padding, khw, stride, dilation, hw, where: str = "padding"):
    """'valid' | 'same' | int | [ph, pw] | [[top, bottom], [left, right]] -> ((t, b), (l, r)).

    'same' gives ceil(H / stride) outputs, the extra row/column of padding at the
    bottom/right (as torch's padding='same' and XLA's SAME do)."""
    if isinstance(padding, str):
        mode = padding.strip().lower()
        if mode == "valid":
            return ((0, 0), (0, 0))
        if mode == "same":
            pads = []
            for size, k, s, d in zip(hw, khw, stride, dilation):
                out = -(-size // s)
                total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise UserError(f"padding must be 'valid', 'same', an integer or a pair, got {padding!r}", where)
    if isinstance(padding, (list, tuple)) and len(padding) == 2 and all(isinstance(p, (list, tuple)) for p in padding):
        return (_pair(list(padding[0]), "padding", where, 0), _pair(list(padding[1]), "padding", where, 0))
    ph, pw = _pair(padding, "padding", where, 0)
    return ((ph, ph), (pw, pw))


def _canonical(a: np.ndarray, kind: str, where: str) -> np.ndarray:
    nd = a.ndim
    if kind == "input":
        if nd not in (2, 3, 4):
            raise UserError(f"input must be 2-D (H, W), 3-D (C, H, W) or 4-D (N, C, H, W), got {nd}-D", where)
        return a.reshape((1,) * (4 - nd) + a.shape)
    if nd not in (2, 3, 4):
        raise UserError(f"filter must be 2-D (kh, kw), 3-D (C_in, kh, kw) or 4-D (C_out, C_in/groups, kh, kw), got {nd}-D", where)
    return a.reshape((1,) * (4 - nd) + a.shape)


def _fit_output_shaped(a: np.ndarray, name: str, want: tuple[int, ...], layout: Layout, where: str) -> np.ndarray:
    user = layout.user_shape("output", want)
    if a.shape == user or a.shape == want:
        return a.reshape(want)
    raise UserError(
        f"{name} has shape {list(a.shape)}, but the output has shape {list(user)}"
        + (f" ({list(want)} in N, C, H, W)" if user != want else ""), where)


def loss_name(name: str) -> str:
    """The documented loss for a name as written ("MSE", "sum-of-squares", "mean"); unknown names unchanged
    (make_problem refuses them, listing the values). Also argparse's `type` for --loss."""
    if not isinstance(name, str):
        return name
    key = "_".join(name.strip().lower().replace("-", " ").split())
    return LOSS_ALIASES.get(key, key if key in LOSSES else name)


def _losses_with_aliases() -> str:
    """"mean, sum, …, linear (also read: mse, mean_squared_error = mean; sse, … = sum; …)"."""
    also = lambda v: [a for a, to in LOSS_ALIASES.items() if to == v]  # noqa: E731
    return (", ".join(LOSSES) + " (also read: "
            + "; ".join(f"{', '.join(also(v))} = {v}" for v in LOSSES if also(v)) + "; any case, - or space for _)")


def make_problem(*, x: np.ndarray, w: np.ndarray, target=None, b=None, lr=None, stride=1, padding=0,
                 dilation=1, groups=1, steps=1, loss="mean", operation="cross_correlation",
                 activation="none", grad_output=None, name="case", where: str = "problem") -> Problem:
    """Validate everything about a problem and build it. Raises UserError with the key at fault."""
    layout = Layout(input_ndim=x.ndim, filter_ndim=w.ndim)
    x4 = _canonical(x, "input", f"{where}.input")
    w4 = _canonical(w, "filter", f"{where}.filter")
    loss = loss_name(loss)
    if loss not in LOSSES:
        raise UserError(f"loss must be one of {_losses_with_aliases()}; got {loss!r}", f"{where}.loss")
    for key, choices, value in (("operation", OPERATIONS, operation), ("activation", ACTIVATIONS, activation)):
        if value not in choices:
            raise UserError(f"{key} must be one of {', '.join(choices)}; got {value!r}", f"{where}.{key}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise UserError(f"groups must be a positive integer, got {groups!r}", f"{where}.groups")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise UserError(f"steps must be an integer from 1 to {MAX_STEPS}, got {steps!r}", f"{where}.steps")
    stride = _pair(stride, "stride", f"{where}.stride", 1)
    dilation = _pair(dilation, "dilation", f"{where}.dilation", 1)
    c_in, c_out = x4.shape[1], w4.shape[0]
    if c_in % groups or c_out % groups:
        raise UserError(f"groups={groups} must divide C_in={c_in} and C_out={c_out}", f"{where}.groups")
    if w4.shape[1] * groups != c_in:
        raise UserError(f"filter has {w4.shape[1]} input channels per group; with groups={groups} and "
                        f"C_in={c_in} it needs {c_in // groups} (filter shape {list(w.shape)})", f"{where}.filter")
    pad = resolve_padding(padding, w4.shape[2:], stride, dilation, x4.shape[2:], f"{where}.padding")
    out_hw = output_hw(x4.shape[2:], w4.shape[2:], stride, pad, dilation)
    if min(out_hw) < 1:
        raise UserError(f"the filter (with dilation {list(dilation)}) does not fit the input {list(x.shape)} "
                        f"with padding {[list(p) for p in pad]}: the output would be empty", f"{where}.filter")
    out_shape = (x4.shape[0], c_out, *out_hw)
    padded = x4.shape[0] * c_in * (x4.shape[2] + sum(pad[0])) * (x4.shape[3] + sum(pad[1]))
    if padded > MAX_ELEMENTS:
        raise UserError(f"the padded input would have {padded} elements, over the limit of {MAX_ELEMENTS} "
                        f"(padding {[list(p) for p in pad]})", f"{where}.padding")
    work = x4.shape[0] * c_out * out_hw[0] * out_hw[1] * w4.shape[1] * w4.shape[2] * w4.shape[3] * steps
    if work > MAX_MULTIPLY_ADDS:
        raise UserError(f"the convolution needs {work} multiply-adds over {steps} step(s), over the limit of "
                        f"{MAX_MULTIPLY_ADDS}; crossgrad checks small cases (see docs/robustness.md)", where)
    b1 = None
    if b is not None:
        b1 = b.reshape(-1) if b.ndim <= 1 else b
        if b1.ndim != 1 or b1.shape[0] != c_out:
            raise UserError(f"bias must have C_out={c_out} entries, got shape {list(b.shape)}", f"{where}.bias")
    if loss == "linear":
        if grad_output is None:
            raise UserError("loss = 'linear' needs grad_output (L = Σ G⊙Ŷ)", f"{where}.grad_output")
        if target is not None:
            raise UserError("give either target (with a squared loss) or grad_output (loss = 'linear'), not both",
                            f"{where}.target")
    elif target is None:
        raise UserError("missing target (or give grad_output for a given upstream gradient)", f"{where}.target")
    tgt = None if target is None else _fit_output_shaped(target, "target", out_shape, layout, f"{where}.target")
    g = None if grad_output is None else _fit_output_shaped(grad_output, "grad_output", out_shape, layout,
                                                             f"{where}.grad_output")
    if lr is None and steps > 1:
        raise UserError("steps > 1 needs a learning_rate", f"{where}.learning_rate")
    return Problem(x=x4, w=w4, target=tgt, b=b1, lr=None if lr is None else Fraction(lr), stride=stride,
                   padding=pad, dilation=dilation, groups=groups, steps=steps, loss=loss, operation=operation,
                   activation=activation, grad_output=g, layout=layout, name=name)
