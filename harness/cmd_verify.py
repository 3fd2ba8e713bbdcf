"""`crossgrad verify` (placeholder until its issue lands)."""

HELP = "verify (not implemented yet)"


def add_arguments(parser) -> None:
    parser.add_argument("rest", nargs="*")


def run(args) -> int:
    from .errors import UserError
    raise UserError("'crossgrad verify' is not implemented yet")
