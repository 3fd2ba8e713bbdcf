"""What `bench` times: one SGD step (forward, loss, ∂L/∂Ŷ, ∂L/∂W, ∂L/∂x, update) per implementation,
and the GEMM floors (the step's three products alone).

Each maker returns a `Runner`: a no-argument callable that runs one step to completion (GPU work
synchronised, jax results blocked on), plus the one-off set-up cost (jax's compilation) and a note.
Frameworks are imported here only when their runner is made.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .shapes import EXACT_MAX_MACS, Case


@dataclass
class Runner:
    name: str
    step: Callable[[], object]
    setup_seconds: float = 0.0          # jax: compilation (lower + compile), timed apart from the steps
    note: str = ""
    memory: dict = field(default_factory=dict)


class Skip(Exception):
    """This implementation does not run on this shape / device (the message says why)."""


# --- implementations ---------------------------------------------------------------------------

def manual(case: Case, device: str) -> Runner:
    from impls import manual as impl
    if device != "cpu":
        raise Skip("the NumPy path runs on the CPU only")
    p = case.problem
    geo = impl.Geometry(p, case.x.shape, case.w.shape, case.x.itemsize)
    return Runner("manual", lambda: impl.steps(p, case.x, case.w, None, case.target),
                  note=f"{len(geo.blocks)} blocks of ≤{geo.images_per_block} image(s) × ≤{geo.rows_per_block} "
                       f"output rows, {geo.workers} worker thread(s)")


def exact(case: Case, device: str) -> Runner:
    from impls import exact as impl
    if case.shape.macs > EXACT_MAX_MACS:
        raise Skip(f"{case.shape.macs} multiply-adds: Fractions run only up to {EXACT_MAX_MACS}")
    return Runner("exact", lambda: impl.run(case.problem), note="Fractions")


def fd(case: Case, device: str) -> Runner:
    from impls import fd as impl
    from impls.base import Config
    if case.shape.macs > EXACT_MAX_MACS:
        raise Skip(f"{case.shape.macs} multiply-adds: finite differences run only up to {EXACT_MAX_MACS}")
    return Runner("fd", lambda: impl.run(case.problem, Config(dtype="float64")), note="float64, CPU")


def _torch_device(device: str, dtype: str) -> str:
    from impls.base import Config
    from .. import devices
    reason = devices.why_not("torch", device)
    if reason:
        raise Skip(reason)
    devices.configure("torch", Config(dtype=dtype, device=device))     # TF32 off, as `check` runs it
    return devices.torch_device(device)


def torch(case: Case, device: str) -> Runner:
    """F.conv2d + autograd, as impls.torch_impl does (∂L/∂Ŷ, ∂L/∂W, ∂L/∂x in one autograd call)."""
    import torch as T
    import torch.nn.functional as F
    dev = _torch_device(device, case.dtype)
    x, w, y = (T.tensor(a, device=dev) for a in (case.x, case.w, case.target))
    lr = float(case.problem.lr)
    sync = T.cuda.synchronize if dev.startswith("cuda") else (lambda: None)

    def step():
        xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
        z = F.conv2d(xg, wg)
        loss = F.mse_loss(z, y)
        dL_dz, dL_dW, dL_dx = T.autograd.grad(loss, (z, wg, xg))
        with T.no_grad():
            new_w = w - lr * dL_dW
        sync()
        return loss, dL_dz, dL_dx, new_w

    return Runner("torch", step, note=f"torch {T.__version__}, {T.get_num_threads()} threads, {dev}")


def jax(case: Case, device: str) -> Runner:
    """impls.jax_impl's jitted step (lax.conv_general_dilated + value_and_grad), compiled once."""
    import jax as J
    from impls import jax_impl
    from .. import devices
    from impls.base import Config
    reason = devices.why_not("jax", device)
    if reason:
        raise Skip(reason)
    devices.configure("jax", Config(dtype=case.dtype, device=device))   # x64 for float64; precision highest
    p = case.problem
    dev = devices.jax_device(device)
    put = lambda a: J.device_put(a, dev)   # noqa: E731
    x, w, y = put(case.x), put(case.w), put(case.target)
    lr = put(np.asarray(float(p.lr), dtype=case.dtype))
    fn = jax_impl.step_function(p.stride, p.padding, p.dilation, p.groups, p.operation, p.activation, p.loss,
                                False, True, "highest")
    t0 = time.perf_counter()
    compiled = fn.lower(w, None, x, y, None, lr).compile()
    compile_s = time.perf_counter() - t0
    return Runner("jax", lambda: J.block_until_ready(compiled(w, None, x, y, None, lr)), setup_seconds=compile_s,
                  note=f"jax {J.__version__}, jit, Precision.HIGHEST, {dev.platform}")


def array_api(case: Case, device: str) -> Runner:
    """impls.formulas (the hand derivation manual and exact run) on torch tensors via array-api-compat."""
    import array_api_compat.torch as xp
    import torch as T
    from impls import formulas
    dev = _torch_device(device, case.dtype)
    x, w, y = (T.tensor(a, device=dev) for a in (case.x, case.w, case.target))
    sync = T.cuda.synchronize if dev.startswith("cuda") else (lambda: None)

    def step():
        q = formulas.one_step(xp, case.problem, x, w, None, y, None)
        sync()
        return q

    return Runner("array_api", step, note=f"impls.formulas on torch {T.__version__}, {dev}")


MAKERS = {"manual": manual, "torch": torch, "jax": jax, "array_api": array_api, "exact": exact, "fd": fd}
DEFAULT_IMPLS = ("manual", "torch", "jax", "array_api", "exact", "fd")


# --- GEMM floors --------------------------------------------------------------------------------

def _rand(rng, *dims, dtype):
    return rng.standard_normal(dims, dtype=np.float64).astype(dtype)


def numpy_floor(case: Case) -> Callable[[], object]:
    """The im2col step's three products alone, whole batch, NumPy with its own BLAS threads:
    Z = W·cols (C_out×K)(K×NP), ∂L/∂Wᵀ = cols·δᵀ (K×NP)(NP×C_out), ∂L/∂cols = Wᵀ·δ (K×C_out)(C_out×NP)."""
    s = case.shape
    rng = np.random.default_rng(1)
    kk, np_ = s.c_in * s.k * s.k, s.n * s.ho * s.ho
    W, cols, delta = (_rand(rng, *d, dtype=case.dtype) for d in ((s.c_out, kk), (kk, np_), (s.c_out, np_)))
    z, dW_T, dcols = np.empty((s.c_out, np_), case.dtype), np.empty((kk, s.c_out), case.dtype), np.empty_like(cols)

    def gemms():
        np.matmul(W, cols, out=z)
        np.matmul(cols, delta.T, out=dW_T)
        np.matmul(W.T, delta, out=dcols)
    return gemms


def manual_blocked_floor(case: Case) -> Callable[[], object]:
    """The same three products exactly as `manual` issues them: per block (batched over its images), on
    its worker threads, single-threaded BLAS — the step with everything but the products taken out."""
    from impls import manual as impl
    p, s = case.problem, case.shape
    geo = impl.Geometry(p, case.x.shape, case.w.shape, case.x.itemsize)
    workers = geo.workers
    rng = np.random.default_rng(2)
    W = _rand(rng, s.c_out, geo.k, dtype=case.dtype)
    b_max, m_max = geo.images_per_block, geo.rows_per_block * geo.wo

    parts = impl._split(geo.blocks, workers)
    buffers = [(_rand(rng, b_max, geo.k, m_max, dtype=case.dtype), np.empty((b_max, s.c_out, m_max), case.dtype),
                _rand(rng, b_max, s.c_out, m_max, dtype=case.dtype), np.empty((b_max, geo.k, s.c_out), case.dtype))
               for _ in parts]

    def worker(w):
        cols, z, delta, dW_T = buffers[w]
        for n0, n1, p0, p1 in parts[w]:
            b, m = n1 - n0, (p1 - p0) * geo.wo
            np.matmul(W, cols[:b, :, :m], out=z[:b, :, :m])
            np.matmul(cols[:b, :, :m], delta[:b, :, :m].transpose(0, 2, 1), out=dW_T[:b])
            np.matmul(W.T, delta[:b, :, :m], out=cols[:b, :, :m])

    def gemms():
        with impl._BlasThreads(1 if workers > 1 else None):
            if workers > 1:
                impl.in_parallel(worker, range(workers), impl._pool(workers))
            else:
                worker(0)
    return gemms


def manual_passes(case: Case) -> Callable[[], object]:
    """`manual`'s step with its matrix products taken out (each hands back its output buffer untouched):
    the im2col copy, the loss's passes, col2im, the arrays' allocation and the threads — what the step
    costs beyond `gemm_floor_manual`. The untouched buffers hold stale floats; their values don't matter."""
    from impls import manual as impl

    class NoProducts(impl.Pass):
        product = staticmethod(lambda a, b, out: out)

    def passes():
        with np.errstate(all="ignore"):
            impl.steps(case.problem, case.x, case.w, None, case.target, kind=NoProducts)
    return passes


def torch_floor(case: Case, device: str) -> Callable[[], object]:
    """The products impls.formulas issues, through torch.matmul, batched over the images: forward W·cols,
    ∂L/∂W = δ·colsᵀ summed over the batch, ∂L/∂cols = Wᵀ·δ (stride 1: cols rows W_pad wide, see
    `formulas.unfold`)."""
    import torch as T
    dev = _torch_device(device, case.dtype)
    s = case.shape
    dt = getattr(T, case.dtype)
    kk, p = s.c_in * s.k * s.k, s.ho * s.h          # H_out rows of W_c = H columns (stride 1, no padding)
    g = T.Generator(device=dev).manual_seed(3)
    r = lambda *d: T.randn(*d, generator=g, device=dev, dtype=dt)   # noqa: E731
    W, cols, delta = r(1, s.c_out, kk), r(s.n, 1, kk, p), r(s.n, 1, s.c_out, p)
    sync = T.cuda.synchronize if dev.startswith("cuda") else (lambda: None)

    def gemms():
        T.matmul(W, cols)
        T.matmul(delta, cols.transpose(-1, -2)).sum(0)
        T.matmul(W.transpose(-1, -2), delta)
        sync()
    return gemms


def jax_conv_alone(case: Case, device: str) -> tuple[Callable[[], object], float]:
    """XLA's forward convolution alone (jitted), to show what the jax step is made of."""
    import jax as J
    from jax import lax
    from .. import devices
    dev = devices.jax_device(device)
    x, w = J.device_put(case.x, dev), J.device_put(case.w, dev)
    f = J.jit(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "VALID", precision=lax.Precision.HIGHEST))
    t0 = time.perf_counter()
    compiled = f.lower(x, w).compile()
    return (lambda: J.block_until_ready(compiled(x, w))), time.perf_counter() - t0
