"""`crossgrad bench` (placeholder until its issue lands)."""

HELP = "bench (not implemented yet)"


def add_arguments(parser) -> None:
    parser.add_argument("rest", nargs="*")


def run(args) -> int:
    from .errors import UserError
    raise UserError("'crossgrad bench' is not implemented yet")
