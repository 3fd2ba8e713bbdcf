"""The rich Console that crossgrad's own views print through (`check`'s table, `bench`'s summary).

Piped or redirected, nothing is wrapped: a line is a line for `grep` and `head`, whatever COLUMNS says.
A reader that stops early (`| head -1`) is the CLI's BrokenPipeError, exit 141 as for any tool killed by
SIGPIPE — rich's own handler would exit 1, which reads as "mismatch".
"""

from __future__ import annotations

import sys

from rich.console import Console

UNWRAPPED_WIDTH = 10_000   # not a terminal: wide enough that rich never wraps or shortens a line


class _Console(Console):
    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def is_terminal(file) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):   # a file-like object without one, or closed
        return False


def console(file=None) -> Console:
    """A Console on `file` (default stdout): the terminal's width on a terminal, no wrapping elsewhere."""
    file = file or sys.stdout
    if is_terminal(file):
        return _Console(file=file, highlight=False)
    return _Console(file=file, highlight=False, soft_wrap=True, width=UNWRAPPED_WIDTH)
