import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fake_telegram import FakeTelegram
from helpers import telegram_channel, write_config
from sites import Site, ticker_page

from monitor.config import load
from monitor.config_types import StateConfig
from monitor.errors import StateError
from monitor.models import Item, Outgoing, SourceHealth
from monitor.normalize import fingerprint
from monitor.runtime import open_runtime
from monitor.store import Reader, SqliteStore, Store, open_store
from monitor.store.sqlite_schema import SCHEMA_VERSION


def item(text: str, source: str = "en") -> Item:
    return Item(source, text, None, fingerprint(text))


@dataclass
class Backend:
    """One state, on SQLite or PostgreSQL: open a Store on it, or read it with SQL from beside (another process)."""

    state: StateConfig

    async def open(self) -> Store:
        return await open_store(self.state)

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        if self.state.url is None:
            with closing(sqlite3.connect(self.state.path)) as db:
                rows = db.execute(query).fetchall()
                db.commit()
                return rows
        with psycopg.connect(self.state.url, autocommit=True) as conn:
            cur = conn.execute(query)
            return cur.fetchall() if cur.description else []


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The store tests that use only the Store protocol run on both backends."""
    if request.param == "sqlite":
        yield Backend(StateConfig(path=tmp_path / "deep" / "state.db"))
    else:
        yield Backend(StateConfig(url=request.getfixturevalue("pg_url")))


async def test_record_marks_seen_and_queues_in_order(backend: Backend) -> None:
    store = await backend.open()
    a, b = item("first line"), item("second line")
    assert not await store.has_baseline("en")
    assert await store.unseen("en", [a, b]) == [a, b]
    assert (
        await store.record(
            "en", [a, b], [Outgoing("alerts", a, False), Outgoing("alerts", b, True), Outgoing("other", b, False)]
        )
        == 3
    )
    assert await store.has_baseline("en") and not await store.has_baseline("ar")
    assert await store.unseen("en", [a, b, item("third")]) == [item("third")]
    assert await store.unseen("ar", [a]) == [a]  # seen is per source
    assert [(x.text, x.silent) for x in await store.load_queue("alerts")] == [
        ("first line", False),
        ("second line", True),
    ]
    # Queuing the same item for the same channel twice is ignored.
    assert await store.record("en", [a], [Outgoing("alerts", a, False)]) == 0
    await store.close()


async def test_delivery_states_and_status(backend: Backend) -> None:
    store = await backend.open()
    a, b, c = item("a a"), item("b b"), item("c c")
    await store.record(
        "en", [a, b, c], [Outgoing("alerts", a, False), Outgoing("alerts", b, False), Outgoing("alerts", c, False)]
    )
    first, second, third = await store.load_queue("alerts")
    await store.mark_delivered([first.id], "17")
    await store.mark_failed(second.id, "chat not found")
    await store.schedule_retry(third.id, "timeout")
    assert [a.attempts for a in await store.load_queue("alerts")] == [1]
    assert await store.count_queued("alerts") == 1
    [status] = await store.status()
    assert (status.queued, status.delivered, status.failed, status.last_error) == (1, 1, 1, "timeout")
    assert [(h.status, h.error) for h in await store.history(0)] == [
        ("delivered", None),
        ("failed", "chat not found"),
        ("queued", "timeout"),
    ]
    assert [h.text for h in await store.history(0, channel="other")] == []
    assert await store.sent_messages("en", a.fingerprint) == [("alerts", "17")]
    await store.close()


async def test_state_survives_reopen_and_readonly_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    await store.record("en", [item("kept")], [])
    await store.close()
    ro = SqliteStore.open_readonly(path)
    assert await ro.has_baseline("en") and await ro.unseen("en", [item("kept")]) == []
    try:
        await ro.record("en", [item("new")], [])
        raise AssertionError("read-only store wrote")
    except StateError:
        pass
    await ro.close()
    missing = SqliteStore.open_readonly(tmp_path / "absent.db")
    assert not await missing.has_baseline("en")
    await missing.close()
    assert not (tmp_path / "absent.db").exists()


async def test_prune_forgets_old_items_only(backend: Backend) -> None:
    store = await backend.open()
    await store.record("en", [item("old")], [])
    backend.sql("UPDATE seen SET last_seen = 0")
    await store.record("en", [item("fresh")], [])
    assert await store.prune(older_than=1000) == 1
    assert await store.unseen("en", [item("old"), item("fresh")]) == [item("old")]
    await store.close()


async def test_expire_gives_up_on_old_queued_alerts(backend: Backend) -> None:
    store = await backend.open()
    a, b = item("old alert"), item("new alert")
    await store.record("en", [a], [Outgoing("alerts", a, False)])
    backend.sql("UPDATE outbox SET created = 0, last_error = 'chat not found'")
    await store.record("en", [b], [Outgoing("alerts", b, False)])
    assert await store.expire("alerts", older_than=1000) == 1
    assert [x.text for x in await store.load_queue("alerts")] == ["new alert"]
    [status] = await store.status()
    assert status.failed == 1
    assert [h.error for h in await store.history(-1) if h.status == "failed"] == ["expired undelivered: chat not found"]
    await store.close()


async def test_polls_wait_in_memory_until_flushed_recorded_or_closed(backend: Backend) -> None:
    store = await backend.open()

    def failures() -> list[tuple[Any, ...]]:  # what `monitor status` in another process would read
        return backend.sql("SELECT source, failures FROM source_state ORDER BY source")

    store.note_poll("en", at=1.0, error="HTTP 500", new=0, next_poll=2.0)
    store.note_poll("en", at=2.0, error="HTTP 500", new=0, next_poll=3.0, validators=('"v1"', None))
    assert failures() == []  # no commit (no fsync) for a poll that found nothing
    await store.flush_polls()
    assert failures() == [("en", 2)]  # written in order: both failures counted
    store.note_poll("ar", at=3.0, error=None, new=0, next_poll=4.0)
    await store.record("en", [item("a line")], [])  # rides along in the transaction that commits anyway
    assert failures() == [("ar", 0), ("en", 2)]
    store.note_poll("ar", at=4.0, error="timed out", new=0, next_poll=5.0)
    await store.close()
    assert failures() == [("ar", 1), ("en", 2)]
    again = await backend.open()
    assert await again.validators("en") == ('"v1"', None)
    await again.close()


async def test_a_running_service_writes_poll_state_within_seconds(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    site.set("/", ticker_page(["A line"]))
    cfg = load(
        write_config(
            tmp_path,
            sources=[{"name": "en", "url": site.url("/")}],
            channels=[telegram_channel(telegram)],
            rules=[{"name": "all", "channels": ["alerts"]}],
        )
    )
    async with open_runtime(cfg) as rt:
        for _ in range(3):
            await rt.poll(rt.sources[0])  # the last poll's row is left to the flush timer
        other = sqlite3.connect(cfg.state.path)
        wanted = [("en", rt.last_polled["en"])]
        deadline = time.monotonic() + 10
        while other.execute("SELECT source, last_poll FROM source_state").fetchall() != wanted:
            assert time.monotonic() < deadline, "poll state not written within 10 s"
            await asyncio.sleep(0.02)


async def test_an_older_state_file_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)  # the tables as the first release wrote them, user_version 0
    old.executescript("""
        CREATE TABLE seen (source TEXT NOT NULL, fingerprint TEXT NOT NULL, text TEXT NOT NULL, link TEXT,
            first_seen REAL NOT NULL, last_seen REAL NOT NULL, edit_of TEXT, PRIMARY KEY (source, fingerprint))
            WITHOUT ROWID;
        CREATE TABLE source_state (source TEXT PRIMARY KEY, last_poll REAL, last_ok REAL, last_new REAL,
            failures INTEGER NOT NULL DEFAULT 0, last_error TEXT, next_poll REAL, etag TEXT, last_modified TEXT);
        INSERT INTO source_state (source, last_poll, failures, last_error) VALUES ('en', 1.0, 2, 'HTTP 500');
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, channel TEXT NOT NULL, source TEXT NOT NULL,
            fingerprint TEXT NOT NULL, text TEXT NOT NULL, link TEXT, created REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
            done_at REAL, message_id TEXT, silent INTEGER NOT NULL DEFAULT 0, edit_of TEXT,
            urgent INTEGER NOT NULL DEFAULT 0, UNIQUE (channel, source, fingerprint));
        INSERT INTO outbox (channel, source, fingerprint, text, created) VALUES ('alerts', 'en', 'f', 'kept', 1.0);
    """)
    old.close()
    try:  # `monitor status` before the upgraded service first ran: a plain word, not "no such column"
        SqliteStore.open_readonly(path)
        raise AssertionError("an old file opened read-only")
    except StateError as exc:
        assert "older version of monitor" in str(exc)
    store = SqliteStore(path)
    assert [a.text for a in await store.load_queue("alerts")] == ["kept"]
    assert (await store.health_states())["en"].streak == 0  # health starts afresh for sources known before
    [status] = await store.source_states()
    assert (status.failures, status.last_error, status.alarmed) == (2, "HTTP 500", False)
    await store.close()
    assert await SqliteStore.open_readonly(path).source_states() == [status]


async def test_a_state_file_of_a_newer_monitor_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    await SqliteStore(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer = (
        f"was written by a newer version of monitor (schema {SCHEMA_VERSION + 1}, this one knows {SCHEMA_VERSION}):"
        " upgrade monitor"
    )
    message = f"state file {path} {newer}"
    for opening in (SqliteStore, SqliteStore.open_readonly, SqliteStore.verify):
        with pytest.raises(StateError) as caught:
            opening(path)
        assert str(caught.value) == message, opening
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)  # not migrated "down", nor touched


async def test_mutes_are_kept_until_they_end(backend: Backend) -> None:
    store = await backend.open()
    now = time.time()
    await store.save_mute("en", now + 3600)
    await store.save_mute("ar", now - 1)  # over already
    await store.save_mute("en", now + 7200)  # muted again: the later end
    assert await store.mutes(now) == {"en": now + 7200}
    assert backend.sql("SELECT source FROM muted") == [("en",)]  # a mute long over is not kept
    await store.save_mute("en", 0)
    assert await store.mutes(now) == {}
    await store.close()


async def test_health_is_kept_with_the_polls(backend: Backend) -> None:
    store = await backend.open()
    bad = SourceHealth(streak=3, failures=3, alarmed=True, skip_until=500.0)
    store.note_poll("en", at=1.0, error="HTTP 500", new=0, next_poll=2.0, health=bad)
    await store.queue_message("admin", "⚠️ en: 3 bad polls in a row")  # the alarm and its health state: one transaction
    assert backend.sql("SELECT streak, alarmed FROM source_state") == [(3, 1)]
    store.note_poll("en", at=2.0, error=None, new=0, next_poll=3.0)  # no health given: left as it was
    assert await store.health_states() == {"en": bad}
    store.note_poll("en", at=3.0, error=None, new=1, next_poll=4.0, health=SourceHealth(pace=0.5, paced_at=3.0))
    await store.close()
    again = await backend.open()
    assert await again.health_states() == {"en": SourceHealth(pace=0.5, paced_at=3.0)}
    await again.close()


async def test_readers_their_watches_and_the_bot_offset_are_kept_and_forgotten(backend: Backend) -> None:
    store = await backend.open()
    me = Reader(42, "me", "ar", "Asia/Beirut", (23 * 60, 7 * 60), created=5.0)
    await store.save_reader(me)
    await store.save_reader(Reader(7, created=6.0))
    assert [await store.add_watch(42, t) for t in ("غزة", "ceasefire -football", "x")] == [1, 2, 3]
    await store.remove_watch(42, 2)
    assert await store.add_watch(42, "y") == 4
    await store.save_reader(replace(me, paused=True, blocked=True))
    assert await store.bot_offset("1") == 0
    await store.save_bot_offset("1", 10)
    await store.save_bot_offset("1", 9)  # an older batch never moves it back
    assert await store.bot_offset("1") == 10
    a = item("ceasefire in غزة")
    await store.record("en", [a], [Outgoing("reader:42", a, False), Outgoing("reader:7", a, False)])
    await store.record("en", [], [Outgoing("alerts", a, False)])
    assert [x.channel for x in await store.load_reader_queue()] == ["reader:42", "reader:7"]
    readers = {r.user_id: r for r in await store.readers()}
    assert readers[42] == replace(me, paused=True, blocked=True, watches=((1, "غزة"), (3, "x"), (4, "y")))
    assert readers[7].watches == ()
    await store.forget_reader(42)
    assert [r.user_id for r in await store.readers()] == [7]
    await store.close()
    for table, column in (("readers", "user_id"), ("watches", "user_id")):
        assert backend.sql(f"SELECT COUNT(*) FROM {table} WHERE {column} = 42") == [(0,)]
    assert backend.sql("SELECT channel FROM outbox ORDER BY channel") == [("alerts",), ("reader:7",)]
