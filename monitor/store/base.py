"""What state storage is to the rest of monitor: the Store protocol and the records it returns.

A backend (SQLite today) implements exactly this; the pipeline, the service and the commands use
nothing else of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..cluster import Holding
from ..models import Alert, Item, Outgoing, SourceHealth


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
    streak: int = 0  # bad polls in a row
    alarmed: bool = False  # an alarm was sent and the source has not recovered since
    holder: str | None = None  # the instance that polled it last (a PostgreSQL state)


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """Outbox counts of one channel."""

    channel: str
    queued: int
    delivered: int
    failed: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Sent:
    """One alert in the outbox as `monitor history` shows it."""

    id: int
    created: float
    done_at: float | None
    source: str
    rule: str | None
    channel: str
    status: str  # queued, delivered or failed
    error: str | None  # why it failed, or the last fault while it is queued
    text: str
    edit_of: str | None


@dataclass(frozen=True, slots=True)
class Reader:
    """A reader of the bot: who, how they want their alerts, and their watches."""

    user_id: int
    username: str | None = None  # without "@", lower case
    language: str = "en"
    tz: str = "UTC"
    quiet: tuple[int, int] | None = None  # quiet hours, minutes after midnight in tz: (from, to)
    paused: bool = False
    blocked: bool = False  # the reader blocked the bot: nothing is sent until they /start again
    created: float = 0.0
    watches: tuple[tuple[int, str], ...] = ()  # (number, the /watch text as typed), oldest first


# What both backends read to list the readers (the same SQL on SQLite and PostgreSQL).
SELECT_WATCHES = "SELECT user_id, number, text FROM watches ORDER BY user_id, number"
SELECT_READERS = "SELECT user_id, username, language, tz, quiet_from, quiet_to, paused, blocked, created FROM readers"


def readers_from(watch_rows: Iterable[Sequence[Any]], reader_rows: Iterable[Sequence[Any]]) -> list[Reader]:
    """Build the readers from the rows of SELECT_WATCHES and SELECT_READERS."""
    watches: dict[int, list[tuple[int, str]]] = {}
    for user, number, text in watch_rows:
        watches.setdefault(user, []).append((number, text))
    return [
        Reader(
            user,
            name,
            lang,
            tz,
            None if start is None else (start, end),
            bool(paused),
            bool(blocked),
            created,
            tuple(watches.get(user, ())),
        )
        for user, name, lang, tz, start, end, paused, blocked, created in reader_rows
    ]


class Store(Protocol):
    """What the pipeline needs from state storage (SQLite today, PostgreSQL planned).

    Every method raises StateError (never a driver's own exception) when the storage fails. The
    methods are coroutines, so a backend across a network waits without holding the event loop;
    note_poll only notes a poll in memory (written by flush_polls or the next write), so it is not.
    """

    async def has_baseline(self, source: str) -> bool: ...
    async def unseen(self, source: str, items: Sequence[Item]) -> list[Item]: ...
    async def recent(self, source: str, since: float) -> list[tuple[str, str]]: ...
    async def sent_messages(self, source: str, fingerprint: str) -> list[tuple[str, str]]: ...
    async def seen_since(self, since: float) -> list[tuple[str, str, str | None, float]]: ...
    async def record(
        self,
        source: str,
        items: Sequence[Item],
        alerts: Iterable[Outgoing],
        *,
        edits: Mapping[str, str] | None = None,
        same_line_window: float = 0.0,
    ) -> int: ...
    async def queue_message(self, channel: str, text: str) -> None: ...
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
    ) -> None: ...
    async def health_states(self) -> dict[str, SourceHealth]: ...
    async def flush_polls(self) -> None: ...
    async def validators(self, source: str) -> tuple[str | None, str | None]: ...
    async def source_states(self) -> list[SourceStatus]: ...
    async def load_queue(self, channel: str, *, limit: int = 100) -> list[Alert]: ...
    async def count_queued(self, channel: str) -> int: ...
    async def oldest_queued(self, channel: str) -> float | None: ...
    async def mark_delivered(self, alert_ids: Sequence[int], message_id: str | None) -> None: ...
    async def expire(self, channel: str, older_than: float) -> int: ...
    async def schedule_retry(self, alert_id: int, error: str, *, parts_sent: int = 0) -> None: ...
    async def mark_failed(self, alert_id: int, error: str) -> None: ...
    async def status(self) -> list[ChannelStatus]: ...
    async def history(
        self, since: float, *, channel: str | None = None, source: str | None = None, limit: int = 100
    ) -> list[Sent]: ...
    async def prune(self, older_than: float) -> int: ...
    # The readers' bot (monitor/bot/): readers and their watches, the bot's update offset, their queue.
    async def readers(self) -> list[Reader]: ...
    async def save_reader(self, reader: Reader) -> None: ...
    async def add_watch(self, user_id: int, text: str) -> int: ...
    async def remove_watch(self, user_id: int, number: int) -> None: ...
    async def forget_reader(self, user_id: int) -> None: ...
    async def bot_offset(self, bot_id: str) -> int: ...
    async def save_bot_offset(self, bot_id: str, offset: int) -> None: ...
    async def mutes(self, now: float) -> dict[str, float]: ...
    async def save_mute(self, source: str, until: float) -> None: ...
    async def load_reader_queue(self, *, limit: int = 200, after: int = 0) -> list[Alert]: ...
    async def instances(self) -> list[Holding]: ...
    async def check_file(self) -> str | None: ...
    async def close(self) -> None: ...
