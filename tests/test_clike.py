"""The C-family rewrite (harness/importer/clike.py): each form as the Python the program reader reads, line for
line. Expected outputs are written by hand."""

from __future__ import annotations

import ast

import pytest

from harness.importer.clike import to_python

CASES = [
    ("const x = tf.tensor3d([1, 2, 3, 4], [2, 2, 1]);", "x = tf.tensor3d([1, 2, 3, 4], [2, 2, 1])"),
    ("const shape: [number, number] = [2, 2];", "shape = [2, 2]"),
    ("const f = tf.ones<Rank.R4>(shape);", "f = tf.ones(shape)"),
    ("let w = Tensor::new(&[0.5f32, -0.8], &dev)?;", "w = Tensor.new([0.5, -0.8], dev)"),
    ("let mut t = vec![1.0f64, 2.0];", "t = [1.0, 2.0]"),
    ("float expected_dW[] = {63.0f, 72.0f};", "expected_dW = [63.0, 72.0]"),
    ("std::vector<float> v = {1, 2, 3};", "v = [1, 2, 3]"),
    ("NDArray expEps(_expEpsB, input.shapeInfo());", "expEps = NDArray(_expEpsB, input.shapeInfo())"),
    ("h_input[i] = (float)(i + 1);", "h_input[i] = float(i + 1)"),
    ("assert_eq!(res.dims(), [1, 2, 3, 3]);", "assert_eq(res.dims(), [1, 2, 3, 3])"),
    ("expectArraysClose(await dx.data(), [3, 4]);", "expectArraysClose(dx.data(), [3, 4])"),
    ("const g = tf.grads((x: tf.Tensor3D, f) => x.conv2d(f, 1, 0));",
     "g = tf.grads(lambda x, f: x.conv2d(f, 1, 0))"),
    ("auto r = op.evaluate({&a, &b}, {}, {3, 3, 1});", "r = op.evaluate([a, b], [], [3, 3, 1])"),
    ("const ok = true && done;", "ok = True and done"),
]


@pytest.mark.parametrize("line, python", CASES, ids=[c[1].split(" = ")[0].split("(")[0] for c in CASES])
def test_one_statement(line, python):
    r = to_python(f"{line}\nconst zz = 0;\n")
    observed = r.source.split("\n")[0] if r else None
    assert observed == python, f"observed {observed!r}, expected {python!r}"
    ast.parse(observed)


def test_blocks_are_flattened_and_lines_kept():
    src = ("fn conv2d(dev: &Device) -> Result<()> {\n"
           "    let t = Tensor::new(\n"
           "        &[1.0f32, 2.0],\n"
           "        dev,\n"
           "    )?;\n"
           "    Ok(())\n"
           "}\n")
    r = to_python(src)
    assert r is not None and r.dialect == "rust"
    lines = r.source.split("\n")
    assert len(lines) == len(src.split("\n")), "line numbers must be kept"
    assert lines[0] == "" and lines[-2] == "", f"observed {lines}"
    assert lines[1].startswith("t = Tensor.new("), f"observed {lines[1]!r}"
    ast.parse(r.source)


def test_comments_and_strings():
    src = "// a comment [1, 2]\nconst s = 'a // not a comment';  /* x\n y */ const z = 1;\n"
    r = to_python(src)
    lines = r.source.split("\n")
    assert lines[0] == "" and "'a // not a comment'" in lines[1] and len(lines) == 4, f"observed {lines}"


def test_python_is_not_rewritten():
    assert to_python("x = 1\ny = 2\nprint(x)\n") is None
