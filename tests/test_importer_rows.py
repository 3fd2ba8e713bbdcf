"""Matrices written as bare rows under a prose label (as Q&A posts write them), an "error" matrix judged under the
author's own sign, values said in words. Expected values by hand, in each docstring."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.importer import read_document
from harness.verify import verify

# X = [[1, 2], [3, 4]], W = [[2]]: Ŷ = [[2, 4], [6, 8]]; target [[2, 4], [6, 6]]; L = ½·Σ(Ŷ − Y)² (the error as the
# backward signal): ∂L/∂Ŷ = [[0, 0], [0, 2]], so error = target − output = [[0, 0], [0, -2]]; ∂L/∂W = 4·2 = 8.
ERROR_DOC = """A small example

Input:

1 2
3 4

Filter: [[2]]

Output:

2 4
6 8

Target:

2, 4
6, 6

{error_label}

0 0
0 -2

Filter gradient: [[{g}]]
"""


def statuses(tmp_path: Path, text: str) -> dict[str, str]:
    p = tmp_path / "d.txt"
    p.write_text(text)
    return {s.step: s.status for s in verify(read_document(p)).steps}


@pytest.mark.parametrize("g, grad_status", [("8", "ok"), ("-8", "wrong")], ids=["right", "sign-slip"])
def test_bare_rows_and_an_error_matrix_under_its_stated_sign(tmp_path, g, grad_status):
    got = statuses(tmp_path, ERROR_DOC.format(error_label="Error (target - output):", g=g))
    assert got == {"output": "ok", "grad_output": "ok", "grad_filter": grad_status}, got


def test_the_gradient_from_the_error_as_kernel_is_a_sign_flip(tmp_path):
    p = tmp_path / "d.txt"
    p.write_text(ERROR_DOC.format(error_label="Error (target - output):", g="-8"))
    v = verify(read_document(p))
    wrong = next(s for s in v.steps if s.status == "wrong")
    assert wrong.step == "grad_filter" and any(d.code == "sign_flip" for d in wrong.diagnosis), wrong


def test_an_error_of_unstated_sign_is_judged_by_its_values(tmp_path):
    p = tmp_path / "d.txt"
    p.write_text(ERROR_DOC.format(error_label="Error:", g="8"))
    v = verify(read_document(p))
    assert {s.step: s.status for s in v.steps} == {"output": "ok", "grad_output": "ok", "grad_filter": "ok"}
    assert any("target − output" in n for n in v.notes), v.notes


def test_an_error_whose_numbers_contradict_its_written_sign_is_judged_by_the_numbers(tmp_path):
    """Written as output − target, computed as target − output: the numbers win, and the report says so."""
    p = tmp_path / "d.txt"
    p.write_text(ERROR_DOC.format(error_label="Error (output - target):", g="8"))
    v = verify(read_document(p))
    assert {s.step: s.status for s in v.steps} == {"output": "ok", "grad_output": "ok", "grad_filter": "ok"}
    assert any("judged by the numbers" in n for n in v.notes), v.notes


def test_relu_words_zeros_in_words_and_the_label_after_a_number(tmp_path):
    """X = [[1, -1], [2, 3]], W = [[1]]: Z = X; ReLU: [[1, 0], [2, 3]]; target zeros (said in words);
    ∂L/∂A = A − 0 = [[1, 0], [2, 3]] (= output − target, the error as written), through ReLU the same;
    ∂L/∂W = 1·1 + (−1)·0 + 2·2 + 3·3 = 14; W' = 1 − 0.1·14 = −0.4. The annotation after a row is not a value."""
    text = """Input:

1, -1
2, 3

Weights: [[1]]

Apply ReLU:

1 0(the negative entry is cut)
2 3

The target is a 2x2 matrix filled with zeros.

Error (output - target):

1 0
2 3

The learning rate is 0.1, and the new weights are:

[[{w}]]
"""
    for w, status in (("-0.4", "ok"), ("-0.3", "wrong")):
        got = statuses(tmp_path, text.format(w=w))
        assert got == {"activation": "ok", "grad_output": "ok", "updated_filter": status}, got
