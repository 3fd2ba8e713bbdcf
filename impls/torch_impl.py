"""`torch`: F.conv2d + torch.autograd — no hand-written gradient anywhere.

Every convention is built by composing torch operations, and autograd differentiates them:
  convolution      F.conv2d with the filter flipped (`w.flip(-1, -2)`); autograd flips its gradient back
  padding          symmetric -> conv2d's `padding`; asymmetric -> F.pad first (autograd crops ∂L/∂x)
  relu             torch.relu, whose derivative at 0 is 0 (threshold_backward passes the gradient
                   only where z > 0) — the same ReLU'(0) = 0 convention as the hand derivation
  losses           F.mse_loss (mean / sum), times 1/2 for the half_* losses; linear: Σ G⊙Ŷ
  ∂L/∂Ŷ            torch.autograd.grad with Ŷ (an intermediate tensor) among the inputs
  SGD update       under no_grad: W − η·∂L/∂W (η rounded to the dtype, as in the NumPy derivation)
Inputs are the problem's exact values rounded to the dtype (via NumPy for float16/32/64, via
float64 for bfloat16). Results come back as NumPy arrays of the dtype (bfloat16 -> float32, exact).
"""

from __future__ import annotations

import functools
import time

import numpy as np

from .base import Config, Step, Trace, missing_framework

NAME = "torch"
DTYPES = ("float64", "float32", "float16", "bfloat16")


def unavailable() -> str | None:
    return missing_framework("torch")


def unavailable_for(problem, config: Config) -> str | None:
    """Why this problem/config cannot run here (dtype, device), or None."""
    if config.dtype not in DTYPES:
        return f"torch has no {config.dtype} here (choose from {', '.join(DTYPES)})"
    from harness import devices
    devices.prepare_environment(config.deterministic)   # before a device query starts CUDA / XLA
    reason = devices.why_not("torch", config.device)
    if not reason and config.dtype == "float16" and not devices.is_gpu(config.device):
        # Seen with torch 2.13: CPU float16 conv2d backward kills the process (segfault) for some strided,
        # padded, dilated shapes, e.g. x (1,1,7,1), W (1,1,3,1), stride 2, padding (0,1), dilation (1,2).
        return "torch's CPU float16 convolution can crash the process; use float16 on a GPU, or bfloat16/float32"
    return reason or _probe(config.dtype, devices.torch_device(config.device))


@functools.lru_cache(maxsize=None)
def _probe(dtype: str, device: str) -> str | None:
    """A 1×1 conv2d forward + backward: some dtypes have no conv kernel on some devices."""
    import torch
    import torch.nn.functional as F
    try:
        x = torch.ones((1, 1, 2, 2), dtype=getattr(torch, dtype), device=device, requires_grad=True)
        w = torch.ones((1, 1, 1, 1), dtype=x.dtype, device=device, requires_grad=True)
        torch.autograd.grad(F.conv2d(x, w).sum(), [x, w])
    except (RuntimeError, NotImplementedError) as exc:
        return f"torch {torch.__version__} has no {dtype} conv2d on {device}: {str(exc).splitlines()[0]}"
    return None


def inputs(problem, dtype: str) -> dict:
    """x, w, b, target, grad_output as NumPy arrays rounded to `dtype` the way `manual` rounds them
    (bfloat16, which NumPy lacks: float64 here, rounded by the framework)."""
    return problem.float_arrays(np.float64 if dtype == "bfloat16" else np.dtype(dtype))


def _tensor(torch, a, dtype: str, device: str):
    return None if a is None else torch.tensor(a, device=device).to(getattr(torch, dtype))


def _numpy(torch, t):
    if t is None:
        return None
    t = t.detach().to("cpu")
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()   # every bfloat16 is a float32


def _loss(F, y_hat, target, g, loss: str):
    if loss == "linear":
        return (g * y_hat).sum()
    if loss in ("mean", "half_mean"):
        value = F.mse_loss(y_hat, target, reduction="mean")
    else:
        value = F.mse_loss(y_hat, target, reduction="sum")
    return value * 0.5 if loss.startswith("half_") else value


def _one_step(torch, F, p, x, w, b, target, g):
    x = x.detach().requires_grad_()
    w = w.detach().requires_grad_()
    b = None if b is None else b.detach().requires_grad_()
    w_eff = w.flip(-1, -2) if p.operation == "convolution" else w
    (top, bottom), (left, right) = p.padding
    if top == bottom and left == right:
        z = F.conv2d(x, w_eff, b, p.stride, (top, left), p.dilation, p.groups)
    else:
        z = F.conv2d(F.pad(x, (left, right, top, bottom)), w_eff, b, p.stride, 0, p.dilation, p.groups)
    a = torch.relu(z) if p.activation == "relu" else None
    y_hat = z if a is None else a
    loss = _loss(F, y_hat, target, g, p.loss)
    wrt = [y_hat, w, x] + ([b] if b is not None else [])
    grads = torch.autograd.grad(loss, wrt)
    dL_dY, dL_dW, dL_dx = grads[:3]
    dL_db = grads[3] if b is not None else None
    new_w = new_b = None
    if p.lr is not None:
        lr = float(p.lr)
        with torch.no_grad():
            new_w = w - lr * dL_dW
            new_b = None if b is None else b - lr * dL_db
    return {"output": z, "activation": a, "loss": loss, "grad_output": dL_dY, "grad_filter": dL_dW,
            "grad_input": dL_dx, "grad_bias": dL_db, "updated_filter": new_w, "updated_bias": new_b}


def run(problem, config: Config = Config()) -> Trace:
    import torch
    import torch.nn.functional as F

    from harness import devices
    device = devices.torch_device(devices.resolve(config.device, ("torch",)))
    devices.configure("torch", config)
    a = inputs(problem, config.dtype)
    x, w, b, target, g = (_tensor(torch, a[k], config.dtype, device) for k in ("x", "w", "b", "target", "grad_output"))
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    t0 = time.perf_counter()
    results = []
    for _ in range(problem.steps):
        q = _one_step(torch, F, problem, x, w, b, target, g)
        results.append(q)
        if q["updated_filter"] is not None:
            w, b = q["updated_filter"], q["updated_bias"]
    sync()
    secs = time.perf_counter() - t0
    steps = tuple(Step(**{k: _numpy(torch, v) for k, v in q.items()}) for q in results)
    return Trace(NAME, steps, secs, device, f"torch {torch.__version__}, {config.dtype}, precision {config.precision}")
