"""The tolerance's underflow term (fl(a·b) = ab(1+δ) + η, |η| ≤ u·λ) and the range check: half precision
without false alarms, float32/float64 as before."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import impls
from harness import tolerance as T
from harness.compare import compare
from harness.problem import make_problem
from harness.run import reference_for
from harness.sweep import draw as D
from harness.sweep.run import SKIP_RANGE, run_problem
from impls.base import Config

from conftest import exact


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_eta_is_half_the_smallest_subnormal(dtype):
    """u·λ is the underflow error bound of the docstring: half the spacing of the subnormals (NumPy's finfo)."""
    tol, info = T.TABLE[dtype], np.finfo(dtype)
    eta = F(tol.unit_roundoff) * F(tol.smallest_normal)
    assert eta == F(float(info.smallest_subnormal)) / 2, f"observed η = {float(eta)!r}, expected half of {info.smallest_subnormal}"
    assert tol.largest == float(info.max), f"observed largest {tol.largest}, expected {info.max}"


def test_bfloat16_range_matches_torch():
    torch = pytest.importorskip("torch")
    tol, info = T.TABLE["bfloat16"], torch.finfo(torch.bfloat16)
    assert (tol.smallest_normal, tol.largest) == (info.tiny, info.max), \
        f"observed λ, largest = {tol.smallest_normal}, {tol.largest}; expected {info.tiny}, {info.max}"
    assert tol.unit_roundoff == info.eps / 2


def test_one_underflowing_product_needs_the_lambda_term():
    """By hand: 2⁻¹³·2⁻¹³ = 2⁻²⁶ is below half of float16's smallest subnormal 2⁻²⁴, so it rounds to 0.
    The relative bound γ₁·|ab| cannot allow that; γ₁·(|ab| + λ) does."""
    a = np.float16(2.0 ** -13)
    observed, expected = float(a * a), 2.0 ** -26
    assert observed == 0.0, f"observed {observed}, expected float16 to round 2⁻²⁶ to 0"
    tol = T.TABLE["float16"]
    assert abs(observed - expected) > tol.gamma(1) * expected
    assert abs(observed - expected) <= tol.gamma(1) * (expected + tol.smallest_normal)


def _f16(q: F) -> F:
    """q correctly rounded to float16 (via float64, exact here: q is a product or sum of two float16s)."""
    return F(float(np.float16(float(q))))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-2047, 2047), st.integers(-26, -6), st.integers(-2047, 2047),
                          st.integers(-26, -6)), min_size=1, max_size=12))
def test_the_model_bounds_float16_dot_products(terms):
    """|fl(Σ aᵢbᵢ) − Σ aᵢbᵢ| ≤ γₙ·(Σ|aᵢbᵢ| + λ) for recursive summation in float16, with products
    anywhere from normal to entirely underflowed; exact values from Fractions."""
    tol = T.TABLE["float16"]
    pairs = [(_f16(F(m) * F(2) ** e), _f16(F(k) * F(2) ** f)) for m, e, k, f in terms]
    s = F(0)
    for a, b in pairs:
        s = _f16(s + _f16(a * b))
    truth = sum(a * b for a, b in pairs)
    bound = tol.gamma(len(pairs)) * (sum(abs(a * b) for a, b in pairs) + F(tol.smallest_normal))
    assert abs(s - truth) <= bound, f"observed {float(s)!r}, expected {float(truth)!r} (allowed ±{float(bound):.3g})"


def _tiny_problem():
    """x = 2⁻⁷ everywhere, W = [[2⁻⁷]], Y = 0: Z = 2⁻¹⁴ (float16's smallest normal), and by hand
    L = mean(Z²) = 2⁻²⁸, which float16 cannot hold (half its smallest subnormal is 2⁻²⁵): observed 0."""
    q = "1/128"
    return make_problem(x=exact([[q, q], [q, q]]), w=exact([[q]]), target=exact([[0, 0], [0, 0]]),
                        lr=F(1, 10), name="underflow")


@pytest.mark.parametrize("impl", ["manual", "array_api"])
def test_underflowed_loss_is_accepted_with_the_lambda_term_only(impl):
    if impls.unavailable(impl):
        pytest.skip(impls.unavailable(impl))
    p = _tiny_problem()
    config = Config(dtype="float16")
    trace, reference = impls.load(impl).run(p, config), reference_for(p)
    assert reference.steps[0].loss == F(1, 2 ** 28), f"observed exact L = {reference.steps[0].loss}, expected 2⁻²⁸"
    assert float(trace.steps[0].loss) == 0.0, f"observed L = {float(trace.steps[0].loss)!r}, expected 0 (underflow)"
    plain = compare(p, trace, reference, "float16", magnitudes=T.magnitudes(p))
    assert "loss" in {m.quantity for m in plain.mismatches}, "expected the bound without λ to reject L = 0"
    with_lambda = compare(p, trace, reference, "float16", magnitudes=T.magnitudes(p, "float16"))
    assert with_lambda.agree, f"observed {[m.describe() for m in with_lambda.mismatches]}, expected none"


def test_lambda_term_is_negligible_for_float32_and_float64():
    """Over sweep draws, λ changes M by at most an ulp in float64 and 1e-7 of itself in float32."""
    worst = {"float64": 0.0, "float32": 0.0}
    for case in D.draw(0, 60):
        plain = T.magnitudes(case.problem)
        for dtype in worst:
            for a, b in zip(plain, T.magnitudes(case.problem, dtype)):
                for q, m in a.items():
                    if m is not None and np.any(m > 0):
                        m, mb = np.asarray(m), np.asarray(b[q])
                        worst[dtype] = max(worst[dtype], float(np.max((mb - m)[m > 0] / m[m > 0])))
    assert worst["float64"] <= 1e-15 and worst["float32"] <= 1e-7, f"observed relative changes {worst}"


def test_values_beyond_float16_are_skipped_not_mismatched():
    """Z = 10·20 = 200 and the mean loss 200² = 40000 fit float16, but Σ(Ŷ−Y)² = 160000 does not: an
    implementation that sums before dividing overflows, so the configuration is skipped."""
    p = make_problem(x=exact([[10, 10], [10, 10]]), w=exact([[20]]), target=exact([[0, 0], [0, 0]]), name="big")
    assert "loss's sum" in (T.out_of_range(p, T.magnitudes(p, "float16"), "float16") or ""), \
        "expected the loss's sum to be out of float16's range"
    assert T.out_of_range(p, T.magnitudes(p, "float32"), "float32") is None
    if not impls.unavailable("array_api"):   # the witness: summing in float16 does overflow
        loss = float(impls.load("array_api").run(p, Config(dtype="float16")).steps[0].loss)
        assert loss == float("inf"), f"observed L = {loss}, expected inf from a float16 sum of 4·40000"
    out = run_problem(p, ("exact", "manual"), Config(dtype="float16"))
    assert out.skipped and out.skipped.startswith(SKIP_RANGE) and not out.mismatches, f"observed {out}"
