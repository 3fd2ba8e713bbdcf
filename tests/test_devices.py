"""Devices on the CPU: parsing, clear errors when CUDA is asked for and absent, the precision and
determinism flags `configure` sets (read back from torch / jax themselves), cheap imports without
the frameworks, and the hand formulas on torch CPU tensors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import impls
from harness import devices
from harness.cases import BUILTIN, builtin
from harness.errors import UserError
from impls import exact
from impls.base import Config

from _framework_checks import assert_agrees


def _torch_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _jax_gpu() -> bool:
    try:
        import jax
        jax.devices("gpu")
    except (ImportError, RuntimeError):
        return False
    return True


@pytest.mark.parametrize("given,expected", [
    ("cpu", "cpu"), ("CPU", "cpu"), (" cpu:0 ", "cpu"), ("cuda", "cuda"), ("cuda:0", "cuda:0"),
    ("cuda:3", "cuda:3"), ("gpu", "cuda"), ("gpu:1", "cuda:1"), ("auto", "auto"),
], ids=lambda v: repr(v))
def test_parse(given, expected):
    assert devices.parse(given) == expected, f"observed {devices.parse(given)!r}, expected {expected!r} ({given!r})"


@pytest.mark.parametrize("given", ["tpu", "cuda:", "cuda:x", "cuda:-1", "cpu:1", "", "mps"], ids=repr)
def test_parse_rejects(given):
    with pytest.raises(UserError) as err:
        devices.parse(given)
    assert "expected cpu, cuda, cuda:N or auto" in str(err.value) or "one CPU device" in str(err.value), \
        f"observed {str(err.value)!r}, expected a one-line message naming the valid devices"
    assert "\n" not in str(err.value)


def test_index():
    assert [devices.index(d) for d in ("cuda", "cuda:0", "cuda:2")] == [0, 0, 2]


def test_auto_is_cpu_without_gpu():
    if _torch_gpu() or _jax_gpu():
        pytest.skip("a GPU is present")
    assert devices.resolve("auto") == "cpu"


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_cuda_without_gpu_is_a_user_error(framework):
    if impls.unavailable(framework):
        pytest.skip(f"{framework} not installed")
    if (_torch_gpu() if framework == "torch" else _jax_gpu()):
        pytest.skip("a GPU is present")
    with pytest.raises(UserError) as err:
        devices.require(framework, "cuda")
    msg = str(err.value)
    assert msg.startswith("--device: device cuda: ") and "\n" not in msg, f"observed {msg!r}"
    assert any(s in msg for s in ("CPU-only build", "sees no GPU")), \
        f"observed {msg!r}, expected it to say the build is CPU-only or no GPU is visible"


@pytest.mark.parametrize("name", ["torch", "jax", "array_api"])
def test_cuda_without_gpu_makes_impl_unavailable(name):
    if impls.unavailable(name):
        pytest.skip(f"{name} not installed")
    if _torch_gpu() or _jax_gpu():
        pytest.skip("a GPU is present")
    reason = impls.load(name).unavailable_for(builtin("seed"), Config(device="cuda:0"))
    assert reason and ("GPU" in reason or "CPU-only" in reason), f"observed {reason!r}, expected a reason"


def test_other_impls_are_cpu_only():
    assert devices.why_not("manual", "cpu") is None
    assert "CPU only" in devices.why_not("manual", "cuda")


# --- flags ---------------------------------------------------------------------------------------

@pytest.fixture
def torch_state(monkeypatch):
    """Restore torch's global flags (and the environment) after a test that sets them."""
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "")
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))
    new = devices.torch_new_precision_api(torch)
    names = ("cudnn.conv", "cudnn.rnn", "cuda.matmul")

    def get(name):   # e.g. 'cudnn.conv' -> torch.backends.cudnn.conv.fp32_precision
        group, op = name.split(".")
        return getattr(getattr(getattr(torch.backends, group), op), "fp32_precision")
    saved = {n: get(n) for n in names} if new else (torch.backends.cudnn.allow_tf32,
                                                     torch.backends.cuda.matmul.allow_tf32)
    det = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
           torch.backends.cudnn.benchmark)
    yield torch, new, get
    if new:
        for n, v in saved.items():
            setattr(getattr(getattr(torch.backends, n.split(".")[0]), n.split(".")[1]), "fp32_precision", v)
    else:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
    torch.use_deterministic_algorithms(det[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = det[1], det[2]


def test_torch_highest_and_deterministic(torch_state):
    torch, new, get = torch_state
    torch.backends.cudnn.benchmark = True
    done = devices.configure("torch", Config(device="cuda", precision="highest", deterministic=True))
    if new:
        observed = {n: get(n) for n in ("cudnn.conv", "cudnn.rnn", "cuda.matmul")}
        assert observed == {"cudnn.conv": "ieee", "cudnn.rnn": "ieee", "cuda.matmul": "ieee"}, f"observed {observed}"
    else:
        assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == (False, False)
        assert torch.get_float32_matmul_precision() == "highest"
    assert torch.are_deterministic_algorithms_enabled() is True
    assert torch.backends.cudnn.deterministic is True and torch.backends.cudnn.benchmark is False
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert done["torch.use_deterministic_algorithms"] == "True" and devices.APPLIED["torch"] == done


def test_torch_cpu_leaves_deterministic_algorithms_alone(torch_state):
    """On the CPU the (costly to import) global switch is not touched, and the report says so."""
    torch, _, _ = torch_state
    before = torch.are_deterministic_algorithms_enabled()
    done = devices.configure("torch", Config(device="cpu", deterministic=not before))
    assert torch.are_deterministic_algorithms_enabled() is before
    assert done["torch.use_deterministic_algorithms"] == "unchanged on the CPU"


def test_torch_tf32_restores_defaults_and_nondeterministic(torch_state):
    torch, new, get = torch_state
    devices.configure("torch", Config(device="cuda", precision="highest", deterministic=True))
    devices.configure("torch", Config(device="cuda", precision="tf32", deterministic=False))
    if new:
        assert (get("cudnn.conv"), get("cuda.matmul")) == ("tf32", "none"), \
            f"observed {(get('cudnn.conv'), get('cuda.matmul'))}, expected torch's defaults ('tf32', 'none')"
    else:
        assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == (True, False)
    assert torch.are_deterministic_algorithms_enabled() is False and torch.backends.cudnn.deterministic is False


def test_jax_precision_flags():
    jax = pytest.importorskip("jax")
    before = jax.config.jax_default_matmul_precision
    try:
        done = devices.configure("jax", Config(precision="highest"))
        assert jax.config.jax_default_matmul_precision == "highest" and jax.config.jax_enable_x64 is True
        assert done["jax_default_matmul_precision"] == "highest"
        devices.configure("jax", Config(precision="tf32"))
        assert jax.config.jax_default_matmul_precision is None
    finally:
        jax.config.update("jax_default_matmul_precision", before)


def test_bad_precision_is_a_user_error():
    with pytest.raises(UserError, match="unknown precision"):
        devices.configure("torch", Config(precision="fast"))


def test_xla_flags_before_backend_start(monkeypatch):
    monkeypatch.setattr(devices, "_jax_backend_started", lambda: False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x --xla_gpu_deterministic_ops=false")
    devices.prepare_environment(deterministic=True)
    assert os.environ["XLA_FLAGS"].split() == ["--xla_dump_to=/tmp/x", "--xla_gpu_deterministic_ops=true"]
    devices.prepare_environment(deterministic=False)
    assert os.environ["XLA_FLAGS"].split() == ["--xla_dump_to=/tmp/x"]


def test_xla_flags_after_backend_start_are_reported(monkeypatch):
    monkeypatch.setattr(devices, "_jax_backend_started", lambda: True)
    monkeypatch.setenv("XLA_FLAGS", "")
    done = devices.prepare_environment(deterministic=True)
    assert os.environ["XLA_FLAGS"] == "" and "unchanged" in done["XLA_FLAGS"], f"observed {done}"


# --- cheap imports, descriptions -----------------------------------------------------------------

def test_imports_without_frameworks():
    """With torch and jax absent (sys.modules[...] = None), the modules import and say why they can't run."""
    code = ("import sys; sys.modules['torch'] = None; sys.modules['jax'] = None\n"
            "import impls, impls.torch_impl as t, impls.jax_impl as j, impls.fd, impls.array_api as a\n"
            "import harness.devices as d\n"
            "print(t.unavailable()); print(j.unavailable()); print(a.unavailable())\n"
            "print(impls.unavailable('torch'))\n"
            "print(d.why_not('torch', 'cuda')); print(d.versions()['python'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=_root(), timeout=120)
    assert out.returncode == 0, f"observed exit {out.returncode}: {out.stderr[-500:]}"
    lines = out.stdout.splitlines()
    assert lines[0].startswith("torch is not installed") and lines[1].startswith("jax is not installed"), lines
    assert lines[2].startswith("needs torch or jax") and lines[3].startswith("torch is not installed"), lines
    assert lines[4].startswith("torch is not installed"), lines


def test_importing_impls_does_not_import_frameworks():
    code = ("import sys, impls.torch_impl, impls.jax_impl, impls.fd, impls.array_api, harness.devices\n"
            "print(sorted(m for m in ('torch', 'jax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=_root(), timeout=120)
    assert out.stdout.strip() == "[]", f"observed {out.stdout.strip()} {out.stderr[-300:]}, expected []"


def _root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_versions_and_gpu_info():
    v = devices.versions()
    assert v["python"] == ".".join(map(str, sys.version_info[:3])) and "numpy" in v
    info = devices.gpu_info()
    assert set(info) >= {"torch", "jax"}


# --- the hand derivation on torch CPU tensors ----------------------------------------------------

@pytest.mark.parametrize("case", list(BUILTIN))
def test_array_api_on_torch_cpu_tensors(case):
    if impls.unavailable("torch"):
        pytest.skip("torch not installed")
    problem = builtin(case)
    trace = impls.load("array_api").run(problem, Config(device="cpu"), backend="torch")
    assert "torch" in trace.note, f"observed note {trace.note!r}, expected the torch backend recorded"
    assert_agrees(problem, trace, exact.run(problem), "float64", f", case {case}")
