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
from dataclasses import replace

from telegram import Bot

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
        self._next: dict[int, float] = {}  # reader -> when their chat may take the next message
        self._paused_until = 0.0  # a 429 pauses every reader's sends (it is the bot's limit)
        self._wake, self._stopping = asyncio.Event(), asyncio.Event()
        self._channels: dict[tuple[int, str], TelegramChannel] = {}

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
                wait = backoff(failures, base=self.delivery.retry_base, cap=self.delivery.retry_max)
            self._wake.clear()
            woken = asyncio.ensure_future(self._wake.wait())
            stop = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({woken, stop}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            stop.cancel()

    async def drain(self, now: float) -> float:
        """Send what may go now; return the seconds until the next look."""
        if now < self._paused_until:
            return self._paused_until - now
        if not await self.cluster.may_send(self.lease):
            return max(self.cluster.wait_for(self.lease), 5.0)
        wait, waiting = IDLE, set()  # readers with an older alert still waiting: theirs go out in order
        for alert in await self.store.load_reader_queue(limit=200):
            if self._stopping.is_set():
                break
            uid = int(alert.channel.partition(":")[2])
            reader = self.readers.by_id.get(uid)
            if reader is None or alert.created < time.time() - self.delivery.max_age or reader.paused:
                why = "no such reader" if reader is None else "paused" if reader.paused else "expired undelivered"
                await self.store.mark_failed(alert.id, why)
                self.failed += 1
                continue
            if uid in waiting or reader.blocked or in_quiet_hours(reader, time.time()):
                waiting.add(uid)
                continue
            due = self._next.get(uid, 0.0) - time.time()
            if due > 0:
                waiting.add(uid)
                wait = min(wait, due)
                continue
            await self.deliverer.spare_send()
            self._next[uid] = time.time() + PER_CHAT
            if not await self._send(reader, alert):
                waiting.add(uid)
                wait = min(wait, max(PER_CHAT, self._paused_until - time.time()))
        return wait

    async def _send(self, reader: Reader, alert: Alert) -> bool:
        """Send one alert; record what happened. False when it stays queued."""
        try:
            message_id = await self._channel(reader).send([alert])
        except DeliveryError as exc:
            return await self._refused(reader, alert, exc)
        await self.store.mark_delivered([alert.id], message_id)
        self.sent += 1
        logger.info("bot.alert_sent reader=%d id=%d", reader.user_id, alert.id)
        return True

    async def _refused(self, reader: Reader, alert: Alert, exc: DeliveryError) -> bool:
        error = str(exc)
        if "deactivated" in error:  # the account is gone: so is everything about it
            logger.info("bot.reader_gone reader=%d", reader.user_id)
            await self.readers.forget(reader.user_id)
            return False
        if "blocked" in error:
            logger.info("bot.reader_blocked reader=%d", reader.user_id)
            await self.readers.save(replace(reader, blocked=True))
            await self.store.schedule_retry(alert.id, error)
            return False
        if exc.retry_after is not None:
            self._paused_until = time.time() + exc.retry_after
        if exc.permanent or alert.attempts + 1 >= self.delivery.max_attempts:
            logger.warning("bot.alert_failed reader=%d error=%s", reader.user_id, error)
            await self.store.mark_failed(alert.id, error)
            self.failed += 1
            return True
        self._next[reader.user_id] = time.time() + backoff(
            alert.attempts + 1, base=self.delivery.retry_base, cap=self.delivery.retry_max
        )
        await self.store.schedule_retry(alert.id, error)
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
