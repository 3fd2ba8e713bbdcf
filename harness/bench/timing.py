"""Interleaved timing (A B C A B C …, so that machine noise hits every implementation alike),
summary statistics, and peak memory."""

from __future__ import annotations

import gc
import resource
import statistics
import sys
import time
import tracemalloc
from typing import Callable


def interleaved(callables: dict[str, Callable[[], object]], repeat: int, warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per call of each callable: `warmup` untimed rounds, then `repeat` timed rounds, each round
    calling every callable once in turn."""
    for _ in range(warmup):
        for fn in callables.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in callables}
    gc_was_on = gc.isenabled()
    gc.disable()            # a collection in the middle of one timed call would land on it alone
    try:
        for _ in range(repeat):
            for name, fn in callables.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    finally:
        if gc_was_on:
            gc.enable()
    return times


SETTLE_S = 0.5


def settle() -> None:
    """Wait for the machine to settle after NumPy's BLAS ran multi-threaded (see `harness.bench`)."""
    time.sleep(SETTLE_S)


def summary(seconds: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(seconds) * 1e3, "min_ms": min(seconds) * 1e3,
            "max_ms": max(seconds) * 1e3, "runs": len(seconds)}


def tracemalloc_peak(fn: Callable[[], object]) -> dict[str, object]:
    """Peak bytes allocated by Python and NumPy during one call (NumPy reports its buffers to tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"peak_mib": peak / 2**20, "method": "tracemalloc peak over one step (NumPy buffers included)"}


def rss_growth(fn: Callable[[], object]) -> dict[str, object]:
    """Growth of the process's peak resident set during one call (ru_maxrss). It only ever rises, so
    this is a lower bound: 0 when the call stayed under an earlier peak."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fn()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    unit = 1 if sys.platform == "darwin" else 1024          # bytes on macOS, KiB on Linux
    return {"peak_mib": (after - before) * unit / 2**20,
            "method": "growth of the process peak RSS (ru_maxrss) during the first call: a lower bound"}
