"""`crossgrad sweep`: differential testing over many random configurations (see harness/sweep/)."""

from __future__ import annotations

from . import outdir

HELP = "run every implementation on many random configurations and report every disagreement"

DTYPES = ("float64", "float32", "float16", "bfloat16")
SHRINK_SECONDS = 90.0      # total shrinking budget per sweep
MAX_WORKERS = 1024         # local worker processes (a bigger sweep wants a cluster: --scheduler)


def add_arguments(parser) -> None:
    parser.add_argument("--count", type=int, default=100, metavar="N", help="configurations to draw (default: 100)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="random seed; the same seed draws the same configurations (default: 0)")
    parser.add_argument("--only", metavar="I[,J...]",
                        help="run only configuration(s) I of this seed (as printed in rerun commands)")
    parser.add_argument("--impl", help="comma-separated implementations (default: all: exact, manual, array_api, "
                                       "torch, jax, fd)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto (default: cpu)")
    parser.add_argument("--dtype", default="float64", choices=DTYPES,
                        help="float dtype of the float implementations (default: float64)")
    parser.add_argument("--precision", default="highest", choices=("highest", "tf32", "default"),
                        help="GPU matmul/conv precision (default: highest, TF32 off)")
    parser.add_argument("--max-size", type=int, default=None, metavar="M",
                        help="largest configuration, in multiply-adds of the forward convolution "
                             "(N·C_out·H_out·W_out·C_in/groups·kh·kw; default: 600)")
    parser.add_argument("--no-shrink", action="store_true", help="do not reduce failing configurations")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")
    parallel = parser.add_mutually_exclusive_group()
    parallel.add_argument("--workers", type=int, metavar="N",
                          help="run on N local worker processes (Dask; pip install 'crossgrad[dask]'); "
                               "the report is the serial one")
    parallel.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                          help="run on the workers of this Dask distributed cluster (see README, "
                               "'Sweeps on many cores or a cluster')")
    outdir.add_options(parser)


def _settings(args):
    import impls

    from .errors import UserError
    from .run import parse_impls
    from .sweep.draw import DEFAULT_MAX_SIZE
    from .sweep.run import Settings
    from . import devices

    if not 1 <= args.count <= 1_000_000:
        raise UserError(f"--count must be from 1 to 1000000, got {args.count}", "--count")
    max_size = DEFAULT_MAX_SIZE if args.max_size is None else args.max_size
    if not 1 <= max_size <= 1_000_000:
        raise UserError(f"--max-size must be from 1 to 1000000 multiply-adds, got {max_size}", "--max-size")
    only = None
    if args.only is not None:
        try:
            only = tuple(dict.fromkeys(int(v) for v in args.only.split(",") if v.strip()))
        except ValueError:
            raise UserError(f"--only takes configuration numbers such as 17 or 3,17; got {args.only!r}",
                            "--only") from None
        if not only or min(only) < 0:
            raise UserError(f"--only takes configuration numbers ≥ 0, got {args.only!r}", "--only")
    if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
        raise UserError(f"--workers must be from 1 to {MAX_WORKERS}, got {args.workers}", "--workers")
    names, named = parse_impls(args.impl)
    if not named:
        names = tuple(impls.MODULES)
    return Settings(seed=args.seed, count=args.count, dtype=args.dtype, device=devices.resolve(args.device),
                    impls=names, impl_named=named, max_size=max_size, only=only, precision=args.precision)


def _shrink_all(result, budget: float) -> dict:
    """Shrink the smallest failing configuration of each (implementation, quantity) group; a group
    whose failure already shows in an earlier group's shrunk case reuses it. A configuration that
    crashed its worker is not shrunk (here it would crash this process). Returns result.shrunk."""
    import time

    from .sweep.report import groups
    from .sweep.run import CRASHED
    from .sweep.shrink import shrink
    t0 = time.perf_counter()
    for g in groups(result):
        if g.impl == CRASHED:
            continue
        reuse = next((s for (i, _), s in result.shrunk.items()
                      if i == g.impl and (g.impl, g.quantity) in s.outcome.failing()), None)
        if reuse is not None:
            result.shrunk[(g.impl, g.quantity)] = reuse
            continue
        left = budget - (time.perf_counter() - t0)
        if left <= 0:
            break
        shrunk = shrink(g.smallest.case, g.impl, g.quantity, result.settings.config, max_seconds=min(30.0, left))
        if shrunk.outcome.failing():
            result.shrunk[(g.impl, g.quantity)] = shrunk
    return result.shrunk


def _progress_bar(total: int, where: str = ""):
    """A progress bar on stderr (a terminal only): configurations done / total and their rate, across
    all workers. Returns (progress callback, bar) or (None, None)."""
    import sys
    import time
    if not sys.stderr.isatty():
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.console import Console
    bar = Progress(TextColumn("sweep" + where), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                   TimeRemainingColumn(), console=Console(file=sys.stderr), transient=True)
    task = bar.add_task("sweep", total=total, rate="")
    t0 = time.perf_counter()

    def progress(done, _total):
        rate = done / max(time.perf_counter() - t0, 1e-9)
        bar.update(task, completed=done, rate=f"{rate:.1f} configs/s")
    bar.start()
    return progress, bar


def _sweep_here(settings, args):
    """The serial sweep in this process, then shrinking here."""
    from .sweep.run import sweep
    progress, bar = _progress_bar(len(settings.indices())) if not args.json else (None, None)
    try:
        result = sweep(settings, progress)
    finally:
        if bar is not None:
            bar.stop()
    if result.failures and not args.no_shrink and not result.interrupted:
        try:
            _shrink_all(result, SHRINK_SECONDS)
        except KeyboardInterrupt:
            result.interrupted = True
    return result


def _sweep_on_dask(settings, args):
    """The sweep on Dask workers, then shrinking on one of them (frameworks imported, the device there),
    by the same deterministic code as a serial run."""
    from .sweep import on_dask
    from .sweep.run import CRASHED, SweepResult
    with on_dask.connect(args.workers, args.scheduler) as client:
        where = f" on {args.workers} workers" if args.workers else f" on {args.scheduler}"
        progress, bar = _progress_bar(len(settings.indices()), where) if not args.json else (None, None)
        try:
            result = on_dask.sweep(settings, client, progress)
        finally:
            if bar is not None:
                bar.stop()
        shrinkable = [c for c in result.failures if CRASHED not in c.errors]
        if shrinkable and not args.no_shrink and not result.interrupted:
            try:
                result.shrunk = on_dask.call(client, settings, _shrink_all, SweepResult(settings, shrinkable),
                                             SHRINK_SECONDS)
            except KeyboardInterrupt:
                result.interrupted = True
    return result


def run(args) -> int:
    import json
    import sys
    from pathlib import Path

    from .sweep import report

    settings = _settings(args)
    outdir.ready(args)
    parallel = args.workers is not None or args.scheduler is not None
    result = _sweep_on_dask(settings, args) if parallel else _sweep_here(settings, args)
    out = Path(args.out)
    case_files = {} if args.no_report else report.write_case_files(result, out)
    data = report.to_dict(result, case_files, args.out)
    paths = () if args.no_report else report.write(data, out, report.stem(settings))
    if args.json:
        json.dump(data, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        report.render(data, paths)
    if result.interrupted:
        return 130
    return 1 if result.failures else 0
