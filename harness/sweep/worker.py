"""What a worker process runs in a Dask sweep: a batch of configurations, exactly as the serial loop does.

Functions travel to workers by name, so every worker imports crossgrad (the client's version) and
needs no Dask code here. A worker keeps what a process keeps between batches: imported frameworks,
jax's compiled steps (per shape: batches are whole families, see batches.py), one warm-up per sweep.

Threads: each worker process runs one batch at a time, on one core. Dask's nanny starts workers with
OMP/MKL/OPENBLAS_NUM_THREADS=1; here torch is set to one intra-op thread and every BLAS/OpenMP pool
already loaded to one (threadpoolctl), for workers started some other way. The problems are tiny
(≤ a few thousand multiply-adds): a second thread only adds start/barrier costs, and N workers × k
threads on N cores would make every worker wait for the others (see `run.single_threaded`).

Memory: Dask's nanny also starts workers with MALLOC_TRIM_THRESHOLD_=65536 (for workers holding big
arrays: give freed memory back at once). A configuration here allocates and frees thousands of small
arrays and Fractions; with that setting glibc shrinks the heap after nearly every one and faults the
pages back in on the next: 4.5× the page faults and 15–25% more time per configuration than the serial
sweep, measured (docs/sweep-on-dask.md). Local clusters start their workers without it (on_dask); a
worker started with it (`dask worker` on another machine) gets glibc's usual thresholds back here.
"""

from __future__ import annotations

import os
import time

from .batches import BatchResult
from .draw import draw_case
from .run import Settings, run_case, usable, warm_up

_usable: dict = {}            # (config, implementations asked for, first index) -> usable(), once per process
_limited = False
TRIM_THRESHOLD = 32 << 20     # glibc's own upper bounds for its dynamic thresholds (64-bit)
MMAP_THRESHOLD = 32 << 20


def malloc_defaults() -> bool:
    """Undo MALLOC_TRIM_THRESHOLD_ (see above) in this process, where glibc is the C library. True if it did."""
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return False
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):       # not glibc (macOS, musl without mallopt): nothing to undo
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_trim_threshold, TRIM_THRESHOLD)) and bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD))


def limit_threads(names: tuple[str, ...]) -> None:
    """One thread for torch and for the BLAS/OpenMP pools of this process, glibc's malloc thresholds
    (once per process)."""
    global _limited
    if _limited:
        return
    malloc_defaults()
    if {"torch", "array_api"} & set(names):
        try:
            import torch
            torch.set_num_threads(1)
        except ImportError:
            pass
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1)
    _limited = True


def dask_setup(worker=None) -> None:
    """Dask preload hook (`--preload harness.sweep.worker`; local clusters use it). Ctrl-C in a terminal
    reaches every process of its group, workers too: the client stops the sweep and closes them, so they
    ignore SIGINT instead of dying mid-message with tracebacks. Importing this module here also loads
    crossgrad and numpy while the worker starts, not on its first batch."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_batch(settings: Settings, indices: tuple[int, ...]) -> BatchResult:
    """Draw and run configurations `indices`. The first batch of a sweep in a process decides which
    implementations run here (usable: the frameworks and the device are here; the client may have
    neither) and warms them up; every worker does this at once, none waits for another."""
    key = (settings.config, settings.impls, settings.indices()[0])
    warmup = 0.0
    if key not in _usable:
        _usable[key] = usable(settings)
        limit_threads(_usable[key][0])
        warmup = warm_up(settings, _usable[key][0])
    names, unavailable = _usable[key]
    config = settings.config
    cases = []
    for i in indices:
        t0 = time.perf_counter()
        case = draw_case(settings.seed, i, settings.max_size, settings.dtype)
        result = run_case(case, names, config, time.perf_counter() - t0)
        case.__dict__.pop("problem", None)   # the exact arrays stay here: a shrink redraws its case
        cases.append(result)
    return BatchResult(tuple(cases), warmup, unavailable)
