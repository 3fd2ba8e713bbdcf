"""The fast NumPy path (`impls.manual`: blocked im2col, one GEMM per pass, col2im, worker threads) against
`impls.exact` — the hand derivation of `impls.formulas` on Fractions, a different formulation (∂L/∂x as a
correlation of the stride-dilated δ, no blocks, no threads) in exact arithmetic."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from harness.cases import BUILTIN, builtin
from harness.problem import LOSSES, Problem, make_problem
from impls import exact as exact_impl
from impls import manual
from impls.base import Config

TOL = {"float64": 1e-10, "float32": 3e-4}   # relative to the largest |exact value| of each quantity


def assert_close_to_exact(problem, steps, dtype: str, where: str) -> None:
    for k, (ref, ours) in enumerate(zip(exact_impl.run(problem).steps, steps), start=1):
        for q, expected in ref.items():
            observed = ours[q] if isinstance(ours, dict) else getattr(ours, q)
            assert (expected is None) == (observed is None), f"observed {observed!r}, expected {expected!r} ({where} step {k} {q})"
            if expected is None:
                continue
            e = np.asarray(expected, dtype=np.float64)
            o = np.asarray(observed)
            assert o.shape == e.shape, f"observed shape {o.shape}, expected {e.shape} ({where} step {k} {q})"
            assert o.dtype == np.dtype(dtype), f"observed dtype {o.dtype}, expected {dtype} ({where} step {k} {q})"
            scale = max(1.0, float(np.abs(e).max(initial=0)))
            err = float(np.abs(o.astype(np.float64) - e).max(initial=0))
            assert err <= TOL[dtype] * scale, (f"observed max |manual − exact| = {err:.3g}, expected ≤ "
                                                f"{TOL[dtype] * scale:.3g} ({where} step {k} {q}, {dtype})")


def run_manual(problem, dtype="float64", workers=None):
    a = problem.float_arrays(manual.DTYPES[dtype])
    return manual.steps(problem, a["x"], a["w"], a["b"], a["target"], a["grad_output"], workers=workers)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(BUILTIN))
def test_builtin_cases_agree_with_exact(name, dtype):
    p = builtin(name)
    assert_close_to_exact(p, manual.run(p, Config(dtype=dtype)).steps, dtype, name)


@pytest.mark.parametrize("workers", [1, 2, 3], ids=lambda w: f"workers{w}")
@pytest.mark.parametrize("name", list(BUILTIN))
def test_one_row_blocks_and_threads_agree_with_exact(name, workers, monkeypatch):
    monkeypatch.setattr(manual, "BLOCK_BYTES", 1)      # every block is one output row
    p = builtin(name)
    assert_close_to_exact(p, run_manual(p, workers=workers), "float64", f"{name}, one-row blocks, {workers} workers")


def test_threads_give_the_same_input_gradient_bitwise(monkeypatch):
    """Workers own whole images; ∂L/∂x then comes out bit for bit as on one thread (a race between two
    workers folding neighbouring bands of one image into overlapping rows would show up here)."""
    monkeypatch.setattr(manual, "BLOCK_BYTES", 1)                     # 1-row bands: many overlapping folds
    rng = np.random.default_rng(5)
    x, w, y = rng.standard_normal((4, 3, 40, 40)), rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((4, 2, 38, 38))
    p = Problem(x=x, w=w, target=y, lr=F(1, 10))
    one = manual.steps(p, x, w, None, y, workers=1)[0]
    for _ in range(3):
        two = manual.steps(p, x, w, None, y, workers=2)[0]
        assert np.array_equal(one["grad_input"], two["grad_input"]), "∂L/∂x differs between 1 and 2 workers"
        np.testing.assert_allclose(two["grad_filter"], one["grad_filter"], rtol=1e-12,
                                   err_msg="∂L/∂W: 2 workers vs 1 (only the order of the partial sums differs)")


def test_seed_float32_stays_float32_and_matches_the_hand_numbers():
    p = builtin("seed")
    step = manual.run(p, Config(dtype="float32")).steps[0]
    dW = p.layout.to_user("grad_filter", step.grad_filter)
    assert dW.dtype == np.float32
    np.testing.assert_allclose(dW, [[1.3, 1.0], [0.05, 0.95]], rtol=0, atol=1e-6,
                               err_msg="seed ∂L/∂W (hand: [[1.3, 1.0], [0.05, 0.95]])")
    assert abs(float(step.loss) - 0.365) < 1e-6, f"observed L = {float(step.loss)}, expected 0.365 (seed)"


@pytest.mark.parametrize("workers", [1, 2, 3], ids=lambda w: f"workers{w}")
def test_block_size_respects_the_memory_bound(monkeypatch, workers):
    p = builtin("batch")
    for block_bytes in (1, 64, 1 << 10, 1 << 20):
        monkeypatch.setattr(manual, "BLOCK_BYTES", block_bytes)
        geo = manual.Geometry(p, p.x.shape, p.w.shape, 8, workers)
        row = geo.groups * geo.k * geo.wo * 8
        cols_bytes = geo.images_per_block * geo.rows_per_block * row
        assert cols_bytes <= max(block_bytes, row), f"observed a {cols_bytes}-byte block, expected ≤ {max(block_bytes, row)}"
        covered = [(n, r) for n0, n1, p0, p1 in geo.blocks for n in range(n0, n1) for r in range(p0, p1)]
        assert sorted(covered) == [(n, r) for n in range(geo.n) for r in range(geo.ho)], \
            f"observed blocks {geo.blocks}, expected them to tile every output row once ({block_bytes} bytes)"
        parts = manual._split(geo.blocks, workers)
        owners = {n: w for w, part in enumerate(parts) for n0, n1, _, _ in part for n in range(n0, n1)}
        assert len(owners) == geo.n and sum(map(len, parts)) == len(geo.blocks), \
            f"observed worker shares {parts}, expected each image owned by one worker"


def test_peak_memory_is_the_outputs_plus_one_block_per_worker(monkeypatch):
    """16×8×48×48 input, 8 filters 3×3: `cols` for the whole batch would be 16·72·46²·8 bytes ≈ 19.5 MB;
    with blocks of at most 256 KiB the step must stay near the size of what it reports."""
    monkeypatch.setattr(manual, "BLOCK_BYTES", 256 << 10)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((16, 8, 48, 48)), rng.standard_normal((8, 8, 3, 3))
    y = rng.standard_normal((16, 8, 46, 46))
    p = Problem(x=x, w=w, target=y, lr=F(1, 10))          # conventions only; the arrays are passed below
    reported = x.nbytes + 2 * y.nbytes + 4 * w.nbytes        # ∂L/∂x; Z and ∂L/∂Ŷ; ∂L/∂W, W' and partials
    manual.steps(p, x, w, None, y, workers=2)
    tracemalloc.start()
    try:
        manual.steps(p, x, w, None, y, workers=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_worker = 2 * manual.BLOCK_BYTES                      # cols (≤ BLOCK_BYTES) and a smaller loss scratch
    bound = reported + 2 * per_worker + 100_000
    whole_cols = 16 * 72 * 46 * 46 * 8
    assert bound < reported + whole_cols
    assert peak <= bound, f"observed peak {peak} bytes, expected ≤ {bound} (outputs + one block per worker)"


# --- hypothesis: small problems across every feature and convention ------------------------------

tenths = st.integers(-9, 9).map(lambda v: F(v, 10))


def arrays(draw, shape):
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        out[idx] = draw(tenths)
    return out


@st.composite
def problems(draw):
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    n = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, wd = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(2))
    ho = (h + sum(padding[0]) - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + sum(padding[1]) - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    assume(ho >= 1 and wo >= 1)
    loss = draw(st.sampled_from(LOSSES))
    steps = draw(st.integers(1, 3))
    out_shape = (n, c_out, ho, wo)
    return make_problem(
        x=arrays(draw, (n, c_in, h, wd)), w=arrays(draw, (c_out, c_in // groups, kh, kw)),
        b=arrays(draw, (c_out,)) if draw(st.booleans()) else None,
        target=None if loss == "linear" else arrays(draw, out_shape),
        grad_output=arrays(draw, out_shape) if loss == "linear" else None,
        lr=draw(st.sampled_from([F(1, 10), F(1, 4)])), stride=stride, padding=padding, dilation=dilation,
        groups=groups, steps=steps, loss=loss, operation=draw(st.sampled_from(["cross_correlation", "convolution"])),
        activation=draw(st.sampled_from(["none", "relu"])))


def _relu_kink(problem, steps) -> bool:
    """An exact pre-activation of 0 whose float value is not 0: rounding picks the side of ReLU's kink."""
    if problem.activation != "relu":
        return False
    return any(bool(((np.asarray(e.output) == 0) & (np.asarray(s["output"]) != 0)).any())
               for e, s in zip(exact_impl.run(problem).steps, steps))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=problems(), workers=st.sampled_from([1, 2]), one_row_blocks=st.booleans())
def test_drawn_problems_agree_with_exact_float64(problem, workers, one_row_blocks):
    block = 1 if one_row_blocks else manual.BLOCK_BYTES
    saved, manual.BLOCK_BYTES = manual.BLOCK_BYTES, block
    try:
        steps = run_manual(problem, "float64", workers)
    finally:
        manual.BLOCK_BYTES = saved
    assume(not _relu_kink(problem, steps))
    assert_close_to_exact(problem, steps, "float64", f"drawn case, {workers} workers, one-row blocks {one_row_blocks}")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=problems())
def test_drawn_problems_agree_with_exact_float32(problem):
    steps = run_manual(problem, "float32")
    assume(not _relu_kink(problem, steps))
    assert_close_to_exact(problem, steps, "float32", "drawn case")


def test_parallel_shares_come_back_in_order_and_the_callers_cores_are_restored():
    import os
    import threading
    pool = manual._pool(3)
    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    ran_on = {}

    def share(k):
        ran_on[k] = threading.get_ident()
        return k * 10

    assert manual.in_parallel(share, [0, 1, 2], pool) == [0, 10, 20], "shares must come back in their order"
    assert ran_on[0] == threading.get_ident(), "the first share runs on the calling thread"
    if before is not None:
        assert os.sched_getaffinity(0) == before, f"observed affinity {os.sched_getaffinity(0)}, expected {before} restored"


def test_a_refused_core_runs_the_step_unpinned(monkeypatch):
    import os
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no thread affinity on this platform")

    def refuse(pid, cpus):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "sched_setaffinity", refuse)
    assert manual.in_parallel(lambda k: k + 1, [1, 2], manual._pool(2)) == [2, 3]
