"""verify on derivations built with the independent reference: correct ones pass (exact and rounded), and
each catalogued mistake, planted exactly into random problems, is found at the right step with its code."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.derivation import Source
from harness.verify import verify
from harness.verify.diagnose import MAX_SPLIT_KEYS
from verify_reference import claim, derivation, problem, rounded, step, tenths

SETTINGS = settings(max_examples=20, deadline=None)
ETA = Fraction(1, 10)


@st.composite
def cases(draw, square=False, bias=None, loss="mean"):
    """A random small problem (NumPy-seeded tenths) and its reference step."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    n, c, o = draw(st.sampled_from([(1, 1, 1), (1, 1, 1), (2, 1, 1), (1, 2, 2)]))
    kh = draw(st.integers(2, 3))
    kw = kh if square else draw(st.integers(2, 3))
    s = draw(st.integers(1, 2))
    pad = draw(st.integers(0, 1))
    h = draw(st.integers(kh + 1, 5))
    wd = draw(st.integers(kw + 1, 5))
    x, w = tenths(rng, (n, c, h, wd)), tenths(rng, (o, c, kh, kw))
    with_bias = draw(st.booleans()) if bias is None else bias
    b = tenths(rng, (o,)) if with_bias else None
    geo = dict(stride=(s, s), pad=((pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - kh) // s + 1, (wd + 2 * pad - kw) // s + 1
    y = tenths(rng, (n, o, ho, wo))
    p = problem(x, w, target=y, b=b, lr=ETA, stride=s, padding=pad, loss=loss)
    ref = step(x, w, b, target=y, lr=ETA, loss=loss, **geo)
    return p, ref, dict(x=x, w=w, b=b, y=y, geo=geo)


def full_claims(ref, with_bias):
    keys = ["output", "loss", "grad_output", "grad_filter", "grad_input", "updated_filter"]
    if with_bias:
        keys += ["grad_bias", "updated_bias"]
    return {k: ref[k] for k in keys}


def statuses(v):
    return {(s.iteration, s.step): s.status for s in v.steps}


def codes(v, q, it=1):
    s = next(s for s in v.steps if s.step == q and s.iteration == it)
    return s.status, [d.code for d in s.diagnosis]


# --- no false alarms ------------------------------------------------------------------------------

@SETTINGS
@given(cases())
def test_correct_exact_derivation_is_ok(case):
    p, ref, inp = case
    v = verify(derivation(p, [full_claims(ref, inp["b"] is not None)]))
    bad = [(s.step, s.status, s.message) for s in v.steps if s.status != "ok"]
    assert v.verdict == "ok" and not bad, f"observed {bad}, expected every step ok"


@SETTINGS
@given(cases(), st.integers(2, 4))
def test_correct_rounded_derivation_is_ok(case, d):
    p, ref, inp = case
    claims = {k: claim(k, rounded(v, d), d) for k, v in full_claims(ref, inp["b"] is not None).items()}
    v = verify(derivation(p, [claims]))
    bad = [(s.step, s.status, s.message) for s in v.steps if s.status != "ok"]
    assert v.verdict == "ok" and not bad, f"observed {bad}, expected every step ok (rounded to {d} decimals)"


@SETTINGS
@given(cases(bias=False), st.integers(2, 3))
def test_own_rounding_propagates(case, d):
    """The person rounds ∂L/∂W, then updates from the rounded gradient and rounds again."""
    p, ref, inp = case
    g = rounded(ref["grad_filter"], d)
    w_new = rounded(inp["w"] - ETA * g, d + 1)
    v = verify(derivation(p, [{"grad_filter": claim("grad_filter", g, d),
                               "updated_filter": claim("updated_filter", w_new, d + 1)}]))
    assert v.verdict == "ok", f"observed {[(s.step, s.status) for s in v.steps]}, expected ok"


# --- planted mistakes -----------------------------------------------------------------------------

@pytest.mark.slow   # a long property run: `pytest -m slow` (CI runs it)
@SETTINGS
@given(cases(bias=False), st.data())
def test_partial_sum(case, data):
    p, ref, inp = case
    n, _, ho, wo = ref["output"].shape
    positions = [(i, pp, q) for i in range(n) for pp in range(ho) for q in range(wo)]
    assume(len(positions) >= 2)
    # Up to MAX_SPLIT_KEYS positions the search for the missing set is exhaustive; past that it is a
    # bounded search that may honestly find nothing (tested below: it never guesses).
    exhaustive = len(positions) <= MAX_SPLIT_KEYS
    skip = data.draw(st.sets(st.sampled_from(positions), min_size=1, max_size=len(positions) - 1))
    quantity = data.draw(st.sampled_from(["grad_filter", "grad_input"]))
    planted = step(inp["x"], inp["w"], None, target=inp["y"], lr=ETA, skip=frozenset(skip), **inp["geo"])[quantity]
    assume(any(a != b for a, b in zip(planted.reshape(-1), ref[quantity].reshape(-1))))
    assume(any(a != 0 for a in planted.reshape(-1)))   # something is left of the sum
    v = verify(derivation(p, [{"output": ref["output"], quantity: planted}]))
    status, found = codes(v, quantity)
    if exhaustive:
        assert status == "wrong" and "partial_sum" in found, f"observed {status} {found}, expected wrong partial_sum"
    else:
        assert status == "wrong" and set(found) <= {"partial_sum"}, \
            f"observed {status} {found}, expected wrong with partial_sum or no diagnosis ({len(positions)} positions)"


@pytest.mark.slow   # a long property run: `pytest -m slow` (CI runs it)
@SETTINGS
@given(cases(), st.sampled_from(["grad_output", "grad_filter", "grad_input"]))
def test_sign_flip(case, quantity):
    p, ref, _ = case
    assume(any(v != 0 for v in ref[quantity].reshape(-1)))
    v = verify(derivation(p, [{"loss": ref["loss"], quantity: -ref[quantity]}]))
    status, found = codes(v, quantity)
    assert status == "wrong" and "sign_flip" in found, f"observed {status} {found}, expected wrong sign_flip"


@SETTINGS
@given(cases(), st.sampled_from(["grad_filter", "grad_output", "loss"]), st.sampled_from(["2", "1/2", "N", "3/2"]))
def test_scale(case, quantity, factor):
    p, ref, _ = case
    f = Fraction(ref["output"].size) if factor == "N" else Fraction(factor)
    assume(f != 1)
    value = ref[quantity] * f
    nonzero = [x for x in np.asarray(ref[quantity], dtype=object).reshape(-1) if x != 0]
    assume(len(nonzero) >= (1 if factor != "3/2" else 2))
    v = verify(derivation(p, [{quantity: value}], conventions={"loss": Source("declared", "problem.loss")}))
    status, found = codes(v, quantity)
    assert status == "wrong" and "scale" in found, f"observed {status} {found}, expected wrong scale ({factor})"


@pytest.mark.slow   # a long property run: `pytest -m slow` (CI runs it)
@SETTINGS
@given(cases())
def test_flipped_kernel(case):
    p, ref, inp = case
    planted = step(inp["x"], inp["w"], inp["b"], target=inp["y"], lr=ETA, op="convolution", **inp["geo"])["output"]
    assume(any(a != b for a, b in zip(planted.reshape(-1), ref["output"].reshape(-1))))
    v = verify(derivation(p, [{"output": planted}]))
    status, found = codes(v, "output")
    assert status == "wrong" and "flipped_kernel" in found, f"observed {status} {found}, expected flipped_kernel"


@pytest.mark.slow   # a long property run: `pytest -m slow` (CI runs it)
@SETTINGS
@given(cases(square=True))
def test_transposed(case):
    p, ref, _ = case
    planted = np.swapaxes(ref["grad_filter"], -1, -2).copy()
    assume(any(a != b for a, b in zip(planted.reshape(-1), ref["grad_filter"].reshape(-1))))
    v = verify(derivation(p, [{"grad_filter": planted}]))
    status, found = codes(v, "grad_filter")
    assert status == "wrong" and "transposed" in found, f"observed {status} {found}, expected transposed"


@pytest.mark.slow   # a long property run: `pytest -m slow` (CI runs it)
@SETTINGS
@given(cases())
def test_update_sign(case):
    p, ref, inp = case
    assume(any(v != 0 for v in ref["grad_filter"].reshape(-1)))
    planted = inp["w"] + ETA * ref["grad_filter"]
    v = verify(derivation(p, [{"grad_filter": ref["grad_filter"], "updated_filter": planted}]))
    status, found = codes(v, "updated_filter")
    assert status == "wrong" and "update_sign" in found, f"observed {status} {found}, expected update_sign"


def _slip(ref, data):
    """∂L/∂W with 1/7 added to one drawn entry (flat index i) that has at least two nonzero neighbours."""
    g = ref["grad_filter"].copy()
    flat = g.reshape(-1)
    assume(flat.size >= 4)
    i = data.draw(st.integers(0, flat.size - 1))
    assume(sum(1 for k, v in enumerate(flat) if k != i and v != 0) >= 2)
    flat[i] += Fraction(1, 7)
    return g, i


@pytest.mark.slow   # a long property run: `pytest -m slow` (CI runs it)
@SETTINGS
@given(cases(), st.data())
def test_arithmetic(case, data):
    p, ref, _ = case
    g, i = _slip(ref, data)
    v = verify(derivation(p, [{"grad_filter": g}]))
    status, found = codes(v, "grad_filter")
    assert status == "wrong" and found == ["arithmetic"], f"observed {status} {found}, expected arithmetic only"
    step_v = next(s for s in v.steps if s.step == "grad_filter")
    wrong = [e.index for e in step_v.entries if not e.ok]
    expected = tuple(int(k) for k in np.unravel_index(i, g.shape))
    assert wrong == [expected], f"observed wrong entries {wrong}, expected [{expected}]"


@SETTINGS
@given(cases(loss="mean"), st.sampled_from(["sum", "half_sum", "half_mean"]))
def test_other_loss_convention_is_named(case, other):
    """Undeclared loss: claims made under another convention are wrong, with the convention named."""
    p, ref, inp = case
    alt = step(inp["x"], inp["w"], inp["b"], target=inp["y"], lr=ETA, loss=other, **inp["geo"])
    assume(alt["loss"] != ref["loss"])
    v = verify(derivation(p, [{"loss": alt["loss"], "grad_output": alt["grad_output"]}]))
    status, found = codes(v, "loss")
    assert status == "wrong" and "convention" in found and "scale" in found, f"observed {status} {found}"
    assert any(f'loss = "{other}"' in s for s in v.suggestions), f"observed suggestions {v.suggestions}"


# --- several SGD steps ----------------------------------------------------------------------------

@pytest.mark.slow   # a long property run: `pytest -m slow` (CI runs it)
@settings(max_examples=10, deadline=None)
@given(cases(bias=False))
def test_mistake_at_step_two_of_three(case):
    p, ref, inp = case
    assume(any(v != 0 for v in ref["grad_filter"].reshape(-1)))
    w, iterations = inp["w"], []
    for k in range(3):
        r = step(inp["x"], w, None, target=inp["y"], lr=ETA, **inp["geo"])
        g = -r["grad_filter"] if k == 1 else r["grad_filter"]
        if k == 1:
            assume(any(v != 0 for v in g.reshape(-1)))
        w_new = w - ETA * g
        iterations.append({"output": r["output"], "loss": r["loss"], "grad_filter": g, "updated_filter": w_new})
        w = w_new
    v = verify(derivation(p.with_(steps=3), iterations))
    got = statuses(v)
    assert all(got[(1, q)] == "ok" for q in iterations[0]), f"observed {got}, expected iteration 1 ok"
    assert got[(2, "output")] == "ok" and got[(2, "grad_filter")] == "wrong", f"observed {got}"
    assert got[(2, "updated_filter")] == "carried", f"observed {got}"
    assert all(got[(3, q)] == "carried" for q in ("output", "loss", "grad_filter", "updated_filter")) or \
        got[(3, "loss")] in ("carried", "ok"), f"observed {got}, expected iteration 3 carried"
    assert v.first_wrong.iteration == 2 and v.first_wrong.step == "grad_filter"


_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@SETTINGS
@given(cases(), st.data(), st.sampled_from([0, 1]))
def test_arithmetic_slip_named_in_the_documents_numbering(case, data, base):
    """A slip planted at 0-based entry k is named k + base in the message (W₂₂ for [1, 1] when 1-based,
    [1,1,2,3] past two digits or dimensions) and stays 0-based in the entries (the JSON `index`)."""
    p, ref, _ = case
    g, i = _slip(ref, data)
    conv = {"indexing": Source("read", f"{base}-based: line 1")}
    v = verify(derivation(p, [{"grad_filter": g}], conventions=conv))
    status, found = codes(v, "grad_filter")
    assume(found == ["arithmetic"])   # test_arithmetic covers the diagnosis itself
    idx = tuple(int(k) for k in np.unravel_index(i, g.shape))
    shown = tuple(k + base for k in idx)
    name = ("".join(map(str, shown)).translate(_SUB) if len(shown) <= 2 and max(shown) < 10
            else "[" + ",".join(map(str, shown)) + "]")
    expected = f"∂L/∂W{name} is "
    assert expected in v.summary and "0-based)" not in v.summary, f"observed {v.summary!r}, expected {expected!r}"
    step_v = next(s for s in v.steps if s.step == "grad_filter")
    wrong = [e.index for e in step_v.entries if not e.ok]
    assert wrong == [idx], f"observed entry indices {wrong}, expected 0-based [{idx}]"
