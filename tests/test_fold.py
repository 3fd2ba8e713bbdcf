"""`impls.formulas.fold` is the adjoint of `unfold` (what makes ∂L/∂x = fold(Wᵀ·δ) right), checked in
exact arithmetic: ⟨unfold(x), y⟩ = ⟨x, fold(y)⟩ for every stride / dilation / padding, in both column
layouts (W_c = W_pad for stride 1, W_out otherwise) — and on torch tensors, which fold in place."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from impls import formulas

CONFIGS = [  # (h, w, kh, kw, stride, dilation, padding)
    (5, 6, 3, 2, (1, 1), (1, 1), ((0, 0), (0, 0))),
    (5, 6, 3, 3, (1, 1), (2, 1), ((1, 2), (0, 1))),
    (7, 7, 2, 3, (2, 3), (1, 2), ((1, 0), (2, 2))),
    (4, 9, 1, 4, (1, 2), (1, 1), ((0, 1), (1, 0))),
    (3, 3, 3, 3, (1, 1), (1, 1), ((1, 1), (1, 1))),
]


def _fractions(rng, shape):
    return np.vectorize(lambda v: F(int(v), 7), otypes=[object])(rng.integers(-9, 10, size=shape))


def _dims(h, w, kh, kw, stride, dilation, padding):
    (pt, pb), (pl, pr) = padding
    hp, wp = h + pt + pb, w + pl + pr
    ho = (hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return hp, wp, ho, wo


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"h{c[0]}w{c[1]}k{c[2]}x{c[3]}s{c[4]}d{c[5]}")
def test_fold_is_the_adjoint_of_unfold_exactly(cfg):
    h, w, kh, kw, stride, dilation, padding = cfg
    hp, wp, ho, wo = _dims(*cfg)
    rng = np.random.default_rng(sum(cfg[:4]))
    x_pad = formulas.pad2d(np, _fractions(rng, (2, 3, h, w)), padding)
    cols, wc = formulas.unfold(np, x_pad, (kh, kw), stride, dilation, (ho, wo))
    assert wc == (wp if stride == (1, 1) else wo), f"observed W_c {wc}, expected {wp if stride == (1, 1) else wo}"
    y = _fractions(rng, cols.shape)
    valid = np.zeros((ho, wc), dtype=bool)
    valid[:, :wo] = True          # the wrapped columns of a wide layout are dropped: their adjoint input is 0
    y = y * valid.reshape(-1)
    lhs = (cols * y).sum()
    folded = formulas.fold(np, y, (hp, wp), (kh, kw), stride, dilation, (ho, wo), wc)
    rhs = (x_pad * folded).sum()
    assert lhs == rhs, f"observed ⟨x, fold(y)⟩ = {rhs}, expected ⟨unfold(x), y⟩ = {lhs} ({cfg})"


@pytest.mark.parametrize("cfg", CONFIGS[:3], ids=lambda c: f"s{c[4]}d{c[5]}")
def test_torch_in_place_fold_matches_numpy(cfg):
    torch = pytest.importorskip("torch")
    h, w, kh, kw, stride, dilation, padding = cfg
    hp, wp, ho, wo = _dims(*cfg)
    wc = formulas.row_width(stride, wp, wo)
    dcols = np.random.default_rng(1).standard_normal((2, 3, kh * kw, ho * wc))
    expected = formulas.fold(np, dcols, (hp, wp), (kh, kw), stride, dilation, (ho, wo), wc)
    observed = formulas.fold(torch, torch.tensor(dcols), (hp, wp), (kh, kw), stride, dilation, (ho, wo), wc)
    np.testing.assert_array_equal(observed.numpy(), expected, err_msg=f"torch fold vs NumPy fold ({cfg})")
