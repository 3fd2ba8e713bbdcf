"""The configurations of a sweep cut into batches for worker processes, and their results put back in order.

A batch is whole families (FAMILY_SIZE configurations sharing one geometry, back to back): a worker
compiles each family's jax functions once, as the serial loop does. Batches are sized so that each
worker gets about BATCHES_PER_WORKER of them: enough that the last ones finish close together (the
sweep waits for the slowest), few enough that scheduling stays a small part of the time (a Dask task
costs ~1 ms on the scheduler; a batch of 2 families here runs ~1–2 s). MAX_BATCH bounds what one
worker death costs: its batch runs again from the start.

The report is built from the results sorted by the order drawn, never by arrival, so it is the serial
run's whatever the number of workers or the order in which they finish.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .draw import FAMILY_SIZE

BATCHES_PER_WORKER = 16
MAX_BATCH = 20 * FAMILY_SIZE


def families(indices: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Runs of consecutive indices of the same family, in the order given."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] + 1 == i and runs[-1][-1] // FAMILY_SIZE == i // FAMILY_SIZE:
            runs[-1].append(i)
        else:
            runs.append([i])
    return [tuple(r) for r in runs]


def batch_size(total: int, workers: int) -> int:
    """Configurations per batch: ~BATCHES_PER_WORKER batches per worker, whole families, ≤ MAX_BATCH."""
    per = math.ceil(total / (BATCHES_PER_WORKER * max(workers, 1)))
    return min(MAX_BATCH, max(FAMILY_SIZE, math.ceil(per / FAMILY_SIZE) * FAMILY_SIZE))


def plan(indices: tuple[int, ...], workers: int) -> list[tuple[int, ...]]:
    """The batches, in the order drawn: whole families joined until a batch holds `batch_size`."""
    size = batch_size(len(indices), workers)
    out: list[list[int]] = []
    for run in families(indices):
        if out and len(out[-1]) + len(run) <= size:
            out[-1].extend(run)
        else:
            out.append(list(run))
    return [tuple(b) for b in out]


@dataclass(frozen=True)
class BatchResult:
    """What one worker sends back for one batch."""

    cases: tuple            # CaseResult per configuration, in the batch's order
    warmup: float           # seconds of this worker process's one-time warm-up (0 after its first batch)
    unavailable: dict       # implementation -> why it cannot run on that worker


def in_drawn_order(indices: tuple[int, ...], by_index: dict) -> list:
    """The results of those indices that ran, in the order drawn (an interrupted sweep has gaps)."""
    return [by_index[i] for i in indices if i in by_index]
