"""`crossgrad bench`: time one SGD step per implementation against its GEMM floor (see harness/bench/)."""

from __future__ import annotations

from . import outdir

HELP = "time one conv -> loss -> SGD step in each implementation, against the step's GEMMs alone"

DTYPES = ("float32", "float64")   # NumPy has no bfloat16, and no BLAS for float16
IMPLS = ("manual", "torch", "jax", "array_api", "exact", "fd")


def add_arguments(parser) -> None:
    parser.add_argument("--shape", action="append", metavar="N,C_in,C_out,H,k",
                        help="a shape to time (repeatable; default: 1,1,1,3,2 8,3,16,32,3 32,16,32,32,3 "
                             "32,64,64,32,3 16,64,64,56,3); H×H input, k×k filter, valid, stride 1, mean loss")
    parser.add_argument("--impl", help=f"comma-separated implementations (default: {','.join(IMPLS)}; exact and fd "
                                       "only on tiny shapes)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default: cpu; manual, exact, fd: CPU only)")
    parser.add_argument("--dtype", default="float32", choices=DTYPES, help="float dtype (default: float32)")
    parser.add_argument("--repeat", type=int, default=15, metavar="R", help="timed runs per implementation (default: 15)")
    parser.add_argument("--startup", action="store_true",
                        help="also time cold start-up: verify vs `import numpy`, check vs `import torch, jax`")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")
    outdir.add_options(parser)


def _impls(spec: str | None) -> tuple[str, ...]:
    from .errors import UserError
    if not spec:
        return IMPLS
    names = tuple(dict.fromkeys(s.strip() for s in spec.split(",") if s.strip()))
    unknown = [n for n in names if n not in IMPLS]
    if unknown or not names:
        raise UserError(f"unknown implementation {', '.join(unknown) or repr(spec)}; choose from {', '.join(IMPLS)}",
                        "--impl")
    return names


def run(args) -> int:
    import json
    import sys

    from . import devices
    from .errors import UserError

    if not 1 <= args.repeat <= 10_000:
        raise UserError(f"--repeat must be from 1 to 10000, got {args.repeat}", "--repeat")
    impls = _impls(args.impl)
    device = devices.parse(args.device)
    if device == "auto":
        device = devices.resolve(device)
    from .bench import run_bench
    from .bench.shapes import DEFAULT_SHAPES, parse_shape
    shapes = [parse_shape(s) for s in (args.shape or DEFAULT_SHAPES)]
    outdir.ready(args)
    log = (lambda s: None) if args.json else (lambda s: print(f"bench: {s}", file=sys.stderr, flush=True))
    report = run_bench(shapes, impls, device, args.dtype, args.repeat, startup=args.startup, log=log)
    paths = []
    if not args.no_report:
        from .bench.report import write
        paths = write(report, args.out, f"bench-{device.replace(':', '')}-{args.dtype}")
    if args.json:
        print(json.dumps(report, indent=2))
    else:   # the summary and where the report is; the report itself is the Markdown written (or --json)
        from .bench.summary import render
        render(report, paths)
    return 0
