"""The code in a document, read the way its author ran it — but never run.

Worked examples published as notebooks, issue reports and unit tests build their arrays in code
(`np.arange(16).reshape(1, 4, 4, 1)`, `torch.ones(...)`, `tf.Variable(rowmaj([n, h, w, c]))`) and say which array
is which by how they are used (`F.conv2d(x, w, stride=2)`, `cn = nn.Conv2d(...); cn(input)`,
`out.sum().backward()`, `A_grad, B_grad = tape.gradient(y, [A, B])`), not by their names. This module walks the
Python of each code block with `ast`, evaluating only a whitelist (literals, names, unary minus, `+ - * / // **`,
the array constructors and reshapes of NumPy/PyTorch/TensorFlow/JAX, slicing, one-expression helper functions
defined in the document) on exact Fractions; anything else (random numbers, I/O, unknown calls) is simply
unknown. Nothing is imported and nothing is executed.

What it gives `collect`:
  - `aliases`: code name -> quantity (`A_tf` -> input, `cn.weight.grad` -> ∂L/∂W, `dout` -> the given upstream
    gradient; `dcn.weight.grad` -> skipped: another layer);
  - `readings`: the values the code builds for the conv layer's inputs and for claims (`expected_dW = ...`),
    in N, C, H, W / O, I, kH, kW order whatever layout the framework used;
  - `hints`: the loss the code differentiates (`y.sum().backward()` -> all-ones upstream gradient,
    `(y**2).sum()` -> Σ(y − 0)², `F.mse_loss` -> mean) and the stride/padding/dilation/groups of the conv call.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .conventions import Hint
from .labels import Label, code_label
from .latex import Value

MAX_ELEMENTS = 100_000     # an array built in code larger than this is left unknown
MAX_CALL_DEPTH = 8         # helper functions calling helper functions
MAX_STATEMENTS = 5_000     # statements read per document


class Unknown:
    """A value the reader does not know (random numbers, files, an unknown call)."""
    def __repr__(self):
        return "Unknown"


UNKNOWN = Unknown()


@dataclass(eq=False)
class Layer:
    """`nn.Conv2d(...)`, `tf.keras.layers.Conv2D(...)`: a conv layer (kind "conv") or another layer."""
    name: str
    kind: str                  # conv | other
    call: str                  # the constructor as written (for skip reasons)
    geometry: dict = field(default_factory=dict)
    bias: bool = True
    layout: str = "nchw"
    weight: object = UNKNOWN
    bias_value: object = UNKNOWN


@dataclass(eq=False)
class ConvEvent:
    line: int
    call: str
    input: str | None            # code names of the arguments ("x", "A_tf", "cn.weight")
    filter: str | None
    bias: str | None
    geometry: dict
    layout: str                   # nchw | nhwc | ncl | nlc (conv1d: read as 2-D with H = 1)
    operation: str                # cross_correlation | convolution
    x: object = UNKNOWN
    w: object = UNKNOWN
    b: object = UNKNOWN
    outputs: list = field(default_factory=list)   # names the result was assigned to


@dataclass(eq=False)
class Derived:
    """A scalar computed from a conv output: `out.sum()`, `(out**2).sum()`, `F.mse_loss(out, t)`."""
    event: ConvEvent
    loss: str                     # linear_ones | sum | mean
    target: str | None = None


@dataclass(eq=False)
class OutputOf:
    event: ConvEvent


@dataclass(eq=False)
class Program:
    aliases: dict = field(default_factory=dict)       # code name -> Label (from its first definition on)
    scoped: dict = field(default_factory=dict)        # code name -> [(from line, Label)]: a name used again
    prints: dict = field(default_factory=dict)        # segment line -> labels of what it prints, in order
    readings: list = field(default_factory=list)      # (Label, Value, line, text)
    hints: list = field(default_factory=list)
    lines: set = field(default_factory=set)           # lines of statements read as code
    built: set = field(default_factory=set)           # lines of the statements whose values `readings` has
    skipped: list = field(default_factory=list)
    layout: str = "nchw"
    examples: int = 0                                 # conv calls in the code (several: several examples)
    echo: dict = field(default_factory=dict)          # REPL prompt line -> Label of the value it shows below it
    prompts: set = field(default_factory=set)         # lines that start with a REPL prompt (>>>, >>, In [3]:)

    def label(self, name: str, line: int | None = None) -> Label | None:
        """What the code name means at this line: after a name is assigned anew (another example's `y`,
        `conv = nn.Conv2d(...)` again), the later value is not the conv layer's."""
        if line is not None:
            for start, label in reversed(self.scoped.get(name, ())):
                if line >= start:
                    return label
        return self.aliases.get(name)


_LAYER_ATTRS = {"weight": "weight", "w": "weight", "W": "weight", "kernel": "weight", "filters": "weight",
                "bias": "bias_value", "b": "bias_value"}
_CONV_FUNCS = {"conv2d", "conv1d", "corr2d", "correlate2d", "convolve2d", "conv_general_dilated", "conv",
               "conv_forward", "conv_forward_naive", "conv2d_forward", "conv_forward_fast", "convolution"}
_CONV_LAYERS = {"Conv2d", "Conv1d", "Conv2D", "Conv1D", "LazyConv2d"}
_WRAPPERS = {"array", "asarray", "tensor", "Tensor", "FloatTensor", "DoubleTensor", "LongTensor", "IntTensor",
             "constant", "Variable", "Parameter", "convert_to_tensor", "as_tensor", "from_numpy", "asfarray",
             # TensorFlow.js: tf.tensor4d(values, shape); typed arrays; candle: Tensor::new(values, dev),
             # Tensor::from_slice(values, shape, dev), Tensor::from_vec(values, shape, dev)
             "tensor1d", "tensor2d", "tensor3d", "tensor4d", "Float32Array", "Float64Array", "Int32Array",
             "new", "from_slice", "from_vec", "from_floats", "from_data"}
_SHAPE_SECOND = {"tensor", "tensor1d", "tensor2d", "tensor3d", "tensor4d", "from_slice", "from_vec"}
_IDENTITY_METHODS = {"float", "double", "astype", "to", "cuda", "cpu", "requires_grad_", "detach", "clone",
                     "numpy", "type", "long", "int", "contiguous", "copy", "half", "item_", "data"}
_RANDOM = {"randn", "rand", "randint", "normal", "uniform", "random", "random_sample", "randint_like",
           "randn_like", "rand_like", "standard_normal", "empty", "empty_like", "truncated_normal"}


def _frac(v) -> Fraction:
    if isinstance(v, Fraction):
        return v
    if isinstance(v, bool):
        return Fraction(int(v))
    if isinstance(v, int):
        return Fraction(v)
    if isinstance(v, float):
        return Fraction(repr(v))
    raise TypeError


def _arr(v) -> np.ndarray | None:
    """A nested list / number / array as an object array of Fractions, or None."""
    if isinstance(v, np.ndarray):
        return v
    if isinstance(v, (int, float, Fraction)) and not isinstance(v, bool):
        a = np.empty((), dtype=object)
        a[()] = _frac(v)
        return a
    if isinstance(v, (list, tuple)):
        try:
            items = [_arr(e) for e in v]
            if any(i is None for i in items):
                return None
            if not items:
                return np.empty((0,), dtype=object)
            if len({i.shape for i in items}) != 1:
                return None
            out = np.empty((len(items),) + items[0].shape, dtype=object)
            for k, i in enumerate(items):
                out[k, ...] = i
            return out
        except (TypeError, ValueError):
            return None
    return None


def _shape(args) -> tuple[int, ...] | None:
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = args[0]
    if len(args) == 1 and isinstance(args[0], np.ndarray):
        args = [int(v) for v in args[0].reshape(-1)]
    try:
        dims = tuple(int(_frac(a)) if not isinstance(a, int) else a for a in args)
    except TypeError:
        return None
    if any(d < 0 for d in dims) and dims.count(-1) != 1:
        return None
    return dims


def _size_ok(shape) -> bool:
    n = 1
    for d in shape:
        n *= max(d, 0)
    return n <= MAX_ELEMENTS


class Reader:
    def __init__(self):
        self.env: dict[str, object] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.events: list[ConvEvent] = []
        self.backward: list[tuple[ConvEvent, str, object, str | None, int]] = []   # (event, loss, seed, seed name, line)
        self.grads: dict[str, tuple[str, int]] = {}      # name -> (code name it is the gradient of, line)
        self.assigned: list[tuple[str, int, str]] = []    # (name, line, source) in order
        self.layers: dict[str, Layer] = {}
        self.lines: set[int] = set()
        self.statements = 0
        self.depth = 0
        self.shown: dict[int, list] = {}     # segment line -> what it prints: names, OutputOf/Derived, None
        self.segment = 0
        self.span = range(0)
        self.spans: dict[int, range] = {}   # first line of a statement -> its lines
        self.derived: list[tuple[int, ConvEvent]] = []
        self.whole = False                  # reading a whole text file: prints are keyed by their own line
        self.values: dict[tuple[str, int], object] = {}   # (name, line) -> the value assigned there
        self.claims: list[tuple[str, int, str, object]] = []   # (computed name, line, assertion, claimed value)
        self.exprs: dict[int, tuple[ast.expr, object]] = {}    # line -> (expression statement, its value)
        self.prompts: set[int] = set()                          # lines that start with a REPL prompt
        self.printed: dict[int, object] = {}                    # line of a print() -> what it prints first
        self.later: list[tuple[ast.FunctionDef, int, str]] = []  # functions of no parameters (maybe examples)
        self.called: set[str] = set()                           # names the code calls
        self.dialect = "python"                                 # python | ts | rust | cpp | c (clike.py)
        self.claim_sources: set[int] = set()                    # lines of the expected arrays assertions use
        self.float32 = False                                    # the code wrote single-precision literals (1.5f)

    def run_uncalled(self) -> None:
        """A function of no parameters that the document never calls (`def export_conv_with_strides():`,
        `def main():`, `def example():`) is a worked example written as a function: its body is read."""
        for fdef, offset, source in self.later:
            if fdef.name not in self.called and not fdef.name.startswith("_"):
                self.run(fdef.body, offset, source)

    # --- statements ------------------------------------------------------------------------------------
    def run(self, body: list[ast.stmt], offset: int, source: str) -> None:
        for st in body:
            self.statements += 1
            if self.statements > MAX_STATEMENTS:
                return
            try:
                self.statement(st, offset, source)
            except (ValueError, TypeError, ZeroDivisionError, OverflowError, IndexError, KeyError, AttributeError,
                    RecursionError, MemoryError):
                pass

    def statement(self, st, offset: int, source: str) -> None:
        line = offset + st.lineno - 1
        for k in range(st.lineno, (getattr(st, "end_lineno", None) or st.lineno) + 1):
            self.lines.add(offset + k - 1)
        self.span = range(line, offset + (getattr(st, "end_lineno", None) or st.lineno))
        text = ast.get_source_segment(source, st) or ""
        if isinstance(st, ast.FunctionDef):
            self.functions[st.name] = st
            if st.name.lower().startswith("test"):   # a unit test's body is the worked example
                self.run(st.body, offset, source)
            elif _no_parameters(st):
                self.later.append((st, offset, source))
            return
        if isinstance(st, ast.ClassDef):              # a test case class: its test methods
            self.run([f for f in st.body if isinstance(f, ast.FunctionDef) and f.name.lower().startswith("test")],
                     offset, source)
            self.later.extend((f, offset, source) for f in st.body if isinstance(f, ast.FunctionDef)
                              and not f.name.lower().startswith("test") and _no_parameters(f))
            return
        if isinstance(st, (ast.With, ast.For, ast.If)) and not isinstance(st, ast.For):
            self.run(st.body, offset, source)
            return
        if isinstance(st, ast.Assign):
            value = self.ev(st.value, line, text)
            for t in st.targets:
                self.assign(t, value, st.value, line, text)
            return
        if isinstance(st, ast.AugAssign):
            return
        if isinstance(st, ast.Assert):
            self.asserted(st.test, line, text)
            return
        if isinstance(st, ast.Expr):
            if self.asserted(st.value, line, text):
                return
            v = self.ev(st.value, line, text)
            self.last = (st, v)
            self.exprs[line] = (st.value, v)

    def asserted(self, node, line: int, text: str) -> bool:
        """A test's assertion is a claim: `assert out.tolist() == [...]`, `np.allclose(w.grad, [...])`,
        `self.assertAllClose(expected, y)`, `torch.testing.assert_close(x.grad, ref)`: one side computed by the
        code (a name or its `.grad`), the other the value the author claims for it."""
        if isinstance(node, ast.Await):
            node = node.value
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            pair = (node.left, node.comparators[0])
        elif isinstance(node, ast.Call) and len(node.args) >= 2 and \
                any(w in (_dotted(node.func) or "").split(".")[-1].lower() for w in _ASSERT_WORDS):
            pair = (node.args[0], node.args[1])
        else:
            return False
        sides = [_computed_name(n) for n in pair]
        for k in (0, 1):
            name, other = sides[k], pair[1 - k]
            if name is None or not self._computed(name):
                continue
            if _computed_name(other) is not None and self._computed(_computed_name(other)):
                continue
            value = self.ev(other, line, text)
            if _arr(value) is not None and not isinstance(value, (Unknown, OutputOf)):
                self.claims.append((name, line, text, value))
                self.spans[line] = self.span
                if isinstance(other, ast.Name):   # `expected = [...]` then assert_close(y, expected): read here
                    made = max((k for n, k, _ in self.assigned if n == other.id and k <= line), default=None)
                    if made is not None:
                        self.claim_sources.update(self.spans.get(made, (made,)))
            return True
        return True

    def _computed(self, name: str) -> bool:
        """A name whose value the code computed (a conv output, a gradient), not one the author wrote down."""
        base = name.split(".")[0]
        v = self.env.get(base)
        return name.endswith(".grad") or isinstance(v, (OutputOf, _GradOf, Derived)) or base in self.grads or \
            any(base in e.outputs for e in self.events)

    def assign(self, target, value, node, line: int, text: str) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = value
            self.assigned.append((target.id, line, text))
            self.values[(target.id, line)] = value
            self.spans[line] = self.span
            if isinstance(value, tuple) and value and all(isinstance(v, _GradOf) for v in value):
                for k, v in enumerate(value):   # grads = torch.autograd.grad(L, [x, f]): grads[1] is ∂L/∂f
                    self.grads[f"{target.id}[{k}]"] = (v.of, line)
            if isinstance(value, OutputOf):
                value.event.outputs.append(target.id)
            if isinstance(value, Derived):
                self.derived.append((line, value.event))
            if isinstance(value, Layer):
                value.name = target.id
                self.layers[target.id] = value
            return
        if isinstance(target, (ast.Tuple, ast.List)):
            # A_grad, B_grad = tape.gradient(y, [A, B]); a, b = 1, 2
            if isinstance(value, tuple) and len(value) == len(target.elts):
                for t, v in zip(target.elts, value):
                    self.assign(t, v, None, line, text)
                    if isinstance(v, _GradOf) and isinstance(t, ast.Name):
                        self.grads[t.id] = (v.of, line)
            else:
                for t in target.elts:
                    self.assign(t, UNKNOWN, None, line, text)
            return

        name = _dotted(target)
        if name and isinstance(target, ast.Attribute):   # conv.weight = ..., conv.weight.data = ...
            parts = name.split(".")
            if parts[-1] == "data":
                parts = parts[:-1]
            layer = self.layers.get(parts[0])
            attr = _LAYER_ATTRS.get(parts[1]) if len(parts) == 2 else None
            if layer is not None and attr:
                setattr(layer, attr, _arr(value) if _arr(value) is not None else UNKNOWN)
            return
        if isinstance(target, ast.Subscript):   # X[:, 2:6] = 0; conv.weight.data[...] = 1
            base = _dotted(target.value)
            if base is None:
                return
            parts = [p for p in base.split(".") if p != "data"]
            layer = self.layers.get(parts[0]) if len(parts) == 2 else None
            current = (getattr(layer, "weight" if parts[1] == "weight" else "bias_value") if layer
                       else self.env.get(base))
            v = _arr(value)
            if not isinstance(current, np.ndarray) or v is None:
                if layer is not None and v is not None and isinstance(target.slice, ast.Constant) \
                        and target.slice.value is Ellipsis:
                    w = layer.geometry.get("weight_shape")
                    if w is not None and _size_ok(w):
                        arr = np.empty(w, dtype=object)
                        arr[...] = v
                        setattr(layer, "weight" if parts[1] == "weight" else "bias_value", arr)
                return
            current = current.copy()
            current[self.index(target.slice)] = v
            if layer is not None:
                setattr(layer, "weight" if parts[1] == "weight" else "bias_value", current)
            else:
                self.env[base] = current

    def index(self, node):
        if isinstance(node, ast.Tuple):
            return tuple(self.index(e) for e in node.elts)
        if isinstance(node, ast.Slice):
            get = lambda n: None if n is None else int(self.ev(n, 0, ""))  # noqa: E731
            return slice(get(node.lower), get(node.upper), get(node.step))
        if isinstance(node, ast.Constant) and node.value is Ellipsis:
            return Ellipsis
        v = self.ev(node, 0, "")
        if isinstance(v, (int, Fraction)) and Fraction(v).denominator == 1:
            return int(v)
        raise TypeError

    # --- expressions -----------------------------------------------------------------------------------
    def ev(self, node, line: int, text: str):
        if isinstance(node, ast.Constant):
            v = node.value
            return v if isinstance(v, (int, float, str, bool)) or v is None else UNKNOWN
        if isinstance(node, (ast.List, ast.Tuple)):
            return type(node.elts)(self.ev(e, line, text) for e in node.elts) if isinstance(node, ast.List) \
                else tuple(self.ev(e, line, text) for e in node.elts)
        if isinstance(node, ast.Dict):
            return {self.ev(k, line, text): self.ev(v, line, text) for k, v in zip(node.keys, node.values)
                    if k is not None}
        if isinstance(node, ast.Name):
            return self.env.get(node.id, UNKNOWN)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self.ev(node.operand, line, text)
            a = v if isinstance(v, (int, float, Fraction)) else _arr(v)
            if a is None or isinstance(v, Unknown):
                return UNKNOWN
            return -a if isinstance(node.op, ast.USub) else a
        if isinstance(node, ast.BinOp):
            return self.binop(node, line, text)
        if isinstance(node, ast.Subscript):
            base = self.ev(node.value, line, text)
            if isinstance(base, np.ndarray):
                return base[self.index(node.slice)]
            if isinstance(base, (list, tuple)):
                i = self.index(node.slice)
                return base[i] if isinstance(i, (int, slice)) else UNKNOWN
            if isinstance(base, dict):
                return base.get(self.ev(node.slice, line, text), UNKNOWN)
            return UNKNOWN
        if isinstance(node, ast.Attribute):
            base = self.ev(node.value, line, text)
            if isinstance(base, np.ndarray):
                if node.attr == "T":
                    return base.T
                if node.attr in ("data", "value"):
                    return base
                if node.attr == "shape":
                    return tuple(base.shape)
            if isinstance(base, Layer):
                if node.attr == "weight":
                    return base.weight
                if node.attr == "bias":
                    return base.bias_value
            if isinstance(base, OutputOf) and node.attr == "data":
                return base
            return UNKNOWN
        if isinstance(node, ast.Call):
            return self.call(node, line, text)
        return UNKNOWN

    def binop(self, node, line, text):
        a, b = self.ev(node.left, line, text), self.ev(node.right, line, text)
        if isinstance(node.op, ast.Pow) and isinstance(a, OutputOf) and b == 2:
            return _Squared(a.event)
        if isinstance(node.op, ast.Sub) and isinstance(a, OutputOf):
            target = _dotted(node.right)
            return _Residual(a.event, target)
        if isinstance(node.op, ast.Pow) and isinstance(a, _Residual) and b == 2:
            return _Squared(a.event, a.target)
        x = a if isinstance(a, (int, Fraction)) and not isinstance(a, bool) else _arr(a)
        y = b if isinstance(b, (int, Fraction)) and not isinstance(b, bool) else _arr(b)
        if x is None or y is None or isinstance(a, (Unknown, str)) or isinstance(b, (Unknown, str)):
            if isinstance(a, (list, tuple)) and isinstance(node.op, ast.Mult) and isinstance(b, int) and b < 10**4:
                return a * b   # [0] * 9
            return UNKNOWN
        if isinstance(x, float):
            x = _frac(x)
        op = node.op
        if isinstance(op, ast.Add):
            return x + y
        if isinstance(op, ast.Sub):
            return x - y
        if isinstance(op, ast.Mult):
            if isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.shape == y.shape and \
                    1 < x.size <= MAX_PRODUCT_TERMS:
                prod = (x * y).view(_Prod)
                prod.factors = (x, y)
                return prod
            return x * y
        if isinstance(op, ast.Div):
            return (np.vectorize(Fraction, otypes=[object])(x) if isinstance(x, np.ndarray) else Fraction(x)) / y
        if isinstance(op, ast.FloorDiv):
            return x // y
        if isinstance(op, ast.Pow) and isinstance(y, int) and 0 <= y <= 8:
            return x ** y
        return UNKNOWN

    def call(self, node: ast.Call, line: int, text: str):
        fn = node.func
        name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else None
        if name is None:
            return UNKNOWN
        dotted = _dotted(fn) or name
        kwargs = {k.arg: k.value for k in node.keywords if k.arg}

        def arg(i: int, key: str | None = None):
            if i < len(node.args):
                return self.ev(node.args[i], line, text)
            if key and key in kwargs:
                return self.ev(kwargs[key], line, text)
            return None

        args = [self.ev(a, line, text) for a in node.args] if name not in _CONV_FUNCS else None
        recv = self.ev(fn.value, line, text) if isinstance(fn, ast.Attribute) else None
        mod = dotted.split(".")[0] if "." in dotted else ""
        # a method of a conv output: out.sum(), out.backward(g)
        if isinstance(recv, (OutputOf, _Squared)) and name in ("sum", "mean", "sum_all", "mean_all"):
            ev_ = recv.event
            if isinstance(recv, _Squared):
                return Derived(ev_, "mean" if name.startswith("mean") else "sum", recv.target)
            return Derived(ev_, "mean_of_output" if name.startswith("mean") else "linear_ones")
        if isinstance(recv, OutputOf) and name in ("sqr", "square") and not node.args:   # candle: y.sqr().sum_all()
            return _Squared(recv.event)
        if isinstance(recv, _GradStore) and name == "get" and node.args:   # candle: grads.get(&w)
            return _GradOf(_dotted(node.args[0]))
        if isinstance(recv, _GradOf) and name in ("unwrap", "clone", "detach", "numpy"):
            return recv
        if name == "sum" and (isinstance(recv, _Prod) and not node.args or
                              node.args and isinstance(args[0], _Prod) and len(node.args) == 1 and not kwargs):
            return _product_sum(recv if isinstance(recv, _Prod) else args[0])
        if name in ("sum", "reduce_sum", "mean", "reduce_mean") and node.args:
            a0 = args[0]
            if isinstance(a0, (OutputOf, _Squared)):
                if isinstance(a0, _Squared):
                    return Derived(a0.event, "sum" if "sum" in name else "mean", a0.target)
                return Derived(a0.event, "linear_ones" if "sum" in name else "mean_of_output")
        if name == "mse_loss" and node.args:
            a0 = args[0]
            if isinstance(a0, OutputOf):
                return Derived(a0.event, "mean", _dotted(node.args[1]) if len(node.args) > 1 else None)
        if name == "print" and isinstance(fn, ast.Name):
            for a, v in zip(node.args, args):
                if isinstance(a, ast.Constant) and isinstance(a.value, str) or _prints_no_array(a):
                    continue   # print('dd', dd, dd.size()): the text labels the array after it; a shape is no array
                item = None if isinstance(a, ast.JoinedStr) else _dotted(a) or _indexed(a) or \
                    (v if isinstance(v, (OutputOf, Derived, _ProdSum)) else "?")
                self.shown.setdefault(line if self.whole else self.segment, []).append(item)
                self.printed.setdefault(line, item)
            return None
        if name == "backward" and isinstance(fn, ast.Attribute):
            if isinstance(recv, Derived):
                self.backward.append((recv.event, recv.loss, None, recv.target, line))
                return _GradStore()   # (candle returns the gradients: grads = loss.backward()?)
            elif isinstance(recv, OutputOf):
                if node.args:
                    seed_node = node.args[0]
                    seed = args[0]
                    if isinstance(seed, OutputOf) and seed.event is recv.event:
                        self.backward.append((recv.event, "self", None, None, line))
                    else:
                        self.backward.append((recv.event, "given", seed, _dotted(seed_node), line))
                else:
                    self.backward.append((recv.event, "linear_ones", None, None, line))
            return None
        if name == "gradient" and node.args:    # tape.gradient(y, [A, B])
            y = args[0]
            srcs = node.args[1] if len(node.args) > 1 else None
            ev_ = y.event if isinstance(y, (OutputOf, Derived)) else None
            if ev_ is not None:
                loss = y.loss if isinstance(y, Derived) else "linear_ones"
                self.backward.append((ev_, loss, None, getattr(y, "target", None), line))
            if isinstance(srcs, (ast.List, ast.Tuple)):
                return tuple(_GradOf(_dotted(e)) for e in srcs.elts)
            return _GradOf(_dotted(srcs)) if srcs is not None else UNKNOWN
        if name == "grad" and mod in ("autograd", "torch") and len(node.args) >= 2:
            y = args[0]
            if isinstance(y, (OutputOf, Derived)):
                self.backward.append((y.event, y.loss if isinstance(y, Derived) else "linear_ones", None,
                                      getattr(y, "target", None), line))
            srcs = node.args[1]
            if isinstance(srcs, (ast.List, ast.Tuple)):
                return tuple(_GradOf(_dotted(e)) for e in srcs.elts)
            return (_GradOf(_dotted(srcs)),)
        # TensorFlow.js: tf.grads((x, f) => x.conv2d(f, 1, 0)) is a function; grads([x, f], dy) gives (dx, df)
        if name in ("grads", "grad") and node.args and isinstance(node.args[0], ast.Lambda):
            return _GradFn(node.args[0], many=name == "grads")
        if isinstance(fn, ast.Name) and isinstance(self.env.get(fn.id), _GradFn):
            return self.apply_grad(self.env[fn.id], node, line, text)
        # ONNX: make_node('Conv', inputs=['x', 'W'], outputs=['y'], pads=..., strides=...), then
        # expect(node, inputs=[x, W], outputs=[y]): the node is a layer; expect() runs it on its inputs and
        # claims its outputs
        if name == "make_node" and args and args[0] == "Conv":
            return self.onnx_node(kwargs, text)
        if name == "expect" and args and isinstance(args[0], Layer) and args[0].kind == "conv" and \
                isinstance(kwargs.get("inputs"), (ast.List, ast.Tuple)):
            return self.onnx_expect(args[0], kwargs, line, text)
        # conv calls and layers
        if name in _CONV_LAYERS:
            return self.layer(node, name, kwargs, text)
        if isinstance(recv, Layer) and name in ("__call__", "forward"):
            return self.layer_call(recv, node, line, text)
        if isinstance(fn, ast.Name) and isinstance(self.env.get(fn.id), Layer):
            return self.layer_call(self.env[fn.id], node, line, text)
        conv_like = name in _CONV_FUNCS or (re.search(r"conv|corr", name, re.I) and "transpose" not in name.lower()
                                            and "backward" not in name.lower() and len(node.args) >= 2)
        if name in self.functions and self.depth < MAX_CALL_DEPTH and name not in _CONV_FUNCS:
            value = self.inline(self.functions[name], node, line, text)
            if not (conv_like and isinstance(value, Unknown)):
                return value   # (a helper named like a convolution whose body is not followed: its name says it)
        if conv_like:
            if "transpose" in name.lower():
                return UNKNOWN
            return self.conv_call(node, name, dotted, kwargs, line, text)
        if isinstance(fn, ast.Name) and name[:1].isupper() and name not in _WRAPPERS:
            return Layer(name, "other", _clip(text))   # another layer or model (ModulatedDeformConv, Linear)
        if isinstance(fn, ast.Attribute) and isinstance(recv, Layer):
            # conv = conv.cuda(), .to(device), .double(): the same layer; any other method: unknown
            return recv if name in _IDENTITY_METHODS else UNKNOWN
        if name in ("Linear", "Dense", "MaxPool2d", "BatchNorm2d"):
            return Layer(name, "other", _clip(text))
        return self.array_call(name, args, kwargs, recv, fn, line, text)

    def array_call(self, name, args, kwargs, recv, fn, line, text):
        ev = lambda k: self.ev(kwargs[k], line, text) if k in kwargs else None  # noqa: E731
        if name in _RANDOM:
            return UNKNOWN
        is_method = isinstance(fn, ast.Attribute) and isinstance(recv, np.ndarray)
        if is_method:
            a = recv
            if name in ("reshape", "view", "resize"):
                shape = _shape(args)
                return a.reshape(shape) if shape is not None else UNKNOWN
            if name in ("transpose", "permute"):
                axes = _shape(args) if args else None
                return a.transpose(axes) if axes else a.T
            if name in ("flatten", "ravel"):
                return a.reshape(-1)
            if name in ("squeeze",):
                return a.squeeze() if not args else a.squeeze(int(args[0]))
            if name in ("unsqueeze",):
                return np.expand_dims(a, int(args[0]))
            if name in _IDENTITY_METHODS:
                return a
            if name in ("sum",) and not args:
                return a.sum()
            if name == "fill_" and args:
                out = np.empty(a.shape, dtype=object)
                out[...] = _frac(args[0])
                return out
            return UNKNOWN
        if isinstance(fn, ast.Attribute) and isinstance(recv, (OutputOf,)) and name in _IDENTITY_METHODS:
            return recv
        if name in _WRAPPERS and args:
            a = _arr(args[0])
            if a is None:
                return args[0] if isinstance(args[0], (OutputOf, Layer)) else UNKNOWN
            shape = ev("shape")
            if shape is None and name in _SHAPE_SECOND and len(args) > 1 and a.ndim == 1 and \
                    isinstance(args[1], (list, tuple)) and args[1] and all(type(v) is int for v in args[1]):
                shape = args[1]   # tf.tensor4d([1, 2, …], [2, 2, 2, 1]): flat values and their shape
            if shape is not None:
                dims = _shape([shape])
                if dims is None:
                    return UNKNOWN
                if a.size == 1 and _size_ok(dims):
                    out = np.empty(dims, dtype=object)
                    out[...] = a.reshape(-1)[0]
                    return out
                return a.reshape(dims)
            return a
        if name == "range" and args and all(isinstance(v, int) for v in args):
            r = range(*args)
            return list(r) if len(r) <= MAX_ELEMENTS else UNKNOWN
        if name in ("arange",):
            nums = [_frac(v) for v in args if not isinstance(v, (str, Unknown)) and v is not None]
            if not nums or len(nums) > 3:
                return UNKNOWN
            start, stop, step = (Fraction(0), nums[0], Fraction(1)) if len(nums) == 1 else \
                (nums[0], nums[1], nums[2] if len(nums) > 2 else Fraction(1))
            if step == 0:
                return UNKNOWN
            n = max(0, -((start - stop) // step))
            if n > MAX_ELEMENTS:
                return UNKNOWN
            out = np.empty((int(n),), dtype=object)
            for k in range(int(n)):
                out[k] = start + k * step
            return out
        if name == "linspace" and len(args) >= 2 and (len(args) >= 3 or "num" in kwargs):
            a, b, n = _frac(args[0]), _frac(args[1]), int(args[2] if len(args) >= 3 else ev("num"))
            if not 1 <= n <= MAX_ELEMENTS:
                return UNKNOWN
            out = np.empty((n,), dtype=object)
            for k in range(n):
                out[k] = a + (b - a) * k / (n - 1) if n > 1 else a
            return out
        if name in ("ones", "zeros", "full", "empty_filled"):
            shape = _shape(args[:1] if name == "full" else args) if args else _shape([ev("shape")])
            if shape is None or not _size_ok(shape):
                return UNKNOWN
            fill = Fraction(1) if name == "ones" else Fraction(0) if name == "zeros" else _frac(args[1])
            out = np.empty(shape, dtype=object)
            out[...] = fill
            return out
        if name in ("ones_like", "zeros_like", "full_like") and args:
            a = _arr(args[0]) if not isinstance(args[0], OutputOf) else None
            if isinstance(args[0], OutputOf):
                return _Fill(args[0].event, 1 if name == "ones_like" else 0)
            if a is None:
                return UNKNOWN
            out = np.empty(a.shape, dtype=object)
            out[...] = Fraction(1) if name == "ones_like" else Fraction(0) if name == "zeros_like" \
                else _frac(args[1])
            return out
        if name in ("eye", "identity") and args:
            n = int(args[0])
            if n * n > MAX_ELEMENTS:
                return UNKNOWN
            out = np.empty((n, n), dtype=object)
            out[...] = Fraction(0)
            for k in range(n):
                out[k, k] = Fraction(1)
            return out
        if name in ("reshape", "view") and len(args) >= 2 and isinstance(args[0], np.ndarray):
            shape = _shape(args[1:])
            return args[0].reshape(shape) if shape is not None else UNKNOWN
        if name in ("transpose", "permute") and args and isinstance(args[0], np.ndarray):
            axes = _shape(args[1:]) if len(args) > 1 else (_shape([ev("axes")]) if "axes" in kwargs else None)
            return args[0].transpose(axes) if axes else args[0].T
        if name in ("stack", "dstack", "concatenate", "cat", "hstack", "vstack") and args:
            parts = [_arr(p) for p in (args[0] if isinstance(args[0], (list, tuple)) else [])]
            if not parts or any(p is None for p in parts):
                return UNKNOWN
            axis = int(args[1]) if len(args) > 1 else int(ev("axis") or ev("dim") or 0)
            f = {"stack": np.stack, "dstack": np.dstack, "hstack": np.hstack, "vstack": np.vstack}.get(
                name, np.concatenate)
            return f(parts) if name in ("dstack", "hstack", "vstack") else f(parts, axis=axis)
        if name in ("product", "prod") and args:
            a = _arr(args[0])
            return int(np.prod(a)) if a is not None else UNKNOWN
        if name in ("float", "int") and args and isinstance(args[0], (int, float, Fraction)):
            return _frac(args[0]) if name == "float" else int(args[0])
        if name == "len" and args and isinstance(args[0], (list, tuple, np.ndarray)):
            return len(args[0])
        if name in ("dict",):
            return {k: self.ev(v, line, text) for k, v in kwargs.items()}
        return UNKNOWN

    def inline(self, fdef: ast.FunctionDef, node: ast.Call, line: int, text: str):
        """A helper defined in the document (`def rowmaj(s): return np.arange(...).reshape(s)`): its
        assignments and return, with its parameters bound, in a scope of its own."""
        params = [a.arg for a in fdef.args.args]
        defaults = fdef.args.defaults
        bound = dict(zip(params[len(params) - len(defaults):], [self.ev(d, line, text) for d in defaults]))
        for p, a in zip(params, node.args):
            bound[p] = self.ev(a, line, text)
        for k in node.keywords:
            if k.arg in params:
                bound[k.arg] = self.ev(k.value, line, text)
        saved, saved_lines = self.env, set(self.lines)
        self.env = {**saved, **bound}
        self.depth += 1
        result = UNKNOWN
        try:
            for st in fdef.body:
                if isinstance(st, ast.Return):
                    result = self.ev(st.value, line, text) if st.value is not None else None
                    break
                if isinstance(st, ast.Assign):
                    v = self.ev(st.value, line, text)
                    for t in st.targets:
                        if isinstance(t, ast.Name):
                            self.env[t.id] = v
                elif not isinstance(st, (ast.Expr, ast.Pass)):
                    break
        finally:
            self.env, self.lines = saved, saved_lines
            self.depth -= 1
        return result if not isinstance(result, (OutputOf, Derived)) else UNKNOWN

    def layer(self, node, name, kwargs, text):
        ev = lambda k, i=None: (self.ev(kwargs[k], 0, text) if k in kwargs else  # noqa: E731
                                self.ev(node.args[i], 0, text) if i is not None and i < len(node.args) else None)
        tf = name.endswith("D")   # Keras: Conv2D(filters, kernel_size, strides, padding)
        if tf:
            geometry = {"stride": ev("strides", 2), "padding": ev("padding", 3), "out": ev("filters", 0),
                        "kernel": ev("kernel_size", 1), "dilation": ev("dilation_rate")}
            bias = ev("use_bias")
        else:
            geometry = {"in": ev("in_channels", 0), "out": ev("out_channels", 1), "kernel": ev("kernel_size", 2),
                        "stride": ev("stride", 3), "padding": ev("padding", 4) if "pad" not in kwargs else ev("pad"),
                        "dilation": ev("dilation", 5),
                        "groups": ev("groups", 6)}
            bias = ev("bias", 7)
        one_d = name.endswith(("1d", "1D"))
        k = geometry.get("kernel")
        if isinstance(k, int):
            k = (k,) if one_d else (k, k)
        if not tf and isinstance(k, (tuple, list)) and all(isinstance(v, int) for v in (geometry["in"],
                                                                                       geometry["out"])):
            g = geometry.get("groups") if isinstance(geometry.get("groups"), int) else 1
            geometry["weight_shape"] = (geometry["out"], geometry["in"] // g, *k)
        return Layer(name, "conv", _clip(text), {k_: v for k_, v in geometry.items() if v is not None},
                     bias=bias is not False, layout=("nlc" if one_d else "nhwc") if tf else
                     ("ncl" if one_d else "nchw"))

    def apply_grad(self, g: "_GradFn", node: ast.Call, line: int, text: str):
        params = [a.arg for a in g.fn.args.args]
        if not node.args:
            return UNKNOWN
        operands = node.args[0].elts if g.many and isinstance(node.args[0], (ast.List, ast.Tuple)) else \
            node.args[:len(params)]
        seed_node = node.args[1] if g.many and len(node.args) > 1 else \
            node.args[len(params)] if not g.many and len(node.args) > len(params) else None
        if len(operands) != len(params):
            return UNKNOWN
        saved = self.env
        self.env = {**saved, **{p: self.ev(a, line, text) for p, a in zip(params, operands)}}
        try:
            out = self.ev(g.fn.body, line, text)
        finally:
            self.env = saved
        names = {p: _dotted(a) for p, a in zip(params, operands)}
        if isinstance(out, OutputOf):
            e = out.event
            e.input, e.filter = names.get(e.input, e.input), names.get(e.filter, e.filter)
            if seed_node is None:
                self.backward.append((e, "linear_ones", None, None, line))
            else:
                self.backward.append((e, "given", self.ev(seed_node, line, text), _dotted(seed_node), line))
        grads = tuple(_GradOf(names[p]) for p in params)
        return grads if g.many else grads[0]

    def onnx_node(self, kwargs, text) -> Layer:
        ev = lambda k: self.ev(kwargs[k], 0, text) if k in kwargs else None  # noqa: E731
        geometry = {"stride": ev("strides"), "dilation": ev("dilations"), "groups": ev("group")}
        pads = ev("pads")   # ONNX order: [H begin, W begin, H end, W end]
        if isinstance(pads, (list, tuple)) and len(pads) == 4 and all(isinstance(v, int) for v in pads):
            geometry["pads"] = (pads[0], pads[2], pads[1], pads[3])
        auto = ev("auto_pad")
        if isinstance(auto, str) and auto.upper() == "VALID":
            geometry["padding"] = 0
        return Layer("make_node", "conv", _clip(text), {k: v for k, v in geometry.items() if v is not None},
                     bias=False)

    def onnx_expect(self, node: Layer, kwargs, line, text):
        ins = kwargs["inputs"].elts
        outs = kwargs.get("outputs")
        ev_ = ConvEvent(line, _clip(text), _dotted(ins[0]), _dotted(ins[1]) if len(ins) > 1 else None,
                        _dotted(ins[2]) if len(ins) > 2 else None, dict(node.geometry), "nchw", "cross_correlation",
                        self.ev(ins[0], line, text), self.ev(ins[1], line, text) if len(ins) > 1 else UNKNOWN,
                        self.ev(ins[2], line, text) if len(ins) > 2 else UNKNOWN)
        if isinstance(outs, (ast.List, ast.Tuple)) and outs.elts and _dotted(outs.elts[0]):
            ev_.outputs.append(_dotted(outs.elts[0]))   # the array expect() compares the node's output with
        self.events.append(ev_)
        return None

    def layer_call(self, layer: Layer, node, line, text):
        if layer.kind != "conv" or not node.args:
            return UNKNOWN
        x_name = _dotted(node.args[0])
        ev_ = ConvEvent(line, _clip(text), x_name, f"{layer.name}.weight",
                        f"{layer.name}.bias" if layer.bias else None, dict(layer.geometry), layer.layout,
                        "cross_correlation", self.ev(node.args[0], line, text), layer.weight,
                        layer.bias_value if layer.bias else UNKNOWN)
        ev_.layer = layer
        self.events.append(ev_)
        return OutputOf(ev_)

    def conv_call(self, node, name, dotted, kwargs, line, text):
        args = list(node.args)
        receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
        if receiver is not None and isinstance(self.ev(receiver, line, text), np.ndarray):
            args = [receiver] + args   # x.conv2d(w, …): the array the method is called on is the input
        ev = lambda k, i=None: (self.ev(kwargs[k], line, text) if k in kwargs else  # noqa: E731
                                self.ev(args[i], line, text) if i is not None and i < len(args) else None)
        tf = dotted.startswith(("tf.", "tensorflow.")) or "tf.nn" in dotted or \
            (self.dialect == "ts" and name == "conv2d")   # TensorFlow.js: x.conv2d(filter, strides, pad, dataFormat)
        geometry: dict = {}
        bias_node = None
        operation = "convolution" if name == "convolve2d" else "cross_correlation"
        if tf:
            geometry = {"stride": ev("strides", 2), "padding": ev("padding", 3),
                        "dilation": ev("dilations", 5 if self.dialect == "ts" else None)}
            fmt = ev("data_format", 4 if self.dialect == "ts" else None) or ev("dataFormat")
            layout = "nchw" if isinstance(fmt, str) and fmt.upper() == "NCHW" else "nhwc"
        elif self.dialect == "rust" and name in ("conv2d", "conv1d"):   # candle: x.conv2d(&w, padding, stride, dilation, groups)
            layout = "nchw"
            geometry = {"padding": ev("padding", 2), "stride": ev("stride", 3), "dilation": ev("dilation", 4),
                        "groups": ev("groups", 5)}
        else:
            layout = "nchw"
            if name in ("correlate2d", "convolve2d"):
                geometry = {"mode": ev("mode", 2)}
            elif name.startswith("conv_forward"):
                param = ev("conv_param", 3)
                bias_node = args[2] if len(args) > 2 else None
                if isinstance(param, dict):
                    geometry = {"stride": param.get("stride"), "padding": param.get("pad")}
            else:
                bias_node = args[2] if len(args) > 2 else kwargs.get("bias")
                geometry = {"stride": ev("stride", 3), "padding": ev("padding", 4), "dilation": ev("dilation", 5),
                            "groups": ev("groups", 6)}
        if name == "conv1d":   # a 1-D convolution is the 2-D one with H = 1
            layout = "nlc" if layout == "nhwc" else "ncl"
        if len(args) < 2:
            return UNKNOWN
        ev_ = ConvEvent(line, _clip(text), _dotted(args[0]), _dotted(args[1]),
                        _dotted(bias_node) if bias_node is not None else None,
                        {k: v for k, v in geometry.items() if v is not None}, layout, operation,
                        self.ev(args[0], line, text), self.ev(args[1], line, text),
                        self.ev(bias_node, line, text) if bias_node is not None else UNKNOWN)
        self.events.append(ev_)
        return OutputOf(ev_)


class _Prod(np.ndarray):
    """An elementwise product of two arrays of one shape (`w * x`), its factors kept: summed, it is a window's
    products written in code."""
    factors: tuple = ()


class _ProdSum(Fraction):
    """`np.sum(w * x)`, `(X[:3, :3] * K).sum()`: a number, with the products it adds up."""
    terms: tuple = ()


MAX_PRODUCT_TERMS = 4096


def _product_sum(p: "_Prod"):
    a, b = p.factors
    total = sum((Fraction(u) * Fraction(v) for u, v in zip(a.flat, b.flat)), Fraction(0))
    s = _ProdSum(total)
    s.terms = tuple((Fraction(u), Fraction(v)) for u, v in zip(a.flat, b.flat))
    return s


@dataclass(eq=False)
class _Squared:
    event: ConvEvent
    target: str | None = None


@dataclass(eq=False)
class _Residual:
    event: ConvEvent
    target: str | None


@dataclass(eq=False)
class _Fill:
    event: ConvEvent
    value: int


@dataclass(eq=False)
class _GradOf:
    of: str | None


class _GradStore:
    """What a backward pass returns where it returns the gradients (candle's GradStore): `.get(&w)` is ∂L/∂w."""


@dataclass(eq=False)
class _GradFn:
    """tf.grads(f) / tf.grad(f): a function returning the gradients of f's output at its arguments."""
    fn: ast.Lambda
    many: bool


_ASSERT_WORDS = ("assert", "allclose", "isclose", "close", "equal", "expect")
_VIEWS = {"tolist", "numpy", "detach", "cpu", "data", "item", "flatten", "ravel", "squeeze", "asnumpy", "get",
          "dataSync", "arraySync", "to_vec", "flatten_all", "to_vec0", "to_vec1", "to_vec2", "to_vec3", "unwrap",
          "to_scalar", "into_data", "to_data", "value"}
_ROUNDING = re.compile(r"(?:to_vec\d_round|round|around|to_vec\d?|np_round|asnumpy|to_list)")


def _prints_no_array(node) -> bool:
    """`x.shape`, `x.size()`, `len(x)`, `x.dtype`: printed as a shape or a word, not as an array of values."""
    if isinstance(node, ast.Attribute):
        return node.attr in ("shape", "dtype", "ndim", "device", "requires_grad")
    if isinstance(node, ast.Call):
        f = node.func
        return (isinstance(f, ast.Attribute) and f.attr in ("size", "dim", "type")) or \
            (isinstance(f, ast.Name) and f.id in ("len", "type"))
    return False


def _computed_name(node) -> str | None:
    """`w.grad.detach().numpy()` -> 'w.grad'; `out.tolist()` -> 'out'; None for anything but a plain name."""
    while True:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _VIEWS:
            node = node.func.value
        elif isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)) and \
                (_dotted(node.func) or "").split(".")[-1] in ("asarray", "array", "squeeze") and len(node.args) == 1:
            node = node.args[0]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.func, (ast.Name, ast.Attribute)) and \
                _ROUNDING.fullmatch((_dotted(node.func) or "").split(".")[-1]):
            node = node.args[0]   # to_vec1_round(&res.flatten_all()?, 4), round(y, 4): the value it shows
        elif isinstance(node, ast.Attribute) and node.attr == "data":
            node = node.value
        else:
            break
    return _dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else None


def _indexed(node) -> str | None:
    """`grads[1]`: a name indexed by a constant (a printed element of a tuple of gradients)."""
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and \
            isinstance(node.slice.value, int) and not isinstance(node.slice.value, bool):
        base = _dotted(node.value)
        return f"{base}[{node.slice.value}]" if base else None
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple) and node.slice.elts and \
            all(isinstance(e, ast.Constant) and type(e.value) is int for e in node.slice.elts):   # Y[0, 0]
        base = _dotted(node.value)
        return f"{base}[{', '.join(str(e.value) for e in node.slice.elts)}]" if base else None
    return None


_ELEMENT = re.compile(r"^([A-Za-z_][\w.]*)\[(\d+(?:,\s*\d+)+)\]$")


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr in _IDENTITY_METHODS | {"requires_grad_"}:
        return _dotted(node.func.value)   # x.float(), w.cuda()
    return None


def _clip(t: str, n: int = 60) -> str:
    t = " ".join(t.split())
    return t if len(t) <= n else t[: n - 1] + "…"


# --- reading the code blocks of a document ---------------------------------------------------------------

MAX_REPAIRS = 100   # lines set aside (prompts, output, prose, other languages) before a block is given up
# a REPL's prompt: Python's `>>>`/`...`, IPython's `In [3]:`, and `>> ` (MATLAB/Octave-style, as people paste)
_PROMPT = re.compile(r"^(\s*)(?:>>>\s?|>>\s|\.\.\.\s?|In\s*\[\s*\d*\s*\]:\s?)")
_OUTPUT_START = re.compile(r"^\s*(?:tensor\(|array\(|Parameter containing|\(Parameter|\[\[|\[\s*-?\d|Out\[\d+\])")


# Python 2's print statement (old answers): `print X[:3,:3]`, `print 'Kernel:'` read as the call
_PRINT2 = re.compile(r"^(\s*)print\s+(?![(\s=])([^#;]*?)\s*$")
MAX_PARSED_CHARS = 1_000_000   # characters handed to `ast.parse` per document, repairs included (~0.6 s)
MAX_WHOLE_TEXT = 30_000        # a document without code blocks is tried as one source file up to this size


def python_source(text: str, budget: list[int] | None = None) -> str | None:
    """The block as Python that `ast` parses: prompts stripped, lines that do not parse blanked (their line
    numbers kept); None when it is not code (printed output, prose, another language)."""
    import textwrap
    lines = [_PROMPT.sub(r"\1", l) for l in textwrap.dedent(text).split("\n")]
    if not any(l.strip() for l in lines) or _OUTPUT_START.match(next(l for l in lines if l.strip())):
        return None
    lines = [("" if l.lstrip().startswith(("%", "!")) else _PRINT2.sub(r"\1print(\2)", l)) for l in lines]
    for _ in range(MAX_REPAIRS):
        src = "\n".join(lines)
        if budget is not None:
            budget[0] -= len(src)
            if budget[0] < 0:
                return None
        try:
            ast.parse(src)
        except SyntaxError as exc:
            k = (exc.lineno or 1) - 1
            if not 0 <= k < len(lines) or not lines[k].strip():
                k = next((i for i in range(min(k, len(lines) - 1), -1, -1) if lines[i].strip()), None)
                if k is None:
                    return None
            lines[k] = ""
            continue
        except (ValueError, RecursionError, MemoryError):
            return None
        kept = sum(bool(l.strip()) for l in lines)
        return src if kept else None
    return None


def read_program(segments, text: str, declared: dict[str, Label] | None = None) -> Program:
    """The program of a document's code blocks (read from its raw lines: matrices written as text rows were
    taken out of the segments), or of the whole text when it has no code block (a test file given as text)."""
    r = Reader()
    prints: dict[int, list[str]] = {}
    raw = text.split("\n")

    def block(seg) -> str:
        n = seg.text.count("\n") + 1
        return "\n".join(raw[seg.line - 1: seg.line - 1 + n])

    budget = [MAX_PARSED_CHARS]

    def source(code: str) -> str | None:
        """The code as Python: as written, or rewritten from the C family when that keeps more of it."""
        src = python_source(code, budget)
        if _kept(src or "") >= 0.7 * _kept(code):
            return src
        from .clike import to_python
        rw = to_python(code)
        other = python_source(rw.source, budget) if rw is not None else None
        if other and _kept(other) > _kept(src or ""):
            r.dialect, r.float32 = rw.dialect, r.float32 or rw.float32
            return other
        return src

    sources = [(seg, source(block(seg))) for seg in segments if seg.kind == "code"]
    if len(text) < MAX_WHOLE_TEXT and (not any(src for _, src in sources) or
                                       not any(s.kind == "math" for s in segments)):
        # a source file given as text (a unit test): Markdown reads its indented bodies as code and the rest as
        # prose, so the whole text is tried too, and kept when it is mostly code
        whole = source(text)
        fenced = sum(_kept(s) for _, s in sources if s)
        if whole and _kept(whole) > fenced and (_kept(whole) >= 0.8 * _kept(text) or
                                                not fenced and _has_conv(whole)):   # code among the prose
            from .segments import Segment
            sources = [(Segment("code", text, 1), whole)]
            r.whole = True
    for seg, src in sources:
        if not src:
            continue
        first = 1 if r.whole else seg.line
        r.prompts.update(first + k for k, l in enumerate(block(seg).split("\n") if not r.whole else raw)
                         if _PROMPT.match(l) and not l.lstrip().startswith("..."))
        try:
            tree = ast.parse(src)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        r.called.update(n.func.id if isinstance(n.func, ast.Name) else n.func.attr for n in ast.walk(tree)
                        if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)))
        r.segment, r.last = seg.line, None
        r.run(tree.body, seg.line, src)
        last = tree.body[-1] if tree.body else None
        if r.last is not None and r.last[0] is last and not _is_print(last) and not r.whole:   # a cell's last expression is shown
            items = last.value.elts if isinstance(last.value, ast.Tuple) else [last.value]
            shown = [_dotted(e) for e in items]
            if all(shown):
                r.shown.setdefault(seg.line, []).extend(shown)
            elif isinstance(r.last[1], (OutputOf, Derived)):
                r.shown.setdefault(seg.line, []).append(r.last[1])
    r.run_uncalled()
    p = _program(r, declared or {})
    for name, label in (declared or {}).items():   # --role NAME=ROLE: the person's word over the reader's
        p.aliases[name] = label
        p.scoped.pop(name, None)
    return p


def _no_parameters(fdef: ast.FunctionDef) -> bool:
    a = fdef.args
    names = [x.arg for x in a.posonlyargs + a.args]
    required = len(names) - len(a.defaults)
    return required <= (1 if names[:1] in (["self"], ["cls"]) else 0) and not a.kwonlyargs


def _has_conv(src: str) -> bool:
    """Whether the code calls a convolution (a trial read: code pasted among prose lines, without a fence)."""
    trial = Reader()
    try:
        trial.run(ast.parse(src).body, 1, src)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return bool(trial.events)


def _kept(src: str) -> int:
    return sum(1 for l in src.split("\n") if l.strip() and not l.lstrip().startswith("#"))


def _is_print(st) -> bool:
    return isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) and \
        isinstance(st.value.func, ast.Name) and st.value.func.id == "print"


_FILLER = {"expected", "exp", "correct", "true", "ref", "reference", "gold", "flat", "answer", "np", "tf",
           "torch", "jax", "jnp", "value", "values", "result", "my", "manual", "hand", "golden", "target"}


def _program(r: Reader, declared: dict[str, Label]) -> Program:
    distinct = [e for k, e in enumerate(r.events) if not any(_same_call(e, f) for f in r.events[:k])]
    p = Program(lines=set(r.lines), examples=len(distinct), prompts=set(r.prompts))
    if not r.events:
        return p
    # the worked example is the call whose operands the document gives (a test of random arrays checks nothing
    # a reader can follow); among those, the one differentiated; then the first
    with_backward = {id(b[0]) for b in r.backward}

    def known(v) -> bool:
        return not isinstance(v, (Unknown, OutputOf)) and _arr(v) is not None

    ev = max(r.events, key=lambda e: (known(e.x) + known(e.w), id(e) in with_backward, -r.events.index(e)))
    p.layout = ev.layout
    role_names = {"input": ev.input, "filter": ev.filter, "bias": ev.bias}
    roles: dict[str, str] = {}
    for q, name in role_names.items():
        if name:
            roles[name] = q
            p.aliases[name] = Label(q)
            p.aliases[f"{name}.grad"] = Label({"input": "grad_input", "filter": "grad_filter",
                                               "bias": "grad_bias"}[q])
    # `a = [[...]]; x = torch.tensor(a)`: the list the operand was made from is the operand
    sources: set[int] = set()
    for q, value in (("input", ev.x), ("filter", ev.w), ("bias", ev.b)):
        a = _arr(value) if not isinstance(value, (Unknown, OutputOf)) else None
        for (name, line), v in r.values.items():
            b = _arr(v) if a is not None and line <= ev.line and name not in roles and \
                not isinstance(v, (Unknown, OutputOf)) else None
            if b is not None and b.shape == a.shape and b.size and np.array_equal(a, b):
                p.aliases.setdefault(name, Label(q))
                sources.update(r.spans.get(line, (line,)))
    for name in ev.outputs:
        p.aliases.setdefault(name, Label("output"))
        p.aliases.setdefault(f"{name}.grad", Label("grad_output"))
    for name, line, text in r.assigned:
        v = r.values.get((name, line))
        q = (code_label(name) or Label("")).quantity
        if name in p.aliases:
            continue
        if ev.outputs and isinstance(v, Unknown) and q == "output":   # `output = F.conv_transpose1d(...)`
            p.aliases[name] = Label("skip", reason=f"computed at line {line} by code that is not the convolution "
                                                   f"({_clip(text, 40)})")
        elif q in ("input", "filter", "bias"):   # `k = [[...]]` used elsewhere: the call says what the filter is
            p.aliases[name] = Label("skip", reason=f"named like the {q}, but not an operand of the convolution "
                                                   f"at line {ev.line}")
    for name, (of, _) in r.grads.items():
        if of in roles:
            p.aliases[name] = Label({"input": "grad_input", "filter": "grad_filter", "bias": "grad_bias"}[roles[of]])
    for layer in r.layers.values():
        if layer.kind != "conv" or layer is not getattr(ev, "layer", None):
            reason = f"a quantity of another layer ({layer.call})"
            for attr in ("weight", "bias", "weight.grad", "bias.grad"):
                p.aliases.setdefault(f"{layer.name}.{attr}", Label("skip", reason=reason))
    for other in r.events:
        if not _same_call(other, ev):
            for name in other.outputs:
                p.aliases.setdefault(name, Label("skip", reason=f"another convolution (line {other.line}: "
                                                              f"{other.call})"))
    # the loss the code differentiates
    for e, loss, seed, seed_name, line in r.backward:
        if e is not ev:
            continue
        text = "what the code differentiates"
        if loss == "given":
            if isinstance(seed, _Fill):
                p.hints.append(Hint("loss", "linear_ones" if seed.value == 1 else "linear", line, text, 2))
            else:   # a name, or the array written in the call: `y.backward(torch.tensor([...]))`
                if seed_name:
                    p.aliases[seed_name] = Label("grad_output")
                a = _arr(seed) if not isinstance(seed, Unknown) else None
                if a is not None:
                    p.readings.append((Label("grad_output"), _to_nchw(a, "output", ev.layout), line,
                                       f"{seed_name or 'the array'} (the gradient given to backward)"))
                    made = max((k for name, k, _ in r.assigned if name == seed_name and k <= line), default=None)
                    if made is not None:   # the line that built the seed: read here, not again as text
                        sources.update(r.spans.get(made, (made,)))
        elif loss == "self":
            p.hints.append(Hint("loss", "half_sum", line, "the output fed back as its own gradient "
                                "(L = ½·Σ output²)", 2))
            p.hints.append(Hint("target_zeros", True, line, text, 2))
        elif loss in ("linear_ones",):
            p.hints.append(Hint("loss", "linear_ones", line, "the sum of the output differentiated "
                                "(upstream gradient of ones)", 2))
        elif loss in ("sum", "mean"):
            p.hints.append(Hint("loss", loss, line, text, 2))
            if seed_name is None:
                p.hints.append(Hint("target_zeros", True, line, text, 2))
        break
    # geometry of the chosen call
    for key in ("stride", "padding", "pads", "dilation", "groups", "mode"):
        v = ev.geometry.get(key)
        value = _geometry_value(key, v, ev)
        if value is not None and ev.layout in ("ncl", "nlc") and key != "groups":
            value = _one_d(key, value)
        if value is not None:
            name = "padding" if key in ("mode", "pads") else key
            p.readings.append((Label(name), _scalar(Fraction(value) if name == "stride" and isinstance(value, int)
                                                    else value), ev.line,
                               ev.call))
    if ev.operation == "convolution":
        p.hints.append(Hint("operation", "convolution", ev.line, ev.call, 2))
    layer = getattr(ev, "layer", None)
    if layer is not None and layer.bias and layer.layout in ("nchw", "ncl") and not known(ev.b):
        # torch's nn.Conv2d has bias=True by default, initialised at random: unless the document shows it, the
        # layer's output is the correlation plus a bias nobody knows (Keras' default bias starts at zero)
        p.hints.append(Hint("bias_unknown", True, ev.line, f"the layer {layer.call} adds a bias (bias=True "
                            "is its default) that the document does not show", 2))
    # values built by the code
    last_line = {name: line for name, line, _ in r.assigned if line <= ev.line}   # the assignment the call used
    for q, value in (("input", ev.x), ("filter", ev.w), ("bias", ev.b)):
        a = _arr(value) if not isinstance(value, (Unknown, OutputOf)) else None
        if a is not None and a.size:
            name = role_names[q] or q
            v = _to_nchw(a, q, ev.layout, claimed=r.float32)
            # single-precision literals with 4+ decimals (`0.4056f32`) are a float printout's rounding, not
            # exact decimals: the input is shown rounded
            rounded = r.float32 and v is not None and int(v.decimals.max(initial=-1)) >= 4
            if v is not None and not rounded:
                v = Value(v.array, np.full(v.array.shape, -1, dtype=int))
            p.readings.append((Label(q, approx=rounded), v, last_line.get(name.split(".")[0], ev.line),
                               f"{name} (built in code)"))
    shapes = {q: _arr(v).shape for q, v in (("input", ev.x), ("filter", ev.w)) if _arr(v) is not None
              and not isinstance(v, Unknown)}
    _scopes(p, r, ev, roles)
    claims = [(name, line, text, r.values.get((name, line), r.env.get(name)), False) for name, line, text in r.assigned
              if name not in roles and name not in ev.outputs]   # (the value assigned there, not the last one)
    claims += [(name, line, text, value, True) for name, line, text, value in r.claims]
    for name, line, text, value, asserted in claims:
        label = declared.get(name) or p.label(name, line) or name_label(name, roles)
        if asserted and label is not None and label.quantity == "skip" and _arr(value) is not None:
            p.readings.append((label, _to_nchw(_arr(value), "output", "nchw"), line, _clip(text)))
        if label is None or label.quantity in ("input", "filter", "bias", "skip", "target"):
            continue
        if not asserted:
            p.aliases.setdefault(name, label)
        a = _arr(value) if not isinstance(value, (Unknown, OutputOf)) else None
        if a is None or not a.size or (a.ndim == 0 and label.quantity not in ("loss", "grad_bias")):
            continue
        like = {"grad_input": "input", "grad_filter": "filter", "updated_filter": "filter",
                "output": "output", "grad_output": "output"}.get(label.quantity)
        if like in shapes and a.ndim == 1 and a.size == int(np.prod(shapes[like])):
            a = a.reshape(shapes[like])   # a flattened array in the framework's own order
        if like == "output" and a.ndim == 1:
            out = _output_shape(ev)   # a flat output in the framework's own order: its shape from the call
            if out is not None and a.size == int(np.prod(out)):
                a = a.reshape(out)
            elif ev.layout == "nhwc":
                continue
        p.readings.append((label, _to_nchw(a, like or "output", ev.layout, claimed=True), line, _clip(text)))
    p.readings = [x for x in p.readings if x[1] is not None]
    p.built = {k for x in p.readings if x[0].quantity not in ("stride", "padding", "dilation", "groups")
               for k in r.spans.get(x[2], (x[2],))} | sources | r.claim_sources
    for seg_line, items in r.shown.items():
        p.prints[seg_line] = [_shown_label(p, ev, item, seg_line) for item in items]
    for line in r.prompts:   # `>>> m(x)`, `>>> w.grad`, `>>> print(y)`: the lines below are its value
        node, value = r.exprs.get(line, (None, None))
        if node is None:
            continue
        if isinstance(node, ast.Call) and _dotted(node.func) == "print":
            item = r.printed.get(line)
        else:
            item = value if isinstance(value, (OutputOf, Derived, _ProdSum)) else _dotted(node)
        if item is not None:
            p.echo[line] = _shown_label(p, ev, item, line)
    return p


def _same_call(a: ConvEvent, b: ConvEvent) -> bool:
    """Two calls that compute the same thing (`m(x)` shown, then `m(x).sum().backward()`): the same operands
    by name and value, the same layer and geometry."""
    if a is b:
        return True
    if (a.input, a.filter, a.bias, a.layout, a.operation) != (b.input, b.filter, b.bias, b.layout, b.operation) \
            or getattr(a, "layer", None) is not getattr(b, "layer", None) or repr(a.geometry) != repr(b.geometry):
        return False
    for u, v in ((a.x, b.x), (a.w, b.w), (a.b, b.b)):
        if isinstance(u, Unknown) and isinstance(v, Unknown):
            continue
        au, av = (_arr(t) if not isinstance(t, (Unknown, OutputOf)) else None for t in (u, v))
        if au is None or av is None or au.shape != av.shape or not np.array_equal(au, av):
            return False
    return True


def _shown_label(p: Program, ev: ConvEvent, item, line: int) -> Label | None:
    if item is None:
        return None          # an f-string labels its own value
    if isinstance(item, OutputOf):
        return Label("output") if _same_call(item.event, ev) else Label("skip", reason=f"the output of another "
                                                                             f"convolution (line {item.event.line})")
    if isinstance(item, Derived):
        return Label("loss") if item.event is ev and item.loss in ("linear_ones", "sum", "mean") else \
            Label("skip", reason="a value derived from another convolution")
    if isinstance(item, _ProdSum):   # the sum of a patch times the kernel: which output element, if any, is decided later
        return Label("window_sum", terms=item.terms)
    if item == "?":
        return Label("skip", reason="printed by the code, not a conv-layer quantity")
    element = _ELEMENT.match(item)
    if element and item not in p.aliases:   # print(Y[0, 0]): one entry of the output, 0-based as code indexes
        base = p.label(element.group(1), line) or code_label(element.group(1))
        if base is not None and base.quantity in ("output", "activation", "grad_output", "grad_filter",
                                                  "grad_input", "updated_filter"):
            return Label(base.quantity, index=tuple(int(v) for v in element.group(2).split(",")), position=True)
    return p.label(item, line) or code_label(item) or \
        Label("skip", reason=f"printed by the code: {item} is not a quantity of the convolution")


def _scopes(p: Program, r: Reader, ev: ConvEvent, roles: dict[str, str]) -> None:
    """A role's name assigned anew after the conv call (the next example's `y = conv(x)`, `conv = nn.Conv2d`
    again) means something else from that line on; `y = y.sum()` of the conv output is the loss."""
    layer = getattr(ev, "layer", None)
    seeds = {b[3] for b in r.backward if b[0] is ev and b[3]}
    grads = {name for name, (of, _) in r.grads.items() if of in roles and "[" not in name}
    tracked = set(roles) | set(ev.outputs) | ({layer.name} if layer else set()) | seeds | grads
    # the line after which an assignment is another example's: the call; for the upstream gradient, its backward
    # (made after the forward pass); for a gradient's name, its own first assignment after the call
    after = {name: max((b[4] for b in r.backward if b[0] is ev and b[3] == name), default=ev.line) for name in seeds}
    for name in grads - seeds:
        after[name] = min((k for n, k, _ in r.assigned if n == name and k >= ev.line), default=ev.line)
    for name, line, text in r.assigned:
        base = name
        if base not in {t.split(".")[0] for t in tracked} or line <= after.get(base, ev.line):
            continue
        if base in ev.outputs and line in _derived_lines(r, ev):
            p.scoped.setdefault(base, []).append((line, Label("loss")))
            continue
        reason = f"another example: {base} is assigned anew at line {line} ({_clip(text, 40)})"
        for key in list(p.aliases):
            if key == base or key.startswith(base + "."):
                p.scoped.setdefault(key, []).append((line, Label("skip", reason=reason)))
        if base not in p.aliases:
            p.scoped.setdefault(base, []).append((line, Label("skip", reason=reason)))


def _derived_lines(r: Reader, ev: ConvEvent) -> set[int]:
    return {line for line, e in r.derived if e is ev}


def name_label(name: str, roles: dict[str, str]) -> Label | None:
    """A claim's code name, read with the document's own role names: `expected_B_grad_flat` with B_tf the
    filter is ∂L/∂W; `correct_out` is the output; `expected_dW` is ∂L/∂W."""
    words = [w for w in re.split(r"_+", name) if w and w.lower() not in _FILLER]
    if not words:
        return None
    stems = {}
    for role_name, q in roles.items():
        base = role_name.split(".")[0] if not role_name.endswith((".weight", ".bias")) else role_name
        stem = re.split(r"_+", base)[0]
        stems[stem.lower()] = q
        if role_name.endswith(".weight"):
            stems["weight"] = q
    lowered = [w.lower() for w in words]
    if "grad" in lowered or "gradient" in lowered:
        rest = [w for w in lowered if w not in ("grad", "gradient")]
        if len(rest) == 1 and rest[0] in stems:
            return Label({"input": "grad_input", "filter": "grad_filter", "bias": "grad_bias"}[stems[rest[0]]])
    label = code_label("_".join(words))
    if label is None and len(words) == 1 and lowered[0].startswith("d") and lowered[0][1:] in stems:
        return Label({"input": "grad_input", "filter": "grad_filter", "bias": "grad_bias"}[stems[lowered[0][1:]]])
    return label


def _geometry_value(key: str, v, ev: ConvEvent):
    if v is None or isinstance(v, Unknown):
        return None
    if key == "pads":   # (top, bottom, left, right) already
        return v[0] if len(set(v)) == 1 else tuple(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if key in ("padding", "mode"):
            if s == "valid":
                return 0
            if s == "same":
                return "same"
            if s == "full":
                w = _arr(ev.w) if not isinstance(ev.w, Unknown) else None
                return int(w.shape[-1]) - 1 if w is not None and w.ndim == 2 and w.shape[0] == w.shape[1] else None
        return None
    if isinstance(v, (list, tuple)):
        vals = [int(x) for x in v if isinstance(x, (int, Fraction))]
        if len(vals) != len(v) or not vals:
            return None
        if key == "stride" and ev.layout == "nhwc" and len(vals) == 4:
            vals = vals[1:3]
        if len(set(vals)) == 1:
            return vals[0]
        if key == "padding" and len(vals) == 2:
            return (vals[0], vals[0], vals[1], vals[1])
        if key == "dilation" and len(vals) == 2:
            return tuple(vals)
        return None
    if isinstance(v, (int, Fraction)) and Fraction(v).denominator == 1:
        return int(v)
    return None


def _output_shape(ev: ConvEvent) -> tuple[int, ...] | None:
    """The shape of the call's output in its own layout (N, H, W, C or N, C, H, W; without N when the input has
    none), from the operands' shapes and the geometry; None when unknown (groups, a string padding but 'valid'/
    'same', a 1-D convolution)."""
    x = _arr(ev.x) if not isinstance(ev.x, (Unknown, OutputOf)) else None
    w = _arr(ev.w) if not isinstance(ev.w, (Unknown, OutputOf)) else None
    if x is None or w is None or w.ndim != 4 or x.ndim not in (3, 4) or ev.layout not in ("nhwc", "nchw"):
        return None
    hw_in = x.shape[-3:-1] if ev.layout == "nhwc" else x.shape[-2:]
    kh, kw, c_out = (w.shape[0], w.shape[1], w.shape[3]) if ev.layout == "nhwc" else (w.shape[2], w.shape[3],
                                                                                       w.shape[0])
    stride, padding, dilation = (_geometry_value(k, ev.geometry.get(k), ev) for k in ("stride", "padding",
                                                                                        "dilation"))
    if isinstance(ev.geometry.get("pads"), tuple):
        padding = _geometry_value("pads", ev.geometry["pads"], ev)
    sh, sw = (stride, stride) if isinstance(stride, int) else tuple(stride) if isinstance(stride, tuple) and \
        len(stride) == 2 else (1, 1) if stride is None else (None, None)
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else tuple(dilation) if isinstance(dilation, tuple) \
        else (1, 1)
    if sh is None:
        return None
    if padding == "same":
        ho, wo = -(-hw_in[0] // sh), -(-hw_in[1] // sw)
    else:
        pt, pb, pl, pr = (0, 0, 0, 0) if padding is None else (padding,) * 4 if isinstance(padding, int) else \
            padding if isinstance(padding, tuple) and len(padding) == 4 else (None,) * 4
        if pt is None:
            return None
        ho = (hw_in[0] + pt + pb - dh * (kh - 1) - 1) // sh + 1
        wo = (hw_in[1] + pl + pr - dw * (kw - 1) - 1) // sw + 1
    if ho < 1 or wo < 1:
        return None
    lead = x.shape[:1] if x.ndim == 4 else ()
    return lead + ((ho, wo, c_out) if ev.layout == "nhwc" else (c_out, ho, wo))


def _scalar(v) -> Value:
    a = np.empty((), dtype=object)
    a[()] = v
    return Value(a, np.array(-1))


def _written_decimals(v) -> int:
    """The decimals a number written in code shows: 0.21027089 -> 8; an integer or a computed 1/3 -> -1 (exact)."""
    d = Fraction(v).denominator
    if d == 1:
        return -1
    twos = fives = 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    return max(twos, fives) if d == 1 else -1


def _one_d(key: str, value):
    """conv1d's geometry as the 2-D one's with H = 1: stride s -> (1, s), padding p -> 0 above and below."""
    if value == "same" or not isinstance(value, int):
        return value if key != "stride" else None
    return {"stride": (1, value), "dilation": (1, value), "padding": (0, 0, value, value)}.get(key, value)


def _to_nchw(a: np.ndarray, like: str, layout: str, claimed: bool = False) -> Value | None:
    """N, H, W, C -> N, C, H, W; H, W, I, O -> O, I, H, W (TensorFlow's orders) for 4-D arrays."""
    a = np.asarray(a, dtype=object)
    try:
        a = np.vectorize(_frac, otypes=[object])(a) if a.size else a
    except TypeError:
        return None   # not all numbers
    if layout == "nlc" and a.ndim in (2, 3):   # N, L, C -> N, C, L; K, I, O -> O, I, K
        a = a.transpose(2, 1, 0) if like == "filter" and a.ndim == 3 else a.swapaxes(-1, -2)
    if layout in ("ncl", "nlc"):   # conv1d: H = 1
        if a.ndim == 3 or (a.ndim == 2 and like != "filter"):
            a = np.expand_dims(a, -2)
    elif layout == "nhwc" and a.ndim == 4:
        a = a.transpose(3, 2, 0, 1) if like == "filter" else a.transpose(0, 3, 1, 2)
    elif layout == "nhwc" and a.ndim == 3 and like != "filter":
        a = a.transpose(2, 0, 1)
    # an operand built in code is exact (a literal's decimals are its value); a claimed value written with
    # decimals in code (an expected array a test compares with allclose) is a rounding, as it is in prose
    decimals = np.vectorize(_written_decimals, otypes=[int])(a) if claimed and a.size else \
        np.full(a.shape, -1, dtype=int)
    return Value(np.ascontiguousarray(a), decimals)
