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
