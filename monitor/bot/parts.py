"""The readers' bot as the service runs it: its client, readers, commands, listener and deliveries, built as a unit."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from dataclasses import dataclass, field

from telegram import Bot
from telegram.error import TelegramError

from ..cluster import Cluster
from ..config_types import Config
from ..pipeline import Deliverer
from ..store import Store
from .commands import Commands
from .delivery import ReaderDelivery
from .readers import Readers
from .updates import Listener, make_bot


def freeze_long_lived() -> None:
    """Keep the garbage collector from walking what lives until the next reload, the watches above all.

    Matching a line that thousands of readers watch allocates enough to start full collections, and
    each walked the whole index: gc.freeze() made such lines 3-5x faster (bench/watches.py). Garbage
    left by the runtime a reload replaces is collected first, so reloads do not pile it up.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@dataclass
class BotParts:
    """The parts of the bot one runtime holds."""

    bot: Bot
    readers: Readers
    commands: Commands
    listener: Listener
    delivery: ReaderDelivery
    _offset: int = -1  # the bot's update offset when the readers were last read (instances sharing a state)
    _syncing: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def sync(self) -> None:
        """Before a poll or a delivery on a shared state: re-read the readers if another instance took commands since.

        The listener's own instance changes its index as it handles them; the others look at the stored
        update offset (one row) and read the readers again when it moved, so a /watch taken by any
        instance matches the next line polled by any other.
        """
        if self.listener.listening:
            return
        async with self._syncing:
            offset = await self.readers.store.bot_offset(self.listener.config.bot_id)
            if offset != self._offset:
                await self.readers.load()
                self._offset = offset

    def problems(self, now: float, bound: float) -> list[str]:
        """What /healthz says of the bot: its updates and its readers' alerts."""
        return self.listener.problems(now, bound) + self.delivery.problems(now, bound)

    async def close(self) -> None:
        """Close the bot's connections."""
        with contextlib.suppress(TelegramError):
            await self.bot.shutdown()


async def open_bot(
    config: Config, store: Store, deliverer: Deliverer, cluster: Cluster, bot: Bot | None = None
) -> BotParts | None:
    """Build the bot of config.bot (None without one), its readers and watches read from the store."""
    if config.bot is None:
        return None
    bot = bot or make_bot(config.bot)
    readers = Readers(store, [s.name for s in config.sources], max_terms=config.bot.max_terms)
    await readers.load()
    freeze_long_lived()
    commands = Commands(config.bot, readers, store, config.sources)
    delivery = ReaderDelivery(bot, config.bot, config.delivery, store, readers, deliverer, cluster)
    readers.changed = delivery.wake  # a reader back from blocking or quiet: their alerts go now
    listener = Listener(bot, config.bot, store, commands, readers, cluster, deliverer.budget)
    parts = BotParts(bot, readers, commands, listener, delivery)
    if cluster.shared:
        delivery.sync = parts.sync
    return parts
