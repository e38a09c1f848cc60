"""A real PostgreSQL server for the tests: initdb into a temporary folder, postgres on 127.0.0.1, removed after.

PostgreSQL refuses to run as root, and the tests run as root here and in CI: then the server runs as the
`postgres` system user (Debian's package makes it), or as a `monitor-test` system user made for it. The
postmaster is this process's own child (not pg_ctl's, so we reap it), in a process group of its own, so kill()
takes it and every backend down at once, as a crashed machine would, and start() then recovers from that.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from helpers import free_port

USER = "monitor"  # the superuser initdb makes, and the database the url names
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",  # a test server's data need not survive a power cut
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # every test's stores and services share the session's server
    "shared_buffers": "16MB",
    "logging_collector": "off",
}


class PostgresUnavailable(Exception):
    """No PostgreSQL server binaries here, or the server would not start."""


def find_bindir() -> Path:
    """The folder with initdb and postgres: $MONITOR_PG_BIN, Debian's newest /usr/lib/postgresql/N/bin, or $PATH."""
    if env := os.environ.get("MONITOR_PG_BIN"):
        candidates = [env]
    else:
        debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
        on_path = shutil.which("initdb")
        candidates = [*debian, *([str(Path(on_path).parent)] if on_path else [])]
    for folder in candidates:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "postgres").is_file():
            return Path(folder)
    raise PostgresUnavailable("no PostgreSQL server binaries (initdb, postgres): set MONITOR_PG_BIN or install them")


def server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when we are root (made if need be); None: run as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "monitor-test"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    done = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "monitor-test"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise PostgresUnavailable(f"running as root and cannot add a user for PostgreSQL: {done.stderr.strip()}")
    return pwd.getpwnam("monitor-test")


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies, waiting for a reaper, hold nothing and do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, ...
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


@contextlib.contextmanager
def _unavailable_on(*errors: type[Exception]) -> Iterator[None]:
    try:
        yield
    except errors as e:
        raise PostgresUnavailable(str(e)) from e


class PostgresServer:
    """One PostgreSQL server in a temporary folder: start(), stop(), restart(), kill(); close() removes it all."""

    def __init__(self, *, start_timeout: float = 30) -> None:
        self.bindir = find_bindir()
        self.user = server_user()
        self.start_timeout = start_timeout
        self.root = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        try:
            if self.user is not None:
                os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
            self._run(
                "initdb",
                *("-D", str(self.data), "-U", USER, "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"),
            )
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.writelines(f"{key} = '{value}'\n" for key, value in SETTINGS.items())
                conf.write(f"unix_socket_directories = '{self.root}'\n")
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    @classmethod
    def started(cls) -> PostgresServer:
        """A new server, running; its folder removed again if it would not start."""
        server = cls()
        try:
            server.start()
        except BaseException:
            server.close()
            raise
        return server

    @property
    def url(self) -> str:
        """The url of the `monitor` database, over TCP on 127.0.0.1."""
        return self.url_for(USER)

    def url_for(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def _as_user(self) -> dict[str, Any]:
        """Popen's arguments to run as the server's user, without root's groups."""
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _run(self, tool: str, *args: str) -> None:
        with _unavailable_on(OSError, subprocess.TimeoutExpired):
            done = subprocess.run(
                [str(self.bindir / tool), *args],
                capture_output=True,
                text=True,
                cwd=self.root,
                timeout=self.start_timeout,
                **self._as_user(),
            )
        if done.returncode != 0:
            raise PostgresUnavailable(f"{tool} failed: {(done.stderr or done.stdout).strip()}")

    def start(self) -> None:
        """Start the server and wait until it takes connections; on the first start, pick a port and make the db."""
        assert self.process is None, "already running"
        first = self.port == 0
        for _ in range(3 if first else 1):  # a free port can be taken between our probe and the server's bind
            if first:
                self.port = free_port()
            if self._launch():
                break
        else:
            raise PostgresUnavailable(f"postgres did not start: {self._log_tail()}")
        if first:
            self._run("createdb", "-h", str(self.root), "-p", str(self.port), "-U", USER, USER)

    def _launch(self) -> bool:
        """Run postgres; True once it is ready, False if it gave up (its log says why)."""
        with self.log.open("ab") as log, _unavailable_on(OSError):
            self.process = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
                **self._as_user(),
            )
        deadline = time.monotonic() + self.start_timeout
        while not self._ready():
            if self.process.poll() is not None:
                self.process = None
                return False
            if time.monotonic() > deadline:
                self.kill()
                raise PostgresUnavailable(f"postgres not ready after {self.start_timeout} s: {self._log_tail()}")
            time.sleep(0.01)
        return True

    def _ready(self) -> bool:
        # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        assert self.process is not None
        return len(lines) >= 8 and lines[0] == str(self.process.pid) and lines[7].strip() == "ready"

    def _log_tail(self, lines: int = 5) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        return "(no log)"

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown (SIGINT, as `pg_ctl stop -m fast`): sessions are ended, the server checkpoints and exits."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same data and port."""
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends together, and wait until they are gone: a crash, for failover."""
        if self.process is None:
            return
        pgid = self.process.pid  # start_new_session: the postmaster leads its own group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.process.wait()
        self.process = None
        deadline = time.monotonic() + 10
        while _group_alive(pgid):  # a backend still attached to shared memory would stop the next start
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"processes of group {pgid} outlived SIGKILL")
            time.sleep(0.01)

    def close(self) -> None:
        """Stop the server and remove its folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
