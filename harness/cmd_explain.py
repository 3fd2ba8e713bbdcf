"""`crossgrad explain` (placeholder until its issue lands)."""

HELP = "explain (not implemented yet)"


def add_arguments(parser) -> None:
    parser.add_argument("rest", nargs="*")


def run(args) -> int:
    from .errors import UserError
    raise UserError("'crossgrad explain' is not implemented yet")
