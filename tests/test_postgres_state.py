"""A PostgreSQL state (state.url): the config, the commands and `monitor --once` end to end on a real server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from helpers import run_monitor, until, write_config
from postgres import PostgresServer
from sites import Site, ticker_page

from monitor.config import load
from monitor.errors import ConfigError, StateError
from monitor.models import Item, Outgoing
from monitor.store.postgres import PostgresStore
from monitor.store.postgres_sql import MIGRATIONS, SCHEMA_VERSION

SECRET = "s3cret-Pass"


def pg_config(tmp_path: Path, site: Site, url: str, **state: Any) -> str:
    """A config with one local source, the console channel and its state in the database at url."""
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/en")}],
        channels=[{"name": "screen", "type": "console"}],
        rules=[{"name": "all", "channels": ["screen"]}],
    )
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["state"] = {"url": url, **state}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


def with_password(url: str) -> str:
    """The url with ${PG_SECRET} for a password (the test server trusts local connections: any password does)."""
    return url.replace("monitor@", "monitor:${PG_SECRET}@", 1)


def test_once_on_postgresql_baselines_alerts_once_and_never_again(tmp_path: Path, site: Site, pg_url: str) -> None:
    site.set("/en", ticker_page(["Old line"]))
    config = pg_config(tmp_path, site, with_password(pg_url))
    env = {"PG_SECRET": SECRET}
    first = run_monitor("--once", "-v", "--config", config, env=env)
    assert first.returncode == 0, first.stderr
    assert "[screen]" not in first.stdout  # the first poll is the baseline
    site.set("/en", ticker_page(["A new line", "Old line"]))
    second = run_monitor("--once", "-v", "--config", config, env=env)
    assert second.returncode == 0, second.stderr
    assert [line.split(" ", 1)[1] for line in second.stdout.splitlines() if "[screen]" in line] == [
        "[screen] en: A new line"
    ]
    third = run_monitor("--once", "-v", "--config", config, env=env)
    assert third.returncode == 0, third.stderr
    assert "[screen]" not in third.stdout  # no duplicates
    assert not (tmp_path / "state").exists()  # no SQLite file, no lock file
    status = run_monitor("status", "--config", config, env=env)
    assert status.returncode == 0, status.stderr
    assert any(line.startswith("en ") for line in status.stdout.splitlines())
    history = run_monitor("history", "--since", "1h", "--config", config, env=env)
    assert "A new line" in history.stdout, history.stderr
    check = run_monitor("check-config", "--config", config, env=env)
    assert check.returncode == 0, check.stderr
    assert f"state: {pg_url} (not checked)" in check.stdout.splitlines()
    for out in (first, second, third, status, history, check):
        assert SECRET not in out.stdout + out.stderr


def test_dry_run_on_an_empty_database_writes_nothing(tmp_path: Path, site: Site, pg_url: str) -> None:
    site.set("/en", ticker_page(["A line"]))
    config = pg_config(tmp_path, site, pg_url)
    out = run_monitor("--dry-run", "--config", config)
    assert out.returncode == 0, out.stderr
    assert "a real first run records them as the baseline" in out.stdout
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('outbox')").fetchone() == (None,)  # not even the tables
    status = run_monitor("status", "--config", config)
    assert status.returncode == 0 and "never" in status.stdout, status.stderr
    assert run_monitor("--once", "--config", config).returncode == 0  # tables made by the first real run


@pytest.mark.parametrize(
    ("state", "fault"),
    [
        ({"url": "postgresql://u@h/d", "path": "x.db"}, "not both"),
        ({"url": "mysql://u@h/d"}, "expected a PostgreSQL url"),
    ],
)
def test_state_url_config_errors(tmp_path: Path, site: Site, state: dict[str, str], fault: str) -> None:
    config = pg_config(tmp_path, site, "postgresql://u@h/d")
    data = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    data["state"] = state
    Path(config).write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=fault):
        load(config)


def test_the_url_with_a_password_is_a_secret(tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_SECRET", SECRET)
    cfg = load(pg_config(tmp_path, site, "postgresql://monitor:${PG_SECRET}@db.example/news"))
    assert cfg.state.url == f"postgresql://monitor:{SECRET}@db.example/news"
    assert SECRET in cfg.secrets() and cfg.state.url in cfg.secrets()
    assert cfg.state.where() == "postgresql://monitor@db.example/news"
    assert SECRET not in repr(cfg)
    plain = load(pg_config(tmp_path, site, "postgresql://monitor@db.example/news"))
    assert plain.secrets() == []


async def test_a_server_down_is_a_state_error_naming_it_without_the_password(unused_tcp_port: int) -> None:
    url = f"postgresql://monitor:{SECRET}@127.0.0.1:{unused_tcp_port}/news"
    with pytest.raises(StateError) as caught:
        await PostgresStore.open(url)
    message = str(caught.value)
    assert f"monitor@127.0.0.1:{unused_tcp_port}/news" in message and SECRET not in message


async def test_a_server_restart_fails_a_write_plainly_and_the_store_recovers(own_postgres: PostgresServer) -> None:
    store = await PostgresStore.open(own_postgres.url)
    a, b = Item("en", "one", None, "f1"), Item("en", "two", None, "f2")
    assert await store.record("en", [a], [Outgoing("alerts", a)]) == 1
    await asyncio.to_thread(own_postgres.stop)
    with pytest.raises(
        StateError, match=f"cannot reach the state database PostgreSQL monitor@127.0.0.1:{own_postgres.port}"
    ):
        await store.record("en", [b], [Outgoing("alerts", b)])
    await asyncio.to_thread(own_postgres.start)
    deadline = time.monotonic() + 30
    while True:  # the pool reconnects on its own; a call in between may still meet a broken connection
        try:
            assert await store.record("en", [b], [Outgoing("alerts", b)]) == 1
            break
        except StateError:
            assert time.monotonic() < deadline, "the store never got its connection back"
            await asyncio.sleep(0.2)
    assert [x.text for x in await store.load_queue("alerts")] == ["one", "two"]
    await store.close()


def meta(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT key, value FROM monitor_meta").fetchall()


async def test_a_database_of_a_newer_monitor_is_refused_naming_the_server(
    tmp_path: Path, site: Site, pg_url: str
) -> None:
    await (await PostgresStore.open(pg_url)).close()
    assert meta(pg_url) == [("schema_version", str(SCHEMA_VERSION))]
    newer = SCHEMA_VERSION + 1
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE monitor_meta SET value = %s", (str(newer),))
    url = pg_url.replace("monitor@", f"monitor:{SECRET}@", 1)
    where = url.rpartition("@")[2]
    for readonly in (False, True):
        with pytest.raises(StateError) as caught:
            await PostgresStore.open(url, readonly=readonly)
        assert str(caught.value) == (
            f"state database PostgreSQL monitor@{where} was written by a newer version of monitor"
            f" (schema {newer}, this one knows {SCHEMA_VERSION}): upgrade monitor"
        )
    assert meta(pg_url) == [("schema_version", str(newer))]  # left as it was
    config = pg_config(tmp_path, site, with_password(pg_url))
    for command in (["status"], ["history"], ["--once"]):
        out = run_monitor(*command, "--config", config, env={"PG_SECRET": SECRET})
        assert out.returncode == 2, (command, out.stderr)
        assert "written by a newer version of monitor" in out.stderr and SECRET not in out.stderr, command


async def test_a_database_made_before_versions_were_kept_is_brought_up_to_date(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:  # as the first PostgreSQL release left it: the tables, no monitor_meta
        conn.execute(MIGRATIONS[0])
        conn.execute("INSERT INTO baseline (source, at) VALUES ('en', 1.0)")
    with pytest.raises(StateError, match=r"older version of monitor \(schema 0, .*start the service"):
        await PostgresStore.open(pg_url, readonly=True)  # `monitor status` before the upgraded service ran
    store = await PostgresStore.open(pg_url)
    assert await store.has_baseline("en")
    await store.close()
    assert meta(pg_url) == [("schema_version", str(SCHEMA_VERSION))]
    reader = await PostgresStore.open(pg_url, readonly=True)
    assert await reader.has_baseline("en")
    await reader.close()


async def test_instances_starting_at_once_create_the_tables_once(pg_url: str) -> None:
    # Without the advisory lock, concurrent CREATE TABLE IF NOT EXISTS fail with unique violations.
    stores = await asyncio.gather(*(PostgresStore.open(pg_url) for _ in range(6)))
    for store in stores:
        await store.close()
    assert meta(pg_url) == [("schema_version", str(SCHEMA_VERSION))]


async def test_a_poll_noted_while_a_write_is_under_way_is_written_by_the_next(pg_url: str) -> None:
    """The polls a write takes are its own: one noted while it waits on the server is not cleared with them."""
    store = await PostgresStore.open(pg_url)
    blocker = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
    try:
        await blocker.execute("BEGIN")
        await blocker.execute("LOCK TABLE source_state IN EXCLUSIVE MODE")  # the write waits on this
        store.note_poll("first", at=time.time(), error=None, new=0, next_poll=None)
        flush = asyncio.create_task(store.flush_polls())

        async def waiting() -> bool:
            row = await (
                await blocker.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).fetchone()
            return row is not None and row[0] > 0

        await until(waiting, "the write to wait on the lock")
        store.note_poll("second", at=time.time(), error=None, new=0, next_poll=None)
        await blocker.execute("COMMIT")
        await flush
        await store.flush_polls()
        assert [s.source for s in await store.source_states()] == ["first", "second"]
    finally:
        await blocker.close()
        await store.close()
