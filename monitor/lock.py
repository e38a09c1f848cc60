"""One writer per state database: a second instance refuses to start and names the first one's PID."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from . import statepath
from .errors import MonitorError, StateError


class StateLock:
    """An exclusive lock on `<state file>.lock`, held while the process runs, released by the kernel at exit.

    A PostgreSQL state (state_path None) has no file to lock: for now one instance writes a database;
    instances cooperating through the database itself come next.
    """

    def __init__(self, state_path: Path | None) -> None:
        self.path = None if state_path is None else state_path.with_name(state_path.name + ".lock")
        self.state_path = state_path
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise MonitorError naming the process that holds it."""
        if self.path is None or self.state_path is None:
            return
        statepath.prepare(self.state_path)  # the lock needs what the state file needs: a writable folder
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:  # the folder is fine: the lock file itself is in the way (a folder of that name?)
            raise StateError(
                f"cannot open the lock file {self.path} beside the state file: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise MonitorError(
                f"another monitor (PID {holder}) is already using {self.state_path}; stop it first;"
                " several instances need a PostgreSQL state (state.url), see README"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd

    def release(self) -> None:
        """Let another instance start."""
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def holder(state_path: Path) -> int | None:
    """Return the PID of the monitor that holds the state's lock now, or None when none runs."""
    path = state_path.with_name(state_path.name + ".lock")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # never locked, or not ours to read: nothing says a monitor runs
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.read(fd, 32).decode(errors="replace").strip()
        return int(text) if text.isdigit() else 0
    finally:
        os.close(fd)  # also lets go of a shared lock taken just now
    return None
