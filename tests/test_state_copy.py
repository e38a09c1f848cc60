"""`monitor state copy`: a SQLite state into PostgreSQL, then monitor goes on there sending nothing again."""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from fake_telegram import FakeTelegram
from helpers import run_monitor, telegram_channel, write_config
from sites import Site, ticker_page

from monitor import state_copy
from monitor.errors import StateError
from monitor.lock import StateLock
from monitor.models import Item, Outgoing, SourceHealth
from monitor.normalize import fingerprint
from monitor.state_copy import TABLES, copy_state
from monitor.store import SqliteStore
from monitor.store.postgres import PostgresStore

SECRET = "s3cret-Pass"


def item(text: str, source: str = "en") -> Item:
    return Item(source, text, None, fingerprint(text))


def sqlite_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(
            f"SELECT {', '.join(TABLES[table])} FROM {table} ORDER BY {state_copy.ORDER[table]}"
        ).fetchall()


def pg_rows(url: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT {', '.join(TABLES[table])} FROM {table} ORDER BY {state_copy.ORDER[table]}"
        ).fetchall()


async def test_every_row_and_column_goes_across_and_new_alerts_follow_the_copied_ids(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_copy, "BATCH", 2)  # several batches of every table
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    lines = [item(f"line {n}", "en" if n < 3 else "ar") for n in range(5)]
    await store.record("en", lines[:3], [Outgoing("alerts", i) for i in lines[:3]])
    await store.record("ar", lines[3:], [Outgoing("alerts", lines[3], silent=True, rule="r1")])
    await store.queue_message("alerts", "source en is failing")
    first, second, third, *_ = await store.load_queue("alerts")
    await store.mark_delivered([first.id], "17")
    await store.mark_failed(second.id, "chat not found")
    await store.schedule_retry(third.id, "HTTP 502", parts_sent=1)
    store.note_poll(
        "en", at=5.5, error="HTTP 500", new=0, next_poll=65.5, validators=('"e1"', "Mon"), health=SourceHealth(2, 3)
    )
    store.note_poll("ar", at=6.25, error=None, new=1, next_poll=66.25)
    await store.close()

    copied = await copy_state(path, pg_url)

    where = pg_url.rpartition("@")[2]
    assert copied.summary() == f"copied 5 seen lines, 5 alerts (3 queued), 2 sources to PostgreSQL monitor@{where}"
    for table in TABLES:
        assert pg_rows(pg_url, table) == sqlite_rows(path, table), table
    pg = await PostgresStore.open(pg_url)
    assert [a.text for a in await pg.load_queue("alerts")] == ["line 2", "line 3", "source en is failing"]
    assert await pg.unseen("en", [*lines[:3], item("new")]) == [item("new")]
    assert await pg.record("en", [item("new")], [Outgoing("alerts", item("new"))]) == 1
    assert [a.id for a in await pg.load_queue("alerts")][-1] == 6  # after the copied ids, not 1 again
    assert await pg.sent_messages("en", lines[0].fingerprint) == [("alerts", "17")]  # edits find the message
    assert (await pg.health_states())["en"] == SourceHealth(2, 3)
    assert await pg.validators("en") == ('"e1"', "Mon")
    await pg.close()

    with pytest.raises(
        StateError, match=re.escape("already holds a state (rows in seen, baseline, source_state, outbox)")
    ):
        await copy_state(path, pg_url)  # a second copy would merge two states
    assert len(pg_rows(pg_url, "outbox")) == 6


def config_for(tmp_path: Path, site: Site, telegram: FakeTelegram) -> Path:
    return write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/en")}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        delivery={"timeout": 2},
    )


def sent(telegram: FakeTelegram) -> list[str]:
    return [m.plain.split("\n")[0] for m in telegram.sent]


def test_after_a_copy_monitor_on_postgresql_sends_nothing_again(
    tmp_path: Path, site: Site, telegram: FakeTelegram, pg_url: str
) -> None:
    config = config_for(tmp_path, site, telegram)
    site.set("/en", ticker_page(["Old"]))
    assert run_monitor("--once", "--config", str(config)).returncode == 0  # the baseline
    site.set("/en", ticker_page(["One", "Old"]))
    assert run_monitor("--once", "--config", str(config)).returncode == 0
    telegram.down = True
    site.set("/en", ticker_page(["Two", "One", "Old"]))
    assert run_monitor("--once", "--config", str(config)).returncode == 1  # "Two" stays queued
    telegram.down = False
    assert sent(telegram) == ["One"]

    url = pg_url.replace("monitor@", f"monitor:{SECRET}@", 1)
    copy = run_monitor("state", "copy", "--to", url, "--config", str(config))
    assert copy.returncode == 0, copy.stderr
    where = pg_url.rpartition("@")[2]
    assert copy.stdout.splitlines()[0] == (
        f"copied 3 seen lines, 2 alerts (1 queued), 1 source to PostgreSQL monitor@{where}"
    )
    again = run_monitor("state", "copy", "--to", url, "--config", str(config))
    assert again.returncode == 2
    assert "already holds a state" in again.stderr and f"monitor@{where}" in again.stderr
    assert SECRET not in copy.stdout + copy.stderr + again.stdout + again.stderr

    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["state"] = {"url": pg_url}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    (tmp_path / "state").rename(tmp_path / "sqlite-state")  # nothing may come from the file any more
    site.set("/en", ticker_page(["Three", "Two", "One", "Old"]))
    on_pg = run_monitor("--once", "--config", str(config))
    assert on_pg.returncode == 0, on_pg.stderr
    assert sent(telegram) == ["One", "Two", "Three"]  # the queued one once, the new one, nothing seen before
    assert run_monitor("--once", "--config", str(config)).returncode == 0
    assert sent(telegram) == ["One", "Two", "Three"]
    assert not (tmp_path / "state").exists()


def test_copy_refuses_a_state_in_use_a_missing_file_and_a_url_of_another_kind(
    tmp_path: Path, site: Site, telegram: FakeTelegram, pg_url: str
) -> None:
    config = str(config_for(tmp_path, site, telegram))
    site.set("/en", ticker_page(["Old"]))
    assert run_monitor("--once", "--config", config).returncode == 0
    lock = StateLock(tmp_path / "state" / "monitor.db")
    lock.acquire()  # as a running service holds it
    try:
        busy = run_monitor("state", "copy", "--to", pg_url, "--config", config)
    finally:
        lock.release()
    assert busy.returncode == 1
    assert (
        f"another monitor (PID {os.getpid()}) is already using {tmp_path / 'state' / 'monitor.db'}; stop it first"
        in busy.stderr
    )
    with psycopg.connect(pg_url) as conn:  # nothing was made there
        assert conn.execute("SELECT to_regclass('outbox')").fetchone() == (None,)
    missing = run_monitor("state", "copy", "--to", pg_url, "--from", str(tmp_path / "absent.db"))
    assert missing.returncode == 2
    assert (
        missing.stderr.strip()
        == f"monitor: no state file at {tmp_path / 'absent.db'}: nothing to copy (name it with --from PATH)"
    )
    other = run_monitor("state", "copy", "--to", f"mysql://u:{SECRET}@h/d", "--config", config)
    assert other.returncode == 2 and "expected a PostgreSQL url" in other.stderr and SECRET not in other.stderr
    down = run_monitor("state", "copy", "--to", f"postgresql://u:{SECRET}@127.0.0.1:1/d", "--config", config)
    assert down.returncode == 2 and "cannot reach the state database" in down.stderr, down.stderr
    assert SECRET not in down.stderr + down.stdout
