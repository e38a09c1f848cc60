"""The Store on SQLite: seen items, the outbox of alerts, and per-source state.

Marking items seen and queuing their alerts happen in one transaction, so a crash can never
lose an alert whose item was recorded as seen, nor queue one twice.

Its methods are coroutines, as the Store protocol has them, yet run their SQLite calls directly on
the event loop: the file is local and a lock is waited for BUSY_TIMEOUT at most.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from .. import statepath
from ..cluster import Holding
from ..errors import StateError
from ..models import Alert, Item, Outgoing, SourceHealth
from .base import SELECT_READERS, SELECT_WATCHES, ChannelStatus, Reader, Sent, SourceStatus, readers_from
from .sqlite_schema import SCHEMA, SCHEMA_VERSION, check_ours, check_version, explain, migrate

logger = logging.getLogger(__name__)

# Another process holding the file (a sqlite3 shell, a backup) must not freeze the event loop: a
# write waits this long for the lock, then fails that poll or delays that delivery (nothing is lost:
# lines not recorded are seen again on the next poll). monitor's own processes never contend: one
# writer per state file (lock.py), and WAL readers (`monitor status`) do not block it.
BUSY_TIMEOUT = 0.1
_CHUNK = 900  # SQL variables in one IN (...) list; SQLite allows 999 to 32766 depending on the build

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(
    method: Callable[Concatenate[SqliteStore, _P], Awaitable[_R]],
) -> Callable[Concatenate[SqliteStore, _P], Coroutine[Any, Any, _R]]:
    """Turn sqlite3's errors into a StateError that names the file and what to do."""

    @functools.wraps(method)
    async def wrapper(self: SqliteStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise StateError(explain(exc, self.path)) from None

    return wrapper


def _guarded_sync(
    method: Callable[Concatenate[SqliteStore, _P], _R],
) -> Callable[Concatenate[SqliteStore, _P], _R]:
    """_guarded for a method that is not a coroutine."""

    @functools.wraps(method)
    def wrapper(self: SqliteStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise StateError(explain(exc, self.path)) from None

    return wrapper


class SqliteStore:
    """The Store on one SQLite file, created with its folders."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        """Open (or create) the state file; readonly opens it without ever writing (or an empty one in memory)."""
        self.path = Path(path)
        self._polls: list[tuple[object, ...]] = []  # note_poll rows not yet written
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file opened
        try:
            if readonly:
                self.db = self._open_readonly()
                return
            statepath.prepare(self.path)
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE in record()).
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT)
            check_ours(self.db, self.path)
            check_version(self.db, self.path)  # before anything is written to it
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            migrate(self.db)
            with self._transaction():  # fails now, and plainly, on a read-only file or folder
                pass
            stat = os.stat(self.path)
            self._identity = (stat.st_dev, stat.st_ino)
        except sqlite3.Error as exc:
            raise StateError(explain(exc, self.path)) from None
        except OSError as exc:
            raise StateError(f"cannot open the state file {self.path}: {exc.strerror or exc}") from None

    @classmethod
    def open_readonly(cls, path: str | Path) -> SqliteStore:
        """Open a store that is never written: the state file if it exists, else an empty one in memory."""
        return cls(path, readonly=True)

    def _open_readonly(self) -> sqlite3.Connection:
        if statepath.check(self.path, write=False):
            mode = "ro"
            if os.statvfs(self.path).f_flag & os.ST_RDONLY and not os.path.exists(f"{self.path}-wal"):
                mode += "&immutable=1"  # nothing can change it, and SQLite could not create the -shm it wants
            db = sqlite3.connect(
                f"file:{self.path.resolve()}?mode={mode}", uri=True, isolation_level=None, timeout=BUSY_TIMEOUT
            )
            check_ours(db, self.path)
            if check_version(db, self.path) < SCHEMA_VERSION:
                db.close()
                raise StateError(
                    f"state file {self.path} was written by an older version of monitor: run"
                    " `monitor --once` or restart the service once to bring it up to date"
                )
            return db
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.executescript(SCHEMA)
        return db

    @staticmethod
    def verify(path: Path) -> None:
        """Raise StateError unless the file is a SQLite database of ours; writes nothing, not even beside it."""
        try:
            # immutable: no lock and no -wal or -shm files; enough to read the schema
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
            check_ours(db, path)
            check_version(db, path)
            db.close()
        except sqlite3.Error as exc:
            raise StateError(explain(exc, path)) from None

    async def instances(self) -> list[Holding]:
        """None to list: one instance writes a state file (lock.holder() names it)."""
        return []

    async def check_file(self) -> str | None:
        """Return what is wrong if the state file was deleted or replaced since it was opened, else None."""
        if self._identity is None:
            return None
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return f"state file {self.path} was deleted while in use: restart the service (state since then is lost)"
        except OSError as exc:
            return f"state file {self.path} cannot be checked: {exc.strerror or exc}"
        if (stat.st_dev, stat.st_ino) != self._identity:
            return f"state file {self.path} was replaced while in use: restart the service to use the new one"
        return None

    @_guarded
    async def has_baseline(self, source: str) -> bool:
        """Whether the source's first poll has been recorded."""
        row = self.db.execute("SELECT 1 FROM baseline WHERE source = ?", (source,)).fetchone()
        return row is not None

    @_guarded
    async def unseen(self, source: str, items: Sequence[Item]) -> list[Item]:
        """Return the items never seen before for this source, in the given order."""
        seen: set[str] = set()
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            seen.update(
                fp
                for (fp,) in self.db.execute(
                    f"SELECT fingerprint FROM seen WHERE source = ? AND fingerprint IN ({marks})",
                    (source, *(i.fingerprint for i in chunk)),
                )
            )
        return [i for i in items if i.fingerprint not in seen]

    @_guarded
    async def recent(self, source: str, since: float) -> list[tuple[str, str]]:
        """Return (fingerprint, text) of the source's lines seen on its ticker since a time."""
        return self.db.execute(
            "SELECT fingerprint, text FROM seen WHERE source = ? AND last_seen >= ? ORDER BY first_seen DESC",
            (source, since),
        ).fetchall()

    @_guarded
    async def seen_since(self, since: float) -> list[tuple[str, str, str | None, float]]:
        """Return (source, text, link, first seen) of every line first seen since a time, oldest first."""
        return self.db.execute(
            "SELECT source, text, link, first_seen FROM seen WHERE first_seen >= ? ORDER BY first_seen, source",
            (since,),
        ).fetchall()

    @_guarded
    async def sent_messages(self, source: str, fingerprint: str) -> list[tuple[str, str]]:
        """Return (channel, message id) of the messages sent for a line (to edit them)."""
        return self.db.execute(
            "SELECT channel, message_id FROM outbox WHERE source = ? AND fingerprint = ?"
            " AND status = 'delivered' AND message_id IS NOT NULL ORDER BY id",
            (source, fingerprint),
        ).fetchall()

    @_guarded
    async def record(
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
                    " (channel, source, fingerprint, text, link, created, silent, edit_of, urgent, rule)"
                    " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE ? IS NOT NULL OR NOT EXISTS (SELECT 1 FROM outbox"
                    "  WHERE fingerprint = ? AND channel = ? AND created >= ?)",
                    (
                        a.channel,
                        i.source,
                        i.fingerprint,
                        i.text,
                        i.link,
                        now,
                        a.silent,
                        a.edit_of,
                        a.urgent,
                        a.rule,
                        a.edit_of,
                        i.fingerprint,
                        a.channel,
                        now - same_line_window,
                    ),
                ).rowcount
            self.db.execute("INSERT OR IGNORE INTO baseline (source, at) VALUES (?, ?)", (source, now))
        self._polls.clear()
        return queued

    @_guarded
    async def queue_message(self, channel: str, text: str) -> None:
        """Queue a message of monitor's own (a health alarm) for a channel.

        The polls noted so far are written in the same transaction: an alarm is on disk together
        with the health state that says it was sent, so no restart sends it twice or forgets it.
        """
        now = time.time()
        key = hashlib.blake2b(f"{text}{now}".encode(), digest_size=16).hexdigest()
        with self._transaction():
            self._write_polls()
            self.db.execute(
                "INSERT INTO outbox (channel, source, fingerprint, text, link, created)"
                " VALUES (?, 'monitor', ?, ?, NULL, ?)",
                (channel, key, text, now),
            )
        self._polls.clear()

    @_guarded
    async def load_queue(self, channel: str, *, limit: int = 100) -> list[Alert]:
        """Return the channel's queued alerts, oldest first."""
        rows = self.db.execute(
            "SELECT id, channel, source, text, link, created, attempts, silent, edit_of, urgent, parts_sent"
            " FROM outbox WHERE channel = ? AND status = 'queued' ORDER BY id LIMIT ?",
            (channel, limit),
        )
        return [
            Alert(id_, ch, source, text, link, created, attempts, bool(silent), edit_of, bool(urgent), parts)
            for id_, ch, source, text, link, created, attempts, silent, edit_of, urgent, parts in rows
        ]

    @_guarded
    async def count_queued(self, channel: str) -> int:
        """Return how many alerts wait for the channel."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM outbox WHERE channel = ? AND status = 'queued'", (channel,)
        ).fetchone()
        return int(row[0])

    @_guarded
    async def oldest_queued(self, channel: str) -> float | None:
        """Return when the channel's oldest queued alert was queued, or None when none waits."""
        row = self.db.execute(
            "SELECT MIN(created) FROM outbox WHERE channel = ? AND status = 'queued'", (channel,)
        ).fetchone()
        return None if row[0] is None else float(row[0])

    @_guarded
    async def mark_delivered(self, alert_ids: Sequence[int], message_id: str | None) -> None:
        """Record that alerts reached their channel (several when sent as one digest)."""
        now = time.time()
        with self._transaction():
            self.db.executemany(
                "UPDATE outbox SET status = 'delivered', done_at = ?, message_id = ?, last_error = NULL,"
                " attempts = attempts + 1 WHERE id = ?",
                [(now, message_id, alert_id) for alert_id in alert_ids],
            )

    @_guarded
    async def schedule_retry(self, alert_id: int, error: str, *, parts_sent: int = 0) -> None:
        """Keep an alert queued after a transient fault (the deliverer decides when to retry).

        parts_sent: how many parts of a split message the channel accepted, so they are not sent again.
        """
        self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, parts_sent = MAX(parts_sent, ?) WHERE id = ?",
            (error, parts_sent, alert_id),
        )

    @_guarded
    async def mark_failed(self, alert_id: int, error: str) -> None:
        """Give up on an alert that its channel refused for good."""
        self.db.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, done_at = ? WHERE id = ?",
            (error, time.time(), alert_id),
        )

    @_guarded
    async def expire(self, channel: str, older_than: float) -> int:
        """Give up on the channel's alerts queued before older_than; return how many."""
        return self.db.execute(
            "UPDATE outbox SET status = 'failed', done_at = ?,"
            " last_error = 'expired undelivered: ' || COALESCE(last_error, 'never sent')"
            " WHERE channel = ? AND status = 'queued' AND created < ?",
            (time.time(), channel, older_than),
        ).rowcount

    @_guarded_sync
    def note_poll(
        self,
        source: str,
        *,
        at: float,
        error: str | None,
        new: int,
        next_poll: float | None,
        validators: tuple[str | None, str | None] = (None, None),
        health: SourceHealth | None = None,
    ) -> None:
        """Remember how a poll went (for `monitor status`), the page's validators and the source's health.

        Kept in memory until flush_polls(), the next record() or queue_message(): a commit (an fsync) for
        each 304 poll would be a third of its cost. Lost by a crash, they cost one full fetch and
        a bad poll left uncounted; an alarm is written in one transaction with its health state.
        """
        h = (
            (None,) * 6
            if health is None
            else (health.streak, health.failures, health.alarmed, health.skip_until, health.pace, health.paced_at)
        )
        self._polls.append((source, at, error, new, next_poll, *validators, *h))

    @_guarded
    async def health_states(self) -> dict[str, SourceHealth]:
        """Return the saved health of every source polled before."""
        await self.flush_polls()
        rows = self.db.execute("SELECT source, streak, backoff, alarmed, skip_until, pace, paced_at FROM source_state")
        return {row[0]: SourceHealth(row[1], row[2], bool(row[3]), *row[4:]) for row in rows}

    @_guarded
    async def flush_polls(self) -> None:
        """Write the polls noted since the last write, in one transaction."""
        if self._polls:
            with self._transaction():
                self._write_polls()
            self._polls.clear()

    def _write_polls(self) -> None:
        self.db.executemany(
            "INSERT INTO source_state"
            " (source, last_poll, last_ok, last_new, failures, last_error, next_poll, etag, last_modified,"
            "  streak, backoff, alarmed, skip_until, pace, paced_at)"
            " VALUES (?1, ?2, CASE WHEN ?3 IS NULL THEN ?2 END, CASE WHEN ?4 > 0 THEN ?2 END,"
            "  CASE WHEN ?3 IS NULL THEN 0 ELSE 1 END, ?3, ?5, ?6, ?7, COALESCE(?8, 0), COALESCE(?9, 0),"
            "  COALESCE(?10, 0), COALESCE(?11, 0), COALESCE(?12, 0), COALESCE(?13, 0))"
            " ON CONFLICT (source) DO UPDATE SET last_poll = ?2,"
            "  last_ok = CASE WHEN ?3 IS NULL THEN ?2 ELSE last_ok END,"
            "  last_new = CASE WHEN ?4 > 0 THEN ?2 ELSE last_new END,"
            "  failures = CASE WHEN ?3 IS NULL THEN 0 ELSE failures + 1 END,"
            "  last_error = COALESCE(?3, last_error), next_poll = ?5, etag = ?6, last_modified = ?7,"
            "  streak = COALESCE(?8, streak), backoff = COALESCE(?9, backoff), alarmed = COALESCE(?10, alarmed),"
            "  skip_until = COALESCE(?11, skip_until), pace = COALESCE(?12, pace), paced_at = COALESCE(?13, paced_at)",
            self._polls,
        )

    @_guarded
    async def validators(self, source: str) -> tuple[str | None, str | None]:
        """Return the ETag and Last-Modified of the source's last page read, if any."""
        await self.flush_polls()
        row = self.db.execute("SELECT etag, last_modified FROM source_state WHERE source = ?", (source,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    @_guarded
    async def source_states(self) -> list[SourceStatus]:
        """Return what is known of every source's polls."""
        await self.flush_polls()
        rows = self.db.execute(
            "SELECT source, last_poll, last_ok, last_new, failures, last_error, next_poll, streak, alarmed"
            " FROM source_state ORDER BY source"
        )
        return [
            SourceStatus(s, poll, ok, new, failures, error, next_poll, streak, bool(alarmed))
            for s, poll, ok, new, failures, error, next_poll, streak, alarmed in rows
        ]

    @_guarded
    async def status(self) -> list[ChannelStatus]:
        """Return outbox counts per channel."""
        rows = self.db.execute(
            "SELECT channel, SUM(status = 'queued'), SUM(status = 'delivered'), SUM(status = 'failed'),"
            " (SELECT last_error FROM outbox o2 WHERE o2.channel = o.channel AND last_error IS NOT NULL"
            "  ORDER BY id DESC LIMIT 1)"
            " FROM outbox o GROUP BY channel ORDER BY channel"
        )
        return [ChannelStatus(*row) for row in rows]

    @_guarded
    async def history(
        self, since: float, *, channel: str | None = None, source: str | None = None, limit: int = 100
    ) -> list[Sent]:
        """Return the newest alerts queued since a time, newest last, optionally of one channel or source."""
        rows = self.db.execute(
            "SELECT * FROM (SELECT id, created, done_at, source, rule, channel, status, last_error, text, edit_of"
            " FROM outbox WHERE created >= ?1 AND (?2 IS NULL OR channel = ?2) AND (?3 IS NULL OR source = ?3)"
            " ORDER BY id DESC LIMIT ?4) ORDER BY id",
            (since, channel, source, limit),
        )
        return [Sent(*row) for row in rows]

    @_guarded
    async def prune(self, older_than: float) -> int:
        """Forget seen items and finished alerts not seen since older_than; return rows removed."""
        with self._transaction():
            seen = self.db.execute("DELETE FROM seen WHERE last_seen < ?", (older_than,)).rowcount
            done = self.db.execute(
                "DELETE FROM outbox WHERE status != 'queued' AND done_at < ?", (older_than,)
            ).rowcount
        return seen + done

    @_guarded
    async def readers(self) -> list[Reader]:
        """Return every reader of the bot with their watches."""
        return readers_from(self.db.execute(SELECT_WATCHES).fetchall(), self.db.execute(SELECT_READERS))

    @_guarded
    async def save_reader(self, reader: Reader) -> None:
        """Create or update a reader (not their watches)."""
        quiet = reader.quiet or (None, None)
        self.db.execute(
            "INSERT INTO readers (user_id, username, language, tz, quiet_from, quiet_to, paused, blocked, created)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (user_id) DO UPDATE SET username = ?2,"
            " language = ?3, tz = ?4, quiet_from = ?5, quiet_to = ?6, paused = ?7, blocked = ?8",
            (
                reader.user_id,
                reader.username,
                reader.language,
                reader.tz,
                *quiet,
                reader.paused,
                reader.blocked,
                reader.created or time.time(),
            ),
        )

    @_guarded
    async def add_watch(self, user_id: int, text: str) -> int:
        """Store a watch of a (stored) reader; return its number."""
        with self._transaction():
            (number,) = self.db.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM watches WHERE user_id = ?", (user_id,)
            ).fetchone()
            self.db.execute(
                "INSERT INTO watches (user_id, number, text, created) VALUES (?, ?, ?, ?)",
                (user_id, number, text, time.time()),
            )
        return int(number)

    @_guarded
    async def remove_watch(self, user_id: int, number: int) -> None:
        """Delete a reader's watch."""
        self.db.execute("DELETE FROM watches WHERE user_id = ? AND number = ?", (user_id, number))

    @_guarded
    async def forget_reader(self, user_id: int) -> None:
        """Delete everything stored about a reader: the reader, their watches, their alerts queued or sent."""
        with self._transaction():
            self.db.execute("DELETE FROM watches WHERE user_id = ?", (user_id,))
            self.db.execute("DELETE FROM readers WHERE user_id = ?", (user_id,))
            self.db.execute("DELETE FROM outbox WHERE channel = ?", (f"reader:{user_id}",))

    @_guarded
    async def bot_offset(self, bot_id: str) -> int:
        """Return the next update the bot is to read (0: whatever Telegram holds)."""
        row = self.db.execute("SELECT update_offset FROM bot_state WHERE bot = ?", (bot_id,)).fetchone()
        return int(row[0]) if row else 0

    @_guarded
    async def save_bot_offset(self, bot_id: str, offset: int) -> None:
        """Remember that the bot handled every update before offset."""
        self.db.execute(
            "INSERT INTO bot_state (bot, update_offset) VALUES (?1, ?2)"
            " ON CONFLICT (bot) DO UPDATE SET update_offset = MAX(update_offset, ?2)",
            (bot_id, offset),
        )

    @_guarded
    async def mutes(self, now: float) -> dict[str, float]:
        """Return the sources muted for readers' alerts now, and until when."""
        return dict(self.db.execute("SELECT source, until FROM muted WHERE until > ?", (now,)).fetchall())

    @_guarded
    async def save_mute(self, source: str, until: float) -> None:
        """Mute a source for readers' alerts until then (0: unmute); forget mutes long over."""
        with self._transaction():
            self.db.execute("DELETE FROM muted WHERE source = ? OR until < ?", (source, time.time()))
            if until:
                self.db.execute("INSERT INTO muted (source, until) VALUES (?, ?)", (source, until))

    @_guarded
    async def load_reader_queue(self, *, limit: int = 200, after: int = 0) -> list[Alert]:
        """Return the alerts queued for readers (channels reader:<id>), oldest first, from the one after `after`."""
        rows = self.db.execute(
            "SELECT id, channel, source, text, link, created, attempts, silent, edit_of, urgent, parts_sent"
            " FROM outbox WHERE channel >= 'reader:' AND channel < 'reader;' AND status = 'queued' AND id > ?"
            " ORDER BY id LIMIT ?",
            (after, limit),
        )
        return [
            Alert(id_, ch, source, text, link, created, attempts, bool(silent), edit_of, bool(urgent), parts)
            for id_, ch, source, text, link, created, attempts, silent, edit_of, urgent, parts in rows
        ]

    async def close(self) -> None:
        """Write the polls still in memory, then close the database."""
        try:
            await self.flush_polls()
        except StateError as exc:  # only poll status and validators are lost: one full fetch each
            logger.error("state.write_failed what=polls error=%s", exc)
        finally:
            self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the block or the commit fails (disk full)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                with suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
            raise
