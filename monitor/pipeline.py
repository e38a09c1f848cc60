"""The flow, top to bottom: poll_once (source → outbox) and Deliverer (outbox → channels)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter

from .budget import Budget, Rank
from .channels import Channel
from .cluster import Cluster, Solo
from .config_types import AnySource, DedupConfig, DeliveryConfig
from .errors import DeliveryError, MonitorError
from .memo import PollMemo, digest
from .models import Alert, Entry, Item, Outgoing, PollResult
from .normalize import clean, fingerprint, words
from .rules import Matcher
from .similar import is_edit
from .sources import Source
from .store import Store

logger = logging.getLogger(__name__)


def to_items(source: str, entries: Sequence[Entry]) -> list[Item]:
    """Normalise extracted entries into items, one per fingerprint, in page order."""
    items: dict[str, Item] = {}
    for entry in entries:
        text = clean(entry.text)
        if text:
            fp = fingerprint(text)
            items.setdefault(fp, Item(source, text, entry.link, fp))
    return list(items.values())


async def find_edits(store: Store, source: str, new: Sequence[Item], since: float) -> dict[str, str]:
    """Map each new item that is an edited version of a recent line of its source to that line."""
    if not new:
        return {}
    recent = [(fp, words(text)) for fp, text in await store.recent(source, since)]
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
    dedup: DedupConfig,
    dry_run: bool = False,
    readers: Callable[[Item], Iterable[int]] | None = None,
    memo: PollMemo | None = None,
) -> PollResult:
    """Poll one source: fetch, extract, normalise, drop seen items, match rules and readers' watches, queue alerts.

    With a memo, a poll that finds exactly the lines the source's last recorded poll found is done
    there: nothing in them is new, and the state is not written (memo.py says why that is safe).
    """
    cfg = source.config
    try:
        entries = await source.entries()
    except Exception as exc:  # a bug or a page that breaks the parser must not stop other sources
        return _failed(cfg.name, exc)
    if entries is None:
        logger.debug("poll.unchanged source=%s", cfg.name)
        return PollResult(cfg.name, unchanged=True)
    now, key = time.time(), b""
    if memo is not None and not dry_run:
        key = digest(entries)
        if (found := memo.same(cfg.name, key, now)) is not None:
            logger.debug("poll.same source=%s found=%d", cfg.name, found)
            return PollResult(cfg.name, found)
    try:
        items = to_items(cfg.name, entries)
        result = await _remember(cfg, items, store, matcher, dry_run, dedup, readers)
    except Exception as exc:  # the state store failed (locked, disk full): this poll failed, nothing is lost
        # Nothing of this page was recorded, so its lines are new again next poll, which must fetch
        # the page whole: a 304 would be taken for "nothing changed".
        source.forget_validators()
        if memo is not None:
            memo.forget(cfg.name)
        return _failed(cfg.name, exc, state_fault=True)
    if key and memo is not None:
        memo.remember(cfg.name, key, len(items), now)
    return result


def _failed(source: str, exc: Exception, *, state_fault: bool = False) -> PollResult:
    """Log a failed poll (a bug with its traceback) and return its result."""
    if isinstance(exc, MonitorError):
        logger.log(logging.ERROR if state_fault else logging.WARNING, "poll.failed source=%s error=%s", source, exc)
        return PollResult(source, error=str(exc), state_fault=state_fault)
    logger.exception("poll.crashed source=%s", source)
    return PollResult(source, error=_internal(exc), state_fault=state_fault)


async def _remember(
    cfg: AnySource,
    items: list[Item],
    store: Store,
    matcher: Matcher,
    dry_run: bool,
    dedup: DedupConfig,
    readers: Callable[[Item], Iterable[int]] | None = None,
) -> PollResult:
    """Drop seen items, match rules and readers' watches, and queue the alerts of the new ones, in one transaction."""
    new = await store.unseen(cfg.name, items)
    baseline = not await store.has_baseline(cfg.name)
    edits = {} if baseline else await find_edits(store, cfg.name, new, time.time() - dedup.edit_window)
    fresh = [i for i in new if cfg.on_edit == "send" or i.fingerprint not in edits]
    # Tickers list the newest first: the first poll sends only the newest `backfill` items,
    # and everything goes out oldest first.
    to_send = fresh[: cfg.backfill] if baseline else fresh
    alerts = [
        Outgoing(channel, item, route.silent, urgent=route.urgent, rule=", ".join(route.rules))
        for item in reversed(to_send)
        for channel, route in matcher.channels_for(item).items()
    ]
    if readers is not None:  # readers' own /watch terms: a direct message each (channel reader:<user id>)
        alerts += [
            Outgoing(f"reader:{uid}", item, False, rule="watch") for item in reversed(to_send) for uid in readers(item)
        ]
    if cfg.on_edit == "edit":
        alerts += [
            Outgoing(channel, item, silent=True, edit_of=message_id)
            for item in reversed(new)
            if item.fingerprint in edits
            for channel, message_id in await store.sent_messages(cfg.name, edits[item.fingerprint])
        ]
    queued = (
        len(alerts)
        if dry_run
        else await store.record(cfg.name, items, alerts, edits=edits, same_line_window=dedup.same_line_window)
    )
    logger.log(
        logging.INFO if new or baseline else logging.DEBUG,  # a poll with nothing new is routine
        "poll.done source=%s found=%d new=%d edits=%d queued=%d%s",
        cfg.name,
        len(items),
        len(new),
        len(edits),
        queued,
        " baseline=yes" if baseline else "",
    )
    return PollResult(
        cfg.name, len(items), len(new), queued, baseline, edits=len(edits), alerts=tuple(alerts), lines=tuple(new)
    )


def backoff(attempts: int, *, base: float, cap: float) -> float:
    """Seconds to wait after the n-th failed attempt: exponential, capped, jittered to 50-100%."""
    return random.uniform(0.5, 1.0) * min(cap, base * 2.0 ** max(attempts - 1, 0))


@dataclass(slots=True)
class ChannelTally:
    """Delivery counts of one channel in this process."""

    sent: int = 0
    failed: int = 0
    last_error: str | None = None
    blocked: str | None = None  # why the channel cannot send at all ("token refused"), until a send passes


@dataclass
class Deliverer:
    """Sends queued alerts to their channels, oldest first, within Telegram's limits.

    Limits and pauses are kept per chat (two channels naming one chat share them), and a 429 or
    a transient fault pauses only that chat: other chats keep flowing. Any fault, expected or not,
    pauses the chat and is retried: no exception ends a channel's delivery loop.

    A channel refused as a whole (Telegram refused its token) is blocked: its alerts stay queued,
    it sends nothing for retry_max, then tries its oldest alert once more. A reload, which builds
    a new Deliverer, tries at once; `--once` (run_until_empty) gives up on the channel at once.
    """

    store: Store
    channels: Mapping[str, Channel]
    config: DeliveryConfig
    tally: dict[str, ChannelTally] = field(default_factory=dict)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _wakes: dict[str, asyncio.Event] = field(default_factory=dict)
    _resume_at: dict[str, float] = field(default_factory=dict)
    _blocked_until: dict[str, float] = field(default_factory=dict)  # per channel: a token is a channel's, not a chat's
    _limits: dict[str, list[AsyncLimiter]] = field(default_factory=dict)
    _logged: dict[str, str] = field(default_factory=dict)
    _unrecorded: dict[str, list[tuple[list[int], str | None]]] = field(default_factory=dict)
    on_result: Callable[[str, int, int], None] | None = None  # (channel, sent, failed), for metrics
    cluster: Cluster = field(default_factory=Solo)  # who sends to which chat, when instances share the state
    _budgeted: set[str] = field(default_factory=set)  # chats within the bot's global rate (Telegram's)
    budget: Budget = field(init=False)  # the bot's global rate: channels first, then readers' replies and alerts

    def __post_init__(self) -> None:
        self.budget = Budget(self.config.per_second_total, lambda: self.cluster.budget_cost())
        for name, channel in self.channels.items():
            self.tally[name] = ChannelTally()
            self._wakes[name] = asyncio.Event()
            self._unrecorded[name] = []
            cfg = channel.config
            if cfg.chat_key in self._limits:
                continue
            limits = self._limits[cfg.chat_key] = []
            if cfg.per_second:
                limits.append(AsyncLimiter(1, 1 / cfg.per_second))
                self._budgeted.add(cfg.chat_key)
            if cfg.per_minute:
                limits.append(AsyncLimiter(cfg.per_minute, 60))

    def wake(self) -> None:
        """New alerts were queued: every channel's loop looks at its queue now."""
        for event in self._wakes.values():
            event.set()

    def stop(self) -> None:
        """Send nothing new; a send under way finishes and is recorded."""
        self._stopping.set()

    async def due_in(self, name: str) -> float | None:
        """Seconds until the channel may send again, or None when its queue is empty."""
        if not await self.store.count_queued(name) and not self._unrecorded[name]:
            return None
        key, now = self.channels[name].config.chat_key, time.time()
        wait = max(0.0, self._resume_at.get(key, 0.0) - now, self._blocked_until.get(name, 0.0) - now)
        # Another instance sends to this chat: try to take it over now and then (a NOTIFY wakes us sooner).
        return max(wait, self.cluster.wait_for(key))

    async def stalled(self, now: float, bound: float) -> list[str]:
        """Name the blocked channels, and those whose oldest queued alert has waited longer than bound seconds."""
        problems = []
        for name in self.channels:
            tally = self.tally[name]
            if tally.blocked:
                problems.append(f"channel {name}: {tally.blocked}, its alerts wait (last error: {tally.last_error})")
                continue
            oldest = await self.store.oldest_queued(name)
            if oldest is not None and now - oldest > bound:
                last = self.tally[name].last_error or "none"
                problems.append(f"channel {name}: alerts waiting for {now - oldest:.0f}s (last error: {last})")
        return problems

    async def drain(self, name: str) -> None:
        """Send the channel's queued alerts until none is left or the chat must pause.

        When more than the channel's digest_after alerts wait at once (a burst, or a backlog
        after an outage), they go out as digests instead of a flood. A fault of the state store
        raises StateError (the caller backs off); what was sent meanwhile is recorded first next time.
        """
        channel, tally = self.channels[name], self.tally[name]
        key = channel.config.chat_key
        await self._record_sent(name)  # sends the store could not record yet: before anything is sent again
        if expired := await self.store.expire(name, time.time() - self.config.max_age):
            tally.failed += expired
            self._count(name, 0, expired)
            logger.warning("alert.expired channel=%s count=%d max_age=%gs", name, expired, self.config.max_age)
        if time.time() < self._blocked_until.get(name, 0.0):
            return
        while time.time() >= self._resume_at.get(key, 0.0):
            if not await self.cluster.may_send(key):
                return  # another instance sends to this chat
            alerts = await self.store.load_queue(name, limit=200)
            if not alerts:
                return
            # Edits change one message each; everything else may be folded into digests.
            digest = len(alerts) > channel.config.digest_after and not any(a.edit_of for a in alerts)
            for group in channel.pack(alerts) if digest else [[a] for a in alerts]:
                if self._stopping.is_set():
                    return
                for limiter in self._limits[key]:
                    await limiter.acquire()
                if key in self._budgeted:  # n instances: each sends at most 1/n of the bot's rate
                    await self.budget.take(Rank.CHANNEL)
                if not await self.cluster.may_send(key):
                    return  # our lease lapsed (the state database is unreachable?): another instance may send
                if not await self._send(name, group):
                    return

    async def _send(self, name: str, group: list[Alert]) -> bool:
        """Send one message and record the outcome; False when the chat must pause."""
        ids = [a.id for a in group]
        try:
            message_id = await self.channels[name].send(group)
        except DeliveryError as exc:
            return await self._refused(name, group, exc)
        except Exception as exc:  # a reply that is not what the API promises, a bug in a channel
            self._crashed(name, exc)
            return await self._refused(name, group, DeliveryError(_internal(exc), unexpected=True))
        tally = self.tally[name]
        tally.sent += len(ids)
        self._count(name, len(ids), 0)
        self._logged.pop(name, None)  # after a recovery, the next fault is news again
        if tally.blocked:
            logger.info("channel.unblocked channel=%s", name)
            tally.blocked = None
        logger.info("alert.sent channel=%s count=%d ids=%s", name, len(ids), _span(ids))
        # A crash between the channel's answer and this commit re-sends this one message after a
        # restart: the only window for a duplicate. A failed commit is retried before the next send.
        self._unrecorded[name].append((ids, message_id))
        await self._record_sent(name)
        return True

    async def _refused(self, name: str, group: list[Alert], exc: DeliveryError) -> bool:
        """Record a refused send: failed for good, or kept queued while the chat pauses or the channel is blocked
        (then False)."""
        self._note_error(name, exc)
        attempts = group[0].attempts + 1
        if exc.permanent or (exc.unexpected and attempts >= self.config.max_attempts):
            for alert in group:
                await self.store.mark_failed(alert.id, str(exc))
            self.tally[name].failed += len(group)
            self._count(name, 0, len(group))
            return True
        if exc.blocked:  # nothing this channel sends can pass: it stops, its alerts stay queued
            self.tally[name].blocked = exc.blocked
            self._blocked_until[name] = time.time() + self.config.retry_max
        else:
            wait = exc.retry_after if exc.retry_after is not None else self._backoff(attempts)
            # The whole chat pauses, so its alerts still go out in order.
            self._resume_at[self.channels[name].config.chat_key] = time.time() + wait
        parts = exc.parts_sent if len(group) == 1 else 0
        for alert in group:
            await self.store.schedule_retry(alert.id, str(exc), parts_sent=parts)
        return False

    async def _record_sent(self, name: str) -> None:
        """Write the sends not yet recorded, oldest first (raises StateError if the store still fails)."""
        pending = self._unrecorded[name]
        while pending:
            ids, message_id = pending[0]
            await self.store.mark_delivered(ids, message_id)
            pending.pop(0)

    def _backoff(self, attempts: int) -> float:
        return backoff(attempts, base=self.config.retry_base, cap=self.config.retry_max)

    def _count(self, name: str, sent: int, failed: int) -> None:
        if self.on_result is not None:
            self.on_result(name, sent, failed)

    def _note_error(self, name: str, exc: DeliveryError) -> None:
        """Log a channel's error once, not once per alert or per retry."""
        error = self.tally[name].last_error = str(exc)
        if self._logged.get(name) != error:
            if exc.blocked:  # the operator must act
                logger.error("channel.blocked channel=%s error=%s; its alerts stay queued", name, error)
            else:
                logger.warning("alert.failed channel=%s error=%s", name, error)
            self._logged[name] = error

    def _crashed(self, name: str, exc: Exception) -> None:
        """Log a delivery loop's fault: a store fault in its words, anything else with its traceback (once each)."""
        if isinstance(exc, MonitorError):
            error = str(exc)
            if self._logged.get(name) != error:
                logger.error("delivery.failed channel=%s error=%s", name, error)
        else:
            error = _internal(exc)
            if self._logged.get(name) != error:
                logger.error("delivery.crashed channel=%s error=%s", name, error, exc_info=exc)
        self.tally[name].last_error = error
        self._logged[name] = error

    async def run_until_empty(self, deadline: float) -> None:
        """Deliver every channel's queue (channels in parallel), giving up at the deadline."""
        await asyncio.gather(*(self._empty(name, deadline) for name in self.channels))

    async def _empty(self, name: str, deadline: float) -> None:
        failures = 0
        while time.time() < deadline and not self.tally[name].blocked:  # blocked: no use waiting for the deadline
            try:
                wait = await self.due_in(name)
                if wait is None:
                    return
                if time.time() + wait >= deadline:
                    return
                await asyncio.sleep(wait)
                await self.drain(name)
                failures = 0
            except Exception as exc:  # one channel's fault must not cut the others' sends short
                self._crashed(name, exc)
                failures += 1
                await asyncio.sleep(min(self._backoff(failures), max(0.0, deadline - time.time())))

    async def run_forever(self, name: str) -> None:
        """Deliver one channel's alerts as they are queued, until stop().

        Supervised: any exception is logged (once per kind), the loop backs off and goes on. A send
        under way when stop() is called finishes and is recorded, so a clean stop never leaves a
        sent alert marked queued.
        """
        wake, failures = self._wakes[name], 0
        while not self._stopping.is_set():
            try:
                await self.drain(name)
                wait = await self.due_in(name)
                failures = 0
            except Exception as exc:
                self._crashed(name, exc)
                failures += 1
                wait = self._backoff(failures)
            wake.clear()
            woken = asyncio.ensure_future(wake.wait())
            stop = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({woken, stop}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            stop.cancel()


def _internal(exc: BaseException) -> str:
    """One line for an exception nobody planned for."""
    return f"internal error: {type(exc).__name__}: {exc}"
