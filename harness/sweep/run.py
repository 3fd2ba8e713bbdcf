"""Run every implementation on each drawn configuration, compare every quantity, time everything.

Per configuration the exact reference and the magnitudes behind the tolerance are computed once and
shared by all implementations (`exact` itself reuses the reference). A configuration is skipped, and
counted, where the comparison would not test the derivation: a ReLU pre-activation within rounding of
its kink, or values the dtype cannot hold (`tolerance.out_of_range`). Configurations run in the
order drawn, so each family's shapes repeat back to back and jax compiles once per family.
A KeyboardInterrupt inside the loop stops it; what ran so far is the (partial) result.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

import impls
from impls.base import Config

from .. import tolerance
from ..compare import Mismatch, compare
from ..errors import UserError
from ..problem import Problem
from ..run import reference_for
from .draw import DEFAULT_MAX_SIZE, Case, draw_case

@dataclass(frozen=True)
class Settings:
    seed: int = 0
    count: int = 100
    dtype: str = "float64"
    device: str = "cpu"
    impls: tuple[str, ...] = tuple(impls.MODULES)
    impl_named: bool = False          # --impl given: rerun commands repeat it
    max_size: int = DEFAULT_MAX_SIZE
    only: tuple[int, ...] | None = None
    precision: str = "highest"

    @property
    def config(self) -> Config:
        return Config(dtype=self.dtype, device=self.device, precision=self.precision)

    def indices(self) -> tuple[int, ...]:
        return self.only if self.only is not None else tuple(range(self.count))


@dataclass(frozen=True)
class CaseResult:
    case: Case
    mismatches: tuple[Mismatch, ...]
    errors: dict[str, str]                    # impl -> exception text (an implementation crashed)
    headroom: dict[tuple[str, str], float]    # (impl, quantity) -> max |error| / allowed (float impls)
    seconds: dict[str, float]                 # impl or overhead -> seconds
    skipped: str | None = None                # why the case was not compared: "<kind>: <detail>" (SKIPS)

    @property
    def failed(self) -> bool:
        return bool(self.mismatches or self.errors)

    def failing(self) -> set[tuple[str, str]]:
        """(impl, quantity) pairs that failed; a crash counts as quantity 'error'."""
        return {(m.impl, m.quantity) for m in self.mismatches} | {(i, "error") for i in self.errors}


@dataclass
class SweepResult:
    settings: Settings
    cases: list[CaseResult] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    interrupted: bool = False
    shrunk: dict = field(default_factory=dict)   # (impl, quantity) -> shrink.Shrunk
    warmup: float = 0.0                          # seconds of the untimed first call of each implementation

    @property
    def ran(self) -> int:
        return len(self.cases)

    @property
    def rate(self) -> float:
        return self.ran / self.seconds if self.seconds > 0 else 0.0

    @property
    def failures(self) -> list[CaseResult]:
        return [c for c in self.cases if c.failed]


# The `errors` key of a configuration that killed the worker process running it, twice (once may be the
# machine's fault): a finding of its own in a Dask sweep, where no exception says which implementation it was.
CRASHED = "worker"

SKIP_KINK, SKIP_RANGE = "ReLU kink", "out of range"
SKIPS = {SKIP_KINK: "at a ReLU kink", SKIP_RANGE: "beyond {dtype}'s finite range"}   # kind -> as printed


def skip_kind(reason: str) -> str:
    return reason.split(":", 1)[0]


def available(names: tuple[str, ...], problem: Problem, config: Config) -> tuple[tuple[str, ...], dict[str, str]]:
    """The implementations that can run here (checked once per sweep), and why the others cannot."""
    ok, missing = [], {}
    for name in names:
        reason = impls.unavailable(name)
        fn = getattr(impls.load(name), "unavailable_for", None) if not reason else None
        if fn is not None and name != "fd":     # fd's limit is the case's size: checked per case
            reason = fn(problem, config)
        if reason:
            missing[name] = reason
        else:
            ok.append(name)
    return tuple(ok), missing


def usable(settings: Settings) -> tuple[tuple[str, ...], dict[str, str]]:
    """The implementations this sweep runs (checked on its first configuration), and why the others cannot."""
    first = draw_case(settings.seed, settings.indices()[0], settings.max_size, settings.dtype).problem
    names, missing = available(settings.impls, first, settings.config)
    if not any(n != "exact" for n in names):     # exact alone compares nothing with itself
        raise UserError("nothing to compare in " + settings.dtype + ": "
                        + "; ".join(f"{n}: {r}" for n, r in missing.items()), "--impl")
    return names, missing


def warm_up(settings: Settings, names: tuple[str, ...]) -> float:
    """One untimed run of the first configuration: first calls pay one-time costs (imports, kernel
    set-up), kept apart from the per-implementation split. Its seconds."""
    first = draw_case(settings.seed, settings.indices()[0], settings.max_size, settings.dtype).problem
    t0 = time.perf_counter()
    run_problem(first, names, settings.config)
    return time.perf_counter() - t0


def _size_limit(name: str, problem: Problem, config: Config) -> str | None:
    """Per-case limits (fd refuses cases too big for finite differences): skip, don't fail."""
    fn = getattr(impls.load(name), "unavailable_for", None)
    return fn(problem, config) if name == "fd" and fn is not None else None


def relu_ambiguous(problem: Problem, reference, mags, dtype: str) -> str | None:
    """A ReLU whose pre-activation Z is so close to 0 that rounding (or fd's step) may flip its sign.

    The draw keeps Z off 0 at step 1; after an SGD update Z can land anywhere. Where
    |Z| ≤ max(1e-4, SAFETY·γₙ)·M (M: Z on magnitudes), the derivative taken depends on the
    rounding, not on the formula: such a configuration is skipped, and counted. (`mags` carry the
    dtype's underflow terms: a Z at the level of underflow has no reliable sign either.)"""
    if problem.activation != "relu":
        return None
    tol = tolerance.TABLE[dtype]
    n = tolerance.reduction_lengths(problem)["output"]
    for k, step in enumerate(reference.steps):
        z = np.asarray(step.output).astype(np.float64)
        margin = max(1e-4, tolerance.SAFETY * tol.gamma(n * (k + 1)))
        if np.any(np.abs(z) <= margin * np.asarray(mags[k]["output"], dtype=np.float64)):
            return f"{SKIP_KINK}: step {k + 1}, some |Z| ≤ {margin:.0e}·|terms|"
    return None


def headroom(problem: Problem, trace, reference, dtype: str, precision: str, mags) -> dict[tuple[str, str], float]:
    """max |observed − expected| / allowed per quantity: how close the errors come to the tolerance
    (≪ 1: the bound holds with room; a planted error shows as ≫ 1)."""
    tol = tolerance.for_run(dtype, precision, trace.impl)
    if tol.unit_roundoff == 0 and tol.rtol == 0:
        return {}
    lengths = tolerance.reduction_lengths(problem)
    out: dict[tuple[str, str], float] = {}
    for k, (step, ref) in enumerate(zip(trace.steps, reference.steps), start=1):
        for quantity, expected in ref.items():
            observed = getattr(step, quantity)
            if expected is None or observed is None:
                continue
            exp = np.asarray(expected).astype(np.float64)
            err = np.abs(np.asarray(observed, dtype=np.float64) - exp)
            allow = tolerance.allowed(tol, exp, np.asarray(mags[k - 1][quantity], dtype=np.float64),
                                      lengths[quantity] * k)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(err == 0, 0.0, err / allow)
            worst = float(np.nanmax(ratio)) if ratio.size else 0.0
            key = (trace.impl, quantity)
            out[key] = max(out.get(key, 0.0), worst)
    return out


@dataclass(frozen=True)
class Outcome:
    """One problem run through the implementations and compared."""

    mismatches: tuple[Mismatch, ...]
    errors: dict[str, str]
    headroom: dict[tuple[str, str], float]
    seconds: dict[str, float]
    skipped: str | None = None

    def failing(self) -> set[tuple[str, str]]:
        return {(m.impl, m.quantity) for m in self.mismatches} | {(i, "error") for i in self.errors}


def run_problem(problem: Problem, names: tuple[str, ...], config: Config, seconds: dict | None = None) -> Outcome:
    """The reference once (exact reuses it), the tolerance magnitudes once, then each implementation."""
    seconds = {} if seconds is None else seconds

    def timed(key, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - t0

    reference = timed("exact" if "exact" in names else "reference", reference_for, problem)
    mags = timed("tolerance", tolerance.magnitudes_for, problem, config.dtype, names)
    beyond = timed("tolerance", tolerance.out_of_range, problem, mags[config.dtype], config.dtype)
    skipped = f"{SKIP_RANGE}: {beyond}" if beyond else relu_ambiguous(problem, reference, mags[config.dtype],
                                                                       config.dtype)
    if skipped:
        return Outcome((), {}, {}, seconds, skipped)
    mismatches, errors, room = [], {}, {}
    for name in names:
        if _size_limit(name, problem, config):
            continue
        try:
            trace = reference if name == "exact" and reference.impl == "exact" else \
                timed(name, impls.load(name).run, problem, config)
        except Exception as exc:      # an implementation crashing on a valid case is a finding, not a stop
            errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        m = mags.get(tolerance.arithmetic(config.dtype, name), mags[config.dtype])
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):   # relative errors of ~0 entries
            cmp = timed("compare", compare, problem, trace, reference, config.dtype, config.precision, m)
        mismatches.extend(cmp.mismatches)
        room.update(timed("compare", headroom, problem, trace, reference, config.dtype, config.precision, m))
    return Outcome(tuple(mismatches), errors, room, seconds)


def run_case(case: Case, names: tuple[str, ...], config: Config, drawn: float = 0.0) -> CaseResult:
    """`drawn`: seconds spent drawing the case (timed with building its problem as "draw")."""
    t0 = time.perf_counter()
    problem = case.problem
    out = run_problem(problem, names, config, {"draw": drawn + time.perf_counter() - t0})
    return CaseResult(case, out.mismatches, out.errors, out.headroom, out.seconds, out.skipped)


@contextmanager
def single_threaded(names):
    """torch with one intra-op thread while the sweep runs: its problems are tiny (≤ a few thousand
    multiply-adds), where splitting the work only adds OpenMP start/barrier costs — and on a busy
    2-core machine a waiting thread turns a 0.3 ms step into 30 ms (measured)."""
    torch = None
    if {"torch", "array_api"} & set(names):
        try:
            import torch
        except ImportError:
            pass
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)


class _Deferred:
    """Ctrl-C / SIGTERM set a flag checked between configurations, instead of raising wherever Python is:
    a KeyboardInterrupt raised inside a C call on Fractions can surface as a SystemError. A second signal
    interrupts at once."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        import signal
        self._old = {}
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        except ValueError:   # not the main thread: leave signals alone
            pass
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        import signal
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


def sweep(settings: Settings, progress=None) -> SweepResult:
    """Draw and run the configurations; `progress(done, total)` after each. Ctrl-C ends it early."""
    with single_threaded(settings.impls), _Deferred() as stop:
        return _sweep(settings, progress, stop)


def _sweep(settings: Settings, progress=None, stop: _Deferred | None = None) -> SweepResult:
    result = SweepResult(settings)
    indices = settings.indices()
    config = settings.config
    t0 = time.perf_counter()
    try:
        names = settings.impls
        if indices:
            names, result.unavailable = usable(settings)
            result.warmup = warm_up(settings, names)
        for done, i in enumerate(indices, start=1):
            if stop is not None and stop.requested:
                raise KeyboardInterrupt
            t1 = time.perf_counter()
            case = draw_case(settings.seed, i, settings.max_size, settings.dtype)
            result.cases.append(run_case(case, names, config, time.perf_counter() - t1))
            if progress is not None:
                progress(done, len(indices))
    except KeyboardInterrupt:
        result.interrupted = True
    result.seconds = time.perf_counter() - t0
    return result


def time_split(result: SweepResult) -> dict[str, float]:
    """Total seconds per implementation and per overhead, over the configurations run."""
    total: dict[str, float] = {"warm-up": result.warmup} if result.warmup else {}
    for c in result.cases:
        for key, s in c.seconds.items():
            total[key] = total.get(key, 0.0) + s
    return dict(sorted(total.items(), key=lambda kv: -kv[1]))
