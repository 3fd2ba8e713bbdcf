"""Devices and GPU modes: parse a device string, check a framework can use it, set precision and
determinism flags, and describe the machine (for reports).

Frameworks are imported only inside functions, so `import harness.devices` is cheap.

Precision ("highest" | "tf32" | "default"):
  highest  TF32 off everywhere. torch ≥ 2.9: `torch.backends.cudnn.conv/rnn.fp32_precision = "ieee"`,
           `torch.backends.cuda.matmul.fp32_precision = "ieee"` (the new API; mixing it with the
           legacy `allow_tf32` flags makes torch raise when the legacy flag is read, so on new
           torch only the new API is used). Older torch: `cudnn.allow_tf32 = False`,
           `cuda.matmul.allow_tf32 = False`, `set_float32_matmul_precision("highest")`.
           jax: `jax_default_matmul_precision = "highest"` (and jax_impl passes Precision.HIGHEST).
  tf32 / default
           The frameworks' own GPU defaults, restored explicitly so the order of runs in one
           process does not matter: torch cuDNN convolutions may use TF32, matmuls do not;
           jax's DEFAULT precision (which lets XLA use TF32 on Ampere and later).
Determinism (on): `CUBLAS_WORKSPACE_CONFIG=:4096:8` (must be set before cuBLAS starts),
  `torch.use_deterministic_algorithms(True)`, `cudnn.deterministic = True`, `cudnn.benchmark = False`;
  XLA: `--xla_gpu_deterministic_ops=true` in XLA_FLAGS (read once, when jax starts its backend;
  later changes are recorded as not applied).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from importlib import metadata

from .errors import UserError

PRECISIONS = ("highest", "tf32", "default")
XLA_DETERMINISTIC = "--xla_gpu_deterministic_ops=true"
CUBLAS_WORKSPACE = ":4096:8"
_DEVICE = re.compile(r"^(cpu|cuda|gpu)(?::(\d+))?$")

# framework -> the settings the last `configure` call applied (name -> value), for reports and tests.
APPLIED: dict[str, dict[str, str]] = {}


# --- device strings ------------------------------------------------------------------------------

def parse(device: str, where: str = "--device") -> str:
    """'cpu' | 'cuda' | 'cuda:N' | 'gpu[:N]' (alias) | 'auto' -> canonical form; UserError otherwise."""
    s = str(device).strip().lower()
    if s == "auto":
        return s
    m = _DEVICE.match(s)
    if not m:
        raise UserError(f"unknown device {device!r}; expected cpu, cuda, cuda:N or auto", where)
    if m[1] == "cpu":
        if m[2] not in (None, "0"):
            raise UserError(f"unknown device {device!r}; there is one CPU device (cpu)", where)
        return "cpu"
    return "cuda" if m[2] is None else f"cuda:{int(m[2])}"


def index(device: str) -> int:
    """The GPU ordinal of 'cuda' / 'cuda:N' (0 for 'cuda')."""
    return int(device.split(":")[1]) if ":" in device else 0


def is_gpu(device: str) -> bool:
    return device.startswith("cuda")


def resolve(device: str, frameworks=("torch", "jax"), where: str = "--device") -> str:
    """Parse, and turn 'auto' into 'cuda' when torch or jax sees a GPU, else 'cpu'."""
    d = parse(device, where)
    if d != "auto":
        return d
    return "cuda" if any(why_not(f, "cuda") is None for f in frameworks) else "cpu"


def why_not(framework: str, device: str) -> str | None:
    """Why `framework` cannot run on `device` (None when it can). Never raises."""
    d = parse(device)
    if framework == "torch":
        return _torch_why_not(d)
    if framework == "jax":
        return _jax_why_not(d)
    return None if d == "cpu" else f"{framework} runs on the CPU only"


def require(framework: str, device: str, where: str = "--device") -> None:
    """UserError (one line) when `framework` cannot use `device`."""
    reason = why_not(framework, device)
    if reason:
        raise UserError(f"device {device}: {reason}", where)


def _torch_why_not(d: str) -> str | None:
    try:
        import torch
    except ImportError as exc:
        return f"torch is not installed ({exc})"
    if d == "cpu":
        return None
    ensure_environment()
    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        return f"torch {torch.__version__} is a CPU-only build; install a CUDA build of torch"
    if not torch.cuda.is_available():
        return (f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU: torch.cuda.is_available() is "
                "False (no driver, or CUDA_VISIBLE_DEVICES hides the GPUs)")
    count = torch.cuda.device_count()
    if index(d) >= count:
        return f"torch sees {count} GPU(s) (cuda:0..cuda:{count - 1}); {d} does not exist"
    return None


def _jax_why_not(d: str) -> str | None:
    try:
        import jax
    except ImportError as exc:
        return f"jax is not installed ({exc})"
    if d == "cpu":
        return None
    ensure_environment()          # XLA reads XLA_FLAGS when this query starts its backend
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        return (f"jax {jax.__version__} sees no GPU (platforms: {', '.join(sorted(_jax_platforms(jax)))}); "
                "install jax with CUDA support, e.g. pip install 'jax[cuda12]'")
    if index(d) >= len(gpus):
        return f"jax sees {len(gpus)} GPU(s); {d} does not exist"
    return None


def _jax_platforms(jax) -> set[str]:
    try:
        return {dev.platform for dev in jax.devices()}
    except RuntimeError:
        return set()


def torch_device(device: str) -> str:
    return "cpu" if device == "cpu" else f"cuda:{index(device)}"


def jax_device(device: str):
    ensure_environment()
    import jax
    return jax.devices("cpu")[0] if device == "cpu" else jax.devices("gpu")[index(device)]


# --- precision and determinism -------------------------------------------------------------------

_prepared: bool | None = None   # the determinism the environment was last prepared for


def ensure_environment() -> None:
    """Prepare the environment (deterministic, Config's default) unless a caller already did: run
    before anything that may start CUDA or jax's backend (device queries included)."""
    if _prepared is None:
        prepare_environment(True)


def prepare_environment(deterministic: bool) -> dict[str, str]:
    """Environment variables the GPU libraries read once at start-up: call before CUDA / XLA start
    (the CLI should call it first thing with the user's --deterministic choice)."""
    global _prepared
    _prepared = deterministic
    done = {}
    if deterministic:
        if os.environ.get("CUBLAS_WORKSPACE_CONFIG") not in (":4096:8", ":16:8"):
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
        done["CUBLAS_WORKSPACE_CONFIG"] = os.environ["CUBLAS_WORKSPACE_CONFIG"]
    flags = os.environ.get("XLA_FLAGS", "").split()
    flags = [f for f in flags if not f.startswith("--xla_gpu_deterministic_ops")]
    if deterministic:
        flags.append(XLA_DETERMINISTIC)
    if _jax_backend_started():
        done["XLA_FLAGS"] = (f"{os.environ.get('XLA_FLAGS', '')!s} (unchanged: jax's backend had already "
                             f"started, so {'setting' if deterministic else 'removing'} "
                             "--xla_gpu_deterministic_ops would not take effect)")
    else:
        os.environ["XLA_FLAGS"] = " ".join(flags)
        done["XLA_FLAGS"] = os.environ["XLA_FLAGS"]
    return done


def _jax_backend_started() -> bool:
    import sys
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge
        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # a jax without this private helper: assume started
        return True


def configure(framework: str, config) -> dict[str, str]:
    """Set `framework`'s precision and determinism flags from `config` (an `impls.base.Config`);
    returns (and records in APPLIED) what was set. `framework`: 'torch', 'jax', or another
    implementation name (nothing to set: returns {})."""
    precision, deterministic = config.precision, config.deterministic
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; expected {', '.join(PRECISIONS)}", "--precision")
    done = prepare_environment(deterministic) if framework in ("torch", "jax") else {}
    if framework == "torch":
        done.update(_configure_torch(precision, deterministic, is_gpu(config.device)))
    elif framework == "jax":
        done.update(_configure_jax(precision))
    APPLIED[framework] = done
    return done


def torch_new_precision_api(torch) -> bool:
    """torch ≥ 2.9 has per-backend `fp32_precision` settings (the legacy allow_tf32 flags are deprecated)."""
    return hasattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision")


def _configure_torch(precision: str, deterministic: bool, gpu: bool) -> dict[str, str]:
    import torch
    done = {}
    highest = precision == "highest"
    if torch_new_precision_api(torch):
        settings = {"cudnn.conv": "ieee" if highest else "tf32", "cudnn.rnn": "ieee" if highest else "tf32",
                    "cuda.matmul": "ieee" if highest else "none"}   # 'none': torch's default (no TF32 matmul)
        for name, value in settings.items():
            group, op = name.split(".")
            setattr(getattr(getattr(torch.backends, group), op), "fp32_precision", value)
            done[f"torch.backends.{name}.fp32_precision"] = value
    else:
        torch.backends.cudnn.allow_tf32 = not highest
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        done.update({"torch.backends.cudnn.allow_tf32": str(not highest),
                     "torch.backends.cuda.matmul.allow_tf32": "False",
                     "torch.float32_matmul_precision": "highest"})
    # On the CPU the kernels crossgrad uses (oneDNN convolution, BLAS) are deterministic for a fixed thread
    # count, and the setter imports torch's compiler stack (~1.2 s of every `check`): set it for GPUs only.
    if gpu and torch.are_deterministic_algorithms_enabled() != deterministic:
        torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = False      # autotuning picks kernels by timing: not reproducible
    done.update({"torch.use_deterministic_algorithms": str(deterministic) if gpu else "unchanged on the CPU",
                 "torch.backends.cudnn.deterministic": str(deterministic),
                 "torch.backends.cudnn.benchmark": "False"})
    return done


def _configure_jax(precision: str) -> dict[str, str]:
    import jax
    jax.config.update("jax_enable_x64", True)        # float64 must be real float64
    jax.config.update("jax_default_matmul_precision", "highest" if precision == "highest" else None)
    return {"jax_enable_x64": "True", "jax_default_matmul_precision": str(jax.config.jax_default_matmul_precision)}


# --- describing the machine ----------------------------------------------------------------------

def versions() -> dict[str, str]:
    """Versions of Python and the libraries (from package metadata: imports nothing)."""
    out = {"python": platform.python_version()}
    for dist in ("numpy", "torch", "jax", "jaxlib", "array-api-compat"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def gpu_info() -> dict[str, object]:
    """GPU name, driver and CUDA versions as torch, jax and nvidia-smi see them (for reports).

    Starts CUDA / jax's backend: call after `configure` (or `prepare_environment`)."""
    ensure_environment()
    info: dict[str, object] = {}
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20).stdout.strip()
            info["nvidia-smi"] = [line.strip() for line in out.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError) as exc:
            info["nvidia-smi"] = f"failed: {exc}"
    try:
        import torch
        t: dict[str, object] = {"version": torch.__version__, "cuda": torch.version.cuda,
                                "cuda_available": torch.cuda.is_available()}
        if t["cuda_available"]:
            t["cudnn"] = torch.backends.cudnn.version()
            t["devices"] = [f"{torch.cuda.get_device_name(i)} (compute capability "
                            f"{'.'.join(map(str, torch.cuda.get_device_capability(i)))})"
                            for i in range(torch.cuda.device_count())]
        info["torch"] = t
    except ImportError:
        info["torch"] = "not installed"
    try:
        import jax
        info["jax"] = {"version": jax.__version__, "backend": jax.default_backend(),
                       "devices": [f"{d.platform}:{d.id} {getattr(d, 'device_kind', '')}".strip()
                                   for d in jax.devices()]}
    except ImportError:
        info["jax"] = "not installed"
    except RuntimeError as exc:
        info["jax"] = f"failed to start: {exc}"
    return info
