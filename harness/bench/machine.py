"""What the numbers were measured on: CPU, BLAS, versions, load, and a reference matmul rate."""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def blas() -> list[dict]:
    """NumPy's BLAS library, kernel ('architecture') and threads, as threadpoolctl sees them."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed"}]
    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: info.get(k) for k in keys} for info in threadpool_info() if info.get("user_api") == "blas"]


def describe(device: str) -> dict:
    from .. import devices
    info = {"cpu": cpu_name(), "cores": cores(), "platform": platform.platform(), "versions": devices.versions(),
            "blas": blas(), "load_average_before": _load(),
            "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS",
                                                "OPENBLAS_NUM_THREADS", "XLA_FLAGS") if k in os.environ}}
    if devices.is_gpu(device):
        info["gpu"] = devices.gpu_info()
    return info


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def matmul_gflops(n: int = 2048, dtype: str = "float32", repeat: int = 5) -> float:
    """NumPy's n×n matmul rate (best of `repeat`): what this machine's BLAS reaches on a friendly shape."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    np.matmul(a, b, out=out)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9
