"""Write files atomically: a temp file in the same folder, fsync, then rename over the target.

An interrupted run (Ctrl-C, kill) leaves either the previous file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def ready_folder(path, where: str = "--out") -> Path:
    """Make sure reports can go to folder `path` (created if missing) before any work is done; a path
    that cannot be one is the user's error (one line, exit 2), not a crash after the run."""
    from .errors import UserError
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"{p} is a file, not a folder", where) from None
    except OSError as exc:
        raise UserError(f"cannot create the report folder {p}: {exc.strerror or exc}", where) from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise UserError(f"cannot write in the report folder {p}", where)
    return p


def write_atomic(path: Path, data: str | bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; a report is as readable as any new file
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
