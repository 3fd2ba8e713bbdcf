"""torch, jax, fd and array_api against `exact` (Fractions, the independent reference), on the built-in
cases and on hypothesis-drawn small problems covering every convention; plus framework vs framework."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import impls
from harness.cases import BUILTIN, builtin
from harness.numbers import to_exact_array
from harness.problem import ACTIVATIONS, LOSSES, OPERATIONS, make_problem, output_hw, resolve_padding
from impls import array_api, exact
from impls.base import Config

from _framework_checks import assert_agrees, mismatches

# (implementation, array_api backend or None)
IMPLS = [("torch", None), ("jax", None), ("fd", None), ("array_api", "torch"), ("array_api", "jax")]
IMPL_IDS = ["torch", "jax", "fd", "array_api-torch", "array_api-jax"]


def _needs(name: str, backend: str | None):
    reason = impls.unavailable(name) or (impls.unavailable(backend) if backend else None)
    if reason:
        pytest.skip(f"{backend or name} unavailable: {reason}")


def _run(name, backend, problem, config):
    mod = impls.load(name)
    return array_api.run(problem, config, backend=backend) if backend else mod.run(problem, config)


_EXACT: dict[str, object] = {}


def _exact(case: str):
    if case not in _EXACT:
        _EXACT[case] = exact.run(builtin(case))
    return _EXACT[case]


@pytest.mark.parametrize("case", list(BUILTIN))
@pytest.mark.parametrize("name,backend", IMPLS, ids=IMPL_IDS)
def test_builtin_float64(name, backend, case):
    _needs(name, backend)
    problem = builtin(case)
    assert_agrees(problem, _run(name, backend, problem, Config(dtype="float64")), _exact(case), "float64",
                  f", case {case}")


# array_api on jax runs eagerly (~1.5 s a case here): its 27 low-precision runs are `slow` (CI runs them); the
# same formulas in low precision stay in the default run on torch, and array_api-jax in float64 above.
LOW = [pytest.param(*i, id=n, marks=[pytest.mark.slow] if n == "array_api-jax" else [])
       for i, n in zip(IMPLS, IMPL_IDS) if i[0] != "fd"]


@pytest.mark.parametrize("case", list(BUILTIN))
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
@pytest.mark.parametrize("name,backend", LOW)
def test_builtin_low_precision(name, backend, dtype, case):
    _needs(name, backend)
    problem = builtin(case)
    reason = impls.load(name).unavailable_for(problem, Config(dtype=dtype))
    if reason:
        pytest.skip(reason)
    trace = _run(name, backend, problem, Config(dtype=dtype))
    assert trace.steps[0].grad_filter.dtype == (np.float32 if dtype == "bfloat16" else np.dtype(dtype)), \
        f"observed {trace.steps[0].grad_filter.dtype}, expected the {dtype} values as NumPy ({name}, {case})"
    assert_agrees(problem, trace, _exact(case), dtype, f", case {case}")


def test_seed_by_hand():
    """The brief's hand arithmetic for the seed: ∂L/∂W = [[1.3, 1.0], [0.05, 0.95]], L = 0.365."""
    ok = [n for n, b in IMPLS if not impls.unavailable(b or n)]
    for name, backend in [i for i in IMPLS if (i[1] or i[0]) in ok]:
        trace = _run(name, backend, builtin("seed"), Config())
        got = trace.steps[0].grad_filter.reshape(2, 2)
        assert np.allclose(got, [[1.3, 1.0], [0.05, 0.95]], rtol=0, atol=1e-12), \
            f"observed {got.tolist()}, expected [[1.3, 1.0], [0.05, 0.95]] (grad_filter, {name}/{backend})"
        assert abs(float(trace.steps[0].loss) - 0.365) < 1e-12, \
            f"observed {float(trace.steps[0].loss)}, expected 0.365 (loss, {name}/{backend})"


# --- hypothesis: small random problems covering every convention ----------------------------------

def _tenths(draw, shape):
    ks = draw(st.lists(st.integers(-9, 9), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return to_exact_array(np.array([f"{k / 10:.1f}" for k in ks]).reshape(shape).tolist(), "test")


@st.composite
def problems(draw):
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.one_of(st.just("valid"), st.just("same"), st.integers(0, 2),
                             st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                       st.tuples(st.integers(0, 2), st.integers(0, 2)))))
    h = dilation[0] * (kh - 1) + 1 + draw(st.integers(0, 3))
    w = dilation[1] * (kw - 1) + 1 + draw(st.integers(0, 3))
    pad = resolve_padding(padding if not isinstance(padding, tuple) else [list(p) for p in padding],
                          (kh, kw), stride, dilation, (h, w))
    out = (n, c_out, *output_hw((h, w), (kh, kw), stride, pad, dilation))
    loss = draw(st.sampled_from(LOSSES))
    steps = draw(st.integers(1, 3))
    lr = draw(st.sampled_from([Fraction(1, 10), Fraction(1, 2)])) if steps > 1 else draw(
        st.sampled_from([None, Fraction(1, 10)]))
    return make_problem(
        x=_tenths(draw, (n, c_in, h, w)), w=_tenths(draw, (c_out, c_in // groups, kh, kw)),
        b=_tenths(draw, (c_out,)) if draw(st.booleans()) else None,
        target=None if loss == "linear" else _tenths(draw, out),
        grad_output=_tenths(draw, out) if loss == "linear" else None,
        lr=lr, stride=stride, padding=[list(p) for p in pad], dilation=dilation, groups=groups, steps=steps,
        loss=loss, operation=draw(st.sampled_from(OPERATIONS)), activation=draw(st.sampled_from(ACTIVATIONS)),
        name="drawn")


def _clear_of_kinks(problem, reference, rel: float) -> bool:
    """With ReLU, no pre-activation z within rel·max|z| of 0 in any step (a float z rounding across 0
    flips ReLU'; fd cannot differentiate at a kink)."""
    if problem.activation != "relu":
        return True
    for step in reference.steps:
        z = np.asarray(step.output, dtype=object).astype(np.float64)
        if np.any(np.abs(z) <= rel * max(1.0, float(np.max(np.abs(z))))):
            return False
    return True


@pytest.mark.parametrize("dtype", ["float64", "float32"])
# array_api on jax runs op by op, compiling each op for every new shape (~1 s a drawn problem on 2
# cores): it is covered on the built-in cases; here the same formulas run on torch
@pytest.mark.slow   # a long property run: `pytest -m slow` (CI runs it)
@pytest.mark.parametrize("name,backend", IMPLS[:4], ids=IMPL_IDS[:4])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=problems())
def test_drawn_problems(name, backend, dtype, problem):
    _needs(name, backend)
    if name == "fd" and dtype != "float64":
        pytest.skip("fd always runs in float64")
    reference = exact.run(problem)
    assume(_clear_of_kinks(problem, reference, 1e-6 if dtype == "float64" else 1e-3))
    assert_agrees(problem, _run(name, backend, problem, Config(dtype=dtype)), reference, dtype, ", drawn problem")


@pytest.mark.parametrize("case", list(BUILTIN))
def test_torch_agrees_with_jax_float32(case):
    """Framework against framework, no reference in between: both start from the same float32 inputs."""
    for name in ("torch", "jax"):
        _needs(name, None)
    problem = builtin(case)
    t = impls.load("torch").run(problem, Config(dtype="float32"))
    j = impls.load("jax").run(problem, Config(dtype="float32"))
    # j in place of the exact reference: the bound covers two float32 runs' errors
    bad = mismatches(problem, t, _as_reference(j), "float32", f", case {case}, torch vs jax")
    assert not bad, "\n".join(bad[:10])


def _as_reference(trace):
    from impls.base import Step, Trace
    steps = tuple(Step(**{k: None if v is None else np.asarray(v, dtype=np.float64).astype(object)
                          for k, v in s.items()}) for s in trace.steps)
    return Trace(trace.impl, steps)


def test_fd_refuses_big_problems():
    x = to_exact_array(np.zeros((1, 1, 150, 150), dtype=int).tolist(), "x")
    w = to_exact_array([[[[1]]]], "w")
    p = make_problem(x=x, w=w, target=to_exact_array(np.zeros((1, 1, 150, 150), dtype=int).tolist(), "y"))
    reason = impls.load("fd").unavailable_for(p, Config())
    assert reason and "too big for finite differences" in reason, f"observed {reason!r}, expected a refusal"
    assert impls.load("fd").unavailable_for(builtin("batch"), Config()) is None


def test_fd_notes_relu_kink():
    """z exactly 0 at output (0, 0): fd's slope there is the mean of the one-sided slopes, and it says so."""
    x = to_exact_array([[1, 1, 2], [1, 3, 1]], "x")
    p = make_problem(x=x, w=to_exact_array([["0.5", "-0.5"]], "w"), target=to_exact_array([[1, 1], [1, 1]], "y"),
                     activation="relu")
    trace = impls.load("fd").run(p, Config())
    assert "kink" in trace.note, f"observed note {trace.note!r}, expected a note about the ReLU kink"
