"""The readers' alerts (outbox channels reader:<user id>) sent as direct messages, oldest first.

One loop for all readers: each reader's chat takes a message a second at most, and every send takes
a share of the bot's global budget that the channels leave unused, so channel alerts go first. Alerts
of a reader in quiet hours wait until they end; of a paused reader they are dropped; of a reader who
blocked the bot they wait (until max_age) for a /start; a deactivated account is forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from telegram import Bot

from ..budget import Rank
from ..channels.telegram import TelegramChannel
from ..cluster import Cluster
from ..config_types import BotConfig, ChannelConfig, DeliveryConfig, TelegramSettings
from ..errors import DeliveryError
from ..models import Alert
from ..pipeline import Deliverer, backoff
from ..store import Reader, Store
from .readers import Readers, in_quiet_hours

logger = logging.getLogger(__name__)
PER_CHAT = 1.0  # seconds between two messages to one reader
IDLE = 60.0  # seconds between looks at the queue when nothing wakes the loop (quiet hours end)
BATCH = 500  # queued alerts read at once, and sent at most at one look
SCAN = 20  # batches read at one look at most, past alerts that must wait
SENDING = 16  # messages to readers in flight at once at most


class ReaderDelivery:
    """Sends queued readers' alerts through the bot, until stop()."""

    def __init__(
        self,
        bot: Bot,
        config: BotConfig,
        delivery: DeliveryConfig,
        store: Store,
        readers: Readers,
        deliverer: Deliverer,
        cluster: Cluster,
    ) -> None:
        self.bot, self.config, self.delivery, self.store, self.readers = bot, config, delivery, store, readers
        self.deliverer, self.cluster = deliverer, cluster
        self.lease = f"readers:{config.bot_id}"
        self.sent = self.failed = 0
        self.oldest: float | None = None  # when the oldest alert that could go at the last look was queued
        self._full = False  # the last look read a whole batch: more may wait
        self.last_error: str | None = None
        self._next: dict[int, float] = {}  # reader -> when their chat may take the next message
        self._paused_until = 0.0  # a 429 pauses every reader's sends (it is the bot's limit)
        self._wake, self._stopping = asyncio.Event(), asyncio.Event()
        self._channels: dict[tuple[int, str], TelegramChannel] = {}
        self.sync: Callable[[], Awaitable[None]] | None = None  # re-reads the readers (instances sharing a state)

    def problems(self, now: float, bound: float) -> list[str]:
        """What /healthz says of the readers' alerts that may go (not quiet, paused, blocked) but waited too long."""
        if self.oldest is None or now - self.oldest <= bound:
            return []
        return [f"bot: readers' alerts waiting for {now - self.oldest:.0f}s (last error: {self.last_error or 'none'})"]

    def wake(self) -> None:
        """New alerts were queued."""
        self._wake.set()

    def stop(self) -> None:
        """Send nothing new; a send under way finishes and is recorded."""
        self._stopping.set()

    async def run_forever(self) -> None:
        """Deliver as alerts are queued; supervised: a fault is logged, backed off from, and tried again."""
        failures = 0
        while not self._stopping.is_set():
            try:
                wait = await self.drain(time.time())
                failures = 0
            except Exception as exc:
                failures += 1
                logger.error("bot.delivery_failed error=%s", exc, exc_info=not isinstance(exc, DeliveryError))
                self.last_error = str(exc)
                wait = backoff(failures, base=self.delivery.retry_base, cap=self.delivery.retry_max)
            self._wake.clear()
            woken = asyncio.ensure_future(self._wake.wait())
            stop = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({woken, stop}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            stop.cancel()

    async def drain(self, now: float) -> float:
        """Send one message to each reader whose chat may take one now; return the seconds until the next look.

        A reader with more than digest_after alerts waiting (quiet hours just ended) gets them as digests.
        """
        if now < self._paused_until:
            return self._paused_until - now
        if not await self.cluster.may_send(self.lease):
            self.oldest = None  # another instance sends them
            return max(self.cluster.wait_for(self.lease), 5.0)
        if self.sync is not None:  # another instance may have taken the reader's /watch, or queued their alert
            await self.sync()
        due, more = await self._sendable(), set()  # more: readers with alerts left after this pass
        self.oldest = min((a.created for alerts in due.values() for a in alerts), default=None)
        sending = asyncio.Semaphore(SENDING)

        async def one(uid: int, alerts: list[Alert]) -> None:
            """The next message to one reader, if their chat and the bot's budget may take it now."""
            async with sending:
                reader = self.readers.by_id.get(uid)
                if self._stopping.is_set() or reader is None:  # reader None: forgotten meanwhile, alerts too
                    return
                if self._next.get(uid, 0.0) > time.time():
                    more.add(uid)
                    return
                channel = self._channel(reader)
                group = channel.pack(alerts)[0] if len(alerts) > channel.config.digest_after else alerts[:1]
                await self.deliverer.budget.take(Rank.READER)
                if time.time() < self._paused_until:  # a 429 meanwhile: the bot waits as a whole
                    more.add(uid)
                    return
                self._next[uid] = time.time() + PER_CHAT
                if await self._send(reader, group):
                    due[uid] = alerts[len(group) :]
                if due[uid]:
                    more.add(uid)

        # Concurrent sends: one at a time, a Bot API 100 ms away would take 10 a second, not the 30 allowed.
        # Every send finishes and is recorded before a fault is raised (none is cancelled half sent).
        results = await asyncio.gather(*(one(uid, alerts) for uid, alerts in due.items()), return_exceptions=True)
        if faults := [r for r in results if isinstance(r, BaseException)]:
            raise faults[0]
        self.oldest = min((due[uid][0].created for uid in more), default=None)
        waits = [self._next.get(uid, 0.0) - time.time() for uid in more] + ([0.0] if self._full else [])
        return max(min([IDLE, *waits]), self._paused_until - time.time(), 0.05)

    async def run_until_empty(self, deadline: float) -> None:
        """Send what may go now (`monitor --once`) until nothing is left to send or the deadline passes.

        Alerts of readers in quiet hours or who blocked the bot stay queued for the service.
        """
        while not self._stopping.is_set() and time.time() < deadline:
            wait = await self.drain(time.time())
            if self.oldest is None and not self._full:
                return
            await asyncio.sleep(min(wait, max(0.0, deadline - time.time())))

    async def _sendable(self) -> dict[int, list[Alert]]:
        """The queued alerts that may go, by reader, oldest first (up to a batch); drop those that never will.

        Alerts that must wait (a reader in quiet hours, or who blocked the bot) are read past, up to SCAN
        batches: a thousand of them at the head of the queue must not hold up everyone else's.
        """
        due: dict[int, list[Alert]] = {}
        found, after, self._full = 0, 0, False
        for _ in range(SCAN):
            queue = await self.store.load_reader_queue(limit=BATCH, after=after)
            for alert in queue:
                uid = int(alert.channel.partition(":")[2])
                reader = self.readers.by_id.get(uid)
                if reader is None or alert.created < time.time() - self.delivery.max_age or reader.paused:
                    why = "no such reader" if reader is None else "paused" if reader.paused else "expired undelivered"
                    await self.store.mark_failed(alert.id, why)
                    self.failed += 1
                elif not reader.blocked and not in_quiet_hours(reader, time.time()):
                    due.setdefault(uid, []).append(alert)
                    found += 1
            if len(queue) < BATCH:
                break
            if found >= BATCH:
                self._full = True  # more may go than one look takes: look again at once
                break
            after = queue[-1].id
        return due

    async def _send(self, reader: Reader, group: list[Alert]) -> bool:
        """Send one message (an alert, or a digest of several) and record what happened; False if it stays queued."""
        ids = [a.id for a in group]
        try:
            message_id = await self._channel(reader).send(group)
        except DeliveryError as exc:
            return await self._refused(reader, group, exc)
        await self.store.mark_delivered(ids, message_id)
        self.sent += len(ids)
        logger.info("bot.alert_sent reader=%d count=%d", reader.user_id, len(ids))
        return True

    async def _refused(self, reader: Reader, group: list[Alert], exc: DeliveryError) -> bool:
        """Record a refused send: True when the alerts are done with (failed), False when they stay queued."""
        error = self.last_error = str(exc)
        if "deactivated" in error:  # the account is gone: so is everything about it
            logger.info("bot.reader_gone reader=%d", reader.user_id)
            await self.readers.forget(reader.user_id)
            return True
        if "blocked" in error:  # kept queued, tried again when they /start
            logger.info("bot.reader_blocked reader=%d", reader.user_id)
            await self.readers.save(replace(reader, blocked=True))
            for alert in group:
                await self.store.schedule_retry(alert.id, error)
            return True  # nothing to wait for: a /start wakes the loop
        if exc.retry_after is not None:  # the bot's own limit: every reader waits
            self._paused_until = time.time() + exc.retry_after
        attempts = group[0].attempts + 1
        if exc.permanent or (exc.unexpected and attempts >= self.delivery.max_attempts):
            logger.warning("bot.alert_failed reader=%d error=%s", reader.user_id, error)
            for alert in group:
                await self.store.mark_failed(alert.id, error)
            self.failed += len(group)
            return True
        self._next[reader.user_id] = time.time() + backoff(
            attempts, base=self.delivery.retry_base, cap=self.delivery.retry_max
        )
        for alert in group:
            await self.store.schedule_retry(alert.id, error, parts_sent=exc.parts_sent if len(group) == 1 else 0)
        return False

    def _channel(self, reader: Reader) -> TelegramChannel:
        """The reader's chat as a telegram channel (its template, their time zone) on the bot's connections."""
        key = (reader.user_id, reader.tz)
        channel = self._channels.get(key)
        if channel is None:
            settings = TelegramSettings(str(reader.user_id), self.config.token, api_base_url=self.config.api_base_url)
            config = ChannelConfig(name=f"reader:{reader.user_id}", kind=settings, timezone=reader.tz)
            channel = self._channels[key] = TelegramChannel(config, bot=self.bot)
            if len(self._channels) > 2 * self.config.max_users:
                self._channels = {key: channel}
        return channel
