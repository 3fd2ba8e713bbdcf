"""`crossgrad verify FILE`: check a hand-written derivation step by step and say what went wrong."""

from __future__ import annotations

HELP = "check a hand-written derivation (TOML, Markdown, LaTeX or text) step by step"


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="a derivation: .toml (see examples/), or .md/.tex/.txt")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    parser.add_argument("--show-parsed", action="store_true",
                        help="print what was read (problem, conventions and their sources, claims, skipped items)")


def read_derivation(path: str):
    """A .toml derivation by our reader; anything else by the document importer."""
    from pathlib import Path

    from .errors import UserError
    if Path(path).suffix.lower() == ".toml":
        from .verify.toml_reader import read_toml_derivation
        return read_toml_derivation(path)
    try:
        from .importer import read_document
    except ImportError:
        raise UserError("only .toml derivations are supported yet (Markdown/LaTeX import is not available)",
                        path) from None
    return read_document(path)


def run(args) -> int:
    import json
    import sys

    from .verify import to_json, verify
    from .verify.render import plain, rich_print, show_parsed

    derivation = read_derivation(args.file)
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
    return verdict.exit_code
