"""State in SQLite: seen items, the outbox of alerts, and per-source state.

Marking items seen and queuing their alerts happen in one transaction, so a crash can never
lose an alert whose item was recorded as seen, nor queue one twice.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .models import Alert, Item, Outgoing

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    text TEXT NOT NULL,
    link TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    edit_of TEXT,  -- fingerprint of the line this one is an edited version of
    PRIMARY KEY (source, fingerprint)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_last ON seen (last_seen);
CREATE TABLE IF NOT EXISTS source_state (
    source TEXT PRIMARY KEY,
    last_poll REAL,
    last_ok REAL,
    last_new REAL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_poll REAL,
    etag TEXT,  -- validators of the last page read, so a restart can still ask "changed since?"
    last_modified TEXT
);
CREATE TABLE IF NOT EXISTS baseline (
    source TEXT PRIMARY KEY,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    text TEXT NOT NULL,
    link TEXT,
    created REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at REAL,
    message_id TEXT,
    silent INTEGER NOT NULL DEFAULT 0,
    edit_of TEXT,
    urgent INTEGER NOT NULL DEFAULT 0,
    UNIQUE (channel, source, fingerprint)
);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (channel, status, id);
CREATE INDEX IF NOT EXISTS outbox_fingerprint ON outbox (fingerprint, channel);
PRAGMA user_version = 1;
"""


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What the last polls of one source did."""

    source: str
    last_poll: float | None
    last_ok: float | None
    last_new: float | None
    failures: int
    last_error: str | None
    next_poll: float | None


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """Outbox counts of one channel."""

    channel: str
    queued: int
    delivered: int
    failed: int
    last_error: str | None


class Store(Protocol):
    """What the pipeline needs from state storage (SQLite today, PostgreSQL planned)."""

    def has_baseline(self, source: str) -> bool: ...
    def unseen(self, source: str, items: Sequence[Item]) -> list[Item]: ...
    def recent(self, source: str, since: float) -> list[tuple[str, str]]: ...
    def sent_messages(self, source: str, fingerprint: str) -> list[tuple[str, str]]: ...
    def seen_since(self, since: float) -> list[tuple[str, str, str | None, float]]: ...
    def record(
        self, source: str, items: Sequence[Item], alerts: Iterable[Outgoing], *,
        edits: Mapping[str, str] | None = None, same_line_window: float = 0.0,
    ) -> int: ...
    def notify(self, channel: str, text: str) -> None: ...
    def note_poll(
        self, source: str, *, at: float, error: str | None, new: int, next_poll: float | None,
        validators: tuple[str | None, str | None] = (None, None),
    ) -> None: ...
    def flush_polls(self) -> None: ...
    def validators(self, source: str) -> tuple[str | None, str | None]: ...
    def source_states(self) -> list[SourceStatus]: ...
    def queued(self, channel: str, *, limit: int = 100) -> list[Alert]: ...
    def count_queued(self, channel: str) -> int: ...
    def delivered(self, alert_ids: Sequence[int], message_id: str | None) -> None: ...
    def expire(self, channel: str, older_than: float) -> int: ...
    def retry(self, alert_id: int, error: str) -> None: ...
    def failed(self, alert_id: int, error: str) -> None: ...
    def status(self) -> list[ChannelStatus]: ...
    def prune(self, older_than: float) -> int: ...
    def close(self) -> None: ...


class SqliteStore:
    """The Store on one SQLite file, created with its folders."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE in record()).
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self._polls: list[tuple[object, ...]] = []  # note_poll rows not yet written

    @classmethod
    def open_readonly(cls, path: str | Path) -> SqliteStore:
        """Open a store that is never written: the state file if it exists, else an empty one in memory."""
        store = cls.__new__(cls)
        store._polls = []
        if Path(path).exists():
            store.db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, isolation_level=None)
        else:
            store.db = sqlite3.connect(":memory:", isolation_level=None)
            store.db.executescript(SCHEMA)
        return store

    def has_baseline(self, source: str) -> bool:
        """Whether the source's first poll has been recorded."""
        row = self.db.execute("SELECT 1 FROM baseline WHERE source = ?", (source,)).fetchone()
        return row is not None

    def unseen(self, source: str, items: Sequence[Item]) -> list[Item]:
        """Return the items never seen before for this source, in the given order."""
        if not items:
            return []
        marks = ",".join("?" * len(items))
        seen = {
            fp
            for (fp,) in self.db.execute(
                f"SELECT fingerprint FROM seen WHERE source = ? AND fingerprint IN ({marks})",
                (source, *(i.fingerprint for i in items)),
            )
        }
        return [i for i in items if i.fingerprint not in seen]

    def recent(self, source: str, since: float) -> list[tuple[str, str]]:
        """Return (fingerprint, text) of the source's lines seen on its ticker since a time."""
        return self.db.execute(
            "SELECT fingerprint, text FROM seen WHERE source = ? AND last_seen >= ? ORDER BY first_seen DESC",
            (source, since),
        ).fetchall()

    def seen_since(self, since: float) -> list[tuple[str, str, str | None, float]]:
        """Return (source, text, link, first seen) of every line first seen since a time, oldest first."""
        return self.db.execute(
            "SELECT source, text, link, first_seen FROM seen WHERE first_seen >= ? ORDER BY first_seen, source",
            (since,),
        ).fetchall()

    def sent_messages(self, source: str, fingerprint: str) -> list[tuple[str, str]]:
        """Return (channel, message id) of the messages sent for a line (to edit them)."""
        return self.db.execute(
            "SELECT channel, message_id FROM outbox WHERE source = ? AND fingerprint = ?"
            " AND status = 'delivered' AND message_id IS NOT NULL ORDER BY id",
            (source, fingerprint),
        ).fetchall()

    def record(
        self,
        source: str,
        items: Sequence[Item],
        alerts: Iterable[Outgoing],
        *,
        edits: Mapping[str, str] | None = None,
        same_line_window: float = 0.0,
    ) -> int:
        """In one transaction: mark items seen, queue alerts, note the baseline. Return alerts queued.

        edits maps the fingerprint of an edited line to the one it edits. A new alert is not
        queued when the channel got the same line (from any source) within same_line_window.
        """
        now = time.time()
        edits = edits or {}
        queued = 0
        with self._transaction():
            self._write_polls()  # free inside a transaction that commits anyway
            self.db.executemany(
                "INSERT INTO seen (source, fingerprint, text, link, first_seen, last_seen, edit_of)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (source, fingerprint) DO UPDATE SET last_seen = excluded.last_seen",
                [(source, i.fingerprint, i.text, i.link, now, now, edits.get(i.fingerprint)) for i in items],
            )
            for a in alerts:
                i = a.item
                queued += self.db.execute(
                    "INSERT OR IGNORE INTO outbox"
                    " (channel, source, fingerprint, text, link, created, silent, edit_of, urgent)"
                    " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE ? IS NOT NULL OR NOT EXISTS (SELECT 1 FROM outbox"
                    "  WHERE fingerprint = ? AND channel = ? AND created >= ?)",
                    (a.channel, i.source, i.fingerprint, i.text, i.link, now, a.silent, a.edit_of, a.urgent,
                     a.edit_of, i.fingerprint, a.channel, now - same_line_window),
                ).rowcount
            self.db.execute("INSERT OR IGNORE INTO baseline (source, at) VALUES (?, ?)", (source, now))
        self._polls.clear()
        return queued

    def notify(self, channel: str, text: str) -> None:
        """Queue a message of monitor's own (a health alarm) for a channel."""
        now = time.time()
        key = hashlib.blake2b(f"{text}{now}".encode(), digest_size=16).hexdigest()
        self.db.execute(
            "INSERT INTO outbox (channel, source, fingerprint, text, link, created)"
            " VALUES (?, 'monitor', ?, ?, NULL, ?)",
            (channel, key, text, now),
        )

    def queued(self, channel: str, *, limit: int = 100) -> list[Alert]:
        """Return the channel's queued alerts, oldest first."""
        rows = self.db.execute(
            "SELECT id, channel, source, text, link, created, attempts, silent, edit_of, urgent FROM outbox"
            " WHERE channel = ? AND status = 'queued' ORDER BY id LIMIT ?",
            (channel, limit),
        )
        return [
            Alert(id_, ch, source, text, link, created, attempts, bool(silent), edit_of, bool(urgent))
            for id_, ch, source, text, link, created, attempts, silent, edit_of, urgent in rows
        ]

    def count_queued(self, channel: str) -> int:
        """Return how many alerts wait for the channel."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM outbox WHERE channel = ? AND status = 'queued'", (channel,)
        ).fetchone()
        return int(row[0])

    def delivered(self, alert_ids: Sequence[int], message_id: str | None) -> None:
        """Record that alerts reached their channel (several when sent as one digest)."""
        now = time.time()
        with self._transaction():
            self.db.executemany(
                "UPDATE outbox SET status = 'delivered', done_at = ?, message_id = ?, last_error = NULL,"
                " attempts = attempts + 1 WHERE id = ?",
                [(now, message_id, alert_id) for alert_id in alert_ids],
            )

    def retry(self, alert_id: int, error: str) -> None:
        """Keep an alert queued after a transient fault (the deliverer decides when to retry)."""
        self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error, alert_id)
        )

    def failed(self, alert_id: int, error: str) -> None:
        """Give up on an alert that its channel refused for good."""
        self.db.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
            " done_at = ? WHERE id = ?",
            (error, time.time(), alert_id),
        )

    def expire(self, channel: str, older_than: float) -> int:
        """Give up on the channel's alerts queued before older_than; return how many."""
        return self.db.execute(
            "UPDATE outbox SET status = 'failed', done_at = ?,"
            " last_error = 'expired undelivered: ' || COALESCE(last_error, 'never sent')"
            " WHERE channel = ? AND status = 'queued' AND created < ?",
            (time.time(), channel, older_than),
        ).rowcount

    def note_poll(
        self, source: str, *, at: float, error: str | None, new: int, next_poll: float | None,
        validators: tuple[str | None, str | None] = (None, None),
    ) -> None:
        """Remember how a poll went (for `monitor status`) and the page's validators.

        Kept in memory until flush_polls() or the next record(): a commit (an fsync) for each 304
        poll would be a third of its cost. Lost by a crash, they only cost one full fetch.
        """
        self._polls.append((source, at, error, new, next_poll, *validators))

    def flush_polls(self) -> None:
        """Write the polls noted since the last write, in one transaction."""
        if self._polls:
            with self._transaction():
                self._write_polls()
            self._polls.clear()

    def _write_polls(self) -> None:
        self.db.executemany(
            "INSERT INTO source_state"
            " (source, last_poll, last_ok, last_new, failures, last_error, next_poll, etag, last_modified)"
            " VALUES (?1, ?2, CASE WHEN ?3 IS NULL THEN ?2 END, CASE WHEN ?4 > 0 THEN ?2 END,"
            "  CASE WHEN ?3 IS NULL THEN 0 ELSE 1 END, ?3, ?5, ?6, ?7)"
            " ON CONFLICT (source) DO UPDATE SET last_poll = ?2,"
            "  last_ok = CASE WHEN ?3 IS NULL THEN ?2 ELSE last_ok END,"
            "  last_new = CASE WHEN ?4 > 0 THEN ?2 ELSE last_new END,"
            "  failures = CASE WHEN ?3 IS NULL THEN 0 ELSE failures + 1 END,"
            "  last_error = COALESCE(?3, last_error), next_poll = ?5, etag = ?6, last_modified = ?7",
            self._polls,
        )

    def validators(self, source: str) -> tuple[str | None, str | None]:
        """Return the ETag and Last-Modified of the source's last page read, if any."""
        self.flush_polls()
        row = self.db.execute("SELECT etag, last_modified FROM source_state WHERE source = ?", (source,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def source_states(self) -> list[SourceStatus]:
        """Return what is known of every source's polls."""
        self.flush_polls()
        rows = self.db.execute(
            "SELECT source, last_poll, last_ok, last_new, failures, last_error, next_poll FROM source_state"
            " ORDER BY source"
        )
        return [SourceStatus(*row) for row in rows]

    def status(self) -> list[ChannelStatus]:
        """Return outbox counts per channel."""
        rows = self.db.execute(
            "SELECT channel, SUM(status = 'queued'), SUM(status = 'delivered'), SUM(status = 'failed'),"
            " (SELECT last_error FROM outbox o2 WHERE o2.channel = o.channel AND last_error IS NOT NULL"
            "  ORDER BY id DESC LIMIT 1)"
            " FROM outbox o GROUP BY channel ORDER BY channel"
        )
        return [ChannelStatus(*row) for row in rows]

    def prune(self, older_than: float) -> int:
        """Forget seen items and finished alerts not seen since older_than; return rows removed."""
        with self._transaction():
            seen = self.db.execute("DELETE FROM seen WHERE last_seen < ?", (older_than,)).rowcount
            done = self.db.execute(
                "DELETE FROM outbox WHERE status != 'queued' AND done_at < ?", (older_than,)
            ).rowcount
        return seen + done

    def close(self) -> None:
        """Write the polls still in memory, then close the database."""
        try:
            self.flush_polls()
        finally:
            self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the block raises."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
