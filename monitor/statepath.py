"""Whether the state path can be used, said in one plain line before SQLite's vaguer "unable to open"."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import StateError


def check(path: Path, *, write: bool = True) -> bool:
    """Return whether the state file exists; raise StateError naming the path and the fault. Creates nothing.

    write=False: an existing file need only be readable (`status`, `--dry-run`); a missing one must
    still be creatable, or no run ever could.
    """
    try:
        if path.is_dir():
            raise StateError(f"state path {path} is a folder, not a file: set state.path to a file inside it")
        folder = next(p for p in (path.parent, *path.parent.parents) if p.exists())
        if not folder.is_dir():
            raise StateError(f"cannot create the state file {path}: {folder} is a file, not a folder")
        if not path.exists():
            _writable(folder, f"cannot create the state file {path}: {folder}")
            return False
        if not os.access(path, os.R_OK):
            raise StateError(f"cannot read the state file {path}: {os.strerror(errno.EACCES)}")
        if write:
            _writable(path, f"cannot write the state file {path}: the file")
            _writable(path.parent, f"cannot write the state file {path}: its folder (for the journal)")
        return True
    except OSError as exc:  # a stat that failed: a path too long, a loop of links, an I/O error
        raise StateError(f"cannot use the state file {path}: {exc.strerror or exc}") from None


def prepare(path: Path) -> None:
    """Check the state path for writing and create its folder with parents; raise StateError naming the fault."""
    check(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # what check() cannot foresee: a folder in /proc looks writable to root
        raise StateError(
            f"cannot create the folder of the state file {path}: {exc.filename or path.parent}: {exc.strerror or exc}"
        ) from None


def _writable(path: Path, what: str) -> None:
    if os.access(path, os.W_OK):
        return
    code = errno.EROFS if os.statvfs(path).f_flag & os.ST_RDONLY else errno.EACCES
    raise StateError(f"{what} is not writable ({os.strerror(code)}): make it writable by this user, or move state.path")
