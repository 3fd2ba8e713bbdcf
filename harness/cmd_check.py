"""`crossgrad check`: run the implementations on a case and check that everything agrees."""

from __future__ import annotations

from . import outdir

HELP = "run conv -> loss -> SGD in every implementation and check that all quantities agree"

DTYPES = ("float64", "float32", "float16", "bfloat16")
# On a GPU the hand derivation also runs there (array_api: the same formulas on torch/jax GPU arrays).
GPU_DEFAULT = ("exact", "manual", "array_api", "torch", "jax", "fd")


def add_arguments(parser) -> None:
    parser.add_argument("case", nargs="?", default=None,
                        help="a built-in case (seed, batch, stride_pad, dilation, groups, same, multistep, "
                             "relu_sum_conv, upstream) or a TOML case file; default: seed")
    parser.add_argument("--impl", help="comma-separated implementations (default: exact,manual,torch,jax,fd; "
                                       "also array_api)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto (default: cpu)")
    parser.add_argument("--dtype", default="float64", choices=DTYPES, help="float dtype of the float "
                        "implementations (default: float64)")
    parser.add_argument("--precision", default="highest", choices=("highest", "tf32", "default"),
                        help="GPU matmul/conv precision: highest (TF32 off, default) or the frameworks' tf32 default")
    det = parser.add_mutually_exclusive_group()
    det.add_argument("--deterministic", dest="deterministic", action="store_true", default=True,
                     help="deterministic GPU algorithms (default)")
    det.add_argument("--no-deterministic", dest="deterministic", action="store_false")
    parser.add_argument("--repeat", type=int, default=1, metavar="R",
                        help="run R times and report whether the results are bitwise equal")
    parser.add_argument("--steps", type=int, default=None, metavar="K", help="number of SGD steps (overrides the case)")
    parser.add_argument("--loss", choices=("mean", "sum", "half_sum", "half_mean", "linear"), help="override the loss")
    parser.add_argument("--operation", choices=("cross_correlation", "convolution"), help="override the operation")
    parser.add_argument("--activation", choices=("none", "relu"), help="override the activation")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of the table")
    outdir.add_options(parser)


def _problem(args):
    from .cases import resolve
    from .errors import UserError
    from .problem import MAX_STEPS
    p = resolve(args.case)
    changes = {}
    if args.steps is not None:
        if not 1 <= args.steps <= MAX_STEPS:
            raise UserError(f"--steps must be from 1 to {MAX_STEPS}, got {args.steps}", "--steps")
        if p.lr is None:
            raise UserError("--steps needs a case with a learning_rate", "--steps")
        changes["steps"] = args.steps
    for key in ("operation", "activation"):
        if getattr(args, key):
            changes[key] = getattr(args, key)
    if args.loss and args.loss != p.loss:
        if (args.loss == "linear") != (p.loss == "linear"):
            raise UserError("--loss cannot switch between a target (squared losses) and a given upstream "
                            "gradient (linear); edit the case instead", "--loss")
        changes["loss"] = args.loss
    p = p.with_(**changes) if changes else p
    from .problem import MAX_MULTIPLY_ADDS
    from .run import multiply_adds
    if multiply_adds(p) * p.steps > MAX_MULTIPLY_ADDS:  # make_problem's limit, again for --steps
        raise UserError(f"the convolution needs {multiply_adds(p) * p.steps} multiply-adds over {p.steps} "
                        f"step(s), over the limit of {MAX_MULTIPLY_ADDS}", "--steps")
    return p


def run(args) -> int:
    import json
    import sys
    from pathlib import Path

    from impls.base import Config

    from . import devices
    from .errors import UserError
    from .run import parse_impls, run_all

    if args.repeat < 1 or args.repeat > 100:
        raise UserError(f"--repeat must be from 1 to 100, got {args.repeat}", "--repeat")
    devices.prepare_environment(args.deterministic)   # before anything can start CUDA or XLA
    names, strict = parse_impls(args.impl)
    device = devices.resolve(args.device)
    if devices.is_gpu(device):
        reasons = {fw: devices.why_not(fw, device) for fw in ("torch", "jax")}
        if all(reasons.values()):
            raise UserError("; ".join(f"{fw}: {why}" for fw, why in reasons.items()), f"--device {device}")
        if args.impl is None:
            names = GPU_DEFAULT
    config = Config(dtype=args.dtype, device=device, precision=args.precision, deterministic=args.deterministic)
    problem = _problem(args)
    outdir.ready(args)
    try:
        result = run_all(problem, names, config, strict=strict)
    except UserError as exc:  # name the case file in front of "problem"
        raise exc.at(args.case or "seed") if exc.where == "problem" else exc
    extra = {}
    if args.repeat > 1:
        from .repeat import bitwise_repeat
        extra["repeat"] = bitwise_repeat(problem, result, config, args.repeat)
    from . import report
    data = report.to_dict(result, extra)
    paths = ()
    if not args.no_report:
        stem = f"check-{problem.name}-{device.replace(':', '')}-{args.dtype}" + (
            f"-{args.precision}" if args.precision != "highest" else "")
        paths = report.write(data, Path(args.out), stem)
    if args.json:
        json.dump(data, sys.stdout)
        sys.stdout.write("\n")
    else:
        from .render_check import render
        render(result, paths)
        if "repeat" in extra:
            r = extra["repeat"]
            print(f"repeat: {r['runs']} runs, bitwise equal: {r['bitwise_equal']}")
    return 0 if result.agree and extra.get("repeat", {}).get("bitwise_equal", True) else 1
