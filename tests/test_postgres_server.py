"""The PostgreSQL server the tests run (tests/postgres.py) and its fixtures, which the PostgreSQL tests stand on."""

from __future__ import annotations

import os

import psycopg
import pytest
from postgres import PostgresServer


async def test_a_fresh_database_answers(pg_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_url, connect_timeout=5) as conn:
        cur = await conn.execute("SELECT 1")
        assert await cur.fetchone() == (1,)


async def test_listen_notify_round_trip(pg_url: str) -> None:
    async with (
        await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as listener,
        await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as sender,
    ):
        await listener.execute("LISTEN alerts")
        await sender.execute("SELECT pg_notify('alerts', 'عاجل: breaking')")
        got = [n async for n in listener.notifies(timeout=10, stop_after=1)]
    assert [(n.channel, n.payload) for n in got] == [("alerts", "عاجل: breaking")]


def test_the_server_runs_unprivileged_on_loopback_without_fsync(postgres: PostgresServer) -> None:
    with psycopg.connect(postgres.url) as conn:
        settings = {name: conn.execute(f"SHOW {name}").fetchone() for name in ("listen_addresses", "fsync")}
    assert settings == {"listen_addresses": ("127.0.0.1",), "fsync": ("off",)}
    assert postgres.url == f"postgresql://monitor@127.0.0.1:{postgres.port}/monitor"
    assert postgres.process is not None
    assert os.stat(f"/proc/{postgres.process.pid}").st_uid != 0


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_its_own_empty_database(pg_url: str, postgres: PostgresServer, run: int) -> None:
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        conn.execute("CREATE TABLE seen (fingerprint text PRIMARY KEY)")  # fails on the second run if shared
        conn.execute("INSERT INTO seen VALUES (%s)", (f"run {run}",))
    with psycopg.connect(postgres.url) as other:
        assert other.execute("SELECT to_regclass('public.seen')").fetchone() == (None,)


def test_restart_keeps_the_data(own_postgres: PostgresServer) -> None:
    with psycopg.connect(own_postgres.url) as conn:
        conn.execute("CREATE TABLE seen (fingerprint text PRIMARY KEY)")
        conn.execute("INSERT INTO seen VALUES ('a'), ('b')")
    port = own_postgres.port
    own_postgres.restart()
    assert own_postgres.port == port
    with psycopg.connect(own_postgres.url) as conn:
        assert conn.execute("SELECT fingerprint FROM seen ORDER BY 1").fetchall() == [("a",), ("b",)]


def test_kill_then_start_recovers(own_postgres: PostgresServer) -> None:
    victim = psycopg.connect(own_postgres.url)
    with psycopg.connect(own_postgres.url) as conn:
        conn.execute("CREATE TABLE seen (fingerprint text PRIMARY KEY)")
        # synchronous_commit is off on this server: a commit it acknowledged may be lost in a crash,
        # unless the transaction asks for a flush, as a failover test that counts rows must.
        conn.execute("SET synchronous_commit = on")
        conn.execute("INSERT INTO seen VALUES ('kept')")
    own_postgres.kill()
    with pytest.raises(psycopg.OperationalError), victim:
        victim.execute("SELECT 1")
    own_postgres.start()
    with psycopg.connect(own_postgres.url) as conn:
        assert conn.execute("SELECT fingerprint FROM seen").fetchall() == [("kept",)]
    assert "database system was interrupted" in own_postgres.log.read_text()


def test_close_removes_everything(own_postgres: PostgresServer) -> None:
    assert own_postgres.process is not None
    pid = own_postgres.process.pid
    own_postgres.close()
    assert not own_postgres.root.exists()
    assert not os.path.exists(f"/proc/{pid}")
