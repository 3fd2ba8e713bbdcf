"""`crossgrad explain`: write the correct worked derivation of a case, every term shown."""

from __future__ import annotations

HELP = ("write the correct worked derivation of a case, or of the problem in your own document "
        "(Markdown/LaTeX, LaTeX, plain text or TOML)")
FORMATS = ("md", "tex", "text", "toml")
FORMAT_NAMES = (("md", "Markdown with LaTeX math"), ("tex", "LaTeX"), ("text", "plain text"), ("toml", "TOML"))


def add_arguments(parser) -> None:
    parser.add_argument("case", nargs="?", default=None, metavar="CASE | FILE",
                        help="a built-in case (default: seed), a TOML case file with a [problem] table, or a "
                             "document (.md, .tex, .txt): its problem is read as `crossgrad verify` reads it")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="md: Markdown with LaTeX math; tex: a LaTeX document; text: plain Unicode; toml: the "
                             "derivation as `crossgrad verify` reads it (default: md, or a document's own format)")
    parser.add_argument("--steps", type=int, default=None, metavar="K", help="SGD steps (overrides the case)")
    parser.add_argument("--loss", choices=("mean", "sum", "half_sum", "half_mean", "linear"), default=None,
                        help="loss convention (overrides the case)")
    parser.add_argument("--activation", choices=("none", "relu"), default=None,
                        help="activation between convolution and loss (overrides the case)")
    parser.add_argument("--operation", choices=("cross_correlation", "convolution"), default=None,
                        help="cross-correlation or true convolution (overrides the case)")
    parser.add_argument("--out", metavar="FILE", default=None, help="write to FILE instead of stdout")
    doc = parser.add_argument_group("for a document: what it does not state (as for `crossgrad verify`)")
    doc.add_argument("--lr", metavar="ETA", help="the learning rate (default: as stated, or inferred from the "
                                                 "document's update)")
    doc.add_argument("--stride", metavar="S", help="the stride (S or SH,SW), over what the document says")
    doc.add_argument("--padding", metavar="P", help="the padding (P, PH,PW, same or valid), over the document")


def with_overrides(problem, *, steps=None, loss=None, activation=None, operation=None):
    """The problem with the command line's conventions, validated again as a whole."""
    from .problem import make_problem
    if steps is None and loss is None and activation is None and operation is None:
        return problem
    lay = problem.layout
    loss = problem.loss if loss is None else loss
    target, grad_output = problem.target, problem.grad_output
    if loss == "linear" and problem.loss != "linear":
        from .errors import UserError
        raise UserError(f"--loss linear needs a given upstream gradient (grad_output); case {problem.name!r} "
                        "has a target instead")
    if loss != "linear" and problem.loss == "linear":
        from .errors import UserError
        raise UserError(f"--loss {loss} needs a target; case {problem.name!r} gives an upstream gradient "
                        "(grad_output) instead")
    (t, b), (l, r) = problem.padding
    return make_problem(
        x=lay.to_user("input", problem.x), w=lay.to_user("filter", problem.w),
        target=None if target is None else lay.to_user("output", target),
        b=problem.b, lr=problem.lr, stride=list(problem.stride), padding=[[t, b], [l, r]],
        dilation=list(problem.dilation), groups=problem.groups,
        steps=problem.steps if steps is None else steps, loss=loss,
        operation=problem.operation if operation is None else operation,
        activation=problem.activation if activation is None else activation,
        grad_output=None if grad_output is None else lay.to_user("output", grad_output),
        name=problem.name, where="command line")


# `crossgrad verify` reads documents of up to 500 000 characters of math (harness/importer/collect.py);
# past this the terms are left out and only the (exact) results are written, so explain → verify holds.
MAX_DOCUMENT_CHARS = 400_000


def render(problem, fmt: str = "md") -> str:
    """The derivation of `problem` in one format."""
    from .explain.terms import explain_problem
    e = explain_problem(problem)
    if fmt == "toml":
        from .explain import toml_form
        return toml_form.render(e)
    from .explain import document, latex, markdown, style, text
    S = style.Text() if fmt == "text" else style.Tex()
    writer = {"md": markdown, "tex": latex, "text": text}[fmt]
    out = writer.render(document.build(e, S))
    if len(out) > MAX_DOCUMENT_CHARS:   # long exact fractions: keep the document readable (and re-readable)
        out = writer.render(document.build(explain_problem(problem, expand=False), S))
    return out


def run(args) -> int:
    import sys

    from .cases import DocumentNotCase, resolve
    from .errors import UserError
    fmt, notes = args.format, []
    try:
        problem = resolve(args.case)
        if args.lr is not None or args.stride is not None or args.padding is not None:
            raise UserError("--lr, --stride and --padding are for documents; a case states them in its "
                            "[problem] table", "command line")
    except DocumentNotCase:   # the person's own document: the correct derivation of its problem
        from .explain_document import document_format, problem_of_document
        problem, notes = problem_of_document(args.case, lr=args.lr, stride=args.stride, padding=args.padding)
        fmt = fmt or document_format(args.case)
        import shlex
        notes.insert(0, f"the correct derivation of the problem in {args.case}, read as `crossgrad verify "
                        f"{shlex.quote(args.case)} --show-parsed` shows; written as {dict(FORMAT_NAMES)[fmt]}")
    problem = with_overrides(problem, steps=args.steps, loss=args.loss,
                             activation=args.activation, operation=args.operation)
    out = render(problem, fmt or "md")
    for note in notes:
        print(f"crossgrad explain: {note}", file=sys.stderr)
    if args.out:
        from pathlib import Path

        from .atomic import write_atomic
        from .errors import UserError
        try:
            write_atomic(Path(args.out), out)
        except OSError as exc:
            raise UserError(f"cannot write: {exc.strerror or exc}", args.out) from None
    else:
        sys.stdout.write(out)
    return 0
