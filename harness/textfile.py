"""Reading a user's text file: size checked before reading, UTF-8 (a BOM is fine), one clear error."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError


def read_text(path: Path, max_bytes: int, what: str = "file") -> str:
    """The file's text with newlines normalised; a UserError naming the file for anything else."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UserError(f"cannot read: {exc.strerror}", str(path)) from None
    if size > max_bytes:
        raise UserError(f"file is {size} bytes, over the limit of {max_bytes} for a {what}", str(path))
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise UserError(f"cannot read: {exc.strerror}", str(path)) from None
    except UnicodeDecodeError as exc:
        raise UserError(f"not UTF-8 text (byte {exc.start})", str(path)) from None
    if "\x00" in text:
        raise UserError("not a text file (it contains NUL bytes)", str(path))
    return text.replace("\r\n", "\n").replace("\r", "\n")
