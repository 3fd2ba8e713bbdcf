"""`crossgrad sweep --workers N | --scheduler ADDRESS`: the configurations run on Dask worker processes.

Dask does the scheduling, the transport and the fault handling; this module only cuts the sweep into
batches (batches.py), keeps about one batch per worker thread in flight, and puts the results back in
the order drawn, so the report is the serial one. Dask is optional: nothing imports this module unless
--workers or --scheduler is given.

Faults. A worker that dies (killed, out of memory, a segfault in native code) loses nothing: the
scheduler runs its batch again on another worker. The scheduler gives up on a task after it was
running on ALLOWED_FAILURES + 1 workers that died (KilledWorker); a batch given up on runs again one
configuration per task, and a configuration given up on alone is reported as a failure of its own,
"crashed the worker", with its rerun command (run.CRASHED). Only about one batch per worker thread is
ever in flight, so a batch waiting behind a crashing one on the same worker is rarely blamed with it
(and then only costs a rerun of its configurations one by one).

Ctrl-C (or SIGTERM) stops the sweep: batches in flight are cancelled, and the configurations done so far
are the (partial) result, as in a serial sweep.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections import deque

from ..errors import UserError
from . import worker
from .batches import BatchResult, in_drawn_order, plan
from .draw import draw_case
from .run import CRASHED, CaseResult, Settings, SweepResult

ALLOWED_FAILURES = 1        # local clusters: a batch runs again after one worker death, not after three
CONNECT_SECONDS = 10
GPU = "GPU"                 # the Dask worker resource a --device cuda sweep asks for on a --scheduler cluster
CRASH_TEXT = ("crashed the worker: the process running this configuration died, on two workers "
              "(killed, out of memory, or a crash in native code)")
# Local workers: no statistical profiler (a thread sampling every worker's stack every 10 ms, for the
# dashboard we do not start: it takes the GIL from the batch), and glibc's own malloc thresholds, not the
# MALLOC_TRIM_THRESHOLD_=65536 Dask's nanny sets by default (15–25% slower here: worker.py says why).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False,
                 "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://\[?[\w.:-]+\]?:\d+$")


def _distributed(option: str):
    try:
        import distributed
    except ImportError:
        raise UserError("needs Dask, which is not installed: pip install 'crossgrad[dask]'", option) from None
    return distributed


@contextlib.contextmanager
def connect(workers: int | None = None, scheduler: str | None = None):
    """A Dask client: on a new local cluster of `workers` processes, one thread each, or on the cluster
    whose scheduler is at `scheduler`."""
    distributed = _distributed("--scheduler" if scheduler else "--workers")
    import dask
    if scheduler is not None:
        if not ADDRESS.match(scheduler):
            raise UserError(f"expected a scheduler address like tcp://HOST:8786, got {scheduler!r}", "--scheduler")
        try:
            client = distributed.Client(scheduler, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {scheduler}: {exc}", "--scheduler") from None
        with client:
            try:
                client.wait_for_workers(1, timeout=CONNECT_SECONDS)
            except TimeoutError:
                raise UserError(f"no worker joined the Dask scheduler at {scheduler} within {CONNECT_SECONDS} s",
                                "--scheduler") from None
            yield client
        return
    # the scheduler of a LocalCluster lives in this process and reads its settings when it starts; its and
    # the workers' log lines (a task's UserError, a worker restarted) stay off stderr: what they say is in
    # the report or the one-line error
    with contextlib.ExitStack() as stack:
        stack.enter_context(dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                                             **WORKER_CONFIG}))
        with _sigint_held():
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.CRITICAL, scheduler_kwargs={"dashboard_address": ":0"},  # any free port
                preload=[worker.__name__]))
        yield stack.enter_context(distributed.Client(cluster))


@contextlib.contextmanager
def _sigint_held():
    """SIGINT ignored while the local cluster starts (a second or two). Ctrl-C in a terminal reaches every
    process of its group: a worker process still importing would die with a traceback, and a cluster
    interrupted half-started cannot be closed. A process started while SIGINT is ignored keeps ignoring
    it (a signal mask would not do: multiprocessing clears it in the child), so the workers never see the
    terminal's Ctrl-C; this process does once they are up, and closes them. A Ctrl-C pressed during those
    seconds is lost (measured: one at 1.6–2.4 s after the start was; at 0.8 s, still importing, and at 3 s
    it stopped the sweep cleanly). A worker restarted after a death sets SIGINT aside itself
    (worker.dask_setup), once it has imported Dask."""
    import signal
    try:
        before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:                        # not the main thread: signals are not ours to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _workers(client) -> list[dict]:
    """Every worker's info (newer clients list only the first few unless asked for all)."""
    try:
        return list(client.scheduler_info(n_workers=-1)["workers"].values())
    except TypeError:          # older distributed: always all of them
        return list(client.scheduler_info()["workers"].values())


def _resources(client, settings: Settings) -> dict | None:
    """A GPU sweep on a shared cluster runs only on workers started with `--resources GPU=1`."""
    if settings.device == "cpu" or client.cluster is not None:      # local workers share the local devices
        return None
    if not any(GPU in (w.get("resources") or {}) for w in _workers(client)):
        raise UserError(f"--device {settings.device}: no worker of this cluster has the {GPU} resource "
                        f"(start GPU workers with: dask worker ADDRESS --nthreads 1 --resources {GPU}=1)",
                        "--scheduler")
    return {GPU: 1}


def _threads(client, resources) -> int:
    """Worker threads that can take a batch now (≥ 1: dead workers are being restarted)."""
    return max(1, sum(w["nthreads"] for w in _workers(client) if not resources or GPU in (w.get("resources") or {})))


def crashed(settings: Settings, index: int) -> CaseResult:
    """Configuration `index` as a failure of its own: it killed every worker that ran it."""
    return CaseResult(draw_case(settings.seed, index, settings.max_size, settings.dtype), (), {CRASHED: CRASH_TEXT},
                      {}, {})


def call(client, settings: Settings, fn, *args):
    """fn(*args) on one worker (where the frameworks and the device are), its result here."""
    return client.submit(fn, *args, pure=False, resources=_resources(client, settings)).result()


def sweep(settings: Settings, client, progress=None) -> SweepResult:
    """The sweep on the client's workers; `progress(done, total)` after each batch. Ctrl-C ends it early."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    result = SweepResult(settings)
    indices = settings.indices()
    resources = _resources(client, settings)
    t0 = time.perf_counter()
    by_index: dict[int, CaseResult] = {}
    running: dict = {}                               # future -> its batch
    first_seen = float("inf")
    try:
        pending = deque(plan(indices, _threads(client, resources)))
        done = as_completed()
        window, looked = _threads(client, resources), time.monotonic()

        def fill():
            while pending and len(running) < window:
                batch = pending.popleft()
                future = client.submit(worker.run_batch, settings, batch, pure=False, resources=resources)
                running[future] = batch
                done.add(future)

        fill()
        for future in done:
            batch = running.pop(future)
            if future.status == "error" and isinstance(future.exception(), KilledWorker):
                if len(batch) > 1:                     # which of them? one per task from here
                    pending.extendleft((i,) for i in reversed(batch))
                else:
                    by_index[batch[0]] = crashed(settings, batch[0])
            else:
                out: BatchResult = future.result()     # any other exception (a UserError too): raised here
                result.warmup += out.warmup
                if batch[0] < first_seen:              # as the earliest batch's worker saw it: deterministic
                    result.unavailable, first_seen = dict(out.unavailable), batch[0]
                by_index.update((c.case.index, c) for c in out.cases)
            if progress is not None:
                progress(len(by_index), len(indices))
            if time.monotonic() - looked > 2:        # workers may have joined, or be restarting
                window, looked = _threads(client, resources), time.monotonic()
            fill()
    except KeyboardInterrupt:
        result.interrupted = True
        client.cancel(list(running))
    result.cases = in_drawn_order(indices, by_index)
    result.seconds = time.perf_counter() - t0
    return result
