"""The fixtures: a ticker site, the fake Bot API, a small disk, services to stop, PostgreSQL (the rest: helpers.py)."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fake_telegram import FakeTelegram
from helpers import CHATS, TOKEN, Service
from postgres import PostgresServer, PostgresUnavailable
from sites import Site

# As monitor's entry point does: RetryAfter.retry_after as a timedelta, without PTB's warning.
os.environ.setdefault("PTB_TIMEDELTA", "1")


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as s:
        yield s


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN, chats=CHATS) as tg:
        yield tg


@pytest.fixture(autouse=True)
def bot_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (as root), to fill up and free again, or to remount read-only; skipped where none can be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        service.close()


def _postgres_or_skip() -> PostgresServer:
    """A started server; skipped where none can run, or failed if MONITOR_REQUIRE_POSTGRES is set (as in CI)."""
    try:
        return PostgresServer.started()
    except PostgresUnavailable as e:
        if os.environ.get("MONITOR_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL required (MONITOR_REQUIRE_POSTGRES) but unavailable: {e}")
        pytest.skip(f"no PostgreSQL server: {e}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (initdb and start take about a second); never stop or kill it."""
    server = _postgres_or_skip()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, for tests that restart or kill it."""
    server = _postgres_or_skip()
    try:
        yield server
    finally:
        server.close()


_databases = itertools.count(1)


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """The url of a new, empty database on the session's server, dropped after the test."""
    name = f"test_{next(_databases)}"
    with psycopg.connect(postgres.url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    try:
        yield postgres.url_for(name)
    finally:
        with psycopg.connect(postgres.url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
