"""`jax`: lax.conv_general_dilated + jax.value_and_grad — no hand-written gradient anywhere.

One jitted function computes a whole SGD step: the forward (NCHW / OIHW / NCHW, explicit padding
pairs, rhs_dilation, feature_group_count; the kernel flipped for "convolution"; jax.nn.relu, whose
custom derivative at 0 is 0, as in the hand derivation), the loss, and the gradients with respect to
W, x, b and Ŷ in one `jax.value_and_grad` call. ∂L/∂Ŷ is the gradient with respect to a zero added
to Ŷ (Ŷ + 0 is Ŷ, and d/dε L(Ŷ + ε) at ε = 0 is ∂L/∂Ŷ), so autodiff alone produces it.
Convolutions run with Precision.HIGHEST unless the config asks for 'tf32'/'default'.

The jitted step is cached per static configuration (conventions, stride, padding, dilation, groups,
precision; the STEP_FUNCTIONS_KEPT most recent) and compiled once per shape / dtype / device, so a sweep
repeating shapes compiles once.
Compilations also persist across processes in jax's compilation cache, in
$XDG_CACHE_HOME/crossgrad/jax (default ~/.cache/crossgrad/jax; CROSSGRAD_JAX_CACHE=off disables it):
measured on 2 CPU cores, compiling the 9 built-in cases takes 1.8–2.5 s cold and 0.19 s from the cache.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import numpy as np

from .base import Config, Step, Trace, missing_framework

NAME = "jax"
DTYPES = ("float64", "float32", "float16", "bfloat16")


def unavailable() -> str | None:
    return missing_framework("jax")


def unavailable_for(problem, config: Config) -> str | None:
    if config.dtype not in DTYPES:
        return f"jax has no {config.dtype} here (choose from {', '.join(DTYPES)})"
    from harness import devices
    devices.prepare_environment(config.deterministic)   # before a device query starts CUDA / XLA
    return devices.why_not("jax", config.device)


@functools.lru_cache(maxsize=None)
def enable_persistent_cache() -> str | None:
    """Turn on jax's persistent compilation cache (once); returns its directory, None when off."""
    if os.environ.get("CROSSGRAD_JAX_CACHE", "").lower() in ("0", "off", "no", "false"):
        return None
    import jax
    if jax.config.jax_compilation_cache_dir:       # the user configured one: keep theirs
        return jax.config.jax_compilation_cache_dir
    path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crossgrad" / "jax"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)   # our compiles are all small
    return str(path)


def _loss(jnp, y_hat, target, g, loss: str):
    if loss == "linear":
        return jnp.sum(g * y_hat)
    diff = y_hat - target
    value = jnp.mean(diff * diff) if loss in ("mean", "half_mean") else jnp.sum(diff * diff)
    return value * 0.5 if loss.startswith("half_") else value


STEP_FUNCTIONS_KEPT = 256    # a long sweep draws thousands of configurations; each keeps its compiled executables


@functools.lru_cache(maxsize=STEP_FUNCTIONS_KEPT)
def step_function(stride, padding, dilation, groups, operation, activation, loss, has_bias, has_lr, precision):
    """The jitted SGD step for one static configuration (jit then caches per shape / dtype)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    prec = lax.Precision.HIGHEST if precision == "highest" else None

    def forward(w, b, x):
        w_eff = jnp.flip(w, axis=(2, 3)) if operation == "convolution" else w
        z = lax.conv_general_dilated(x, w_eff, window_strides=stride, padding=[tuple(p) for p in padding],
                                     rhs_dilation=dilation, dimension_numbers=("NCHW", "OIHW", "NCHW"),
                                     feature_group_count=groups, precision=prec)
        if has_bias:
            z = z + b[None, :, None, None]
        a = jax.nn.relu(z) if activation == "relu" else None
        return z, a

    def objective(w, b, x, eps, target, g):
        z, a = forward(w, b, x)
        y_hat = (z if a is None else a) + eps
        return _loss(jnp, y_hat, target, g, loss), (z, a)

    grad = jax.value_and_grad(objective, argnums=(0, 1, 2, 3), has_aux=True)

    def step(w, b, x, target, g, lr):
        n, _, h, wd = x.shape
        eps = jnp.zeros((n, w.shape[0]) + _out_hw((h, wd), w.shape[2:], stride, padding, dilation), x.dtype)
        (L, (z, a)), (dW, db, dx, dY) = grad(w, b, x, eps, target, g)
        new_w = w - lr * dW if has_lr else None
        new_b = b - lr * db if has_lr and has_bias else None
        return {"output": z, "activation": a, "loss": L, "grad_output": dY, "grad_filter": dW, "grad_input": dx,
                "grad_bias": db if has_bias else None, "updated_filter": new_w, "updated_bias": new_b}

    return jax.jit(step)


_EXECUTABLES: dict = {}


def _compiled(step, args):
    """The compiled executable for these argument shapes / dtypes / devices (compiled once; the time
    is reported apart from the run's)."""
    key = (step, tuple(None if a is None else (a.shape, a.dtype.name, str(a.devices())) for a in args))
    if key in _EXECUTABLES:
        return _EXECUTABLES[key], 0.0
    t0 = time.perf_counter()
    _EXECUTABLES[key] = step.lower(*args).compile()
    return _EXECUTABLES[key], time.perf_counter() - t0


def _out_hw(hw, khw, stride, padding, dilation):
    return tuple((size + p0 + p1 - d * (k - 1) - 1) // s + 1
                 for size, k, s, (p0, p1), d in zip(hw, khw, stride, padding, dilation))


def _numpy(a):
    if a is None:
        return None
    a = np.asarray(a)
    return a.astype(np.float32) if a.dtype.name == "bfloat16" else a   # every bfloat16 is a float32


def run(problem, config: Config = Config()) -> Trace:
    from harness import devices
    device_name = devices.resolve(config.device, ("jax",))
    devices.configure("jax", config)           # x64 on, precision; before the first jax array
    enable_persistent_cache()
    import jax
    import jax.numpy as jnp

    dev = devices.jax_device(device_name)
    dtype = getattr(jnp, config.dtype)
    # rounded to the dtype as `manual` rounds them (bfloat16, which NumPy lacks, from float64)
    a = problem.float_arrays(np.float64 if config.dtype == "bfloat16" else np.dtype(config.dtype))
    put = lambda v: None if v is None else jax.device_put(jnp.asarray(v).astype(dtype), dev)  # noqa: E731
    x, w, b, target, g = (put(a[k]) for k in ("x", "w", "b", "target", "grad_output"))
    lr = put(np.float64(problem.lr if problem.lr is not None else 0))
    step = step_function(problem.stride, problem.padding, problem.dilation, problem.groups, problem.operation,
                         problem.activation, problem.loss, b is not None, problem.lr is not None,
                         "highest" if config.precision == "highest" else "default")
    compiled, compile_secs = _compiled(step, (w, b, x, target, g, lr))
    t0 = time.perf_counter()
    results = []
    for _ in range(problem.steps):
        q = compiled(w, b, x, target, g, lr)
        results.append(q)
        if q["updated_filter"] is not None:
            w, b = q["updated_filter"], q["updated_bias"]
    jax.block_until_ready(results)
    secs = time.perf_counter() - t0
    steps = tuple(Step(**{k: _numpy(v) for k, v in q.items()}) for q in results)
    compile_note = f", compiled in {compile_secs * 1e3:.0f} ms" if compile_secs else ""
    return Trace(NAME, steps, secs, devices.torch_device(device_name),   # 'cpu' | 'cuda:N', as torch says
                 f"jax {jax.__version__}, {config.dtype}, precision {config.precision}{compile_note}")
