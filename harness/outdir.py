"""The report folder of `check`, `sweep` and `bench`: their --out / --no-report options, and the folder
made ready before any work, so that a path that cannot be one is the user's error (one line, exit 2),
not a crash after the run."""

from __future__ import annotations

import os
from pathlib import Path


def add_options(parser) -> None:
    parser.add_argument("--out", default="reports", metavar="DIR",
                        help="report folder (default: reports, git-ignored; the committed runs are in results/)")
    parser.add_argument("--no-report", action="store_true", help="write no report files")


def ready(args, where: str = "--out") -> Path | None:
    """The report folder (created if missing, writable), or None with --no-report."""
    if args.no_report:
        return None
    from .errors import UserError
    p = Path(args.out)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"{p} is a file, not a folder", where) from None
    except OSError as exc:
        raise UserError(f"cannot create the report folder {p}: {exc.strerror or exc}", where) from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise UserError(f"cannot write in the report folder {p}", where)
    return p
