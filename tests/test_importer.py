"""The Markdown/LaTeX/text importer: what it reads from documents written in each style.

Expected values are the numbers as written in the documents (the seed and examples/*.md, worked by hand);
the importer must read exactly those, with the conventions and their lines, and leave out what is not a step.
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from harness.derivation import Derivation
from harness.importer import read_document

from conftest import ROOT, SEED_DOC, exact

EXAMPLES = ROOT / "examples"


def user(d: Derivation, name: str):
    a = {"input": d.problem.x, "filter": d.problem.w, "target": d.problem.target,
         "grad_output": d.problem.grad_output}[name]
    q = {"input": "input", "filter": "filter", "target": "output", "grad_output": "output"}[name]
    return d.problem.layout.to_user(q, a)


def claim(d: Derivation, quantity: str, iteration: int = 0):
    c = d.iterations[iteration].get(quantity)
    assert c is not None, f"observed no {quantity} claim in iteration {iteration + 1}, expected one ({d.source})"
    return c


def same(observed, expected, where: str) -> None:
    obs = np.asarray(observed, dtype=object)
    exp = np.asarray(expected, dtype=object)
    assert obs.shape == exp.shape and all(o == e for o, e in zip(obs.reshape(-1), exp.reshape(-1))), \
        f"observed {obs.tolist()}, expected {exp.tolist()} ({where})"


def source(d: Derivation, key: str) -> tuple[str, str]:
    s = d.conventions[key]
    return s.kind, s.detail


# --- the seed -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed() -> Derivation:
    return read_document(SEED_DOC)


def test_seed_inputs(seed):
    same(user(seed, "input"), exact([[1, 2, 1], [0, 1, 2], [2, 1, 0]]), "seed input, line 17")
    same(user(seed, "filter"), exact([["0.5", "0.2"], ["0.3", "0.7"]]), "seed filter, line 21")
    same(user(seed, "target"), exact([[1, 2], [2, 1]]), "seed target, line 25")
    assert seed.problem.lr == F(1, 10), f"observed η = {seed.problem.lr}, expected 0.1 (line 91)"
    assert source(seed, "learning_rate") == ("read", "line 91: \\eta = 0.1")


def test_seed_claims(seed):
    assert len(seed.iterations) == 1, f"observed {len(seed.iterations)} iterations, expected 1"
    same(claim(seed, "output").value, exact([["1.6", "2.9"], ["1.5", "1.2"]]), "Ŷ, line 49")
    loss = claim(seed, "loss")
    assert loss.value[()] == F("0.365") and int(loss.decimals) == 3, \
        f"observed L = {loss.value[()]} ({loss.decimals} decimals), expected 0.365 (3) from line 59"
    assert loss.where.startswith("lines 59, 97"), f"observed {loss.where!r}, expected lines 59 and 97"
    grad = claim(seed, "grad_filter")
    same(grad.value, exact([["0.3", "0.35"], ["-0.5", "0.05"]]), "∂L/∂W_{00..11}, lines 71-83 (0-based)")
    same(grad.decimals, [[1, 2], [1, 2]], "decimals of ∂L/∂W as written")
    assert grad.where == "lines 71, 75, 79, 83", f"observed {grad.where!r}"
    same(claim(seed, "updated_filter").value, exact([["0.47", "0.165"], ["0.35", "0.695"]]),
         "W', the last matrix of the aligned equation at line 93")
    assert set(seed.iterations[0]) == {"output", "loss", "grad_filter", "updated_filter"}, \
        f"observed claims {sorted(seed.iterations[0])}"


def test_seed_conventions(seed):
    assert seed.problem.loss == "mean"
    assert source(seed, "loss") == ("read", "line 53: L = \\frac{1}{4} \\sum (Y - \\hat{Y})^2"), \
        f"observed {source(seed, 'loss')}"
    assert source(seed, "operation") == ("default", "")
    assert source(seed, "activation") == ("default", "")
    assert seed.conventions["indexing"].detail.startswith("0-based: line 71")
    assert not seed.skipped and not seed.input_decimals


# --- examples, one per style ------------------------------------------------------------------------

def test_qa_post_prose_labels_sum():
    d = read_document(EXAMPLES / "qa_sum_of_squares.md")
    same(user(d, "input"), exact([[1, 0, 2], [3, 1, 0], [0, 2, 1]]), "'Input volume:'")
    same(user(d, "filter"), exact([[1, -1], [0, 2]]), "'Kernel:'")
    same(user(d, "target"), exact([[2, 1], [5, 3]]), "'Ground truth:'")
    assert d.problem.lr == F("0.01")
    assert d.problem.loss == "sum" and d.conventions["loss"].kind == "read" \
        and d.conventions["loss"].detail.startswith("line 4:"), f"observed {d.conventions['loss']}"
    same(claim(d, "output").value, exact([[3, -2], [6, 3]]), "'The output right now is:'")
    assert claim(d, "loss").value[()] == 11
    same(claim(d, "grad_output").value, exact([[2, -6], [2, 0]]), "'gradient … with respect to the output'")
    same(claim(d, "grad_filter").value, exact([[8, -10], [0, 6]]), "'gradient with respect to the kernel'")
    same(claim(d, "updated_filter").value, exact([["0.92", "-0.9"], [0, "1.94"]]), "'the new filter is'")


def test_qa_post_without_the_formula_takes_the_default():
    d = read_document(EXAMPLES / "qa_sum_of_squares_unstated.md")
    assert d.problem.loss == "mean" and d.conventions["loss"].kind == "default", f"observed {d.conventions['loss']}"
    assert claim(d, "loss").value[()] == 11


def test_notebook_printouts_rounded_filter_and_epochs():
    d = read_document(EXAMPLES / "notebook_printed_arrays.md")
    same(user(d, "input"), exact([[1, 2, 0], [0, 1, 3], [2, 1, 1]]), "x = torch.tensor(…)")
    same(user(d, "filter"), exact([["0.3367", "0.1288"], ["0.2345", "0.2303"]]), "print(w) output")
    same(d.input_decimals["filter"], [[4, 4], [4, 4]], "the filter is printed rounded to 4 places")
    assert d.problem.lr == F("0.1") and d.problem.loss == "mean"
    assert d.conventions["loss"].detail == "line 23: loss = ((out - y) ** 2).mean()"
    same(claim(d, "output").value, exact([["0.8246", "1.5988"], ["0.8281", "1.1879"]]), "out: tensor(…)")
    same(claim(d, "grad_filter").value, exact([["1.1051", "1.5205"], ["0.7214", "1.3186"]]), "w.grad")
    same(claim(d, "grad_filter").decimals, [[4, 4], [4, 4]], "torch prints 4 decimals")
    same(claim(d, "updated_filter").value, exact([["0.2262", "-0.0232"], ["0.1623", "0.0985"]]),
         "print(w) after w -= lr * w.grad")
    assert len(d.iterations) == 2, f"observed {len(d.iterations)} iterations, expected 2 (epoch 0, epoch 1)"
    assert claim(d, "loss", 0).value[()] == F("0.4575") and claim(d, "loss", 1).value[()] == F("0.2658")


def test_lecture_notes_relu_true_convolution_half_sum():
    d = read_document(EXAMPLES / "lecture_relu_true_convolution.md")
    p = d.problem
    assert (p.loss, p.operation, p.activation) == ("half_sum", "convolution", "relu"), \
        f"observed {(p.loss, p.operation, p.activation)}"
    assert source(d, "loss")[1].startswith("line 10: L = \\frac{1}{2}")
    assert source(d, "operation")[0] == "read" and source(d, "operation")[1].startswith("line 3:")
    assert p.b[0] == -1 and p.lr == F("0.5")
    same(claim(d, "output").value, exact([[0, 4], [-2, 1]]), "Z")
    same(claim(d, "activation").value, exact([[0, 4], [0, 1]]), "A = ReLU(Z)")
    assert claim(d, "loss").value[()] == F("10.5")
    same(claim(d, "grad_output").value, exact([[-1, 4], [-2, 0]]), "∂L/∂A")
    same(claim(d, "grad_input").value, exact([[0, 8, 0], [0, 0, 4], [0, 0, 0]]), "∂L/∂X (a planted slip at X02)")
    assert claim(d, "grad_bias").value[()] == 4 and claim(d, "updated_bias").value[()] == -3
    same(claim(d, "updated_filter").value, exact([[-1, -2], [-1, -2]]), "K_new")
    reasons = " | ".join(d.skipped)
    assert "flipped kernel" in reasons and "line 20" in reasons, f"observed skipped: {reasons}"
    assert "∂L/∂Z before the ReLU" in reasons, f"observed skipped: {reasons}"


def test_upstream_gradient_stride2_one_based():
    d = read_document(EXAMPLES / "exercise_upstream_stride2.md")
    p = d.problem
    assert p.loss == "linear" and p.target is None and p.stride == (2, 2) and p.lr is None
    same(user(d, "grad_output"), exact([[1, -1], [2, 0]]), "δ, the given upstream gradient")
    assert d.conventions["indexing"].detail.startswith("1-based"), f"observed {d.conventions['indexing']}"
    assert any("1-based" in n for n in d.notes), f"observed notes {d.notes}"
    same(claim(d, "grad_filter").value, exact([[3, -1, 4], [1, 3, -1], [1, 3, 3]]), "∂L/∂W_{11}…W_{33}")
    gx = claim(d, "grad_input").value
    assert gx[2, 2] == 1 and gx[0, 2] == -2, f"observed ∂L/∂X centre {gx[2, 2]}, X13 {gx[0, 2]}"
    assert "loss" not in d.iterations[0]


def test_guide_two_epochs_skips_extra_matrices():
    d = read_document(EXAMPLES / "guide_two_epochs_extra_matrices.md")
    assert d.problem.loss == "half_mean" and source(d, "loss")[1].startswith("line 10:")
    assert len(d.iterations) == 2, f"observed {len(d.iterations)} iterations"
    same(claim(d, "updated_filter", 0).value, exact([["0.9", "0.9"], ["-0.1", "0.95"]]), "W^{(1)}")
    same(claim(d, "output", 1).value, exact([["1.65", "2.6"], ["2.6", "1.85"]]), "Ŷ in epoch 2")
    assert claim(d, "grad_filter", 1).value[1, 1] == F("0.385"), "the planted slip, as written"
    same(claim(d, "updated_filter", 1).value, exact([["0.83375", "0.83875"], ["-0.1625", "0.9115"]]), "W^{(2)}")
    skipped = "\n".join(d.skipped)
    for line, why in ((29, "desired filter"), (34, "padded variant"), (81, "after many epochs")):
        assert f"line {line}:" in skipped and why in skipped, f"observed skipped:\n{skipped}\nexpected line {line}"


def test_error_signal_and_implicit_learning_rate():
    d = read_document(EXAMPLES / "qa_error_signal_implicit_lr.md")
    assert d.problem.lr == 1 and source(d, "learning_rate")[1].startswith("line 48:")
    assert d.problem.loss == "half_sum" and "error = target - output" in source(d, "loss")[1]
    same(claim(d, "grad_output").value, exact([[0, 0], ["0.5", "0.5"]]), "the error matrix, as written")
    same(claim(d, "updated_filter").value, exact([[1, "0.5"], [1, 1]]), "'The new filter is:'")
    assert claim(d, "output").decimals.max() == 1


def test_sum_of_outputs_is_the_linear_loss():
    d = read_document(EXAMPLES / "notes_sum_of_outputs.md")
    assert d.problem.loss == "linear" and d.problem.target is None
    same(user(d, "grad_output"), exact([[1, 1], [1, 1]]), "L = Σ O: ∂L/∂O is ones")
    assert d.problem.lr == F("0.01") and claim(d, "loss").value[()] == -16
    same(claim(d, "updated_filter").value, exact([["0.88", "-0.16"], ["-0.24", "-1.28"]]), "K^{+}")


# --- verify on the examples (the integration the importer exists for) --------------------------------

VERDICTS = [
    ("qa_sum_of_squares.md", "ok", {}),
    ("qa_sum_of_squares_unstated.md", "wrong", {"loss": "wrong"}),
    ("notebook_printed_arrays.md", "ok", {}),
    ("lecture_relu_true_convolution.md", "wrong", {"grad_input": "wrong", "grad_filter": "ok"}),
    ("exercise_upstream_stride2.md", "wrong", {"grad_filter": "ok", "grad_input": "wrong"}),
    ("guide_two_epochs_extra_matrices.md", "wrong", {"grad_filter": "wrong", "updated_filter": "carried"}),
    ("qa_error_signal_implicit_lr.md", "ok", {}),
    ("qa_error_signal_flipped_sign.md", "wrong", {"updated_filter": "wrong"}),
    ("notes_sum_of_outputs.md", "ok", {}),
]


@pytest.mark.parametrize("name, verdict, statuses", VERDICTS, ids=[v[0] for v in VERDICTS])
def test_examples_verify(name, verdict, statuses):
    from harness.verify import verify
    v = verify(read_document(EXAMPLES / name))
    assert v.verdict == verdict, f"observed verdict {v.verdict}, expected {verdict} ({name})"
    last = {}
    for s in v.steps:
        last[s.step] = s.status
    for q, status in statuses.items():
        assert last.get(q) == status, f"observed {q} {last.get(q)}, expected {status} ({name})"


def test_seed_verifies_as_the_issue_says(seed):
    from harness.verify import verify
    v = verify(seed)
    status = {s.step: s.status for s in v.steps}
    assert status == {"output": "ok", "loss": "ok", "grad_filter": "wrong", "updated_filter": "carried"}, \
        f"observed {status}"
    assert v.exit_code == 1
