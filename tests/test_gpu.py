"""On a CUDA GPU: torch, jax and the hand formulas (array_api) agree with `exact` on every built-in case
in highest precision; the TF32 drift is measured and reported; deterministic runs repeat bitwise.
Skipped cleanly without a GPU (`pytest -m gpu` on a GPU machine; scripts/gpu_run.sh)."""

from __future__ import annotations

import numpy as np
import pytest

import impls
from harness import devices
from harness.cases import BUILTIN, builtin
from impls import array_api, exact
from impls.base import Config

from _framework_checks import assert_agrees, magnitudes, mismatches

pytestmark = pytest.mark.gpu

# (implementation, array_api backend or None) -> the framework that must see the GPU
IMPLS = [("torch", None), ("jax", None), ("array_api", "torch"), ("array_api", "jax")]
IDS = ["torch", "jax", "array_api-torch", "array_api-jax"]


def _framework(name, backend):
    return backend or name


def _needs_gpu(framework: str):
    if impls.unavailable(framework):
        pytest.skip(f"{framework} not installed")
    reason = devices.why_not(framework, "cuda")
    if reason:
        pytest.skip(f"no GPU for {framework}: {reason}")


def _run(name, backend, problem, config):
    return array_api.run(problem, config, backend=backend) if backend else impls.load(name).run(problem, config)


_EXACT: dict[str, object] = {}


def _exact(case):
    if case not in _EXACT:
        _EXACT[case] = exact.run(builtin(case))
    return _EXACT[case]


@pytest.mark.parametrize("case", list(BUILTIN))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,backend", IMPLS, ids=IDS)
def test_cuda_highest_agrees_with_exact(name, backend, dtype, case):
    _needs_gpu(_framework(name, backend))
    problem = builtin(case)
    trace = _run(name, backend, problem, Config(dtype=dtype, device="cuda", precision="highest"))
    assert "cuda" in trace.device or "gpu" in trace.device, f"observed device {trace.device!r}, expected the GPU"
    assert_agrees(problem, trace, _exact(case), dtype, f", case {case}, cuda, highest")


def _relative_drift(problem, trace, reference) -> float:
    """max |observed − exact| / M over every quantity and step (M = Σ|terms|, the rounding scale)."""
    worst = 0.0
    for obs_step, ref_step, mag_step in zip(trace.steps, reference.steps, magnitudes(problem)):
        mags = dict(mag_step.items())
        for (name, obs), (_, ref) in zip(obs_step.items(), ref_step.items()):
            if obs is None or ref is None:
                continue
            mag = np.asarray(mags["output"] if name == "activation" else mags[name], dtype=np.float64)
            err = np.abs(np.asarray(obs, np.float64) - np.asarray(ref, dtype=object).astype(np.float64))
            worst = max(worst, float(np.max(err / np.maximum(mag, 1e-300))))
    return worst


@pytest.mark.parametrize("name,backend", [("torch", None), ("jax", None)], ids=["torch", "jax"])
def test_tf32_drift_is_reported(name, backend, record_property, capsys):
    """float32 with the frameworks' GPU defaults (TF32 allowed): measure the drift from exact, per case.
    It must stay within the TF32 bound (10-bit mantissa products, u = 2^-11); it is printed and recorded."""
    _needs_gpu(_framework(name, backend))
    drift = {}
    for case in BUILTIN:
        problem = builtin(case)
        trace = _run(name, backend, problem, Config(dtype="float32", device="cuda", precision="tf32"))
        drift[case] = _relative_drift(problem, trace, _exact(case))
        bad = mismatches(problem, trace, _exact(case), "tf32", f", case {case}, cuda, tf32")
        assert not bad, "\n".join(bad[:10])
    record_property(f"tf32_drift_{name}", drift)
    with capsys.disabled():
        print(f"\n{name} float32 tf32 drift (max |err| / Σ|terms|): "
              + ", ".join(f"{c} {d:.1e}" for c, d in drift.items()))


@pytest.mark.parametrize("case", ["batch", "groups", "multistep"])
@pytest.mark.parametrize("name,backend", IMPLS, ids=IDS)
def test_deterministic_runs_repeat_bitwise(name, backend, case):
    _needs_gpu(_framework(name, backend))
    problem = builtin(case)
    config = Config(dtype="float32", device="cuda", precision="highest", deterministic=True)
    first, second = (_run(name, backend, problem, config) for _ in range(2))
    for k, (a, b) in enumerate(zip(first.steps, second.steps), 1):
        for (q, x), (_, y) in zip(a.items(), b.items()):
            if x is None:
                continue
            x, y = np.asarray(x), np.asarray(y)
            same = x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
            assert same, f"observed two different results for {q}, step {k} ({name}, {case}): not bitwise equal"


def test_gpu_info_names_the_gpu():
    if all(devices.why_not(f, "cuda") for f in ("torch", "jax")):
        pytest.skip("no GPU")
    info = devices.gpu_info()
    torch_info, jax_info = info.get("torch"), info.get("jax")
    names = (torch_info.get("devices", []) if isinstance(torch_info, dict) else []) + \
            (jax_info.get("devices", []) if isinstance(jax_info, dict) else [])
    assert any("cpu" not in n.lower() for n in names), f"observed {info}, expected a GPU named"
