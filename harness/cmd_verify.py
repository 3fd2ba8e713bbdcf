"""`crossgrad verify FILE`: check a hand-written derivation step by step and say what went wrong."""

from __future__ import annotations

HELP = "check a hand-written derivation (TOML, Markdown, LaTeX or text) step by step"


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="a derivation: .toml (see examples/), or .md/.tex/.txt")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    parser.add_argument("--show-parsed", action="store_true",
                        help="print what was read (problem, conventions and their sources, claims, skipped items)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when any number was skipped or a claim could not be checked")
    parser.add_argument("--lr", metavar="ETA", help="the learning rate, when the document does not state it")
    parser.add_argument("--loss", choices=("mean", "sum", "half_sum", "half_mean"),
                        help="the loss convention to judge by (overrides what was read)")
    parser.add_argument("--stride", metavar="S", help="the stride (S or SH,SW), over what the document says")
    parser.add_argument("--padding", metavar="P", help="the padding (P, PH,PW, same or valid), over the document")
    parser.add_argument("--layout", choices=("nchw", "nhwc"),
                        help="how the document writes its arrays: nhwc = N,H,W,C inputs and H,W,I,O filters")
    parser.add_argument("--role", metavar="NAME=ROLE", action="append", default=[],
                        help="what a name in the document is (or the matrix that starts on line NAME, when NAME is "
                             "a number): input, filter, bias, target, upstream (the given ∂L/∂Ŷ), output, "
                             "grad_filter, …, or skip; repeatable")


def read_derivation(path: str, declared=None):
    """A .toml derivation by our reader; anything else by the document importer (with what the command line
    declares: stride, padding, layout, roles)."""
    from pathlib import Path

    from .errors import UserError
    if Path(path).suffix.lower() == ".toml":
        if declared is not None and declared != type(declared)():
            raise UserError("--stride, --padding, --layout and --role are for documents; a TOML derivation states "
                            "them in its [problem] table", "command line")
        from .verify.toml_reader import read_toml_derivation
        return read_toml_derivation(path)
    try:
        from .importer import read_document
    except ImportError:
        raise UserError("only .toml derivations are supported yet (Markdown/LaTeX import is not available)",
                        path) from None
    return read_document(path, declared)


def run(args) -> int:
    import json
    import sys

    from .verify import to_json, verify
    from .verify.render import plain, rich_print, show_parsed

    derivation = _overrides(read_derivation(args.file, _declared(args)), args)
    if args.show_parsed:
        print(show_parsed(derivation), file=sys.stderr if args.json else sys.stdout)
        if not args.json:
            print()
    verdict = verify(derivation)
    if args.json:
        print(json.dumps(to_json(verdict), indent=2, ensure_ascii=False))
    elif sys.stdout.isatty():
        rich_print(verdict)
    else:
        print(plain(verdict))
    if args.strict and verdict.exit_code == 0 and (verdict.skipped or verdict.unchecked):
        print(f"crossgrad verify: --strict: {len(verdict.skipped)} number(s) skipped, {len(verdict.unchecked)} "
              "claim(s) not checked", file=sys.stderr)
        return 1
    return verdict.exit_code


def _overrides(d, args):
    """--lr and --loss: what the person says on the command line wins, and the report says so."""
    from dataclasses import replace
    from fractions import Fraction
    from types import MappingProxyType

    from .derivation import Source
    from .errors import UserError
    conv = dict(d.conventions)
    p = d.problem
    if args.lr is not None:
        try:
            eta = Fraction(args.lr)
        except (ValueError, ZeroDivisionError):
            raise UserError(f"--lr: {args.lr!r} is not a number (write 0.1 or 1/10)", "command line") from None
        p = p.with_(lr=eta)
        conv["learning_rate"] = Source("declared", "on the command line: --lr")
    if args.loss is not None:
        if p.target is None:
            raise UserError("--loss needs a target in the document (it gives an upstream gradient or none)",
                            "command line")
        p = p.with_(loss=args.loss)
        conv["loss"] = Source("declared", "on the command line: --loss")
    return replace(d, problem=p, conventions=MappingProxyType(conv))


def _declared(args):
    """--stride, --padding, --layout, --role as a `Declared`; one clear line (exit 2) for a bad value."""
    from .derivation import ROLE_WORDS, ROLES, Declared
    from .errors import UserError

    def ints(option: str, text: str, words: tuple[str, ...] = ()):
        if text is None:
            return None
        t = text.strip().lower()
        if t in words:
            return t
        try:
            parts = tuple(int(v) for v in t.replace("x", ",").split(","))
        except ValueError:
            parts = ()
        if len(parts) not in (1, 2) or min(parts) < (1 if option == "--stride" else 0):
            allowed = " or ".join(("an integer", "two integers H,W") + words)
            raise UserError(f"{option}: {text!r} is not {allowed}", "command line")
        return parts[0] if len(parts) == 1 else parts

    roles = []
    for item in args.role:
        name, eq, role = item.partition("=")
        role = ROLE_WORDS.get(role.strip().lower(), role.strip().lower())
        if not eq or not name.strip() or role not in ROLES:
            raise UserError(f"--role {item!r}: write NAME=ROLE with ROLE one of {', '.join(ROLES)} (or upstream, "
                            "kernel, ignore)", "command line")
        roles.append((name.strip(), role))
    padding = ints("--padding", args.padding, ("same", "valid"))
    return Declared(stride=ints("--stride", args.stride), padding=0 if padding == "valid" else padding,
                    layout=args.layout, roles=tuple(roles))
