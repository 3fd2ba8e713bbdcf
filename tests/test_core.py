"""The exact hand derivation on the seed and on hand-checkable cases; problem validation."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction as F

import numpy as np
import pytest

from conftest import SEED_HAND, exact
from harness.cases import BUILTIN, builtin, problem_from_table
from harness.errors import UserError
from harness.problem import make_problem
from impls import exact as exact_impl
from impls import manual
from impls.base import Config


def user(problem, step, quantity):
    return problem.layout.to_user(quantity, getattr(step, quantity))


@pytest.mark.parametrize("quantity", list(SEED_HAND))
def test_seed_exact_matches_hand_derivation(quantity):
    p = builtin("seed")
    step = exact_impl.run(p).steps[0]
    observed = user(p, step, quantity)
    expected = SEED_HAND[quantity]
    if quantity == "loss":
        assert observed.item() == expected, f"observed {observed}, expected {expected} (seed loss)"
    else:
        assert observed.shape == expected.shape
        assert (observed == expected).all(), f"observed {observed.tolist()}, expected {expected.tolist()} ({quantity})"


def test_seed_grad_input_by_hand():
    # ∂L/∂x[r,c] = Σ_{p,q} G[p,q]·W[r−p, c−q]; G = [[0.3,0.45],[-0.25,0.1]], W = [[0.5,0.2],[0.3,0.7]]
    G = [[F("0.3"), F("0.45")], [F("-0.25"), F("0.1")]]
    W = [[F("0.5"), F("0.2")], [F("0.3"), F("0.7")]]
    hand = [[sum(G[p][q] * W[r - p][c - q] for p in range(2) for q in range(2)
                 if 0 <= r - p < 2 and 0 <= c - q < 2) for c in range(3)] for r in range(3)]
    p = builtin("seed")
    observed = user(p, exact_impl.run(p).steps[0], "grad_input")
    assert observed.tolist() == hand


def _direct_conv(x, w, stride, pad, dil):
    """A plain quadruple loop, independent of the vectorised formulas (N=C=1)."""
    H, W = len(x), len(x[0])
    kh, kw = len(w), len(w[0])
    xp = [[F(0)] * (W + 2 * pad) for _ in range(H + 2 * pad)]
    for i in range(H):
        for j in range(W):
            xp[i + pad][j + pad] = x[i][j]
    ho = (H + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    wo = (W + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    return [[sum(xp[p * stride + i * dil][q * stride + j * dil] * w[i][j] for i in range(kh) for j in range(kw))
             for q in range(wo)] for p in range(ho)]


@pytest.mark.parametrize("stride,pad,dil", [(1, 0, 1), (2, 1, 1), (1, 2, 2), (2, 0, 2)], ids=str)
def test_output_and_filter_gradient_against_plain_loops(stride, pad, dil):
    rng = np.random.default_rng(stride * 10 + pad + dil)
    x = [[F(int(v), 10) for v in row] for row in rng.integers(-9, 10, (6, 7))]
    w = [[F(int(v), 10) for v in row] for row in rng.integers(-9, 10, (3, 2))]
    z = _direct_conv(x, w, stride, pad, dil)
    y = [[F(int(v), 10) for v in row] for row in rng.integers(-9, 10, (len(z), len(z[0])))]
    p = make_problem(x=exact(x), w=exact(w), target=exact(y), lr=F(1, 10), stride=stride, padding=pad, dilation=dil)
    step = exact_impl.run(p).steps[0]
    assert user(p, step, "output").tolist() == z
    n = len(z) * len(z[0])
    g = [[2 * (z[a][b] - y[a][b]) / n for b in range(len(z[0]))] for a in range(len(z))]
    # ∂L/∂W[i,j] = Σ_{p,q} g[p,q] · x_pad[p·s + i·d, q·s + j·d], by perturbation-free linearity:
    # the output is linear in W, so ∂Z[p,q]/∂W[i,j] is the conv of x with the unit filter e_ij.
    dW = [[sum(g[a][b] * _direct_conv(x, [[F(int(ii == i and jj == j)) for jj in range(2)] for ii in range(3)],
                                        stride, pad, dil)[a][b] for a in range(len(z)) for b in range(len(z[0])))
           for j in range(2)] for i in range(3)]
    assert user(p, step, "grad_filter").tolist() == dW


@pytest.mark.parametrize("name", list(BUILTIN))
def test_manual_float64_close_to_exact(name):
    p = builtin(name)
    for s_exact, s_float in zip(exact_impl.run(p).steps, manual.run(p, Config(dtype="float64")).steps):
        for (q, a), (_, b) in zip(s_exact.items(), s_float.items()):
            assert (a is None) == (b is None), q
            if a is not None:
                np.testing.assert_allclose(b, a.astype(float), rtol=1e-12, atol=1e-12, err_msg=f"{name} {q}")


def test_builtin_cases_cover_the_features():
    ps = [builtin(n) for n in BUILTIN]
    assert any(p.x.shape[0] > 1 for p in ps) and any(p.x.shape[1] > 1 for p in ps)
    assert any(p.stride != (1, 1) for p in ps) and any(p.padding != ((0, 0), (0, 0)) for p in ps)
    assert any(p.dilation != (1, 1) for p in ps) and any(p.groups > 1 for p in ps)
    assert any(p.b is not None for p in ps) and any(p.steps > 1 for p in ps)


def test_multistep_continues_from_updated_filter():
    p = builtin("multistep")
    steps = exact_impl.run(p).steps
    one = exact_impl.run(p.with_(steps=1, w=steps[1 - 1].updated_filter, b=steps[0].updated_bias)).steps[0]
    assert (steps[1].grad_filter == one.grad_filter).all()


def test_same_padding_keeps_size_and_pads_bottom_right():
    p = builtin("same")
    assert p.out_hw == tuple(p.x.shape[2:])
    assert p.padding == ((0, 1), (1, 1))  # kernel 2x3: total 1 row (bottom), 2 columns


@pytest.mark.parametrize("table,match", [
    ({"filter": [[1]], "target": [[1]]}, "missing key 'input'"),
    ({"input": [[1, 2], [3]], "filter": [[1]], "target": [[1]]}, "ragged"),
    ({"input": [[1, "a"]], "filter": [[1]], "target": [[1, 1]]}, "expected a number"),
    ({"input": [[1, True]], "filter": [[1]], "target": [[1, 1]]}, "boolean"),
    ({"input": [[1, 2]], "filter": [[1]], "target": [[1, 1, 1]]}, r"target has shape \[1, 3\]"),
    ({"input": [[1, 2]], "filter": [[1, 1, 1]], "target": [[1]]}, "does not fit"),
    ({"input": [[1, 2]], "filter": [[1]], "target": [[1, 1]], "stride": 0}, "stride must be >= 1"),
    ({"input": [[[1, 2]], [[1, 2]], [[1, 2]]], "filter": [[[[1]]]], "target": [[1]], "groups": 2}, "groups=2"),
    ({"input": [[1, 2]], "filter": [[1]], "target": [[1, 1]], "padding": "full"}, "padding must be"),
    ({"input": [[1, 2]], "filter": [[1]], "target": [[1, 1]], "loss": "l1"}, "loss must be one of"),
    ({"input": [[1, 2]], "filter": [[1]], "target": [[1, 1]], "steps": 2}, "needs a learning_rate"),
    ({"input": [[1, 2]], "filter": [[1]], "target": [[1, 1]], "learning_rate": Decimal("NaN")}, "finite"),
    ({"input": [[1, 2]], "filter": [[1]], "target": [[1, 1]], "colour": 1}, "unknown key"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_problems_are_user_errors(table, match):
    with pytest.raises(UserError, match=match):
        problem_from_table(table, "problem")


def test_decimals_are_exact():
    p = problem_from_table({"input": [[Decimal("0.1")]], "filter": [[Decimal("0.2")]], "target": [[0]],
                            "learning_rate": Decimal("0.1")}, "problem")
    step = exact_impl.run(p).steps[0]
    assert step.output.item() == F(1, 50)        # 0.1 · 0.2 exactly, not 0.020000000000000004
    assert step.loss.item() == F(1, 2500)
