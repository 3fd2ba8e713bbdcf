"""The one error type for user mistakes (bad files, bad flags, bad numbers).

The CLI turns a `UserError` into one line on stderr and exit code 2; anything else
is a bug in crossgrad and exits 3 (traceback only with --debug).
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user. `where` names the file, line or key; the message says what is wrong."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def at(self, where: str) -> "UserError":
        """The same error, located (keeps an inner location after the outer one)."""
        return UserError(self.message, f"{where}: {self.where}" if self.where else where)
