"""`manual`: the hand-derived forward and backward pass (`impls.formulas`) in NumPy floats, fast.

The math is that of `impls.formulas`; only the arrangement differs, so that almost all the time goes
to three matrix products per step, each one batched BLAS call per block:

    cols[c·kh·kw + i·kw + j, p·W_out + q] = x_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w]   (im2col, one copy)
    Z_n       = W_mat · cols              (C_out × K)·(K × P)       forward
    ∂L/∂W_matᵀ += cols · δ_nᵀ             (K × P)·(P × C_out)       filter gradient (the small product, transposed)
    ∂L/∂cols  = W_matᵀ · δ_n              (K × C_out)·(C_out × P)   input gradient, unfolded ...
    ∂L/∂x_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w] += ∂L/∂cols[c·kh·kw + i·kw + j, p·W_out + q]
                                                                    ... and folded back (col2im, kh·kw slice-adds)

with K = C_in/g·kh·kw and P the output positions of one image's block; each product is one batched
`matmul` call over the block's images. Why blocks and threads:
- A block = several whole images (an equal share per worker, `cols` at most BLOCK_BYTES), or a band
  of one image's output rows when one image's `cols` alone would pass BLOCK_BYTES (the memory bound).
  Fewer, larger NumPy calls matter with threads: each call releases and retakes the GIL, and the
  handoff costs more than a small call's work (measured on 2 cores: 1-image blocks 10.6 ms a step,
  16-image blocks 7.0 ms, on (32,16,32,32,3)). Every quantity except the loss's normalisation is local
  to an output position, so the loss and ReLU are applied block by block too (the mean's 1/n uses
  the whole output's n).
- The `cols` layout (K rows, P contiguous columns) lets every product read it without a copy: the
  forward product writes straight into Z's rows of the (N, C_out, H_out, W_out) array, ∂L/∂W reads
  `cols` and δ as they are (a transposed operand is a BLAS flag, not a copy).
- ∂L/∂cols overwrites `cols` (dead once ∂L/∂W is taken), so one buffer per worker.
- Big problems split their images between one worker per core (the calling thread is one), each
  held to its own core during the step, with BLAS single-threaded inside (NumPy releases the GIL in
  copies, ufuncs and matmul). OpenBLAS's own threads on these skinny products were erratic on 2
  cores. Each worker sums its own partial ∂L/∂W, ∂L/∂b and L over a fixed set of blocks, and the
  partials are added in worker order, so results are the same from run to run.

Memory beyond the inputs and the reported arrays: one `cols` buffer per worker of at most
max(BLOCK_BYTES, K·W_out·itemsize) bytes (one output row is the smallest block), a loss scratch of
at most the same size, plus per-image C_out·K-sized partial gradients. A zero-padded copy of x is
made once per run when the case has padding.
"""

from __future__ import annotations

import os
import time
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .base import Config, Step, Trace

NAME = "manual"
DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16}
BLOCK_BYTES = 8 << 20            # the most one block's `cols` may take (per worker)
PARALLEL_MIN_MACS = 2_000_000    # below this many multiply-adds per step, threads cost more than they save


def unavailable_for(problem, config: Config) -> str | None:
    return None if config.dtype in DTYPES else f"NumPy has no {config.dtype}"


class Geometry:
    """Shapes of one case, and the blocks its batch is cut into: (n0, n1, p0, p1) = images n0:n1,
    output rows p0:p1 — several whole images, or a band of rows of one image when one image's `cols`
    alone would pass BLOCK_BYTES."""

    def __init__(self, problem, x_shape, w_shape, itemsize: int, workers: int | None = None):
        p = problem
        self.n, self.c_in, self.h, self.w = x_shape
        self.c_out, self.c_g, self.kh, self.kw = w_shape
        self.groups, self.stride, self.dilation, self.padding = p.groups, p.stride, p.dilation, p.padding
        (pt, pb), (pl, pr) = p.padding
        self.ho = (self.h + pt + pb - p.dilation[0] * (self.kh - 1) - 1) // p.stride[0] + 1
        self.wo = (self.w + pl + pr - p.dilation[1] * (self.kw - 1) - 1) // p.stride[1] + 1
        self.k = self.c_g * self.kh * self.kw                      # rows of cols per group
        self.macs = self.n * self.c_out * self.ho * self.wo * self.k
        self.workers = workers_for(self.macs, self.n) if workers is None else workers
        row_bytes = self.groups * self.k * self.wo * itemsize      # cols of one output row
        rows = max(1, BLOCK_BYTES // row_bytes)
        if rows < self.ho:                                          # bands of one image
            self.images_per_block, self.rows_per_block = 1, rows
            self.blocks = [(n, n + 1, p0, min(p0 + rows, self.ho))
                           for n in range(self.n) for p0 in range(0, self.ho, rows)]
        else:                                                       # whole images, an equal share per worker
            fit = rows // self.ho
            per = min(fit, -(-self.n // self.workers))
            self.images_per_block, self.rows_per_block = per, self.ho
            self.blocks = [(n, min(n + per, self.n), 0, self.ho) for n in range(0, self.n, per)]


def pad(x, padding):
    """x zero-padded by ((top, bottom), (left, right)) on its last two axes (x itself when no padding)."""
    (top, bottom), (left, right) = padding
    if not (top or bottom or left or right):
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))


def windows(x_pad, geo: Geometry, p0: int, p1: int):
    """The strided view win[n, c, i, j, p, q] = x_pad[n, c, (p0 + p)·s_h + i·d_h, q·s_w + j·d_w] (no copy)."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    s_n, s_c, s_h, s_w = x_pad.strides
    return as_strided(x_pad[:, :, p0 * sh:], (x_pad.shape[0], geo.c_in, geo.kh, geo.kw, p1 - p0, geo.wo),
                      (s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw), writeable=False)


def fold_into(dx_pad, dcols, geo: Geometry, p0: int, p1: int) -> None:
    """col2im: dx_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w] += dcols[n, c, i, j, p, q] (one slice-add per tap)."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    for i in range(geo.kh):
        rows = slice(p0 * sh + i * dh, (p1 - 1) * sh + i * dh + 1, sh)
        for j in range(geo.kw):
            dx_pad[:, :, rows, j * dw: (geo.wo - 1) * sw + j * dw + 1: sw] += dcols[:, :, i, j]


class Pass:
    """One step's arrays. Workers fill disjoint blocks of the output-shaped arrays and of dx_pad."""

    product = staticmethod(np.matmul)     # every matrix product of the step (`bench` times the step without them)

    def __init__(self, problem, geo: Geometry, x_pad, w_eff, b, target, g_given, dtype):
        self.p, self.geo, self.x_pad, self.b, self.target, self.g_given = problem, geo, x_pad, b, target, g_given
        g = geo.groups
        self.W_mat = np.ascontiguousarray(w_eff).reshape(g, geo.c_out // g, geo.k)
        out_shape = (geo.n, geo.c_out, geo.ho, geo.wo)
        self.z = np.empty(out_shape, dtype)
        relu = problem.activation == "relu"
        self.a = np.empty(out_shape, dtype) if relu else None
        self.dL_dYhat = g_given if problem.loss == "linear" else np.empty(out_shape, dtype)
        self.delta = np.empty(out_shape, dtype) if relu else self.dL_dYhat      # δ = ∂L/∂Z
        self.dx_pad = np.zeros(x_pad.shape, dtype)
        n_out = geo.n * geo.c_out * geo.ho * geo.wo
        self.loss_scale = {"mean": 2.0 / n_out, "sum": 2.0, "half_sum": 1.0, "half_mean": 1.0 / n_out,
                           "linear": None}[problem.loss]           # ∂L/∂Ŷ = scale·(Ŷ − Y)
        self.loss_factor = {"mean": 1.0 / n_out, "sum": 1.0, "half_sum": 0.5, "half_mean": 0.5 / n_out,
                            "linear": 1.0}[problem.loss]           # L = factor·Σ(Ŷ − Y)²  (linear: Σ G⊙Ŷ)

    def blocks(self, blocks) -> tuple[float, np.ndarray, np.ndarray | None]:
        """Forward, loss and backward over some blocks; returns this worker's partial L, ∂L/∂W_matᵀ, ∂L/∂b."""
        geo, g, og = self.geo, self.geo.groups, self.geo.c_out // self.geo.groups
        dtype = self.z.dtype
        most = geo.images_per_block * geo.rows_per_block * geo.wo      # output positions of the largest block
        cols_buf = np.empty(g * geo.k * most, dtype)
        scratch_buf = np.empty(geo.c_out * most, dtype)
        dW_T = np.zeros((g, geo.k, og), dtype)
        dW_T_images = np.empty((geo.images_per_block, g, geo.k, og), dtype)
        db = np.zeros(geo.c_out, dtype) if self.b is not None else None
        loss = 0.0
        for n0, n1, p0, p1 in blocks:
            b, m = n1 - n0, (p1 - p0) * geo.wo
            cols = cols_buf[: b * g * geo.k * m].reshape(b, geo.c_in, geo.kh, geo.kw, p1 - p0, geo.wo)
            np.copyto(cols, windows(self.x_pad[n0:n1], geo, p0, p1))                   # im2col
            cols = cols.reshape(b, g, geo.k, m)
            block = lambda a: a[n0:n1, :, p0:p1].reshape(b, g, og, m)             # noqa: E731  (a view)
            z = block(self.z)
            self.product(self.W_mat, cols, out=z)                                 # Z = W_mat · cols
            if self.b is not None:
                z += self.b.reshape(g, og, 1)
            y_hat = z
            if self.a is not None:
                y_hat = np.maximum(z, 0, out=block(self.a))                        # A = relu(Z)
            loss += self.loss_and_grad(y_hat, block, scratch_buf[: b * geo.c_out * m].reshape(y_hat.shape))
            dL_dYhat = block(self.dL_dYhat)
            delta = dL_dYhat
            if self.a is not None:                                                 # δ = ∂L/∂A ⊙ 1[Z > 0]
                delta = np.multiply(dL_dYhat, z > 0, out=block(self.delta))
            per_image = self.product(cols, delta.transpose(0, 1, 3, 2), out=dW_T_images[:b])
            dW_T += per_image.sum(axis=0)                                          # ∂L/∂W_matᵀ += Σ_n cols · δᵀ
            if db is not None:
                db += delta.sum(axis=(0, 3)).reshape(-1)                           # ∂L/∂b = Σ_{n,p,q} δ
            dcols = self.product(self.W_mat.transpose(0, 2, 1), delta, out=cols)  # ∂L/∂cols = W_matᵀ · δ
            fold_into(self.dx_pad[n0:n1], dcols.reshape(b, geo.c_in, geo.kh, geo.kw, p1 - p0, geo.wo), geo, p0, p1)
        return loss, dW_T, db

    def loss_and_grad(self, y_hat, block, scratch) -> float:
        """This block's share of L; writes its ∂L/∂Ŷ. (L is a sum over output elements, so shares add up.)
        `scratch` is a contiguous buffer of the block's size: vdot on a strided view would copy it."""
        if self.loss_scale is None:                                               # linear: L = Σ G⊙Ŷ
            np.multiply(block(self.g_given), y_hat, out=scratch)
            return float(scratch.sum())
        diff = np.subtract(y_hat, block(self.target), out=scratch)               # Ŷ − Y
        wide = diff if diff.dtype.itemsize >= 4 else diff.astype(np.float32)     # Σ(Ŷ − Y)² overflows float16
        share = float(np.vdot(wide, wide)) * self.loss_factor
        np.multiply(diff, self.loss_scale, out=block(self.dL_dYhat))
        return share


def _split(blocks, workers: int):
    """Every `workers`-th block for each worker. Blocks hold whole images or bands of one image; the bands
    of one image all go to one worker: neighbouring bands fold into overlapping rows of ∂L/∂x_pad."""
    images = sorted({n0 for n0, _, _, _ in blocks})
    owner = {n0: i % workers for i, n0 in enumerate(images)}
    return [[blk for blk in blocks if owner[blk[0]] == w] for w in range(workers)]


def one_step(problem, geo: Geometry, x_pad, w, b, target, g_given, pool=None, kind=Pass) -> dict:
    """One forward + backward + update: the quantities of `impls.formulas.one_step`, as NumPy arrays."""
    dtype = w.dtype
    flip = problem.operation == "convolution"
    w_eff = w[:, :, ::-1, ::-1] if flip else w          # convolution = cross-correlation with the flipped W
    step = kind(problem, geo, x_pad, w_eff, b, target, g_given, dtype)
    if pool is None:
        partials = [step.blocks(geo.blocks)]
    else:
        partials = in_parallel(step.blocks, _split(geo.blocks, geo.workers), pool)
    loss = sum(part[0] for part in partials)
    dW_T = partials[0][1]
    for part in partials[1:]:
        dW_T += part[1]
    dL_dW = dW_T.transpose(0, 2, 1).reshape(w.shape)
    if flip:
        dL_dW = dL_dW[:, :, ::-1, ::-1]
    dL_dW = np.ascontiguousarray(dL_dW)
    dL_db = None
    if b is not None:
        dL_db = partials[0][2]
        for part in partials[1:]:
            dL_db += part[2]
    (pt, _), (pl, _) = geo.padding
    dL_dx = step.dx_pad[:, :, pt: pt + geo.h, pl: pl + geo.w]
    new_w = new_b = None
    if problem.lr is not None:
        lr = float(problem.lr)
        new_w = w - lr * dL_dW
        new_b = b - lr * dL_db if b is not None else None
    return {"output": step.z, "activation": step.a, "loss": np.asarray(loss, dtype=dtype),
            "grad_output": step.dL_dYhat, "grad_filter": dL_dW, "grad_input": dL_dx, "grad_bias": dL_db,
            "updated_filter": new_w, "updated_bias": new_b}


def workers_for(macs: int, images: int) -> int:
    """One worker per core the process may use, at most one per image, for problems big enough to gain.
    (One image alone runs on the calling thread, with BLAS's own threads.)"""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if macs < PARALLEL_MIN_MACS:
        return 1
    return max(1, min(cores, images))


class _BlasThreads:
    """BLAS single-threaded while our own workers run (threadpoolctl; without it, BLAS keeps its threads)."""

    _controller = None

    def __init__(self, limit: int | None):
        self.limit, self.ctx = limit, None

    def __enter__(self):
        if self.limit is not None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                return self
            if _BlasThreads._controller is None:
                _BlasThreads._controller = ThreadpoolController()
            self.ctx = _BlasThreads._controller.limit(limits=self.limit, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.__exit__(*exc)


def steps(problem, x, w, b=None, target=None, g_given=None, workers: int | None = None, kind=Pass) -> list[dict]:
    """K SGD steps on float arrays (canonical layout, one dtype); each step starts from the previous
    step's updated filter and bias. `problem` gives the conventions (its own arrays are not read)."""
    contiguous = lambda a: None if a is None else np.ascontiguousarray(a)   # noqa: E731  (blocks are views)
    x_pad = pad(np.ascontiguousarray(x), problem.padding)
    w, b, target, g_given = contiguous(w), contiguous(b), contiguous(target), contiguous(g_given)
    geo = Geometry(problem, x.shape, w.shape, x_pad.itemsize, workers)
    pool = _pool(geo.workers) if geo.workers > 1 else None
    out = []
    with _BlasThreads(1 if pool is not None else None):
        for _ in range(problem.steps):
            q = one_step(problem, geo, x_pad, w, b, target, g_given, pool, kind)
            out.append(q)
            if q["updated_filter"] is not None:
                w, b = q["updated_filter"], q["updated_bias"]
    return out


_POOLS: dict = {}


def in_parallel(fn, shares, pool) -> list:
    """[fn(share) for share in shares]: the first share on the calling thread, the others on the pool,
    each thread held to a core of its own for the call (Linux). Unpinned, a pool thread woken after an
    idle spell was often queued on the caller's core for milliseconds, running the shares one after
    the other (measured on a 2-core VM: step times doubled at random)."""
    first, *rest = shares
    before = _hold_core(_CPUS[0]) if _PIN and len(_CPUS) > len(rest) else None
    try:
        futures = [pool.submit(fn, share) for share in rest]
        return [fn(first)] + [f.result() for f in futures]
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)


_PIN = hasattr(os, "sched_setaffinity")
_CPUS = sorted(os.sched_getaffinity(0)) if _PIN else []


def _hold_core(cpu: int):
    """Hold the calling thread to `cpu`; returns its previous cores, None when that is not allowed
    (the process's cores changed since import): then the step runs unpinned."""
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return None
    return before


def _pin_pool_thread(slots) -> None:
    """Pool thread k keeps core k + 1 (the calling thread takes core 0 during a step)."""
    if _PIN:
        try:
            os.sched_setaffinity(0, {_CPUS[(next(slots) + 1) % len(_CPUS)]})
        except OSError:         # the core was taken away from the process since: stay unpinned
            pass


def _pool(workers: int):
    """A thread pool kept for the process (starting threads every step would cost ~0.1 ms each)."""
    if workers not in _POOLS:
        import itertools
        from concurrent.futures import ThreadPoolExecutor
        _POOLS[workers] = ThreadPoolExecutor(workers - 1, thread_name_prefix="manual",
                                             initializer=_pin_pool_thread, initargs=(itertools.count(),))
    return _POOLS[workers]


def run(problem, config: Config = Config()) -> Trace:
    a = problem.float_arrays(DTYPES[config.dtype])
    t0 = time.perf_counter()
    res = steps(problem, a["x"], a["w"], a["b"], a["target"], a["grad_output"])
    secs = time.perf_counter() - t0
    return Trace(NAME, tuple(Step(**q) for q in res), secs, "cpu")
