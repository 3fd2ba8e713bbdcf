"""The importer's parts and its refusals: numbers, LaTeX, printed arrays, labels, conventions; malformed,
ambiguous and oversized documents -> one UserError naming the quantity and the line."""

from __future__ import annotations

import time
from decimal import Decimal
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import UserError
from harness.importer import MAX_BYTES, read_document
from harness.importer.conventions import classify_loss_formula, from_text
from harness.importer.labels import latex_label, prose_label
from harness.importer.latex import parse_math
from harness.importer.numbers import parse_number
from harness.importer.plaintext import scan
from harness.importer.textmath import parse_block

from conftest import exact

SEEDISH = """# t
$$X = \\begin{bmatrix} 1 & 2 & 1 \\\\ 0 & 1 & 2 \\\\ 2 & 1 & 0 \\end{bmatrix}$$

$$W = \\begin{bmatrix} 0.5 & 0.2 \\\\ 0.3 & 0.7 \\end{bmatrix}$$

$$Y = \\begin{bmatrix} 1 & 2 \\\\ 2 & 1 \\end{bmatrix}$$

$$\\hat{Y} = \\begin{bmatrix} 1.6 & 2.9 \\\\ 1.5 & 1.2 \\end{bmatrix}$$
"""


def doc(tmp_path, text: str, name: str = "d.md"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def refused(tmp_path, text: str, *needles: str, name: str = "d.md") -> str:
    with pytest.raises(UserError) as info:
        read_document(doc(tmp_path, text, name))
    msg = str(info.value)
    for n in needles:
        assert n in msg, f"observed {msg!r}, expected it to mention {n!r}"
    assert "\n" not in msg, f"observed a multi-line message {msg!r}"
    return msg


# --- numbers -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value, decimals", [
    ("0.365", F("0.365"), 3), ("-0.5", F(-1, 2), 1), ("\u22120.5", F(-1, 2), 1), ("2", F(2), -1),
    ("2.", F(2), 0), (".5", F(1, 2), 1), ("1.5e-3", F(3, 2000), 4), ("-5.55e-17", F("-5.55e-17"), 19),
    ("1.46/4", F("0.365"), -1), ("1.2*10^-3", F("0.0012"), 4),
], ids=lambda v: str(v))
def test_parse_number(text, value, decimals):
    assert parse_number(text) == (value, decimals), f"observed {parse_number(text)}, expected {(value, decimals)}"


@pytest.mark.parametrize("text", ["0.5 - 0.1", "1,5", "--1", "x", "", "1/0", "0.5(0.3)", "1e99999"])
def test_not_a_number(text):
    assert parse_number(text) is None, f"observed {parse_number(text)} for {text!r}, expected None"


@settings(max_examples=40, deadline=None)
@given(st.decimals(min_value=-1000, max_value=1000, places=4, allow_nan=False, allow_infinity=False))
def test_parse_number_is_exact(d: Decimal):
    text = format(d, "f")
    value, decimals = parse_number(text)
    assert value == F(d), f"observed {value}, expected {F(d)} for {text!r}"
    assert decimals == (len(text.split(".")[1]) if "." in text else -1)


# --- LaTeX ------------------------------------------------------------------------------------------

def final(latex: str):
    eqs = parse_math(latex, lambda offset: 1)
    assert len(eqs) == 1, f"observed {len(eqs)} equations in {latex!r}"
    return eqs[0]


@pytest.mark.parametrize("env", ["bmatrix", "pmatrix", "vmatrix", "Bmatrix", "matrix"])
def test_matrix_environments(env):
    eq = final(f"W = \\begin{{{env}}} 1 & -2 \\\\ 0.5 & \u22123 \\end{{{env}}}")
    assert np.array_equal(eq.final.array, exact([[1, -2], ["0.5", -3]]))


def test_array_with_column_spec_and_delimiters():
    eq = final(r"W = \left[\begin{array}{cc} 1 & 2 \\ 3 & 4 \\ \end{array}\right]")
    assert np.array_equal(eq.final.array, exact([[1, 2], [3, 4]]))


@pytest.mark.parametrize("latex, value", [
    (r"L = \frac{1}{4}[0.36 + 0.81] = \frac{1.46}{4} = 0.365", F("0.365")),
    (r"L = \frac{73}{200}", F(73, 200)),
    (r"L \approx 0.37", F("0.37")),
    (r"L = -\frac{1}{4}", F(-1, 4)),
    (r"L = \boxed{0.5}", F(1, 2)),
    (r"L = 5.55 \times 10^{-17}", F("5.55e-17")),
], ids=["last-value", "fraction", "approx", "negative-fraction", "boxed", "times-ten"])
def test_final_values(latex, value):
    assert final(latex).final.array[()] == value


@pytest.mark.parametrize("latex", [
    r"\frac{\partial L}{\partial W} = \frac{2}{4} \sum (Y - \hat{Y}) \times \text{region}",
    r"W' = W - \eta \cdot \frac{\partial L}{\partial W}",
    r"W' = \begin{bmatrix} 0.5 - 0.1(0.3) & 0.2 \end{bmatrix}",
    r"L = 0.1 \begin{bmatrix} 1 & 2 \end{bmatrix}",
], ids=["formula", "update-rule", "matrix-of-formulas", "scalar-times-matrix"])
def test_formulas_are_not_values(latex):
    assert final(latex).final is None, f"observed a value in {latex!r}"


def test_exact_value_before_its_rounding_wins():
    eq = final(r"X = \begin{bmatrix} \frac{1}{3} & -\frac{2}{7} \end{bmatrix} \approx "
               r"\begin{bmatrix} 0.333333 & -0.285714 \end{bmatrix}")
    assert eq.final.array.tolist() == [[F(1, 3), F(-2, 7)]] and eq.final.decimals.tolist() == [[-1, -1]]
    assert eq.final.relation == "="
    alone = final(r"L \approx 0.33")
    assert alone.final.array[()] == F("0.33") and alone.final.relation == "≈"


def test_aligned_continuation_rows_and_separate_equations():
    eqs = parse_math(r"\begin{aligned} W' &= \begin{bmatrix} 1 - 0.1 & 2 \end{bmatrix} \\ &= \begin{bmatrix}"
                     r" 0.9 & 2 \end{bmatrix} \\ b' &= 0.5 \end{aligned}", lambda o: 1)
    assert [e.lhs.latex for e in eqs] == ["W'", "b'"], f"observed {[e.lhs.latex for e in eqs]}"
    assert np.array_equal(eqs[0].final.array, exact([["0.9", 2]])) and eqs[1].final.array[()] == F("0.5")


def test_quad_separated_equations():
    eqs = parse_math(r"X = \begin{bmatrix} 1 \end{bmatrix}, \quad \eta = 0.1, \qquad b = -1", lambda o: 1)
    assert [(e.lhs.latex, e.final.array.tolist()) for e in eqs] == [
        ("X", [[F(1)]]), (r"\eta", F(1, 10)), ("b", F(-1))]


# --- labels --------------------------------------------------------------------------------------

@pytest.mark.parametrize("latex, quantity, index", [
    ("I", "input", None), ("x", "input", None), ("K", "filter", None), ("F", "filter", None),
    ("T", "target", None), (r"\hat{y}", "output", None), ("O", "output", None), ("Z", "output", None),
    (r"\mathcal{L}", "loss", None), ("J", "loss", None), (r"\alpha", "learning_rate", None),
    ("lr", "learning_rate", None), (r"\frac{\partial L}{\partial W_{0,1}}", "grad_filter", (0, 1)),
    (r"\nabla_W L", "grad_filter", None), ("dL/dW", "grad_filter", None), ("∂L/∂W₀₀", None, None),
    (r"\frac{\partial L}{\partial X}", "grad_input", None), (r"\frac{\partial L}{\partial \hat{Y}}", "grad_output", None),
    ("W'", "updated_filter", None), ("W_{new}", "updated_filter", None), ("K_{new}", "updated_filter", None),
    ("W^{(1)}", "updated_filter", None), ("W^{+}", "updated_filter", None), (r"\hat{Y}_{1,0}", "output", (1, 0)),
    ("X_{pad}", "skip", None), ("W^*", "skip", None), (r"\frac{\partial \hat{Y}}{\partial W}", None, None),
], ids=lambda v: str(v))
def test_latex_labels(latex, quantity, index):
    if latex == "∂L/∂W₀₀":   # Unicode text is read through textmath.to_latexish
        from harness.importer.textmath import to_latexish
        latex, quantity, index = to_latexish(latex), "grad_filter", (0, 0)
    label = latex_label(latex)
    observed = None if label is None else (label.quantity, label.index)
    expected = None if quantity is None else (quantity, index)
    assert observed == expected, f"observed {observed}, expected {expected} for {latex!r}"


@pytest.mark.parametrize("text, quantity", [
    ("Input volume:", "input"), ("Initial Random Filter (2×2)", "filter"), ("Target Output (2×2)", "target"),
    ("Computed Feature Map", "output"), ("The output right now is:", "output"), ("Updated Filter:", "updated_filter"),
    ("the new filter is", "updated_filter"), ("Use error as kernel to compute gradients:", "grad_filter"),
    ("Gradient of the loss with respect to the input:", "grad_input"), ("upstream gradient:", "grad_output"),
    ("Output after ReLU:", "activation"), ("Desired filter:", "skip"), ("Weights after 50 epochs:", "skip"),
    ("For comparison, the padded output is:", "skip"), ("Flipped kernel:", "skip"), ("Error:", "error"),
    ("Slide it over the image. The output right now is:", "output"), ("nothing to see here", None),
], ids=lambda v: str(v))
def test_prose_labels(text, quantity):
    label = prose_label(text)
    assert (label and label.quantity) == quantity, f"observed {label}, expected {quantity} for {text!r}"


# --- conventions -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("latex, expected", [
    (r"\frac{1}{4} \sum (Y - \hat{Y})^2", ("frac", 4)), (r"\frac{1}{n}\sum_{ij}(\hat y - y)^2", "mean"),
    (r"\frac{1}{2}\sum (T - O)^2", ("frac", 2)), (r"\sum (Y - \hat{Y})^2", "sum"),
    (r"\frac{1}{2n}\sum(\hat{Y} - Y)^2", "half_mean"), (r"1/(2 \cdot 4) \sum (\hat{Y} - Y)^2", ("frac", 8)),
    (r"\sum_{i,j} O_{ij}", "linear_ones"), (r"\sum G \odot \hat{Y}", "linear"), (r"\frac{3}{7}\sum(Y-O)^2", None),
    (r"\frac{1}{4}[0.36 + 0.81]", None),
], ids=lambda v: str(v))
def test_loss_formulas(latex, expected):
    assert classify_loss_formula(latex) == expected


@pytest.mark.parametrize("text, code, name, value", [
    ("We will use Mean Squared Error (MSE) loss.", False, "loss", "mean"),
    ("the loss is the sum of squared errors", False, "loss", "sum"),
    ("loss = ((out - y)**2).sum()", True, "loss", "sum"),
    ("loss = 0.5 * ((out - y) ** 2).sum()", True, "loss", "half_sum"),
    ("loss = F.mse_loss(out, y)", True, "loss", "mean"),
    ("loss = out.sum()", True, "loss", "linear_ones"),
    ("First flip the kernel by 180 degrees.", False, "operation", "convolution"),
    ("We use true convolution here.", False, "operation", "convolution"),
    ("Frameworks compute cross-correlation: no flip.", False, "operation", "cross_correlation"),
    ("out = scipy.signal.convolve2d(x, w, mode='valid')", True, "operation", "convolution"),
    ("We apply a ReLU after the convolution.", False, "activation", "relu"),
    ("There is no activation function.", False, "activation", "none"),
    ("error = target - output", False, "error", "target_minus_output"),
    ("w = w - dw", True, "learning_rate", F(1)),
], ids=lambda v: str(v))
def test_convention_words_and_code(text, code, name, value):
    hits = [(h.name, h.value) for h in from_text(text, 7, code=code)]
    assert (name, value) in hits, f"observed {hits}, expected {(name, value)}"


@pytest.mark.parametrize("text", [
    "To get dL/dX, convolve the padded gradient with the kernel rotated by 180 degrees.",
    "Unlike true convolution, we don't flip the kernel.",
    "In practice you would normally put a ReLU here, but we skip it.",
], ids=["backward-flip", "negated-flip", "hedged-relu"])
def test_mentions_that_are_not_conventions(text):
    hits = [(h.name, h.value) for h in from_text(text, 1)]
    assert ("operation", "convolution") not in hits and ("activation", "relu") not in hits, f"observed {hits}"


# --- plain-text arrays ---------------------------------------------------------------------------------

def test_numpy_torch_python_printouts():
    text = ("x = [[1, 2], [3, 4]]\n"
            "dW = array([[ 0.3 , -0.35],\n       [ 1.  ,  2.  ]], dtype=float32)\n"
            "w.grad: tensor([[1.3000, 1.0000],\n        [0.0500, 0.9500]])\n"
            "noise: [[ 1.00000000e+00 -5.55111512e-17]]\n"
            "f64: [0.30000000000000004, 1.5]\n")
    found = {f.name: f for f in scan(text, 10)}
    assert np.array_equal(found["x"].value.array, exact([[1, 2], [3, 4]])) and found["x"].line == 10
    assert np.array_equal(found["dW"].value.array, exact([["0.3", "-0.35"], [1, 2]])) and found["dW"].line == 11
    assert found["dW"].value.decimals.tolist() == [[2, 2], [2, 2]], "one precision for a NumPy printout"
    assert found["w.grad"].value.decimals.tolist() == [[4, 4], [4, 4]]
    noise = found["noise"].value
    assert noise.array.tolist() == [[F(1), F(0)]] and noise.decimals.tolist() == [[8, 8]], \
        f"observed {noise.array.tolist()} {noise.decimals.tolist()}: float noise reads as 0"
    assert found["f64"].value.array.tolist() == [F(3, 10), F(3, 2)]


def test_text_matrices_rows_on_lines():
    text = ("        [ 1  2  1 ]\n"
            "    I = [ 0  1  2 ]\n"
            "        [ 2  1  0 ]\n"
            "    ∂L/∂W₀₁ = 0.3 · 2 + 0.45 · 1 = 1.05\n"
            "    W′ = [ 0.5 − 0.1 · 1.3 ] = [ 0.37 ]\n")
    eqs, masked = parse_block(text, 20)
    got = [(e.line, latex_label(e.lhs.latex).quantity, e.final.array.tolist()) for e in eqs]
    assert got == [(21, "input", [[F(1), F(2), F(1)], [F(0), F(1), F(2)], [F(2), F(1), F(0)]]),
                   (23, "grad_filter", F("1.05")), (24, "updated_filter", [[F("0.37")]])], f"observed {got}"
    assert not masked.strip(), "what was read is blanked for the array scanner"


# --- whole documents: what is refused, and where ----------------------------------------------------------

def test_missing_filter(tmp_path):
    refused(tmp_path, "$$X = \\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}$$\n", "missing the filter")


def test_missing_target_and_upstream_checks_the_forward(tmp_path):
    """No target and no upstream gradient: the output is still checked (1.6 = 0.5·1 + 0.2·2 + 0.3·0 + 0.7·1,
    by hand); the loss claimed after it is listed as not checkable, not dropped and not refused."""
    from harness.verify import verify
    text = SEEDISH.replace("$$Y = \\begin{bmatrix} 1 & 2 \\\\ 2 & 1 \\end{bmatrix}$$", "") + "\n$$L = 0.365$$\n"
    d = read_document(doc(tmp_path, text))
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("output", "ok")]
    assert len(v.unchecked) == 1 and "the loss" in v.unchecked[0] and "no target" in v.unchecked[0]


def test_missing_target_and_nothing_checkable(tmp_path):
    text = SEEDISH.replace("$$Y = \\begin{bmatrix} 1 & 2 \\\\ 2 & 1 \\end{bmatrix}$$", "")
    text = text.split("$$\\hat{Y}")[0] + "$$L = 0.365$$\n"
    refused(tmp_path, text, "nothing checkable", "the loss")


def test_nothing_claimed(tmp_path):
    text = SEEDISH.split("$$\\hat{Y}")[0]
    refused(tmp_path, text, "no claimed values")


def test_conflicting_values_name_both_lines(tmp_path):
    text = SEEDISH + "\n$$L = 0.365$$\n\nsome words\n\n$$L = 0.5$$\n"
    refused(tmp_path, text, "two different values for the loss: 0.365 (line 10) and 0.5 (line 14)")


def test_conflicting_inputs_the_arithmetic_decides(tmp_path):
    """A second, different filter is not fatal: the one under which the claimed output checks (line 4:
    corr(X, W) = [[1.6, 2.9], [1.5, 1.2]] by hand) is used, and the other is listed as skipped with its line."""
    text = SEEDISH + "\n$$W = \\begin{bmatrix} 9 & 9 \\\\ 9 & 9 \\end{bmatrix}$$\n"
    d = read_document(doc(tmp_path, text))
    assert d.problem.w.reshape(-1).tolist() == [F("0.5"), F("0.2"), F("0.3"), F("0.7")]
    assert any("line 10" in s and "not used" in s for s in d.skipped), d.skipped


def test_repeated_and_rounded_restatements_are_fine(tmp_path):
    text = SEEDISH + "\n$$L = 0.365$$\n\nFinal loss: 0.37\n\n$$L = 0.365$$\n"
    d = read_document(doc(tmp_path, text))
    assert d.iterations[0]["loss"].value[()] == F("0.365") and int(d.iterations[0]["loss"].decimals) == 3


def test_wrong_shape_names_the_line(tmp_path):
    text = SEEDISH + "\n$$\\frac{\\partial L}{\\partial W} = \\begin{bmatrix} 1 & 2 & 3 \\end{bmatrix}$$\n"
    refused(tmp_path, text, "line 10", "shape [1, 3]", "[2, 2]")


def test_index_outside_the_filter(tmp_path):
    text = SEEDISH + "\n$$\\frac{\\partial L}{\\partial W_{05}} = 0.3$$\n"
    refused(tmp_path, text, "line 10", "outside the gradient")


def test_target_of_the_wrong_shape(tmp_path):
    text = SEEDISH.replace("Y = \\begin{bmatrix} 1 & 2 \\\\ 2 & 1", "Y = \\begin{bmatrix} 1 & 2 & 3 \\\\ 2 & 1 & 0")
    refused(tmp_path, text, "line 6", "target has shape [2, 3]")


@pytest.mark.parametrize("content, needle", [
    (b"\xff\xfe\x00garbage", "UTF-8"),
    (b"abc\x00def", "NUL"),
], ids=["not-utf8", "binary"])
def test_unreadable_files(tmp_path, content, needle):
    p = tmp_path / "bad.md"
    p.write_bytes(content)
    with pytest.raises(UserError, match=needle):
        read_document(p)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="cannot read"):
        read_document(tmp_path / "nope.md")


def test_oversized_file_is_refused_without_reading(tmp_path):
    p = tmp_path / "big.md"
    with p.open("wb") as f:
        f.seek(50_000_000)
        f.write(b"x")
    t = time.perf_counter()
    with pytest.raises(UserError, match=f"over the limit of {MAX_BYTES}"):
        read_document(p)
    assert time.perf_counter() - t < 1


@pytest.mark.parametrize("text, name", [
    ("$$" + "{" * 50_000 + "$$", "d.md"),
    ("\\begin{equation}" * 3000 + "x" + "\\end{equation}" * 3000, "d.tex"),
    ("x = " + "[" * 200_000, "d.md"),
    ("$$" + "a = " * 50_000 + "$$", "d.md"),
    ("$a$ " * 60_000, "d.md"),
], ids=["deep-braces", "deep-environments", "brackets", "long-equation", "many-formulas"])
def test_hostile_documents_end_quickly(tmp_path, text, name):
    t = time.perf_counter()
    with pytest.raises(UserError):
        read_document(doc(tmp_path, text, name))
    elapsed = time.perf_counter() - t
    assert elapsed < 15, f"observed {elapsed:.1f} s, expected a few seconds ({name})"


# --- other front ends -----------------------------------------------------------------------------------

def test_latex_file(tmp_path):
    tex = ("\\documentclass{article}\\begin{document}\n"
           "\\section{Data} Input $X = \\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}$ and\n"
           "\\[ K = \\begin{pmatrix} 2 \\end{pmatrix}, \\quad T = \\begin{pmatrix} 1 & 1 \\\\ 1 & 1 \\end{pmatrix} \\]\n"
           "We minimise the sum of squared errors.\n"
           "\\begin{align}\n  O &= \\begin{pmatrix} 2 & 0 \\\\ 0 & 2 \\end{pmatrix} \\\\\n  E &= 2\n\\end{align}\n"
           "\\end{document}\n")
    d = read_document(doc(tmp_path, tex, "d.tex"))
    assert d.problem.loss == "sum" and d.conventions["loss"].detail.startswith("line 4:")
    c = d.iterations[0]
    assert np.array_equal(c["output"].value, exact([[2, 0], [0, 2]])) and c["output"].where == "line 6"
    assert c["loss"].value[()] == 2 and c["loss"].where == "line 7"


def test_one_based_element_indices(tmp_path):
    text = SEEDISH + "".join(f"\n$$\\frac{{\\partial L}}{{\\partial W_{{{i}{j}}}}} = {v}$$\n"
                             for (i, j), v in zip([(1, 1), (1, 2), (2, 1), (2, 2)], ["1.3", "1", "0.05", "0.95"]))
    d = read_document(doc(tmp_path, text))
    assert np.array_equal(d.iterations[0]["grad_filter"].value, exact([["1.3", 1], ["0.05", "0.95"]]))
    assert d.conventions["indexing"].detail.startswith("1-based") and any("1-based" in n for n in d.notes)


def test_partial_element_claims_leave_none(tmp_path):
    text = SEEDISH + "\n$$\\frac{\\partial L}{\\partial W_{01}} = 1$$\n"
    v = read_document(doc(tmp_path, text)).iterations[0]["grad_filter"].value
    assert v.tolist() == [[None, F(1)], [None, None]], f"observed {v.tolist()}"


# --- matrices that cannot be read: one line naming the line, the label and what is wrong -----------------
# Each document below reads as written (test_the_unbroken_documents_read); each case breaks one matrix, and
# the message must say so instead of "missing the filter". The expected lines and positions are counted by
# hand in the documents.

LATEX_DOC = SEEDISH   # X line 2, W line 4, Y line 6, Ŷ line 8
LATEX_UPSTREAM = """# t
$$X = \\begin{bmatrix} 1 & 2 & 1 \\\\ 0 & 1 & 2 \\\\ 2 & 1 & 0 \\end{bmatrix}$$

$$W = \\begin{bmatrix} 0.5 & 0.2 \\\\ 0.3 & 0.7 \\end{bmatrix}$$

$$\\delta = \\begin{bmatrix} 1 & -1 \\\\ 2 & 0 \\end{bmatrix}$$

$$\\frac{\\partial L}{\\partial W} = \\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}$$
"""
LATEX_UPDATE = SEEDISH + """
$$\\eta = 0.1$$

$$W' = \\begin{bmatrix} 0.37 & 0.1 \\\\ 0.295 & 0.605 \\end{bmatrix}$$
"""   # η line 10, W' line 12
TEXT_DOC = """# t

        [ 1  2  1 ]
    I = [ 0  1  2 ]
        [ 2  1  0 ]

    W = [ 0.5  0.2 ]
        [ 0.3  0.7 ]

    Y = [ 1  2 ]
        [ 2  1 ]

    Ŷ = [ 1.6  2.9 ]
        [ 1.5  1.2 ]
"""   # I line 4, W line 7, Y line 10, Ŷ line 13 (the lines with "=")
LIST_DOC = """# t

```python
x = [[1, 2, 1], [0, 1, 2], [2, 1, 0]]
w = [[0.5, 0.2], [0.3, 0.7]]
y = [[1, 2], [2, 1]]
out = [[1.6, 2.9], [1.5, 1.2]]
```
"""   # x line 4, w line 5, y line 6, out line 7
NUMPY_DOC = """# t

```
>>> x
array([[1, 2, 1],
       [0, 1, 2],
       [2, 1, 0]])
>>> w
array([[0.5, 0.2],
       [0.3, 0.7]])
>>> y
array([[1, 2],
       [2, 1]])
>>> out
array([[1.6, 2.9],
       [1.5, 1.2]])
```
"""   # x line 5, w line 9, y line 12, out line 15
PRINT_DOC = """# t

Input:

```
[[1 2 1]
 [0 1 2]
 [2 1 0]]
```

Filter:

```
[[0.5 0.2]
 [0.3 0.7]]
```

Target:

```
[[1 2]
 [2 1]]
```

Output: [[1.6, 2.9], [1.5, 1.2]]
"""   # the filter's printout line 14
DOCS = {"latex": LATEX_DOC, "latex-upstream": LATEX_UPSTREAM, "latex-update": LATEX_UPDATE, "text": TEXT_DOC,
        "list": LIST_DOC, "numpy": NUMPY_DOC, "print": PRINT_DOC}

FILTER = "the matrix labelled W (the filter) could not be read: "
BAD_MATRICES = [
    # (id, document, text replaced, replacement, the message after the file name)
    ("latex-entry", "latex", "0.5 & 0.2", "0.5 & 0.2q",
     "line 4: " + FILTER + "entry '0.2q' (row 1, column 2) is not a number"),
    ("latex-ragged", "latex", "0.3 & 0.7", "0.3",
     "line 4: " + FILTER + "rows have different lengths (row 1 has 2 entries, row 2 has 1)"),
    ("latex-decimal-comma", "latex", "0.3 & 0.7", "0.3 & 0,7",
     "line 4: " + FILTER + "entry '0,7' (row 2, column 2) is not a number (a decimal comma? write 0.7)"),
    ("latex-vulgar-fraction", "latex", "0.5 & 0.2", "½ & 0.2",
     "line 4: " + FILTER + "entry '½' (row 1, column 1) is not a number"),
    ("latex-empty-entry", "latex", "0.5 & 0.2", "0.5 & ",
     "line 4: " + FILTER + "the entry at row 1, column 2 is empty"),
    ("latex-infinity", "latex", "0.5 & 0.2", r"\infty & 0.2",
     "line 4: " + FILTER + r"entry '\infty' (row 1, column 1) is not a finite number"),
    ("latex-symbol", "latex", "0.5 & 0.2", "w_{11} & 0.2",
     "line 4: " + FILTER + "entry 'w_{11}' (row 1, column 1) is not a number"),
    ("latex-input", "latex", "2 & 1 & 0", "2 & 1 & 0 & 5",
     "line 2: the matrix labelled X (the input) could not be read: rows have different lengths (row 1 has 3 "
     "entries, row 3 has 4)"),
    ("latex-target", "latex", r"Y = \begin{bmatrix} 1 & 2", r"Y = \begin{bmatrix} 1 & 2.0.1",
     "line 6: the matrix labelled Y (the target) could not be read: entry '2.0.1' (row 1, column 2) is not a "
     "number"),
    ("latex-upstream", "latex-upstream", "1 & -1", "1 & --1",
     r"line 6: the matrix labelled \delta (the upstream gradient ∂L/∂Ŷ) could not be read: entry '--1' (row 1, "
     "column 2) is not a number"),
    ("latex-learning-rate", "latex-update", r"\eta = 0.1", r"\eta = 0.1q",
     r"line 10: the value labelled \eta (the learning rate) could not be read: '0.1q' is not a number"),
    ("latex-only-claim", "latex", "1.6 & 2.9", "1.6 & 2,9",
     r"line 8: the matrix labelled \hat{Y} (the output) could not be read: entry '2,9' (row 1, column 2) is not "
     "a number (a decimal comma? write 2.9)"),
    ("text-entry", "text", "[ 0.3  0.7 ]", "[ 0.3  ½   ]",
     "line 7: " + FILTER + "entry '½' (row 2, column 2) is not a number"),
    ("text-ragged", "text", "[ 0.3  0.7 ]", "[ 0.3      ]",
     "line 7: " + FILTER + "rows have different lengths (row 1 has 2 entries, row 2 has 1)"),
    ("text-decimal-comma", "text", "[ 0.5  0.2 ]", "[ 0,5  0.2 ]",
     "line 7: " + FILTER + "entry '0,5' (row 1, column 1) is not a number (a decimal comma? write 0.5)"),
    ("text-target", "text", "[ 2  1 ]", "[ 2  1x]",
     "line 10: the matrix labelled Y (the target) could not be read: entry '1x' (row 2, column 2) is not a "
     "number"),
    ("list-entry", "list", "[[0.5, 0.2]", "[[0.5, 0.2q]",
     "line 5: the matrix labelled w (the filter) could not be read: entry '0.2q' (row 1, column 2) is not a "
     "number"),
    ("list-ragged", "list", "[0.3, 0.7]]", "[0.3]]",
     "line 5: the matrix labelled w (the filter) could not be read: rows have different lengths (row 1 has 2 "
     "entries, row 2 has 1)"),
    ("list-unclosed", "list", "[0.3, 0.7]]", "[0.3, 0.7]",
     "line 5: the matrix labelled w (the filter) could not be read: a '[' is never closed"),
    ("list-nested", "list", "[[0.5, 0.2], [0.3, 0.7]]", "[[0.5, 0.2], [0.3, [0.7]]]",
     "line 5: the matrix labelled w (the filter) could not be read: it mixes numbers and lists at one level"),
    ("list-input", "list", "[2, 1, 0]]", "[2, 1, 0, nan]]",
     "line 4: the matrix labelled x (the input) could not be read: entry 'nan' (row 3, column 4) is not a "
     "finite number"),
    ("numpy-ragged", "numpy", "[0.3, 0.7]]", "[0.3]]",
     "line 9: the matrix labelled w (the filter) could not be read: rows have different lengths (row 1 has 2 "
     "entries, row 2 has 1)"),
    ("numpy-past-float64", "numpy", "[0.3, 0.7]]", "[0.3, 2e308]]",
     "line 9: the matrix labelled w (the filter) could not be read: entry '2e308' (row 2, column 2) is beyond "
     "the float64 range (|x| <= 1.8e308 expected)"),
    ("numpy-unclosed", "numpy", "[0.3, 0.7]])", "[0.3, 0.7])",
     "line 9: the matrix labelled w (the filter) could not be read: a '[' is never closed"),
    ("numpy-target", "numpy", "array([[1, 2],", "array([[[[[1, 2],",
     "line 12: the matrix labelled y (the target) could not be read: it is nested more than 4 levels deep"),
    ("print-entry", "print", "[[0.5 0.2]", "[[0.5 0.2.]",
     "line 14: the matrix labelled 'Filter:' (the filter) could not be read: entry '0.2.' (row 1, column 2) is "
     "not a number"),
    ("print-ragged", "print", " [0.3 0.7]]", " [0.3 0.7 0.1]]",
     "line 14: the matrix labelled 'Filter:' (the filter) could not be read: rows have different lengths (row 1 "
     "has 2 entries, row 2 has 3)"),
]


@pytest.mark.parametrize("name, text", DOCS.items(), ids=list(DOCS))
def test_the_unbroken_documents_read(tmp_path, name, text):
    d = read_document(doc(tmp_path, text))
    w = d.problem.layout.to_user("filter", d.problem.w)
    assert np.array_equal(w, exact([["0.5", "0.2"], ["0.3", "0.7"]])), f"observed filter {w.tolist()} ({name})"
    assert any(d.iterations[0].values()), f"observed no claims ({name})"


@pytest.mark.parametrize("name, base, old, new, expected", BAD_MATRICES, ids=[c[0] for c in BAD_MATRICES])
def test_a_matrix_that_cannot_be_read_is_named(tmp_path, name, base, old, new, expected):
    text = DOCS[base]
    assert text.count(old) == 1, f"the case {name} must change exactly one place, found {text.count(old)}"
    path = doc(tmp_path, text.replace(old, new))
    with pytest.raises(UserError) as info:
        read_document(path)
    observed = str(info.value)
    assert observed.startswith(f"{path}: ") and "\n" not in observed, f"observed {observed!r} ({name})"
    assert observed.removeprefix(f"{path}: ") == expected, f"observed {observed!r}, expected {expected!r} ({name})"


def test_an_unreadable_claim_is_listed_and_the_rest_is_checked(tmp_path):
    text = LATEX_UPDATE.replace("0.295 & 0.605", "0.295 & 0.605x")
    d = read_document(doc(tmp_path, text))
    assert set(d.iterations[0]) == {"output"}, f"observed claims {sorted(d.iterations[0])}, expected the output only"
    expected = ("line 12: W' = \\begin{bmatrix} 0.37 & 0.1 \\\\ 0.295 & 0.605x \\end{bmatrix} — the updated filter "
                "could not be read: entry '0.605x' (row 2, column 2) is not a number")
    assert list(d.skipped) == [expected], f"observed skipped {list(d.skipped)}, expected [{expected!r}]"


def test_an_unreadable_learning_rate_without_an_update_is_listed(tmp_path):
    d = read_document(doc(tmp_path, SEEDISH + "\n$$\\eta = 0.1q$$\n"))
    assert d.problem.lr is None, f"observed η = {d.problem.lr}, expected none"
    assert d.skipped == ("line 10: \\eta = 0.1q — the learning rate could not be read: '0.1q' is not a number",), \
        f"observed skipped {d.skipped}"


@pytest.mark.parametrize("text", [
    # a symbolic matrix, then the numbers
    SEEDISH.replace("$$W =", "$$W = \\begin{bmatrix} w_{11} & w_{12} \\\\ w_{21} & w_{22} \\end{bmatrix}$$\n\n$$W ="),
    # the update written as a matrix of formulas, then its value
    LATEX_UPDATE.replace("$$W' =", "$$W' = \\begin{bmatrix} 0.5 - 0.1(1.3) & 0.2 - 0.1(1) \\\\ 0.3 - 0.1(0.05) & "
                         "0.7 - 0.1(0.95) \\end{bmatrix}$$\n\n$$W' ="),
    # brackets in prose and code that are no arrays
    SEEDISH + "\nThe entries lie in [0, 1) and [2x] is a typo in [1] (see [2019 paper]).\n\n"
              "```python\nw = [[0.5, 0.2], [0.3, 0.7]]  # [0.5 x]\n```\n",
    # an array of the wrong kind is no input: a tuple list
    SEEDISH + "\n```\npairs = [(0, 1), (1, 0)]\n```\n",
], ids=["symbolic-then-numbers", "formulas-then-numbers", "brackets-in-prose", "list-of-tuples"])
def test_what_is_not_a_matrix_is_not_an_error(tmp_path, text):
    d = read_document(doc(tmp_path, text))
    assert np.array_equal(d.problem.layout.to_user("filter", d.problem.w), exact([["0.5", "0.2"], ["0.3", "0.7"]]))
    assert not [s for s in d.skipped if "could not be read" in s], f"observed skipped {d.skipped}"


def test_scan_names_the_array_it_could_not_read_and_not_its_rows():
    found = scan("w = [[0.5, 0.2q],\n     [0.3, 0.7]]\ny = [[1, 2]]\n", 1)
    got = [(f.name, f.line, f.value is None and f.unreadable) for f in found]
    assert got == [("w", 1, "entry '0.2q' (row 1, column 2) is not a number"), ("y", 3, False)], \
        f"observed {got}: the rows of w are not arrays of their own"


@pytest.mark.parametrize("text", [
    "Input:\n\n[[1 2 1]\n [0 1 2]\n [2 1 0]\n [1 1 1]]\n",          # a paragraph
    "Input:\n\n```\n[[1 2 1]\n [0 1 2]\n [2 1 0]\n [1 1 1]]\n```\n",   # a code block
], ids=["paragraph", "code"])
def test_numpy_printout_keeps_its_middle_rows(tmp_path, text):
    from harness.importer.collect import Reading, collect
    from harness.importer.markdown import segments
    read = [e for e in collect(segments(text)).events if isinstance(e, Reading) and e.label.quantity == "input"]
    assert [r.value.array.tolist() for r in read] == [exact([[1, 2, 1], [0, 1, 2], [2, 1, 0], [1, 1, 1]]).tolist()], \
        f"observed {[r.value.array.tolist() for r in read]}, expected the 4×3 printout"


@pytest.mark.parametrize("latex, reason", [
    (r"W = \begin{bmatrix} 1 & 2 \\ 3 \end{bmatrix}", "rows have different lengths (row 1 has 2 entries, row 2 has 1)"),
    (r"W = \begin{bmatrix} 1 & \frac{1}{0} \end{bmatrix}", r"entry '\frac{1}{0}' (row 1, column 2) divides by zero"),
    (r"W = \begin{bmatrix} 1 & 1e-99999 \end{bmatrix}", "entry '1e-99999' (row 1, column 2) is too small to be read "
                                                         "exactly"),
    (r"\eta = 0.1.", ""),                                   # a sentence's full stop: read as 0.1
    (r"L = \frac{1}{4}\sum (Y - \hat{Y})^2", ""),          # a formula: nothing to report
    (r"W = 0.1 \begin{bmatrix} 1q \end{bmatrix}", ""),     # a product: a formula too
], ids=["ragged", "division-by-zero", "too-small", "full-stop", "formula", "scaled-matrix"])
def test_equation_says_why_its_value_is_unreadable(latex, reason):
    assert final(latex).unreadable == reason, f"observed {final(latex).unreadable!r}, expected {reason!r}"


DECIMAL_COMMA_ETA = [
    ("latex", "$$W = \\begin{bmatrix} 0.5 & 0.2 \\\\ 0.3 & 0.7 \\end{bmatrix}$$\n\nWith $\\eta = 0,1$:\n",
     "the value labelled \\eta (the learning rate) could not be read: '0,1' is not a number (a decimal comma? write 0.1)"),
    ("text", "Filter W = [[0.5, 0.2], [0.3, 0.7]]\nlearning rate lr = 0,1\n",
     "the value labelled 'learning rate lr =' (the learning rate) could not be read: '0,1' is not a number "
     "(a decimal comma? write 0.1)"),
]


@pytest.mark.parametrize("style, middle, message", DECIMAL_COMMA_ETA, ids=[c[0] for c in DECIMAL_COMMA_ETA])
def test_a_decimal_comma_learning_rate_is_refused_not_read_as_zero(tmp_path, style, middle, message):
    """η = 0,1 was read as η = 0 (the comma taken as a separator): the update then looked wrong."""
    text = ("Input x = [[1, 2, 1], [0, 1, 2], [2, 1, 0]]\n" + middle + "Target Y = [[1, 2], [2, 1]]\n"
            "updated filter W' = [[0.37, 0.1], [0.295, 0.605]]\n")
    path = tmp_path / "eta.md"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        read_document(path)
    assert message in str(err.value), f"observed {err.value}, expected …{message} ({style})"


# --- plain-text labels: dL/d<name>, update chains, a loss divided at the end --------------------------------
# Expected values: the seed problem worked by hand with Fractions (Ŷ = x ⋆ W; ∂L/∂Ŷ = 2(Ŷ − Y)/4;
# ∂L/∂W = x ⋆ ∂L/∂Ŷ; W' = W − 0.1·∂L/∂W).

PLAIN = """Convolution exercise

Input x = [[1, 2, 1], [0, 1, 2], [2, 1, 0]]
Filter W = [[0.5, 0.2], [0.3, 0.7]]
Target Y = [[1, 2], [2, 1]]
MSE loss L = mean((Yhat - Y)^2)
learning rate lr = 0.1
Yhat = [[1.6, 2.9], [1.5, 1.2]]
{loss}
{grad} = [[0.3, 0.45], [-0.25, 0.1]]
dL/dW = [[1.3, 1.0], [0.05, 0.95]]
{update} = [[0.37, 0.1], [0.295, 0.605]]
"""
DL_DY = [["0.3", "0.45"], ["-0.25", "0.1"]]
DL_DW = [["1.3", "1"], ["0.05", "0.95"]]
W_NEW = [["0.37", "0.1"], ["0.295", "0.605"]]


def plain(tmp_path, ext: str, loss: str = "L = 0.365", grad: str = "dL/dYhat", update: str = "W_new"):
    return read_document(doc(tmp_path, PLAIN.format(loss=loss, grad=grad, update=update), name="d." + ext))


def claimed(d, quantity: str):
    c = d.iterations[0].get(quantity)
    assert c is not None, f"observed no {quantity} claim, expected one (claims {sorted(d.iterations[0])})"
    return c.value


GRAD_NAMES = ["dL/dYhat", "dL/dY_hat", "dL/dyhat", "dL/dYpred", "dL/dy_pred", "dL/dpred", "dL/dout",
              "dL/doutput", "dL/dA", "∂L/∂Ŷ", "dL/dŷ", "dL/dZ", "dL_dyhat", "So dL/dYhat ="]


@pytest.mark.parametrize("ext", ["txt", "md"])
@pytest.mark.parametrize("grad", GRAD_NAMES, ids=GRAD_NAMES)
def test_plain_text_gradient_of_the_output_is_not_the_filter_gradient(tmp_path, ext, grad):
    """dL/dYhat was read as ∂L/∂W (the default of a gradient phrase): 'two different values for ∂L/∂W'."""
    d = plain(tmp_path, ext, grad=grad.removesuffix(" ="))
    assert np.array_equal(claimed(d, "grad_output"), exact(DL_DY)), \
        f"observed ∂L/∂Ŷ {claimed(d, 'grad_output').tolist()}, expected {DL_DY} ({grad}, .{ext})"
    assert np.array_equal(claimed(d, "grad_filter"), exact(DL_DW)), \
        f"observed ∂L/∂W {claimed(d, 'grad_filter').tolist()}, expected {DL_DW} ({grad}, .{ext})"


@pytest.mark.parametrize("name, quantity", [
    ("W", "grad_filter"), ("w", "grad_filter"), ("K", "grad_filter"), ("F", "grad_filter"), ("filter", "grad_filter"),
    ("kernel", "grad_filter"), ("weights", "grad_filter"), ("x", "grad_input"), ("X", "grad_input"),
    ("I", "grad_input"), ("input", "grad_input"), ("b", "grad_bias"), ("bias", "grad_bias"), ("Yhat", "grad_output"),
    ("Y_hat", "grad_output"), ("y_pred", "grad_output"), ("Ypred", "grad_output"), ("pred", "grad_output"),
    ("out", "grad_output"), ("output", "grad_output"), ("A", "grad_output"), ("Ŷ", "grad_output"),
    ("Z", "grad_output"), ("foo", "skip"), ("lr", "skip"),
], ids=lambda v: str(v))
def test_dL_d_name_maps_by_the_name(name, quantity):
    for text in (f"dL/d{name} =", f"∂L/∂{name}:"):
        label = prose_label(text)
        assert label is not None and label.quantity == quantity, \
            f"observed {label and label.quantity}, expected {quantity} for {text!r}"
        assert label.pre_activation == (name == "Z"), f"observed pre_activation {label.pre_activation} for {text!r}"


@pytest.mark.parametrize("ext", ["txt", "md"])
def test_an_unknown_gradient_name_is_skipped_not_the_filter_gradient(tmp_path, ext):
    d = plain(tmp_path, ext, grad="dL/dfoo")
    assert "grad_output" not in d.iterations[0], f"observed claims {sorted(d.iterations[0])}"
    assert np.array_equal(claimed(d, "grad_filter"), exact(DL_DW)), f"observed {claimed(d, 'grad_filter').tolist()}"
    assert any("dL/dfoo" in s and "line 10" in s for s in d.skipped), f"observed skipped {d.skipped}"


UPDATES = ["W_new = W - lr * dL/dW", "W_new = W - lr * grad", "W' = W - 0.1 * dL/dW", "W' = W - η·∂L/∂W", "W'",
           "With lr = 0.1, the new filter W_new = W - lr * dL/dW"]


@pytest.mark.parametrize("ext", ["txt", "md"])
@pytest.mark.parametrize("update", UPDATES, ids=UPDATES)
def test_an_update_chain_is_labelled_by_its_leftmost_side(tmp_path, ext, update):
    """`W_new = W - lr * dL/dW = [[…]]` was read as the gradient (the name inside the formula)."""
    d = plain(tmp_path, ext, update=update)
    assert np.array_equal(claimed(d, "updated_filter"), exact(W_NEW)), \
        f"observed W' {claimed(d, 'updated_filter').tolist()}, expected {W_NEW} ({update}, .{ext})"
    assert np.array_equal(d.problem.layout.to_user("filter", d.problem.w), exact([["0.5", "0.2"], ["0.3", "0.7"]]))


def test_a_wrong_update_chain_is_a_wrong_update_not_a_second_gradient(tmp_path):
    # W − 0.2·∂L/∂W (a different learning rate): a claim of W' that verify can call wrong
    text = PLAIN.format(loss="L = 0.365", grad="dL/dYhat", update="W_new = W - lr * dL/dW").replace(
        "[[0.37, 0.1], [0.295, 0.605]]", "[[0.24, 0.0], [0.29, 0.51]]")
    d = read_document(doc(tmp_path, text, name="d.txt"))
    assert np.array_equal(claimed(d, "updated_filter"), exact([["0.24", "0"], ["0.29", "0.51"]]))
    assert np.array_equal(claimed(d, "grad_filter"), exact(DL_DW))


@pytest.mark.parametrize("formula, expected", [
    ("(1.5^2 + 0.5^2 + 2^2 + 1.5^2) / 4", ("frac", 4)), ("((1 - 1.6)^2 + (2 - 2.9)^2)/2", ("frac", 2)),
    ("(0.6^2 + 0.9^2) / 8", ("frac", 8)), ("[(0.6)^2 + (0.9)^2] / n", "mean"), ("(0.6^2 + 0.9^2) / (2n)", "half_mean"),
    ("(0.6² + 0.9²) / 4", ("frac", 4)), (r"\frac{(1-1.6)^2 + (2-2.9)^2}{4}", ("frac", 4)),
    (r"\sum (Y - \hat{Y})^2 / 4", ("frac", 4)), ("(0.6^2 + 0.9^2) * 0.25", None), ("3 (0.6^2 + 0.9^2)", None),
    ("(1 - 1.6)^2 + (2 - 2.9)^2", "sum"), ("1/4 * (0.36 + 0.81)", None),
], ids=lambda v: str(v))
def test_a_sum_of_squares_divided_at_the_end(formula, expected):
    from harness.importer.textmath import to_latexish
    assert classify_loss_formula(to_latexish(formula)) == expected, \
        f"observed {classify_loss_formula(to_latexish(formula))!r}, expected {expected!r} for {formula!r}"


@pytest.mark.parametrize("ext", ["txt", "md"])
@pytest.mark.parametrize("loss, convention", [
    ("L = ((1 - 1.6)^2 + (2 - 2.9)^2 + (2 - 1.5)^2 + (1 - 1.2)^2) / 4 = 0.365", "mean"),
    ("L = (0.6^2 + 0.9^2 + 0.5^2 + 0.2^2) / 4 = 0.365", "mean"),
    ("L = 1/4 * (0.36 + 0.81 + 0.25 + 0.04) = 0.365", "mean"),
    ("L = 1.46 / 4 = 0.365", "mean"),
    ("L = (0.6^2 + 0.9^2 + 0.5^2 + 0.2^2) * 0.25 = 0.365", "mean"),
], ids=["squares-over-n", "squares-over-n-2", "one-over-n-first", "total-over-n", "unread-factor"])
def test_a_loss_divided_at_the_end_is_the_mean(tmp_path, ext, loss, convention):
    """`L = (…)/4` was read as loss = sum, overriding the stated MSE: the correct L = 0.365 was called wrong."""
    d = plain(tmp_path, ext, loss=loss)
    assert d.problem.loss == convention, f"observed loss {d.problem.loss}, expected {convention} ({loss}, .{ext})"
    assert claimed(d, "loss")[()] == F("0.365"), f"observed L {claimed(d, 'loss')[()]}"


def test_a_formula_overriding_a_stated_convention_is_reported(tmp_path):
    d = plain(tmp_path, "txt", loss="L = (0.6^2 + 0.9^2 + 0.5^2 + 0.2^2) / 2 = 0.73")
    assert d.problem.loss == "half_sum", f"observed loss {d.problem.loss}, expected half_sum (from line 9)"
    assert any("line 6" in n and "'mean'" in n and "half_sum" in n for n in d.notes), f"observed notes {d.notes}"


TEXT_FORMS = [  # (id, line added to a plain-text seed, the claims' truth stays the seed's)
    ("fractions-in-lists", "dL/dW = [[13/10, 1], [1/20, 19/20]]", {"grad_filter": [["1.3", "1"], ["0.05", "0.95"]]}),
    ("sentence-final-stop", "The learning rate is 0.1.", {"learning_rate": "0.1"}),
    ("rate-without-verb", "One SGD step, learning rate 0.01.", {"learning_rate": "0.01"}),
]


@pytest.mark.parametrize("name, line, expected", TEXT_FORMS, ids=[c[0] for c in TEXT_FORMS])
def test_plain_text_forms_are_read(tmp_path, name, line, expected):
    """3/2 in a Python list was refused ("divides by zero"), a number ending a sentence was dropped, and
    "learning rate 0.01" (no '=' or verb) was not read, so η was inferred from the claimed update."""
    path = tmp_path / "d.txt"
    path.write_text("Input x = [[1, 2, 1], [0, 1, 2], [2, 1, 0]]\nFilter W = [[0.5, 0.2], [0.3, 0.7]]\n"
                    "Target Y = [[1, 2], [2, 1]]\nOutput Yhat = [[1.6, 2.9], [1.5, 1.2]]\n" + line + "\n")
    d = read_document(path)
    for q, value in expected.items():
        if q == "learning_rate":
            assert d.problem.lr == F(value), f"observed η {d.problem.lr}, expected {value} ({name})"
        else:
            claimed = d.iterations[0][q].value
            assert np.array_equal(claimed, exact(value)), f"observed {claimed.tolist()}, expected {value} ({name})"


def test_two_unlabelled_images_say_how_to_give_a_batch(tmp_path):
    """Two images without indices: the one the claimed output fits (image 1: a 1x1 filter [[1]] copies it) is
    used; the other is skipped with how to label a batch."""
    path = tmp_path / "two.txt"
    path.write_text("Image 1: [[1, 0], [0, 1]]\nImage 2: [[0, 1], [1, 0]]\nFilter W = [[1]]\n"
                    "Target Y = [[1, 0], [0, 1]]\nOutput: [[1, 0], [0, 1]]\n")
    d = read_document(path)
    assert d.problem.x.reshape(-1).tolist() == [1, 0, 0, 1]
    assert any("line 2" in s and "X_{0,1,:,:}" in s for s in d.skipped), \
        f"observed {d.skipped}, expected the second image skipped with how to label a batch"
