"""The flow, top to bottom: poll_once (source → outbox) and Deliverer (outbox → channels)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter

from .channels import Channel
from .errors import DeliveryError, MonitorError
from .models import Entry, Item, Outgoing
from .normalize import clean, fingerprint, words
from .rules import Matcher
from .similar import is_edit
from .sources import Source
from .store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll of one source found and did."""

    source: str
    found: int = 0
    new: int = 0
    queued: int = 0
    baseline: bool = False
    error: str | None = None
    unchanged: bool = False  # the server said 304 Not Modified
    edits: int = 0
    alerts: tuple[Outgoing, ...] = ()


def to_items(source: str, entries: Sequence[Entry]) -> list[Item]:
    """Normalise extracted entries into items, one per fingerprint, in page order."""
    items: dict[str, Item] = {}
    for entry in entries:
        text = clean(entry.text)
        if text:
            fp = fingerprint(text)
            items.setdefault(fp, Item(source, text, entry.link, fp))
    return list(items.values())


def find_edits(store: Store, source: str, new: Sequence[Item], since: float) -> dict[str, str]:
    """Map each new item that is an edited version of a recent line of its source to that line."""
    if not new:
        return {}
    recent = [(fp, words(text)) for fp, text in store.recent(source, since)]
    edits = {}
    for item in new:
        mine = words(item.text)
        match = next((fp for fp, theirs in recent if is_edit(mine, theirs)), None)
        if match is not None:
            edits[item.fingerprint] = match
    return edits


def _span(ids: Sequence[int]) -> str:
    return f"{ids[0]}-{ids[-1]}" if len(ids) > 1 else str(ids[0])


async def poll_once(
    source: Source,
    store: Store,
    matcher: Matcher,
    *,
    dry_run: bool = False,
    edit_window: float = 6 * 3600.0,
    same_line_window: float = 3600.0,
) -> PollResult:
    """Poll one source: fetch, extract, normalise, drop seen items, match rules, queue alerts."""
    cfg = source.config
    try:
        entries = await source.entries()
    except MonitorError as exc:
        logger.warning("poll.failed source=%s error=%s", cfg.name, exc)
        return PollResult(cfg.name, error=str(exc))
    except Exception as exc:  # a bug or a page that breaks the parser must not stop other sources
        logger.exception("poll.crashed source=%s", cfg.name)
        return PollResult(cfg.name, error=f"internal error: {type(exc).__name__}: {exc}")
    if entries is None:
        logger.debug("poll.unchanged source=%s", cfg.name)
        return PollResult(cfg.name, unchanged=True)
    items = to_items(cfg.name, entries)
    new = store.unseen(cfg.name, items)
    baseline = not store.has_baseline(cfg.name)
    edits = {} if baseline else find_edits(store, cfg.name, new, time.time() - edit_window)
    fresh = [i for i in new if cfg.on_edit == "send" or i.fingerprint not in edits]
    # Tickers list the newest first: the first poll sends only the newest `backfill` items,
    # and everything goes out oldest first.
    to_send = fresh[: cfg.backfill] if baseline else fresh
    alerts = [
        Outgoing(channel, item, route.silent, urgent=route.urgent)
        for item in reversed(to_send)
        for channel, route in matcher.channels_for(item).items()
    ]
    if cfg.on_edit == "edit":
        alerts += [
            Outgoing(channel, item, silent=True, edit_of=message_id)
            for item in reversed(new)
            if item.fingerprint in edits
            for channel, message_id in store.sent_messages(cfg.name, edits[item.fingerprint])
        ]
    queued = len(alerts) if dry_run else store.record(
        cfg.name, items, alerts, edits=edits, same_line_window=same_line_window
    )
    logger.log(
        logging.INFO if new or baseline else logging.DEBUG,  # a poll with nothing new is routine
        "poll.done source=%s found=%d new=%d edits=%d queued=%d%s",
        cfg.name, len(items), len(new), len(edits), queued, " baseline=yes" if baseline else "",
    )
    return PollResult(cfg.name, len(items), len(new), queued, baseline, edits=len(edits), alerts=tuple(alerts))


def backoff(attempts: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Seconds to wait after the n-th failed attempt: exponential, capped, jittered to 50-100%."""
    return random.uniform(0.5, 1.0) * min(cap, base * 2 ** max(attempts - 1, 0))


@dataclass(slots=True)
class ChannelTally:
    """Delivery counts of one channel in this process."""

    sent: int = 0
    failed: int = 0
    last_error: str | None = None


@dataclass
class Deliverer:
    """Sends queued alerts to their channels, oldest first, within Telegram's limits.

    Limits and pauses are kept per chat (two channels naming one chat share them), and a 429 or
    a transient fault pauses only that chat: other chats keep flowing.
    """

    store: Store
    channels: Mapping[str, Channel]
    max_age: float = 86400.0
    per_second_total: float = 30.0
    retry_base: float = 2.0
    retry_max: float = 300.0
    tally: dict[str, ChannelTally] = field(default_factory=dict)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _resume_at: dict[str, float] = field(default_factory=dict)
    _limits: dict[str, list[AsyncLimiter]] = field(default_factory=dict)
    _logged: dict[str, str] = field(default_factory=dict)
    on_result: Callable[[str, int, int], None] | None = None  # (channel, sent, failed), for metrics

    def __post_init__(self) -> None:
        total = AsyncLimiter(self.per_second_total, 1)
        for name, channel in self.channels.items():
            self.tally[name] = ChannelTally()
            cfg = channel.config
            if cfg.chat_key in self._limits:
                continue
            limits = self._limits[cfg.chat_key] = []
            if cfg.per_second:
                limits += [AsyncLimiter(1, 1 / cfg.per_second), total]
            if cfg.per_minute:
                limits.append(AsyncLimiter(cfg.per_minute, 60))

    def due_in(self, name: str) -> float | None:
        """Seconds until the channel may send again, or None when its queue is empty."""
        if not self.store.count_queued(name):
            return None
        key = self.channels[name].config.chat_key
        return max(0.0, self._resume_at.get(key, 0.0) - time.time())

    async def drain(self, name: str) -> None:
        """Send the channel's queued alerts until none is left or the chat must pause.

        When more than the channel's digest_after alerts wait at once (a burst, or a backlog
        after an outage), they go out as digests instead of a flood.
        """
        channel, tally = self.channels[name], self.tally[name]
        key = channel.config.chat_key
        if expired := self.store.expire(name, time.time() - self.max_age):
            tally.failed += expired
            self._count(name, 0, expired)
            logger.warning("alert.expired channel=%s count=%d max_age=%gs", name, expired, self.max_age)
        while time.time() >= self._resume_at.get(key, 0.0):
            alerts = self.store.queued(name, limit=200)
            if not alerts:
                return
            # Edits change one message each; everything else may be folded into digests.
            digest = len(alerts) > channel.config.digest_after and not any(a.edit_of for a in alerts)
            for group in channel.pack(alerts) if digest else [[a] for a in alerts]:
                if self.stopping.is_set():
                    return
                for limiter in self._limits[key]:
                    await limiter.acquire()
                ids = [a.id for a in group]
                try:
                    message_id = await channel.send(group)
                except DeliveryError as exc:
                    self._note_error(name, str(exc))
                    if exc.permanent:
                        for alert_id in ids:
                            self.store.failed(alert_id, str(exc))
                        tally.failed += len(ids)
                        self._count(name, 0, len(ids))
                        continue
                    wait = exc.retry_after if exc.retry_after is not None else backoff(
                        group[0].attempts + 1, base=self.retry_base, cap=self.retry_max
                    )
                    # The whole chat pauses, so its alerts still go out in order.
                    self._resume_at[key] = time.time() + wait
                    for alert_id in ids:
                        self.store.retry(alert_id, str(exc))
                    return
                # A crash between Telegram's answer and this commit re-sends this one message
                # after a restart: the only window for a duplicate.
                self.store.delivered(ids, message_id)
                tally.sent += len(ids)
                self._count(name, len(ids), 0)
                self._logged.pop(name, None)  # after a recovery, the next fault is news again
                logger.info("alert.sent channel=%s count=%d ids=%s", name, len(ids), _span(ids))

    def _count(self, name: str, sent: int, failed: int) -> None:
        if self.on_result is not None:
            self.on_result(name, sent, failed)

    def _note_error(self, name: str, error: str) -> None:
        """Log a channel's error once, not once per alert or per retry."""
        self.tally[name].last_error = error
        if self._logged.get(name) != error:
            logger.warning("alert.failed channel=%s error=%s", name, error)
            self._logged[name] = error

    async def run_until_empty(self, deadline: float) -> None:
        """Deliver every channel's queue (channels in parallel), giving up at the deadline."""
        await asyncio.gather(*(self._empty(name, deadline) for name in self.channels))

    async def _empty(self, name: str, deadline: float) -> None:
        while (wait := self.due_in(name)) is not None and time.time() + wait < deadline:
            await asyncio.sleep(wait)
            await self.drain(name)

    async def run_forever(self, name: str, wake: asyncio.Event) -> None:
        """Deliver one channel's alerts as they are queued, until stopping is set.

        wake is set when a poll queues alerts. A send under way when stopping is set finishes
        and is recorded, so a clean stop never leaves a sent alert marked queued.
        """
        while not self.stopping.is_set():
            await self.drain(name)
            wait = self.due_in(name)
            wake.clear()
            woken = asyncio.ensure_future(wake.wait())
            stop = asyncio.ensure_future(self.stopping.wait())
            await asyncio.wait({woken, stop}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            stop.cancel()
