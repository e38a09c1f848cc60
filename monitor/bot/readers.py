"""The bot's readers and their watches: kept in the store, held in memory, and matched against each new line.

One WatchIndex holds every watch of every reader (loaded from the store at start, changed one watch at
a time on /watch and /unwatch): a new line costs one pass of it, whatever the number of readers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from ..models import Item
from ..store import Reader, Store
from ..watches import Watch, WatchError, WatchIndex, parse_watch

logger = logging.getLogger(__name__)


class Readers:
    """Every reader, their watches, and the sources muted by an admin."""

    def __init__(self, store: Store, sources: Collection[str], *, max_terms: int) -> None:
        self.store, self.sources, self.max_terms = store, sources, max_terms
        self.by_id: dict[int, Reader] = {}
        self.watches: dict[tuple[int, int], Watch] = {}  # (reader, number) -> what it matches
        self.index = WatchIndex()
        self.muted: dict[str, float] = {}  # source -> until when (/mute, kept in the store)
        self.changed: Callable[[], None] = lambda: None  # a reader's settings changed (their alerts may go now)

    async def load(self) -> None:
        """Read every reader and watch from the store, replacing what is held (a shared state's other instances)."""
        index, watches, by_id = WatchIndex(), {}, {}
        for reader in await self.store.readers():
            by_id[reader.user_id] = reader
            for number, text in reader.watches:
                try:
                    watch = self.parse(text)
                except WatchError as exc:  # in:SOURCE of a source taken out of the config since
                    logger.warning("bot.watch_unreadable reader=%d watch=%d error=%s", reader.user_id, number, exc)
                    continue
                watches[(reader.user_id, number)] = watch
                index.add(reader.user_id, number, watch)
        self.index, self.watches, self.by_id = index, watches, by_id
        self.muted = await self.store.mutes(time.time())

    def parse(self, text: str) -> Watch:
        """Read a /watch text (WatchError says what is wrong)."""
        return parse_watch(text, sources=self.sources, max_terms=self.max_terms)

    def matching(self, item: Item) -> list[int]:
        """The readers a new line goes to: a watch matches, they are not paused nor blocked, its source is not muted."""
        if not self.watches or self.muted.get(item.source, 0.0) > time.time():
            return []
        found = self.index.match(item.source, item.text)
        return [uid for uid in found if (r := self.by_id.get(uid)) is not None and not r.paused and not r.blocked]

    def terms(self, user_id: int) -> int:
        """How many terms the reader's watches hold in all."""
        return sum(len(w.terms) + len(w.exclude) for (uid, _), w in self.watches.items() if uid == user_id)

    def of(self, user_id: int) -> list[tuple[int, str, Watch]]:
        """The reader's watches: (number, text as typed, watch), oldest first."""
        reader = self.by_id.get(user_id)
        texts = dict(reader.watches) if reader else {}
        return [(n, texts.get(n, ""), w) for (uid, n), w in sorted(self.watches.items()) if uid == user_id]

    async def save(self, reader: Reader) -> Reader:
        """Store a new or changed reader (not their watches) and hold it."""
        await self.store.save_reader(reader)
        self.by_id[reader.user_id] = replace(reader, watches=self.by_id.get(reader.user_id, reader).watches)
        self.changed()
        return self.by_id[reader.user_id]

    async def watch(self, reader: Reader, text: str, watch: Watch) -> int:
        """Store and start matching a reader's watch; return its number."""
        number = await self.store.add_watch(reader.user_id, text)
        held = self.by_id.get(reader.user_id, reader)
        self.by_id[reader.user_id] = replace(held, watches=(*held.watches, (number, text)))
        self.watches[(reader.user_id, number)] = watch
        self.index.add(reader.user_id, number, watch)
        return number

    async def unwatch(self, user_id: int, number: int) -> None:
        """Stop matching and delete a reader's watch."""
        await self.store.remove_watch(user_id, number)
        self.index.remove(user_id, number)
        self.watches.pop((user_id, number), None)
        if (held := self.by_id.get(user_id)) is not None:
            self.by_id[user_id] = replace(held, watches=tuple(w for w in held.watches if w[0] != number))

    async def mute(self, source: str, until: float) -> None:
        """Send no readers' alerts of a source until then (0: from now on again)."""
        await self.store.save_mute(source, until)
        if until:
            self.muted[source] = until
        else:
            self.muted.pop(source, None)

    async def forget(self, user_id: int) -> None:
        """Delete everything about a reader, in the store and here."""
        await self.store.forget_reader(user_id)
        self.index.remove_reader(user_id)
        for key in [k for k in self.watches if k[0] == user_id]:
            del self.watches[key]
        self.by_id.pop(user_id, None)


def in_quiet_hours(reader: Reader, now: float) -> bool:
    """Whether it is the reader's quiet time now (in their time zone)."""
    if reader.quiet is None:
        return False
    local = datetime.fromtimestamp(now, ZoneInfo(reader.tz))
    minute, (start, end) = local.hour * 60 + local.minute, reader.quiet
    return start <= minute < end if start <= end else minute >= start or minute < end
