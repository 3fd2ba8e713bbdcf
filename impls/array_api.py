"""`array_api`: the hand derivation of `impls.formulas` — the very code `manual` and `exact` run — on
torch tensors or jax arrays through array-api-compat, on the CPU or a GPU.

On a GPU this checks the hand derivation executed by GPU kernels. The backend is torch when torch is
installed and can use the device, else jax; Trace.note records which (`run(..., backend=...)` forces
one). Inputs are rounded to the dtype as `manual` rounds them.
"""

from __future__ import annotations

import time

import numpy as np

from . import formulas
from .base import Config, Step, Trace

NAME = "array_api"
BACKENDS = ("torch", "jax")
DTYPES = ("float64", "float32", "float16", "bfloat16")


def unavailable() -> str | None:
    reasons = []
    for name in BACKENDS:
        try:
            __import__(name)
            return None
        except ImportError as exc:
            reasons.append(f"{name}: {exc}")
    return "needs torch or jax; " + "; ".join(reasons)


def backend_for(device: str) -> tuple[str | None, str]:
    """(the backend to use on `device`, or None; the reasons the others were passed over)."""
    from harness import devices
    reasons = []
    for name in BACKENDS:
        reason = devices.why_not(name, device)
        if reason is None:
            return name, "; ".join(reasons)
        reasons.append(reason)
    return None, "; ".join(reasons)


def unavailable_for(problem, config: Config) -> str | None:
    if config.dtype not in DTYPES:
        return f"array_api runs {', '.join(DTYPES)}, not {config.dtype}"
    from harness import devices
    devices.prepare_environment(config.deterministic)   # before a device query starts CUDA / XLA
    name, why = backend_for(config.device)
    return None if name else f"no backend for device {config.device}: {why}"


def _arrays(backend: str, problem, config: Config, device: str):
    """(namespace, {name: array}, device label, to_numpy) for the backend."""
    from harness import devices
    a = problem.float_arrays(np.float64 if config.dtype == "bfloat16" else np.dtype(config.dtype))
    if backend == "torch":
        import array_api_compat.torch as xp
        import torch
        dev = devices.torch_device(device)
        dt = getattr(torch, config.dtype)
        arrays = {k: None if v is None else torch.tensor(v, device=dev).to(dt) for k, v in a.items()}
        to_np = lambda t: (t.float() if t.dtype == torch.bfloat16 else t).cpu().numpy()  # noqa: E731
        sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)
        return xp, arrays, dev, to_np, sync, f"torch {torch.__version__}"
    import jax
    import jax.numpy as jnp
    from array_api_compat import array_namespace
    dev = devices.jax_device(device)
    dt = getattr(jnp, config.dtype)
    arrays = {k: None if v is None else jax.device_put(jnp.asarray(v).astype(dt), dev) for k, v in a.items()}
    to_np = lambda t: np.asarray(t.astype(jnp.float32) if t.dtype == jnp.bfloat16 else t)  # noqa: E731
    xp = array_namespace(arrays["x"])
    return xp, arrays, devices.torch_device(device), to_np, (lambda: None), f"jax {jax.__version__}"


def run(problem, config: Config = Config(), backend: str | None = None) -> Trace:
    from harness import devices
    device = devices.resolve(config.device, BACKENDS)
    if backend is None:
        backend, _ = backend_for(device)
    devices.configure(backend, config)
    xp, t, dev, to_np, sync, version = _arrays(backend, problem, config, device)
    sync()
    t0 = time.perf_counter()
    res = formulas.run_steps(xp, problem, t["x"], t["w"], t["b"], t["target"], t["grad_output"])
    if backend == "jax":
        import jax
        jax.block_until_ready(res)
    sync()
    secs = time.perf_counter() - t0
    steps = tuple(Step(**{k: (None if v is None else to_np(v)) for k, v in q.items()}) for q in res)
    return Trace(NAME, steps, secs, dev, f"impls.formulas on {version} ({xp.__name__}), {config.dtype}")
