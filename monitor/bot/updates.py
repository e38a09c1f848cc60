"""The bot's ears: a supervised long-polling loop of getUpdates, one listener per token among the instances.

The offset of the next update is stored after each command is run and before its reply is sent, so
a restart neither loses a command nor runs one twice (a crash in between loses that one reply).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

from telegram import Bot, LinkPreviewOptions, Update
from telegram.error import Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from ..budget import Budget, Rank
from ..channels.telegram import retry_seconds
from ..cluster import Cluster
from ..config_types import BotConfig
from ..errors import MonitorError
from ..pipeline import backoff
from ..store import Store
from .commands import Commands, Message
from .readers import Readers

logger = logging.getLogger(__name__)
ALLOWED_UPDATES = ("message", "edited_message")
SHARED_POLL = 10.0  # seconds a long poll may last when instances share the state: well within the lease
LEASE_RETRY = 5.0  # seconds between asks for the listener's lease while another instance holds it
REPLY_TRIES = 3  # sends of one reply at most (a 429, a network fault)
REPLY_WAIT = 30.0  # seconds a reply may wait for Telegram; a longer 429 drops it (the reader may ask again)
_T = TypeVar("_T")


def make_bot(config: BotConfig) -> Bot:
    """The bot's client: its own connections, a read timeout that outlasts the long poll."""
    return Bot(
        config.token,
        base_url=config.api_base_url,
        request=HTTPXRequest(connect_timeout=10, read_timeout=20, write_timeout=20),
        get_updates_request=HTTPXRequest(connect_timeout=10, read_timeout=10, write_timeout=10),
    )


def read(update: Update) -> Message | None:
    """The message of an update, or None for what the bot does not read (channel posts, anything else)."""
    msg = update.message or update.edited_message
    if msg is None or msg.from_user is None or msg.from_user.is_bot:
        return None
    user = msg.from_user
    return Message(
        update.update_id,
        user.id,
        msg.chat.id,
        msg.text,
        user.username,
        user.language_code,
        msg.chat.type,
        edited=update.edited_message is not None,
    )


class Listener:
    """Reads the bot's updates and answers them, until stop(). Never ends on an exception: it backs off."""

    def __init__(
        self,
        bot: Bot,
        config: BotConfig,
        store: Store,
        commands: Commands,
        readers: Readers,
        cluster: Cluster,
        budget: Budget,
    ) -> None:
        self.bot, self.config, self.store, self.commands, self.readers = bot, config, store, commands, readers
        self.cluster, self.budget = cluster, budget
        self.lease = f"bot:{config.bot_id}"
        self._stopping = asyncio.Event()
        self._logged: str | None = None
        self.listening = False  # this instance holds the listener's lease (its commands change the index here)
        self.failing_since: float | None = None  # when the faults that go on now began

    def stop(self) -> None:
        """Read no more updates; the one being handled finishes and its offset is stored."""
        self._stopping.set()

    async def run(self) -> None:
        """Listen until stop(): any fault is logged once, backed off from, and tried again."""
        failures = 0
        while not self._stopping.is_set():
            try:
                wait = await self._turn()
                failures, self._logged = 0, None
            except Conflict:
                failures += 1
                self._once(logging.WARNING, "bot.conflict another listener reads this bot's updates; backing off")
                wait = backoff(failures, base=5.0, cap=120.0)
            except InvalidToken:
                failures += 1
                self._once(logging.ERROR, "bot.token_refused Telegram refused the bot's token: check bot.token")
                wait = backoff(failures, base=30.0, cap=600.0)
            except (MonitorError, NetworkError, TelegramError) as exc:
                failures += 1
                self._once(logging.WARNING, f"bot.updates_failed error={exc}")
                wait = backoff(failures, base=1.0, cap=60.0)
            except Exception:
                failures += 1
                logger.exception("bot.updates_crashed")
                self._logged = "bot.updates_crashed an unexpected error (see the log)"
                wait = backoff(failures, base=1.0, cap=60.0)
            if failures == 1:
                self.failing_since = time.time()
            elif failures == 0:
                self.failing_since = None
            if wait:
                await self._until_stopped(asyncio.sleep(wait))

    def problems(self, now: float, bound: float) -> list[str]:
        """What /healthz says of the listener: a refused token at once, any other fault after bound seconds."""
        if self.failing_since is None or self._logged is None:
            return []
        since = now - self.failing_since
        if since <= bound and "token_refused" not in self._logged:
            return []
        return [f"bot: cannot read its updates for {since:.0f}s ({self._logged.partition(' ')[2]})"]

    async def _turn(self) -> float:
        """One long poll and its updates; return how long to wait before the next."""
        self.listening = await self.cluster.may_send(self.lease)
        if not self.listening:
            return LEASE_RETRY  # another instance listens
        if not self.commands.username:
            me = await self.bot.get_me()
            self.commands.username = (me.username or "").lower()
        offset = await self.store.bot_offset(self.config.bot_id)
        timeout = min(self.config.poll_timeout, SHARED_POLL) if self.cluster.shared else self.config.poll_timeout
        updates = await self._until_stopped(
            self.bot.get_updates(offset=offset or None, timeout=int(timeout), allowed_updates=ALLOWED_UPDATES)
        )
        for update in updates or ():
            if self._stopping.is_set():
                break  # not handled, not confirmed: the next start reads it
            msg = read(update)
            reply = None if msg is None else await self._handle(msg)
            # Stored before the reply goes: a crash in between loses a reply, never runs a command twice.
            await self.store.save_bot_offset(self.config.bot_id, update.update_id + 1)
            if msg is not None and reply is not None:
                await self._reply(msg, reply)
        return 0.0

    async def _handle(self, msg: Message) -> str | None:
        """Run one command. A store fault raises (the update is read again); any other fault is logged and passed."""
        try:
            return await self.commands.handle(msg)
        except MonitorError:
            raise
        except Exception:  # one message that trips a bug must not stop the bot
            logger.exception("bot.command_crashed update=%d", msg.update_id)
            return None

    async def _reply(self, msg: Message, reply: str) -> None:
        """Send a reply within the bot's budget, after channel alerts and before readers' alerts.

        A 429 or a network fault is tried again (REPLY_TRIES in all, waiting what Telegram asks if it is
        at most REPLY_WAIT); a refusal is logged and dropped: a reply is not kept across a restart.
        """
        for attempt in range(1, REPLY_TRIES + 1):
            await self.budget.take(Rank.REPLY)
            try:
                await self.bot.send_message(
                    chat_id=msg.chat_id,
                    text=reply,
                    parse_mode="HTML",
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
                return
            except Forbidden as exc:  # the reader blocked the bot: their alerts wait until they /start again
                logger.info("bot.reply_refused user=%d error=%s", msg.user_id, exc.message)
                return
            except RetryAfter as exc:
                seconds = retry_seconds(exc)
                if seconds > REPLY_WAIT:
                    logger.warning("bot.reply_dropped user=%d error=%s", msg.user_id, exc.message)
                    return
                error = exc.message
            except NetworkError as exc:  # TimedOut too: the reply may or may not have arrived
                seconds, error = backoff(attempt, base=1.0, cap=REPLY_WAIT), exc.message
            except TelegramError as exc:
                logger.warning("bot.reply_failed user=%d error=%s", msg.user_id, exc.message)
                return
            if attempt < REPLY_TRIES:
                await self._until_stopped(asyncio.sleep(seconds))
        logger.warning("bot.reply_failed user=%d tries=%d error=%s", msg.user_id, REPLY_TRIES, error)

    async def _until_stopped(self, work: Awaitable[_T]) -> _T | None:
        """Await work, or cancel it when stop() is called (then None)."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return None
        return task.result()

    def _once(self, level: int, message: str) -> None:
        """Log a fault once, not at every retry."""
        if message != self._logged:
            logger.log(level, message)
            self._logged = message
