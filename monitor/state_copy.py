"""`monitor state copy`: move a SQLite state into an empty PostgreSQL database, sending nothing again.

Seen lines, baselines, source state (health, validators) and the whole outbox go across with their
values and the outbox's ids: queued alerts stay queued (the new backend delivers them once), delivered
ones stay delivered (so edits still find their messages). The copy is one PostgreSQL transaction: all
of it or nothing. The SQLite file is read in batches in a thread, one snapshot, while its lock is held,
so no service can start on it meanwhile.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from .errors import StateError
from .lock import StateLock
from .store import SqliteStore
from .store.postgres import PostgresStore

BATCH = 5000  # rows read from SQLite in one go (off the event loop) and written with one COPY

# The columns copied, as both backends name them (SQLite SCHEMA_VERSION 4, PostgreSQL's MIGRATIONS[0] and [2]).
TABLES: dict[str, tuple[str, ...]] = {
    "seen": ("source", "fingerprint", "text", "link", "first_seen", "last_seen", "edit_of"),
    "baseline": ("source", "at"),
    "source_state": (
        "source",
        "last_poll",
        "last_ok",
        "last_new",
        "failures",
        "last_error",
        "next_poll",
        "etag",
        "last_modified",
        "streak",
        "backoff",
        "alarmed",
        "skip_until",
        "pace",
        "paced_at",
    ),
    "outbox": (
        "id",
        "channel",
        "source",
        "fingerprint",
        "text",
        "link",
        "created",
        "status",
        "attempts",
        "last_error",
        "done_at",
        "message_id",
        "silent",
        "edit_of",
        "urgent",
        "parts_sent",
        "rule",
    ),
    "readers": (
        "user_id",
        "username",
        "language",
        "tz",
        "quiet_from",
        "quiet_to",
        "paused",
        "blocked",
        "created",
    ),
    "watches": ("user_id", "number", "text", "created"),  # after readers: it refers to them
    "bot_state": ("bot", "update_offset"),
}
ORDER = {
    "seen": "source, fingerprint",
    "baseline": "source",
    "source_state": "source",
    "outbox": "id",
    "readers": "user_id",
    "watches": "user_id, number",
    "bot_state": "bot",
}


@dataclass(frozen=True, slots=True)
class Copied:
    """What a copy moved, and where to."""

    seen: int
    alerts: int
    queued: int
    sources: int
    where: str  # the database, without its password

    def summary(self) -> str:
        """One line for the operator."""
        return (
            f"copied {_count(self.seen, 'seen line')}, {_count(self.alerts, 'alert')} ({self.queued:,} queued),"
            f" {_count(self.sources, 'source')} to {self.where}"
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


async def copy_state(path: Path, url: str) -> Copied:
    """Copy the SQLite state at path into the empty PostgreSQL database at url; StateError if either refuses."""
    if not path.is_file():
        raise StateError(f"no state file at {path}: nothing to copy (name it with --from PATH)")
    lock = StateLock(path)
    lock.acquire()  # MonitorError naming the PID while a service or `monitor --once` uses the file
    try:
        await SqliteStore.open_readonly(path).close()  # ours, of this schema version (its columns are TABLES')
        source = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, check_same_thread=False)
        try:
            target = await PostgresStore.open(url)
            try:
                return await _copy(path, source, target)
            finally:
                await target.close()
        finally:
            source.close()
    finally:
        lock.release()


async def _copy(path: Path, source: sqlite3.Connection, target: PostgresStore) -> Copied:
    counts: dict[str, int] = {}
    try:
        source.execute("BEGIN")  # one snapshot of the file for all the tables
        async with target.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            # Two copies at once into one database: the second waits, then finds the first's rows.
            await cur.execute(f"LOCK TABLE {', '.join(TABLES)} IN EXCLUSIVE MODE")
            await _refuse_unless_empty(cur, target.where)
            for table, columns in TABLES.items():
                counts[table] = await _copy_table(source, cur, table, columns)
            await cur.execute(  # new alerts are numbered after the copied ones
                "SELECT setval(pg_get_serial_sequence('outbox', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM outbox"
            )
            await cur.execute("SELECT COUNT(*) FROM outbox WHERE status = 'queued'")
            row = await cur.fetchone()
    except sqlite3.Error as exc:
        raise StateError(f"cannot read the state file {path}: {exc}") from None
    except psycopg.Error as exc:
        raise StateError(target.explain(exc)) from None
    return Copied(counts["seen"], counts["outbox"], int(row[0]) if row else 0, counts["source_state"], target.where)


async def _refuse_unless_empty(cur: psycopg.AsyncCursor[Any], where: str) -> None:
    """A state already there would be merged with this one: outbox ids clash and alerts could go twice."""
    held = []
    for table in TABLES:
        await cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")
        row = await cur.fetchone()
        if row and row[0]:
            held.append(table)
    if held:
        raise StateError(
            f"{where} already holds a state (rows in {', '.join(held)}): copy into an empty database,"
            " or drop those tables first if that state is not wanted"
        )


async def _copy_table(
    source: sqlite3.Connection, cur: psycopg.AsyncCursor[Any], table: str, columns: Sequence[str]
) -> int:
    """Copy one table's rows, BATCH at a time; return how many."""
    names = ", ".join(columns)
    rows = await asyncio.to_thread(source.execute, f"SELECT {names} FROM {table} ORDER BY {ORDER[table]}")
    copied = 0
    async with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        while batch := await asyncio.to_thread(rows.fetchmany, BATCH):
            for values in batch:
                await copy.write_row(values)
            copied += len(batch)
    return copied
