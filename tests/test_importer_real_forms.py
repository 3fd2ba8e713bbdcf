"""Forms taken from the real documents of the corpus (tests/corpus/SOURCES.md names each one): labels in other
languages, a symbol named by the prose, arrays written over several lines outside code, a list in math, matrices
written in symbols, several examples in one notebook, a tuple of gradients printed by index, TensorFlow's printout.
Expected values are transcribed from the documents by hand or computed by hand (in the comments)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from harness.errors import UserError
from harness.importer import read_document
from harness.verify import verify

CORPUS = Path(__file__).parent / "corpus" / "docs"


def doc(tmp_path: Path, text: str, name: str = "d.md") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def plain(a) -> list:
    return np.vectorize(float, otypes=[float])(np.asarray(a, dtype=object)).tolist()


# 512 (pullrequest.ru, a Russian machine translation): bare rows under "Введите:" (input) and "Ядро:" (kernel).
# X = [[1, 2, 0], [0, 1, 3], [2, 0, 1]], K = [[1, 0], [0, 2]] (cross-correlation):
# Ŷ = [[1+2, 2+6], [0+0, 1+2]] = [[3, 8], [0, 3]].
RUSSIAN = """Итак, вот мой образец:
Введите:
1 2 0
0 1 3
2 0 1
Ядро:
1 0
0 2
Выход:
3 8
0 {y11}
"""


@pytest.mark.parametrize("y11, status", [("3", "ok"), ("4", "wrong")], ids=["right", "wrong"])
def test_russian_labels_over_bare_rows(tmp_path, y11, status):
    d = read_document(doc(tmp_path, RUSSIAN.format(y11=y11), "d.txt"))
    assert plain(d.problem.x).__str__() == str([[[[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [2.0, 0.0, 1.0]]]]), \
        f"observed input {plain(d.problem.x)}"
    assert plain(d.problem.w) == [[[[1.0, 0.0], [0.0, 2.0]]]], f"observed filter {plain(d.problem.w)}"
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("output", status)], f"observed {v.steps}"


@pytest.mark.parametrize("words, role", [
    ("Entrada:", "input"), ("Núcleo:", "filter"), ("Salida:", "output"), ("输入：", "input"), ("卷积核为：", "filter"),
    ("输出特征图：", "output"), ("入力:", "input"), ("カーネル:", "filter"), ("출력:", "output"),
    ("Ядро:", "filter"), ("дельту ядра, результат будет:", "grad_filter"), ("偏置：", "bias"),
    ("卷积核的梯度：", "grad_filter"), ("предположим, дельта следующая:", "grad_output"),
], ids=lambda v: v if isinstance(v, str) and v.isascii() else None)
def test_role_words_in_other_languages(words, role):
    from harness.importer.labels import prose_label
    label = prose_label(words)
    assert label is not None and label.quantity == role, f"observed {label}, expected {role} ({words!r})"


def test_a_symbol_named_by_the_prose_takes_that_role(tmp_path):
    """201 (hui126/Deep_Learning_Coding, Chinese): "输入特征图$a$" makes `a` the input (the letter alone would be an
    activation), "卷积核$w$" the filter, and `b=[1, 2]` in inline math is the bias vector.
    a = [[1, 2], [3, 4]] (one channel), w = [[1, 1]] per output channel 0 and [[2, 0]] for channel 1:
    z0 = [[1+2], [3+4]] + 1 = [[4], [8]]; z1 = [[2], [6]] + 2 = [[4], [8]]."""
    text = ("假设输入特征图$a$维度为$(1,1,2,2)$，卷积核$w$的维度为$(2,1,1,2)$，\n\n"
            "$$a[0,0,:,:] = \\left[\\begin{matrix} 1 & 2 \\\\ 3 & 4 \\end{matrix}\\right]$$\n\n"
            "$$w[0,0,:,:] = \\left[\\begin{matrix} 1 & 1 \\end{matrix}\\right], "
            "w[1,0,:,:] = \\left[\\begin{matrix} 2 & 0 \\end{matrix}\\right]$$\n\n"
            "偏置系数为$b=[1, 2]$\n\n"
            "结果为：\n$$z[0,0,:,:] = \\left[\\begin{matrix} 4 \\\\ 8 \\end{matrix}\\right], "
            "z[0,1,:,:] = \\left[\\begin{matrix} 4 \\\\ 8 \\end{matrix}\\right]$$\n")
    d = read_document(doc(tmp_path, text))
    assert plain(d.problem.x) == [[[[1.0, 2.0], [3.0, 4.0]]]], f"observed input {plain(d.problem.x)}"
    assert plain(d.problem.b) == [1.0, 2.0], f"observed bias {d.problem.b}"
    assert d.problem.activation == "none", f"observed activation {d.problem.activation} (a is not an activation)"
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("output", "ok")], f"observed {v.steps}"


def test_an_array_over_several_lines_outside_code_with_comments(tmp_path):
    """507 (jishuzhan.net, Chinese blog): `X = [` / rows / `]` and `K = [[1, 0, -1],  # 垂直边缘检测` outside a code
    fence. X = [[1, 2], [3, 4], [5, 6]], K = [[1], [-1]]: Ŷ = [[1-3, 2-4], [3-5, 4-6]] = [[-2, -2], [-2, -2]]."""
    text = ("假设输入为单通道矩阵:\n\n复制代码\nX = [\n  [1, 2],\n  [3, 4],\n  [5, 6]\n]\n\n"
            "卷积核定义\n\n复制代码\nK = [[1],  # 垂直边缘检测\n     [-1]]\n\n"
            "Output: [[-2, -2], [-2, -2]]\n")
    d = read_document(doc(tmp_path, text))
    assert plain(d.problem.x) == [[[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]]], f"observed input {plain(d.problem.x)}"
    assert plain(d.problem.w) == [[[[1.0], [-1.0]]]], f"observed filter {plain(d.problem.w)}"
    assert [(s.step, s.status) for s in verify(d).steps] == [("output", "ok")]


def test_a_matrix_in_symbols_is_skipped_not_refused(tmp_path):
    """201 writes δ = [[δ₁₁, δ₁₂], …] in symbols next to its numbers: a formula, listed as skipped; the numeric
    claims are still checked. X = [[1, 2], [3, 4]], W = [[1]]: Ŷ = X."""
    text = ("$$X = \\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}$$\n\n$$W = \\begin{bmatrix} 1 \\end{bmatrix}$$\n\n"
            "$$\\delta = \\begin{bmatrix} \\delta_{11} & \\delta_{12} \\\\ \\delta_{21} & \\delta_{22} "
            "\\end{bmatrix}$$\n\n$$\\hat{Y} = \\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}$$\n")
    d = read_document(doc(tmp_path, text))
    assert any("written in symbols" in s for s in d.skipped), f"observed skipped {d.skipped}"
    assert [(s.step, s.status) for s in verify(d).steps] == [("output", "ok")]


def test_several_examples_disagreeing_values_are_decided_by_the_arithmetic():
    """309 (ngcthanh2903/pytorch grad_Torch_TF.ipynb): cells In [1]/[8]/[10] print ∂L/∂x = f for L = Σy, a last cell
    feeds y = −8 back as its own gradient ([[-8, 0, 8], …]). The value that checks is judged, the other is
    listed; grads[0]/grads[1] of torch.autograd.grad(L, [x, f]) and TensorFlow's `tf.Tensor(...)` are read."""
    d = read_document(CORPUS / "309_notebook_torch_tf_sobel_sum_grad.md")
    claims = d.iterations[0]
    assert plain(claims["grad_input"].value) == [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]
    assert plain(claims["grad_filter"].value) == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
    assert plain(claims["output"].value) == [[-8.0]], f"observed {claims['output'].value}"
    assert any("another value claimed" in s and "line 156" in s for s in d.skipped), f"observed {d.skipped}"


def test_one_example_with_two_values_for_one_step_is_still_a_contradiction(tmp_path):
    text = ("$$X = \\begin{bmatrix} 1 & 2 \\end{bmatrix}$$\n\n$$W = \\begin{bmatrix} 1 \\end{bmatrix}$$\n\n"
            "$$\\hat{Y} = \\begin{bmatrix} 1 & 2 \\end{bmatrix}$$\n\nlater\n\n"
            "$$\\hat{Y} = \\begin{bmatrix} 1 & 3 \\end{bmatrix}$$\n")
    with pytest.raises(UserError, match="two different values for the output"):
        read_document(doc(tmp_path, text))


def test_a_long_sentence_before_a_fill_word_ends_quickly(tmp_path):
    """The words-for-values pattern ("a 2x2 matrix filled with zeros") is tried only near the fill word."""
    text = "The target is " + "a " * 100_000 + "2x2 matrix filled with zeros\n"
    t = time.perf_counter()
    with pytest.raises(UserError):
        read_document(doc(tmp_path, text))
    assert time.perf_counter() - t < 15


UNLABELLED = """Here is my example.
Matriz de entrada A
1 2
3 4
Otra matriz M
1 0
0 1
Resultado
[[6]]
"""


def test_a_refusal_lists_the_unlabelled_matrices_and_a_line_names_one(tmp_path):
    """"Matriz de entrada" (Spanish) labels the input; M and the result carry no label a reader can know.
    A = [[1, 2], [3, 4]], M = [[1, 0], [0, 1]]: Ŷ = [[1·1 + 2·0 + 3·0 + 4·1]] = [[5]], and the result claims 6."""
    p = doc(tmp_path, UNLABELLED, "d.txt")
    with pytest.raises(UserError) as info:
        read_document(p)
    assert "matrices without a label at lines 6 (2×2), 9 (1×1): name one with --role 6=filter" in str(info.value), \
        f"observed {info.value}"
    from harness.derivation import Declared
    d = read_document(p, Declared(roles=(("6", "filter"), ("9", "output"))))
    assert plain(d.problem.w) == [[[[1.0, 0.0], [0.0, 1.0]]]], f"observed filter {plain(d.problem.w)}"
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("output", "wrong")], f"observed {v.steps}"


@pytest.mark.parametrize("y01, status", [("25", "ok"), ("26", "wrong")], ids=["right", "wrong"])
def test_entries_written_out_as_their_terms_are_claims_of_their_windows(tmp_path, y01, status):
    """204 (d2l-ko, conv-layer): "0×0+1×1+3×2+4×3=19, 1×0+2×1+4×2+5×3=25, …" under X = 0..8 (3×3), K = [[0, 1],
    [2, 3]], with no label: each sum's products are the (input, kernel) pairs of exactly one output window.
    By hand: Ŷ[0,0] = 0·0+1·1+3·2+4·3 = 19, Ŷ[0,1] = 1·0+2·1+4·2+5·3 = 25."""
    text = ("```python\nX = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])\n"
            "K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])\ncorr2d(X, K)\n```\n\n"
            "$$0\\times0+1\\times1+3\\times2+4\\times3=19,\\\\\n1\\times0+2\\times1+4\\times2+5\\times3=" + y01 + ".$$\n")
    d = read_document(doc(tmp_path, text))
    claim = d.iterations[0]["output"]
    assert plain(claim.value[0, :].tolist() if claim.value.ndim == 2 else claim.value[0, 0, 0]) == \
        [19.0, float(y01)], f"observed {claim.value}"
    assert [(s.step, s.status) for s in verify(d).steps] == [("output", status)]


def test_a_layer_moved_to_the_gpu_is_the_same_layer(tmp_path):
    """102 (Deformable-Convolution-V2-PyTorch issue #3): `cn=cn.cuda()` then `cn.weight.data[...]=1`. All-ones 4×4
    input, all-ones 3×3 kernel, padding 1, L = Σ out: ∂L/∂W[u,v] counts the outputs whose tap (u,v) lands on the
    input: corners 3·3 = 9, edges 3·4 = 12, centre 4·4 = 16."""
    text = ("    input = torch.ones([1,1,4,4],dtype=torch.float).cuda()\n"
            "    cn=nn.Conv2d(1,1,kernel_size=3,stride=(1, 1),padding=(1, 1),bias=False)\n"
            "    cn=cn.cuda()\n    cn.weight.data[...]=1\n    out=cn(input)\n    loss=out.sum()\n"
            "    loss.backward()\n    print(cn.weight.grad)\n\nand the output is:\n\n"
            "    tensor([[[[ 9., 12.,  9.],\n              [12., 16., 12.],\n              [ 9., 12.,  9.]]]])\n")
    d = read_document(doc(tmp_path, text))
    assert [(s.step, s.status) for s in verify(d).steps] == [("grad_filter", "ok")], f"observed {d.iterations}"
    assert not any("[...]" in s for s in d.skipped), f"observed skipped {d.skipped} (indexing is not a value)"


def test_an_element_placed_in_words_and_a_flip_said_of_the_backward_pass(tmp_path):
    """202 (purepisces/DeepLearningSystem hw4 notes): "The value at the top-left corner of the output feature map is
    $-6$" claims Ŷ[0,0] (0-based whatever the document's indices), and "W.flip in calculating X_grad" is the
    backward pass of a cross-correlation, not a convolution forward. X = 1..9 (3×3), W = [[1, 0], [0, -1]]:
    Ŷ[0,0] = 1·1 + 5·(−1) = −4 by hand."""
    text = ("$$X = \\begin{bmatrix} 1 & 2 & 3 \\\\ 4 & 5 & 6 \\\\ 7 & 8 & 9 \\end{bmatrix}$$\n\n"
            "$$W_{11} = 1$$\n\n$$W = \\begin{bmatrix} 1 & 0 \\\\ 0 & -1 \\end{bmatrix}$$\n\n"
            "The value at the top-left corner of the output feature map is $-4$.\n\n"
            "Explain why we use W.flip in calculating X_grad.\n")
    d = read_document(doc(tmp_path, text))
    assert d.problem.operation == "cross_correlation", f"observed {d.problem.operation}"
    claim = d.iterations[0]["output"]
    assert [[None if v is None else float(v) for v in row] for row in claim.value.tolist()] == \
        [[-4.0, None], [None, None]], f"observed {claim.value}"
    assert [(s.step, s.status) for s in verify(d).steps] == [("output", "ok")]


def test_a_helper_named_like_a_convolution_whose_body_is_not_followed(tmp_path):
    """205 (d2l-ja, channels): `def corr2d_multi_in(X, K): return sum(d2l.corr2d(x, k) for x, k in zip(X, K))` — a
    generator the reader does not follow; the helper's name says it is the convolution of its two operands.
    X: two 2×2 channels [[1, 2], [3, 4]] and [[0, 1], [1, 0]], K: two 1×1 taps 2 and 3:
    Ŷ = 2·X₀ + 3·X₁ = [[2, 7], [9, 8]]; the text writes Ŷ[0,0] = (1×2)+(0×3) = 2."""
    text = ("```python\ndef corr2d_multi_in(X, K):\n    return sum(d2l.corr2d(x, k) for x, k in zip(X, K))\n\n"
            "X = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]]])\n"
            "K = torch.tensor([[[2.0]], [[3.0]]])\ncorr2d_multi_in(X, K)\n```\n\n"
            "The first output element is $(1\\times2)+(0\\times3)=2$.\n")
    d = read_document(doc(tmp_path, text))
    assert d.problem.x.shape == (1, 2, 2, 2) and d.problem.w.shape == (1, 2, 1, 1), \
        f"observed input {d.problem.x.shape}, filter {d.problem.w.shape}"
    assert [(s.step, s.status) for s in verify(d).steps] == [("output", "ok")]


# 106 (discuss.pytorch.org): a REPL transcript with `>> ` prompts; `>> m.weight` then "Parameter containing:" and
# the tensor; the layer's output includes nn.Conv2d's default bias, never shown; the asker's own np.sum(w*x) of the
# top-left patch. Seed numbers here: X = [[1,2,1],[0,1,2],[2,1,0]], W = [[0.5,0.2],[0.3,0.7]]:
# the top-left window sums 1·0.5 + 2·0.2 + 0·0.3 + 1·0.7 = 1.6.
REPL = """Why does the layer not give my number?

```
{p} import torch, numpy as np
{p} m = torch.nn.Conv2d(1, 1, 2)
{p} x = torch.tensor([[[[1., 2., 1.], [0., 1., 2.], [2., 1., 0.]]]])
{p} m.weight
Parameter containing:
tensor([[[[0.5000, 0.2000],
          [0.3000, 0.7000]]]], requires_grad=True)
{p} m(x)
tensor([[[[1.7000, 3.0000],
          [1.6000, 1.3000]]]], grad_fn=<ConvolutionBackward0>)
{p} w = np.array([[0.5, 0.2], [0.3, 0.7]])
{p} patch = np.array([[1., 2.], [0., 1.]])
{p} print(np.sum(w * patch))
# mine
{mine}
```
"""


@pytest.mark.parametrize("prompt", [">>>", ">>"], ids=["python", "two-chevrons"])
@pytest.mark.parametrize("mine, status", [("1.6", "ok"), ("1.7", "wrong")], ids=["right", "wrong"])
def test_a_repl_transcript_its_echoes_an_unshown_bias_and_a_sum_written_in_code(tmp_path, prompt, mine, status):
    d = read_document(doc(tmp_path, REPL.format(p=prompt, mine=mine)))
    assert plain(d.problem.w) == [[[[0.5, 0.2], [0.3, 0.7]]]], f"observed filter {plain(d.problem.w)} (from the echo)"
    assert d.problem.b is None
    v = verify(d)
    # the layer's output (line 11) depends on a bias nobody shows: skipped, not judged; np.sum(w * patch) is the
    # top-left output element's claim
    assert [(s.step, s.status) for s in v.steps] == [("output", status)], f"observed {v.steps}"
    assert any("line 11" in s and "bias the document does not show" in s for s in d.skipped), d.skipped


def test_a_layer_whose_bias_is_never_shown_is_refused_with_the_reason(tmp_path):
    text = REPL.split("{p} w = np")[0].format(p=">>>") + "```\n"
    with pytest.raises(UserError, match="every claim depends on the bias of the layer"):
        read_document(doc(tmp_path, text))


# The same layer called twice on the same input (`m(x)` shown, then `m(x).sum().backward()`) is one computation:
# its output is judged, not skipped as "another convolution". Bias 0.1: Ŷ = [[1.7, 3.0], [1.6, 1.3]];
# ∂L/∂W of the sum = Σ of each window = [[1+2+0+1, 2+1+1+2], [0+1+2+1, 1+2+1+0]] = [[4, 6], [4, 4]].
SHOWN_THEN_DIFFERENTIATED = """```
>>> m = torch.nn.Conv2d(1, 1, 2)
>>> x = torch.tensor([[[[1., 2., 1.], [0., 1., 2.], [2., 1., 0.]]]])
>>> m.weight
Parameter containing:
tensor([[[[0.5000, 0.2000],
          [0.3000, 0.7000]]]], requires_grad=True)
>>> m.bias
Parameter containing:
tensor([0.1000], requires_grad=True)
>>> m(x)
tensor([[[[1.7000, 3.0000],
          [1.6000, 1.3000]]]], grad_fn=<ConvolutionBackward0>)
>>> m(x).sum().backward()
>>> m.weight.grad
tensor([[[[4., 6.],
          [4., {g11}]]]])
```
"""


@pytest.mark.parametrize("g11, status", [("4.", "ok"), ("3.", "wrong")], ids=["right", "wrong"])
def test_the_same_layer_called_twice_is_one_computation(tmp_path, g11, status):
    d = read_document(doc(tmp_path, SHOWN_THEN_DIFFERENTIATED.format(g11=g11)))
    assert plain(d.problem.b) == [0.1]
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("output", "ok"), ("grad_filter", status)], f"observed {v.steps}"


# 104 (a Spanish mirror of a Stack Overflow question): Python 2 `print X` statements, and a printout below the code
# holding as many values as the code prints — arrays and numbers alone on their line — in order; `print Y[0,0]`
# prints one entry of the output. Y[0,0] = 1·5 + 2·2 + 0·3 + 1·7 = 16.
PY2 = """My check of correlate2d:

    import numpy as np
    from scipy.signal import correlate2d
    X = np.array([[1, 2, 1], [0, 1, 2], [2, 1, 0]])
    K = np.array([[5, 2], [3, 7]])
    print 'Kernel:'
    print K
    Y = correlate2d(X, K, 'valid')
    print 'Its top-left value'
    print Y[0,0]

On my machine this prints:

    Kernel:
    [[5 2]
     [3 7]]
    Its top-left value
    {y00}
"""


@pytest.mark.parametrize("y00, status", [("16", "ok"), ("17", "wrong")], ids=["right", "wrong"])
def test_python2_prints_and_a_bare_number_in_the_printout(tmp_path, y00, status):
    d = read_document(doc(tmp_path, PY2.format(y00=y00)))
    assert plain(d.problem.w) == [[[[5.0, 2.0], [3.0, 7.0]]]]
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("output", status)], f"observed {v.steps}"
    claim = d.iterations[0]["output"]
    assert claim.value[0, 0] == int(y00) and claim.value[1, 1] is None, \
        f"observed {claim.value.tolist()}, expected only the top-left entry claimed"


# 310 (a course-project notebook, zh): a hand-written layer class whose attributes are set in code with a comment
# after the value (`layer.bias = np.array([0, 0])  # bias set to 0`: the 0 of the comment is no value), and its
# printout. Channel 0 is the seed: [[1.6, 2.9], [1.5, 1.2]]; channel 1, kernel [[1, 0], [0, 1]]:
# x[i, j] + x[i+1, j+1] = [[1+1, 2+2], [0+1, 1+0]] = [[2, 4], [1, 1]].
CUSTOM_LAYER = """```python
layer = conv2D(in_channels=1, out_channels=2, kernel_size=2)
layer.filters = np.array([[[[0.5, 0.2], [0.3, 0.7]]], [[[1, 0], [0, 1]]]])
layer.bias = np.array([0, 0])  # bias set to 0
X = np.array([[[[1, 2, 1], [0, 1, 2], [2, 1, 0]]]])
out = layer(X)
print(out)
```
```
[[[[1.6 2.9]
   [1.5 1.2]]

  [[2.  4. ]
   [1.  {y111}]]]]
```
"""


@pytest.mark.parametrize("y111, status", [("1. ", "ok"), ("2. ", "wrong")], ids=["right", "wrong"])
def test_a_comment_after_a_value_in_code_is_no_value(tmp_path, y111, status):
    d = read_document(doc(tmp_path, CUSTOM_LAYER.format(y111=y111)))
    assert plain(d.problem.b) == [0.0, 0.0], f"observed bias {d.problem.b}, expected [0, 0] (line 4)"
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("output", status)], f"observed {v.steps}"


# 310 again: the printout of several print() calls, each value under its own printed title; `[9. 9.]` on its
# own is labelled by the line above it ("bias gradient (b):"). ∂L/∂b of L = Σ y is the number of output positions
# per channel: 2·2 = 4.
TITLED_PRINTOUT = """```python
import torch
import torch.nn.functional as F
x = torch.tensor([[[[1., 2., 1.], [0., 1., 2.], [2., 1., 0.]]]])
w = torch.tensor([[[[0.5, 0.2], [0.3, 0.7]]], [[[1., 0.], [0., 1.]]]], requires_grad=True)
b = torch.tensor([0., 0.], requires_grad=True)
y = F.conv2d(x, w, b)
y.sum().backward()
print("bias gradient (b):")
print(b.grad.numpy())
```
```
bias gradient (b):
[4. {g1}]
```
"""


@pytest.mark.parametrize("g1, status", [("4.", "ok"), ("5.", "wrong")], ids=["right", "wrong"])
def test_a_bare_row_under_its_printed_title(tmp_path, g1, status):
    v = verify(read_document(doc(tmp_path, TITLED_PRINTOUT.format(g1=g1))))
    assert [(s.step, s.status) for s in v.steps] == [("grad_bias", status)], f"observed {v.steps}"


# 302 / 310 (notebooks of several examples): a claimed value shaped for another example's layer (2 filters there,
# 1 here) is that example's, skipped with the reason, not a refusal of the whole document.
TWO_EXAMPLES = """```python
layer = conv2D(in_channels=1, out_channels=1, kernel_size=2)
layer.filters = np.array([[[[0.5, 0.2], [0.3, 0.7]]]])
X = np.array([[[[1, 2, 1], [0, 1, 2], [2, 1, 0]]]])
out = layer(X)
print(out)
```
```
[[[[1.6 2.9]
   [1.5 1.2]]]]
```
Now two filters:
```python
layer = conv2D(in_channels=1, out_channels=2, kernel_size=2)
layer.filters = np.array([[[[0.5, 0.2], [0.3, 0.7]]], [[[1, 0], [0, 1]]]])
out = layer(X)
print(out)
```
```
[[[[1.6 2.9]
   [1.5 1.2]]

  [[2.  4. ]
   [1.  1. ]]]]
```
"""


def test_a_value_shaped_for_another_example_is_skipped_not_refused(tmp_path):
    d = read_document(doc(tmp_path, TWO_EXAMPLES))
    v = verify(d)
    assert v.steps and all(s.status == "ok" for s in v.steps), f"observed {v.steps}"
    assert any("another example" in s for s in d.skipped), d.skipped


# 404 (onnx/onnx's backend node tests): a worked example written as a function nobody calls (`def export_…():`,
# a static method of a class), an ONNX node built by make_node('Conv', …, pads=[H begin, W begin, H end, W end])
# and expect(node, inputs=[x, W], outputs=[y]). With pads [1, 0, 1, 0] the seed input gains a zero row above and
# below: row 0 = [0·0.5+0·0.2+1·0.3+2·0.7, 0·0.5+0·0.2+2·0.3+1·0.7] = [1.7, 1.3]; rows 1-2 are the seed's
# [1.6, 2.9], [1.5, 1.2]; row 3 = [2·0.5+1·0.2, 1·0.5+0·0.2] = [1.2, 0.5].
ONNX = """class Conv(Base):

    @staticmethod
    def export_conv_seed_padded_rows():
        x = np.array([[[[1., 2., 1.], [0., 1., 2.], [2., 1., 0.]]]])
        W = np.array([[[[0.5, 0.2], [0.3, 0.7]]]])
        node = onnx.helper.make_node(
            'Conv',
            inputs=['x', 'W'],
            outputs=['y'],
            kernel_shape=[2, 2],
            pads=[1, 0, 1, 0],
        )
        y_padded_rows = np.array([[[[1.7, 1.3], [1.6, 2.9], [1.5, 1.2], [1.2, {y31}]]]])
        expect(node, inputs=[x, W], outputs=[y_padded_rows], name='test_conv_seed_padded_rows')
"""


@pytest.mark.parametrize("y31, status", [("0.5", "ok"), ("0.6", "wrong")], ids=["right", "wrong"])
def test_an_onnx_node_test_in_an_uncalled_function(tmp_path, y31, status):
    d = read_document(doc(tmp_path, ONNX.format(y31=y31), "conv.txt"))
    assert d.problem.padding == ((1, 1), (0, 0)), f"observed padding {d.problem.padding}, expected H 1+1, W 0"
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("output", status)], f"observed {v.steps}"
    assert not any("[2, 2]" in s or "[1, 0, 1, 0]" in s for s in d.skipped), d.skipped


# 402 / 403 (tensorflow/tfjs's conv2d_test.ts): TypeScript, read through the C-family rewrite (harness/importer/
# clike.py): `const x = tf.tensor3d([…], [3, 3, 1])` (flat values, NHWC shape), a filter in HWIO, the method form
# x.conv2d(filter, stride, pad), tf.grads((x, f) => …)([x, f], dy), expectArraysClose(await dx.data(), [flat]).
# Seed input, all-ones 2×2 filter, dy = [[3, 1], [2, 0]]:
#   dfilter[u, v] = Σ dy[i, j]·x[i+u, j+v]: [0,0] 3·1+1·2+2·0+0·1 = 5, [0,1] 3·2+1·1+2·1+0·2 = 9,
#                                             [1,0] 3·0+1·1+2·2+0·1 = 5, [1,1] 3·1+1·2+2·1+0·0 = 7;
#   dx = dy spread over each window: [[3, 4, 1], [5, 6, 1], [2, 2, 0]].
TFJS = """  it('gradient input=[3,3,1] f=[2,2,1,1] s=1 p=0', async () => {
    const inputShape: [number, number, number] = [3, 3, 1];
    const filterShape: [number, number, number, number] = [2, 2, 1, 1];
    const stride = 1;
    const pad = 0;
    const filter = tf.ones<Rank.R4>(filterShape);
    const x = tf.tensor3d([1, 2, 1, 0, 1, 2, 2, 1, 0], inputShape);
    const dy = tf.tensor3d([3, 1, 2, 0], [2, 2, 1]);

    const grads = tf.grads(
        (x: tf.Tensor3D, filter: tf.Tensor4D) => x.conv2d(filter, stride, pad));
    const [dx, dfilter] = grads([x, filter], dy);

    expectArraysClose(await dx.data(), [3, 4, 1, 5, 6, 1, 2, 2, 0]);
    expectArraysClose(await dfilter.data(), [5, 9, 5, {df11}]);
  });
"""


@pytest.mark.parametrize("df11, status", [("7", "ok"), ("8", "wrong")], ids=["right", "wrong"])
def test_a_tensorflow_js_gradient_test(tmp_path, df11, status):
    d = read_document(doc(tmp_path, TFJS.replace("{df11}", df11), "conv2d_test.ts.txt"))
    assert plain(d.problem.x) == [[[[1.0, 2.0, 1.0], [0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]]]
    v = verify(d)
    assert {s.step: s.status for s in v.steps} == {"grad_filter": status, "grad_input": "ok"}, f"observed {v.steps}"


# 403: a flat expected output in NHWC order, reshaped by the shape the call gives. x [1, 1, 2, 2] (NHWC: one
# pixel... two pixels of 2 channels: (1, 2) and (3, 4)), a 1×1 filter in → out [[-1, 1], [-2, 0.5]] (HWIO):
# pixel (1, 2): channel 0 = 1·-1 + 2·-2 = -5, channel 1 = 1·1 + 2·0.5 = 2; pixel (3, 4): -3-8 = -11, 3+2 = 5.
TFJS_FORWARD = """  it('x=[1,1,2,2] f=[1,1,2,2] s=1 d=1 p=0', async () => {
    const x = tf.tensor4d([1, 2, 3, 4], [1, 1, 2, 2]);
    const w = tf.tensor4d([-1, 1, -2, 0.5], [1, 1, 2, 2]);
    const result = tf.conv2d(x, w, 1, 0);
    expectArraysClose(await result.data(), [-5, 2, -11, {y}]);
  });
"""


@pytest.mark.parametrize("y, status", [("5", "ok"), ("6", "wrong")], ids=["right", "wrong"])
def test_a_flat_nhwc_output_of_tensorflow_js(tmp_path, y, status):
    d = read_document(doc(tmp_path, TFJS_FORWARD.replace("{y}", y), "conv2d_test.ts.txt"))
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("output", status)], f"observed {v.steps}"
    assert plain(d.iterations[0]["output"].value) == [[[[-5.0, -11.0]], [[2.0, float(y)]]]], \
        "observed the claim in the wrong order (expected NCHW channel 0 = [-5, -11], channel 1 = [2, y])"


# 406 (huggingface/candle's conv_tests.rs): Rust — Tensor::new(&[…f32], &dev)?.reshape((1, 1, 3, 3))?, the method
# form t.conv2d(&w, padding, stride, dilation, groups), loss = res.sqr()?.sum_all()? (L = Σ y²), grads =
# loss.backward()?, grads.get(&w), assert_eq!(to_vec1_round(&x.flatten_all()?, 4)?, [flat]).
# Seed: Ŷ = [[1.6, 2.9], [1.5, 1.2]], L = 1.6² + 2.9² + 1.5² + 1.2² = 2.56 + 8.41 + 2.25 + 1.44 = 14.66;
# ∂L/∂Ŷ = 2Ŷ = [[3.2, 5.8], [3.0, 2.4]]; ∂L/∂W[u, v] = Σ 2Ŷ[i, j]·x[i+u, j+v]:
#   [0,0] 3.2·1 + 5.8·2 + 3.0·0 + 2.4·1 = 17.2,  [0,1] 3.2·2 + 5.8·1 + 3.0·1 + 2.4·2 = 20.0,
#   [1,0] 3.2·0 + 5.8·1 + 3.0·2 + 2.4·1 = 14.2,  [1,1] 3.2·1 + 5.8·2 + 3.0·1 + 2.4·0 = 17.8.
CANDLE = """fn conv2d_grad(dev: &Device) -> Result<()> {
    use candle_core::Var;
    let t = Var::from_slice(&[1f32, 2., 1., 0., 1., 2., 2., 1., 0.], (1, 1, 3, 3), dev)?;
    let w = Var::from_slice(&[0.5f32, 0.2, 0.3, 0.7], (1, 1, 2, 2), dev)?;
    let res = t.conv2d(&w, 0, 1, 1, 1)?;
    let loss = res.sqr()?.sum_all()?;
    assert_eq!(test_utils::to_vec0_round(&loss, 2)?, 14.66);
    let grads = loss.backward()?;
    let grad_w = grads.get(&w).unwrap();
    assert_eq!(
        test_utils::to_vec1_round(&grad_w.flatten_all()?, 4)?,
        [17.2, 20.0, 14.2, {g11}]
    );
    Ok(())
}
"""


@pytest.mark.parametrize("g11, status", [("17.8", "ok"), ("17.9", "wrong")], ids=["right", "wrong"])
def test_a_candle_gradient_test_in_rust(tmp_path, g11, status):
    d = read_document(doc(tmp_path, CANDLE.replace("{g11}", g11), "conv_tests.rs.txt"))
    assert d.problem.loss == "sum" and plain(d.problem.w) == [[[[0.5, 0.2], [0.3, 0.7]]]]
    v = verify(d)
    assert {s.step: s.status for s in v.steps} == {"loss": "ok", "grad_filter": status}, f"observed {v.steps}"
