"""The Store on PostgreSQL: the same tables and semantics as sqlite.py, for one or several instances.

psycopg 3's async API over a small AsyncConnectionPool: the event loop never waits on the network.
record() and queue_message() are one transaction each, as on SQLite. Several instances sharing one
database cooperate through pg_cluster.py; a commit that queues alerts NOTIFYs them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from ..cluster import Holding
from ..errors import StateError
from ..models import Alert, Item, Outgoing, SourceHealth
from .base import SELECT_READERS, SELECT_WATCHES, ChannelStatus, Reader, Sent, SourceStatus, readers_from
from .postgres_sql import (
    INSTANCES,
    META,
    MIGRATION_LOCK,
    MIGRATIONS,
    READ_VERSION,
    SCHEMA_VERSION,
    WRITE_POLL,
    WRITE_VERSION,
)

logger = logging.getLogger(__name__)
# The pool logs every failed reconnection: an outage is logged once, by pg_cluster's heartbeat, instead.
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)

CONNECT_TIMEOUT = 10  # seconds to reach the server
# Seconds a query may wait for a connection of the pool: thousands of polls finishing together queue
# here, while an unreachable server is known (pg_cluster's heartbeat) and not waited for.
POOL_WAIT = 60
POOL_SIZE = 8
STOP_WAIT = 5  # seconds a stop waits to write the last polls (systemd's TimeoutStopSec is 30 s in all)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def describe(url: str) -> str:
    """Name the server and database of a url, never its password: "PostgreSQL user@host:port/db"."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "PostgreSQL (an invalid state.url)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or parts.get("hostaddr") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"PostgreSQL {user}{host}{port}/{parts.get('dbname') or '(default database)'}"


def _password(url: str) -> str | None:
    try:
        return str(conninfo_to_dict(url).get("password") or "") or None
    except psycopg.Error:
        return None


def _guarded(
    method: Callable[Concatenate[PostgresStore, _P], Awaitable[_R]],
) -> Callable[Concatenate[PostgresStore, _P], Coroutine[Any, Any, _R]]:
    """Turn psycopg's errors (and the pool's) into a StateError that names the server."""

    @functools.wraps(method)
    async def wrapper(self: PostgresStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await method(self, *args, **kwargs)
        except psycopg.Error as exc:
            raise StateError(self.explain(exc)) from None

    return wrapper


class PostgresStore:
    """The Store on one PostgreSQL database; open it with `await PostgresStore.open(url)`."""

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        """Prepare the pool (not yet connected): call open() before anything else."""
        self.url = url
        self.where = describe(url)
        self.readonly = readonly
        self._polls: list[dict[str, object]] = []  # note_poll rows not yet written
        options = "-c default_transaction_read_only=on" if readonly else None
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT}
        if options:
            kwargs["options"] = options
        # read-only: one connection, since an absent schema is replaced by temporary tables of its own
        self.pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=1 if readonly else POOL_SIZE,
            kwargs=kwargs,
            open=False,
            timeout=POOL_WAIT,
            name="monitor-state",
        )

    @classmethod
    async def open(cls, url: str, *, readonly: bool = False) -> PostgresStore:
        """Connect, and create or migrate the tables; read-only writes nothing (an absent schema reads as empty)."""
        store = cls(url, readonly=readonly)
        try:
            # One plain connection first: its failure says why (a pool's says only "timed out").
            conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
            async with conn:
                if not readonly:
                    await store._migrate(conn)
            await store.pool.open(wait=True, timeout=CONNECT_TIMEOUT)
            if readonly:
                async with store.pool.connection() as conn:
                    await store._check_readonly(conn)
        except psycopg.Error as exc:
            await store.pool.close()
            raise StateError(store.explain(exc)) from None
        except BaseException:
            await store.pool.close()
            raise
        return store

    async def _migrate(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Create the tables or bring them up to SCHEMA_VERSION, in one transaction that one instance at a time runs."""
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute(META)
            version = await self._version(conn)
            for step in MIGRATIONS[version:]:
                await conn.execute(step)
            if version < SCHEMA_VERSION:
                await conn.execute(WRITE_VERSION, (str(SCHEMA_VERSION),))
                logger.info("state.migrated where=%s from=%d to=%d", self.where, version, SCHEMA_VERSION)

    async def _check_readonly(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Refuse tables of another version; make an absent schema empty temporary tables (as SQLite's absent file)."""
        row = await (await conn.execute("SELECT to_regclass('outbox') IS NULL")).fetchone()
        if row and row[0]:
            async with conn.transaction():  # temporary tables only, seen by this session alone
                await conn.execute("SET TRANSACTION READ WRITE")
                for step in MIGRATIONS:
                    await conn.execute(step.replace("CREATE TABLE", "CREATE TEMPORARY TABLE"))
            return
        version = await self._version(conn)
        if version < SCHEMA_VERSION:
            raise StateError(
                f"state database {self.where} was written by an older version of monitor (schema {version},"
                f" this one knows {SCHEMA_VERSION}): start the service (or `monitor --once`) once to bring it"
                " up to date"
            )

    async def _version(self, conn: psycopg.AsyncConnection[Any]) -> int:
        """Return the schema version recorded in the database (0: none); refuse a newer one than this monitor knows."""
        kept = await (await conn.execute("SELECT to_regclass('monitor_meta') IS NOT NULL")).fetchone()
        row = await (await conn.execute(READ_VERSION)).fetchone() if kept and kept[0] else None
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StateError(
                f"state database {self.where} was written by a newer version of monitor (schema {version},"
                f" this one knows {SCHEMA_VERSION}): upgrade monitor"
            )
        return version

    def explain(self, exc: psycopg.Error) -> str:
        """Return one line saying what went wrong with the server, without its password."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        password = _password(self.url)
        if password:
            text = text.replace(password, "***")
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            return f"{self.where} is open read-only: {text}"
        if isinstance(exc, psycopg.OperationalError):
            return f"cannot reach the state database {self.where}: {text}"
        return f"state database {self.where}: {text}"

    @_guarded
    async def has_baseline(self, source: str) -> bool:
        """Whether the source's first poll has been recorded."""
        return await self._one("SELECT 1 FROM baseline WHERE source = %s", (source,)) is not None

    @_guarded
    async def unseen(self, source: str, items: Sequence[Item]) -> list[Item]:
        """Return the items never seen before for this source, in the given order."""
        if not items:
            return []
        rows = await self._all(
            "SELECT fingerprint FROM seen WHERE source = %s AND fingerprint = ANY(%s)",
            (source, [i.fingerprint for i in items]),
        )
        seen = {fp for (fp,) in rows}
        return [i for i in items if i.fingerprint not in seen]

    @_guarded
    async def recent(self, source: str, since: float) -> list[tuple[str, str]]:
        """Return (fingerprint, text) of the source's lines seen on its ticker since a time."""
        return await self._all(
            "SELECT fingerprint, text FROM seen WHERE source = %s AND last_seen >= %s ORDER BY first_seen DESC",
            (source, since),
        )

    @_guarded
    async def seen_since(self, since: float) -> list[tuple[str, str, str | None, float]]:
        """Return (source, text, link, first seen) of every line first seen since a time, oldest first."""
        return await self._all(
            "SELECT source, text, link, first_seen FROM seen WHERE first_seen >= %s ORDER BY first_seen, source",
            (since,),
        )

    @_guarded
    async def sent_messages(self, source: str, fingerprint: str) -> list[tuple[str, str]]:
        """Return (channel, message id) of the messages sent for a line (to edit them)."""
        return await self._all(
            "SELECT channel, message_id FROM outbox WHERE source = %s AND fingerprint = %s"
            " AND status = 'delivered' AND message_id IS NOT NULL ORDER BY id",
            (source, fingerprint),
        )

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
        async with self._writing() as cur:
            if items:
                await cur.executemany(
                    "INSERT INTO seen (source, fingerprint, text, link, first_seen, last_seen, edit_of)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (source, fingerprint) DO UPDATE SET last_seen = excluded.last_seen",
                    [(source, i.fingerprint, i.text, i.link, now, now, edits.get(i.fingerprint)) for i in items],
                )
            for a in alerts:
                i = a.item
                await cur.execute(
                    "INSERT INTO outbox"
                    " (channel, source, fingerprint, text, link, created, silent, edit_of, urgent, rule)"
                    " SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s"
                    " WHERE %s::text IS NOT NULL OR NOT EXISTS (SELECT 1 FROM outbox"
                    "  WHERE fingerprint = %s AND channel = %s AND created >= %s)"
                    " ON CONFLICT (channel, source, fingerprint) DO NOTHING",
                    (
                        a.channel,
                        i.source,
                        i.fingerprint,
                        i.text,
                        i.link,
                        now,
                        int(a.silent),
                        a.edit_of,
                        int(a.urgent),
                        a.rule,
                        a.edit_of,
                        i.fingerprint,
                        a.channel,
                        now - same_line_window,
                    ),
                )
                queued += max(cur.rowcount, 0)
            await cur.execute(
                "INSERT INTO baseline (source, at) VALUES (%s, %s) ON CONFLICT (source) DO NOTHING", (source, now)
            )
            if queued:  # other instances wake at the commit (pg_cluster.py)
                await cur.execute("NOTIFY monitor_outbox")
        return queued

    @_guarded
    async def queue_message(self, channel: str, text: str) -> None:
        """Queue a message of monitor's own (a health alarm), with the polls noted so far, in one transaction."""
        now = time.time()
        key = hashlib.blake2b(f"{text}{now}".encode(), digest_size=16).hexdigest()
        async with self._writing() as cur:
            await cur.execute(
                "INSERT INTO outbox (channel, source, fingerprint, text, link, created)"
                " VALUES (%s, 'monitor', %s, %s, NULL, %s)",
                (channel, key, text, now),
            )
            await cur.execute("NOTIFY monitor_outbox")

    @_guarded
    async def load_queue(self, channel: str, *, limit: int = 100) -> list[Alert]:
        """Return the channel's queued alerts, oldest first."""
        rows = await self._all(
            "SELECT id, channel, source, text, link, created, attempts, silent, edit_of, urgent, parts_sent"
            " FROM outbox WHERE channel = %s AND status = 'queued' ORDER BY id LIMIT %s",
            (channel, limit),
        )
        return [
            Alert(id_, ch, source, text, link, created, attempts, bool(silent), edit_of, bool(urgent), parts)
            for id_, ch, source, text, link, created, attempts, silent, edit_of, urgent, parts in rows
        ]

    @_guarded
    async def count_queued(self, channel: str) -> int:
        """Return how many alerts wait for the channel."""
        row = await self._one("SELECT COUNT(*) FROM outbox WHERE channel = %s AND status = 'queued'", (channel,))
        return int(row[0]) if row else 0

    @_guarded
    async def oldest_queued(self, channel: str) -> float | None:
        """Return when the channel's oldest queued alert was queued, or None when none waits."""
        row = await self._one("SELECT MIN(created) FROM outbox WHERE channel = %s AND status = 'queued'", (channel,))
        return None if row is None or row[0] is None else float(row[0])

    @_guarded
    async def mark_delivered(self, alert_ids: Sequence[int], message_id: str | None) -> None:
        """Record that alerts reached their channel (several when sent as one digest)."""
        now = time.time()
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(
                "UPDATE outbox SET status = 'delivered', done_at = %s, message_id = %s, last_error = NULL,"
                " attempts = attempts + 1 WHERE id = %s",
                [(now, message_id, alert_id) for alert_id in alert_ids],
            )

    @_guarded
    async def schedule_retry(self, alert_id: int, error: str, *, parts_sent: int = 0) -> None:
        """Keep an alert queued after a transient fault; parts_sent: parts of a split message accepted."""
        await self._run(
            "UPDATE outbox SET attempts = attempts + 1, last_error = %s, parts_sent = GREATEST(parts_sent, %s)"
            " WHERE id = %s",
            (error, parts_sent, alert_id),
        )

    @_guarded
    async def mark_failed(self, alert_id: int, error: str) -> None:
        """Give up on an alert that its channel refused for good."""
        await self._run(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = %s, done_at = %s WHERE id = %s",
            (error, time.time(), alert_id),
        )

    @_guarded
    async def expire(self, channel: str, older_than: float) -> int:
        """Give up on the channel's alerts queued before older_than; return how many."""
        return await self._run(
            "UPDATE outbox SET status = 'failed', done_at = %s,"
            " last_error = 'expired undelivered: ' || COALESCE(last_error, 'never sent')"
            " WHERE channel = %s AND status = 'queued' AND created < %s",
            (time.time(), channel, older_than),
        )

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
        """Remember how a poll went, kept in memory until flush_polls(), the next record() or queue_message()."""
        h: tuple[object, ...] = (
            (None,) * 6
            if health is None
            else (
                health.streak,
                health.failures,
                int(health.alarmed),
                health.skip_until,
                health.pace,
                health.paced_at,
            )
        )
        names = ("streak", "backoff", "alarmed", "skip_until", "pace", "paced_at")
        self._polls.append(
            {
                "source": source,
                "at": at,
                "error": error,
                "new": new,
                "next_poll": next_poll,
                "etag": validators[0],
                "last_modified": validators[1],
                **dict(zip(names, h, strict=True)),
            }
        )

    @_guarded
    async def health_states(self) -> dict[str, SourceHealth]:
        """Return the saved health of every source polled before."""
        await self.flush_polls()
        rows = await self._all("SELECT source, streak, backoff, alarmed, skip_until, pace, paced_at FROM source_state")
        return {row[0]: SourceHealth(row[1], row[2], bool(row[3]), *row[4:]) for row in rows}

    @_guarded
    async def flush_polls(self) -> None:
        """Write the polls noted since the last write, in one transaction."""
        if self._polls:
            async with self._writing():
                pass

    @contextlib.asynccontextmanager
    async def _writing(self, wait: float | None = None) -> AsyncIterator[psycopg.AsyncCursor[Any]]:
        """A transaction that first writes the polls noted so far; if it fails, they stay noted for the next.

        They are taken off the list before the first await: polls noted while it runs wait for the next write.
        """
        pending, self._polls = self._polls, []
        try:
            async with self.pool.connection(wait) as conn, conn.transaction(), conn.cursor() as cur:
                if pending:
                    await cur.executemany(WRITE_POLL, pending)
                yield cur
        except BaseException:
            self._polls[:0] = pending
            raise

    @_guarded
    async def validators(self, source: str) -> tuple[str | None, str | None]:
        """Return the ETag and Last-Modified of the source's last page read, if any."""
        await self.flush_polls()
        row = await self._one("SELECT etag, last_modified FROM source_state WHERE source = %s", (source,))
        return (row[0], row[1]) if row else (None, None)

    @_guarded
    async def source_states(self) -> list[SourceStatus]:
        """Return what is known of every source's polls."""
        await self.flush_polls()
        rows = await self._all(
            "SELECT source, last_poll, last_ok, last_new, failures, last_error, next_poll, streak, alarmed, holder"
            " FROM source_state ORDER BY source"
        )
        return [
            SourceStatus(s, poll, ok, new, failures, error, next_poll, streak, bool(alarmed), holder)
            for s, poll, ok, new, failures, error, next_poll, streak, alarmed, holder in rows
        ]

    @_guarded
    async def instances(self) -> list[Holding]:
        """Every instance seen in the last day, with the sources it polled last and the chats it holds now."""
        rows = await self._all(INSTANCES)
        return [Holding(name, started, seen, int(count), tuple(chats)) for name, started, seen, count, chats in rows]

    @_guarded
    async def status(self) -> list[ChannelStatus]:
        """Return outbox counts per channel."""
        rows = await self._all(
            "SELECT channel, COUNT(*) FILTER (WHERE status = 'queued'), COUNT(*) FILTER (WHERE status = 'delivered'),"
            " COUNT(*) FILTER (WHERE status = 'failed'),"
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
        rows = await self._all(
            "SELECT * FROM (SELECT id, created, done_at, source, rule, channel, status, last_error, text, edit_of"
            " FROM outbox WHERE created >= %(since)s AND (%(channel)s::text IS NULL OR channel = %(channel)s)"
            " AND (%(source)s::text IS NULL OR source = %(source)s) ORDER BY id DESC LIMIT %(limit)s) AS newest"
            " ORDER BY id",
            {"since": since, "channel": channel, "source": source, "limit": limit},
        )
        return [Sent(*row) for row in rows]

    @_guarded
    async def prune(self, older_than: float) -> int:
        """Forget seen items and finished alerts not seen since older_than; return rows removed."""
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute("DELETE FROM seen WHERE last_seen < %s", (older_than,))
            seen = cur.rowcount
            await cur.execute("DELETE FROM outbox WHERE status != 'queued' AND done_at < %s", (older_than,))
            return seen + cur.rowcount

    @_guarded
    async def readers(self) -> list[Reader]:
        """Return every reader of the bot with their watches."""
        return readers_from(await self._all(SELECT_WATCHES), await self._all(SELECT_READERS))

    @_guarded
    async def save_reader(self, reader: Reader) -> None:
        """Create or update a reader (not their watches)."""
        quiet = reader.quiet or (None, None)
        await self._run(
            "INSERT INTO readers (user_id, username, language, tz, quiet_from, quiet_to, paused, blocked, created)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (user_id) DO UPDATE SET"
            " username = excluded.username, language = excluded.language, tz = excluded.tz,"
            " quiet_from = excluded.quiet_from, quiet_to = excluded.quiet_to, paused = excluded.paused,"
            " blocked = excluded.blocked",
            (
                reader.user_id,
                reader.username,
                reader.language,
                reader.tz,
                *quiet,
                int(reader.paused),
                int(reader.blocked),
                reader.created or time.time(),
            ),
        )

    @_guarded
    async def add_watch(self, user_id: int, text: str) -> int:
        """Store a watch of a (stored) reader; return its number."""
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute("SELECT 1 FROM readers WHERE user_id = %s FOR UPDATE", (user_id,))
            await cur.execute(
                "INSERT INTO watches (user_id, number, text, created)"
                " SELECT %s, COALESCE(MAX(number), 0) + 1, %s, %s FROM watches WHERE user_id = %s RETURNING number",
                (user_id, text, time.time(), user_id),
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    @_guarded
    async def remove_watch(self, user_id: int, number: int) -> None:
        """Delete a reader's watch."""
        await self._run("DELETE FROM watches WHERE user_id = %s AND number = %s", (user_id, number))

    @_guarded
    async def forget_reader(self, user_id: int) -> None:
        """Delete everything stored about a reader: the reader, their watches, their alerts queued or sent."""
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute("DELETE FROM watches WHERE user_id = %s", (user_id,))
            await cur.execute("DELETE FROM readers WHERE user_id = %s", (user_id,))
            await cur.execute("DELETE FROM outbox WHERE channel = %s", (f"reader:{user_id}",))

    @_guarded
    async def bot_offset(self, bot_id: str) -> int:
        """Return the next update the bot is to read (0: whatever Telegram holds)."""
        row = await self._one("SELECT update_offset FROM bot_state WHERE bot = %s", (bot_id,))
        return int(row[0]) if row else 0

    @_guarded
    async def save_bot_offset(self, bot_id: str, offset: int) -> None:
        """Remember that the bot handled every update before offset."""
        await self._run(
            "INSERT INTO bot_state (bot, update_offset) VALUES (%s, %s) ON CONFLICT (bot) DO UPDATE"
            " SET update_offset = GREATEST(bot_state.update_offset, excluded.update_offset)",
            (bot_id, offset),
        )

    @_guarded
    async def mutes(self, now: float) -> dict[str, float]:
        """Return the sources muted for readers' alerts now, and until when."""
        return dict(await self._all("SELECT source, until FROM muted WHERE until > %s", (now,)))

    @_guarded
    async def save_mute(self, source: str, until: float) -> None:
        """Mute a source for readers' alerts until then (0: unmute); forget mutes long over."""
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute("DELETE FROM muted WHERE source = %s OR until < %s", (source, time.time()))
            if until:
                await cur.execute("INSERT INTO muted (source, until) VALUES (%s, %s)", (source, until))

    @_guarded
    async def load_reader_queue(self, *, limit: int = 200, after: int = 0) -> list[Alert]:
        """Return the alerts queued for readers (channels reader:<id>), oldest first, from the one after `after`."""
        rows = await self._all(
            "SELECT id, channel, source, text, link, created, attempts, silent, edit_of, urgent, parts_sent"
            " FROM outbox WHERE channel LIKE 'reader:%%' AND status = 'queued' AND id > %s"
            " ORDER BY id LIMIT %s",
            (after, limit),
        )
        return [
            Alert(id_, ch, source, text, link, created, attempts, bool(silent), edit_of, bool(urgent), parts)
            for id_, ch, source, text, link, created, attempts, silent, edit_of, urgent, parts in rows
        ]

    async def check_file(self) -> str | None:
        """Nothing to check: there is no file (a lost connection shows as the next write's StateError)."""
        return None

    async def close(self) -> None:
        """Write the polls still in memory, then close the pool."""
        try:
            if self._polls:  # a stop does not wait long for a server that is down
                async with self._writing(wait=STOP_WAIT):
                    pass
        except psycopg.Error as exc:  # only poll status and validators are lost: one full fetch each
            logger.error("state.write_failed what=polls error=%s", self.explain(exc))
        finally:
            await self.pool.close()

    async def _all(self, query: str, params: Sequence[object] | Mapping[str, object] = ()) -> list[Any]:
        async with self.pool.connection() as conn:
            return await (await conn.execute(query, params)).fetchall()

    async def _one(self, query: str, params: Sequence[object] | Mapping[str, object] = ()) -> Any:
        async with self.pool.connection() as conn:
            return await (await conn.execute(query, params)).fetchone()

    async def _run(self, query: str, params: Sequence[object]) -> int:
        async with self.pool.connection() as conn:
            return (await conn.execute(query, params)).rowcount
