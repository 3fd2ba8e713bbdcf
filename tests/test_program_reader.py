"""The code in a document read as its author ran it, never run (`harness/importer/program.py`).

Expected values are by hand: a 2x2 filter's ∂L/∂W under L = Σ output is the sum of the input patch each tap
sees; NHWC -> NCHW is a transpose written out element by element."""

from __future__ import annotations

from fractions import Fraction as F
from pathlib import Path

import pytest

from harness.importer import read_document
from harness.verify import verify

NOTEBOOK = '''# conv weight gradient

```python
import torch
import torch.nn.functional as F
x = torch.arange(1., 10.).view(1, 1, 3, 3).requires_grad_(True)
kernel = torch.tensor([[[[1., 0.], [0., -1.]]]], requires_grad=True)
out = F.conv2d(x, kernel)
out.sum().backward()
print(kernel.grad)
```

```
tensor([[[[{g00}, 16.],
          [24., 28.]]]])
```
'''


def doc(tmp_path: Path, text: str, name: str = "d.md") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("g00, status", [("12.", "ok"), ("13.", "wrong")], ids=["right", "slip"])
def test_roles_from_the_conv_call_and_the_loss_from_backward(tmp_path, g00, status):
    """`kernel` is the filter because F.conv2d takes it second; L = Σ out (out.sum().backward()); the printed
    kernel.grad is ∂L/∂W: patch sums 1+2+4+5 = 12, 16, 24, 28."""
    d = read_document(doc(tmp_path, NOTEBOOK.format(g00=g00)))
    assert d.problem.x.reshape(-1).tolist() == list(range(1, 10))
    assert d.problem.w.reshape(-1).tolist() == [1, 0, 0, -1]
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("grad_filter", status)], v.steps


def test_tensorflow_layout_and_flat_expected_arrays(tmp_path):
    """NHWC input and HWIO kernel built by a helper, `tape.gradient(y, [A, B])` of the output itself (upstream
    ones), the expected ∂L/∂W flat in HWIO order: B[h, w, c, 0] = 2·(2h + w) + c, and ∂L/∂B[h, w, c] is the sum
    of A[0, h:h+2, w:w+2, c] with A[0, i, j, c] = 2·(3i + j) + c: for (0, 0, 0): 0 + 2 + 6 + 8 = 16."""
    text = '''```python
def rowmaj(s):
    return np.arange(np.product(s)).reshape(s).astype(np.float32)
A = tf.Variable(rowmaj([1, 3, 3, 2]))
B = tf.Variable(rowmaj([2, 2, 2, 1]))
with tf.GradientTape() as tape:
    y = tf.nn.conv2d(A, B, padding='VALID', strides=1)
A_grad, B_grad = tape.gradient(y, [A, B])
expected_B_grad_flat = np.array([16, 20, 24, 28, 40, 44, 48, 52])
```
'''
    d = read_document(doc(tmp_path, text))
    assert d.problem.x[0, 0].tolist() == [[0, 2, 4], [6, 8, 10], [12, 14, 16]]   # channel 0 of NHWC arange
    assert d.problem.w[0, 1].tolist() == [[1, 3], [5, 7]]                          # input channel 1 of HWIO
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("grad_filter", "ok")], v.steps
    claimed = d.iterations[0]["grad_filter"].value
    assert claimed[0, 0].tolist() == [[16, 24], [40, 48]] and claimed[0, 1].tolist() == [[20, 28], [44, 52]]


def test_another_layer_and_another_example_are_skipped_with_why(tmp_path):
    text = '''```python
x = torch.ones(1, 1, 3, 3)
fc = Linear(4, 1)
conv = nn.Conv2d(1, 1, 2, bias=False)
conv.weight.data[...] = 1
y = conv(x)
y.sum().backward()
print(fc.weight.grad)
print(conv.weight.grad)
```

```
tensor([[0.5, 0.5, 0.5, 0.5]])
tensor([[[[4., 4.],
          [4., 4.]]]])
```

```python
conv = nn.Conv2d(1, 1, 2)
conv.weight
```

```
tensor([[[[0.1, 0.2],
          [0.3, 0.4]]]])
```
'''
    d = read_document(doc(tmp_path, text))
    v = verify(d)
    assert [(s.step, s.status) for s in v.steps] == [("grad_filter", "ok")], v.steps   # 4 = ones patch sum
    joined = " ".join(d.skipped)
    assert "another layer" in joined and "Linear(4, 1)" in joined, d.skipped
    assert "assigned anew" in joined, d.skipped


def test_code_is_never_run(tmp_path):
    """Nothing outside the whitelist is called: no import, no attribute of a module is reached."""
    marker = tmp_path / "ran"
    text = f'''```python
x = __import__("os").system("touch {marker}")
y = eval("1")
z = np.ones((100000, 100000))
w = torch.tensor([[1., 2.], [3., 4.]])
```

x = [[1, 2], [3, 4]]
'''
    from harness.importer.markdown import segments
    from harness.importer.program import read_program
    p = read_program(segments(text), text)
    assert not marker.exists()
    assert not p.readings   # no conv call: nothing has a role


def test_a_huge_construction_is_left_unknown(tmp_path):
    from harness.importer.program import UNKNOWN, Reader
    import ast
    r = Reader()
    src = "a = np.ones((10**6, 10**6))\nb = np.arange(10**9)\nc = np.arange(6).reshape(2, 3)"
    r.run(ast.parse(src).body, 1, src)
    assert r.env["a"] is UNKNOWN and r.env["b"] is UNKNOWN
    assert r.env["c"].tolist() == [[0, 1, 2], [3, 4, 5]] and r.env["c"][1, 2] == F(5)


TEST_FILE = '''# From a framework's tests (a source file given as text)
import numpy as np


def test_conv2d_backward():
    a = lib.tensor([[[[0, 1, 2], [3, 4, 5.0], [6, 7, 8]]]], requires_grad=True)
    w = lib.tensor([[[[1, 0], [1, 1]]]], requires_grad=True)

    aw = nn.functional.conv2d(a, w)
    aw.backward(lib.tensor([[[[1, -2], [2, 1]]]]))

    assert aw.tolist() == [[[[Y00, 10], [16, 19]]]]
    assert np.allclose(w.grad.tolist(), [[[[G00, 10], [14, 16]]]], rtol=1e-4, atol=1e-4)


def test_random():
    a = np.random.randn(1, 1, 3, 3)
    aw = nn.functional.conv2d(a, a)
    assert np.allclose(aw, [[[[5.0]]]])
'''


@pytest.mark.parametrize("y00, g00, statuses", [
    (7, 8, {"output": "ok", "grad_filter": "ok"}),
    (8, 8, {"output": "wrong", "grad_filter": "ok"}),
    (7, 9, {"output": "ok", "grad_filter": "wrong"}),
], ids=["right", "output-slip", "gradient-slip"])
def test_a_unit_test_file_claims_by_its_assertions(tmp_path, y00, g00, statuses):
    """Markdown reads the test bodies as indented code and the rest as prose: the file is read as one source,
    the test of random arrays is not the example. The assertions are the claims: one side computed (`aw`,
    `w.grad`), the other the author's value. By hand, X = [[0, 1, 2], [3, 4, 5], [6, 7, 8]], W = [[1, 0], [1, 1]]:
    Y = [[0+3+4, 1+4+5], [3+6+7, 4+7+8]] = [[7, 10], [16, 19]]; with G = [[1, -2], [2, 1]] given to backward,
    ∂L/∂W[p, q] = Σ G[i, j]·X[i+p, j+q]: 0 − 2 + 6 + 4 = 8, 1 − 4 + 8 + 5 = 10, 3 − 8 + 12 + 7 = 14,
    4 − 10 + 14 + 8 = 16."""
    text = TEST_FILE.replace("Y00", str(y00)).replace("G00", str(g00))
    v = verify(read_document(doc(tmp_path, text, "t.txt")))
    assert {s.step: s.status for s in v.steps} == statuses, v.steps


def test_conv1d_is_read_as_2d_with_height_one(tmp_path):
    """F.conv1d with stride 2, padding 1, dilation 2 (pytorch issue #15501): input [[7, 3]], [[3, 2]] (N=2, C=1,
    L=2), filters [[3, 6]], [[4, 2]] (O=2). The padded input is [0, 7, 3, 0]; the dilated 2-tap filter spans 3,
    so one output per filter, taps at 0 and 2: image 0: 3·0 + 6·3 = 18 and 4·0 + 2·3 = 6; image 1: 12 and 4.
    The string printed before `dd` and the printed shape take no value of their own."""
    text = '''```python
import torch
import torch.nn.functional as F
a = [[[7., 3.]], [[3., 2.]]]
b = [[[3., 6.]], [[4., 2.]]]
aa = torch.tensor(a, requires_grad=True)
bb = torch.tensor(b, requires_grad=True)
dd = F.conv1d(aa, bb, padding=1, stride=2, dilation=2)
print('dd', dd, dd.size())
```

```
dd tensor([[[18.],
         [ Y.]],

        [[12.],
         [ 4.]]], grad_fn=<SqueezeBackward1>) torch.Size([2, 2, 1])
```
'''
    for y, status in (("6", "ok"), ("7", "wrong")):
        d = read_document(doc(tmp_path, text.replace(" Y.", f" {y}.")))
        assert d.problem.x.shape == (2, 1, 1, 2) and d.problem.w.shape == (2, 1, 1, 2)
        assert [(s.step, s.status) for s in verify(d).steps] == [("output", status)]


def test_code_pasted_among_prose_and_a_printout_cut_by_blank_lines(tmp_path):
    """No fence: the code lines are found among the prose, and the printed tensor that Markdown split at its
    blank lines is one value again. Two images, a 1x2 filter of ones, L = Σ out: every input entry is in exactly
    one window with weight 1, so ∂L/∂X is all ones."""
    text = '''How do I check this?

import torch
import torch.nn.functional as F
x = torch.tensor([[[[1., 2.], [3., 4.]]], [[[5., 6.], [7., 8.]]]], requires_grad=True)
w = torch.tensor([[[[1., 1.]]]])
out = F.conv2d(x, w)
out.sum().backward()
print(x.grad)

tensor([[[[1., 1.],
          [1., 1.]]],


        [[[1., 1.],
          [1., G.]]]])

thanks
'''
    for g, status in (("1", "ok"), ("2", "wrong")):
        v = verify(read_document(doc(tmp_path, text.replace("G.", f"{g}."))))
        assert [(s.step, s.status) for s in v.steps] == [("grad_input", status)], v.steps
