"""`crossgrad sweep` (placeholder until its issue lands)."""

HELP = "sweep (not implemented yet)"


def add_arguments(parser) -> None:
    parser.add_argument("rest", nargs="*")


def run(args) -> int:
    from .errors import UserError
    raise UserError("'crossgrad sweep' is not implemented yet")
