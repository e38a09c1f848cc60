"""Telegram channel on python-telegram-bot: HTML messages, link previews off, errors classified."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Sequence
from datetime import timedelta

from telegram import Bot, LinkPreviewOptions
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from ..config_reader import Node, field_defaults
from ..config_types import ChannelConfig, TelegramSettings
from ..errors import DeliveryError
from ..logs import redact
from ..models import Alert
from .render import HTML, Renderer, rings

logger = logging.getLogger(__name__)
MAX_MESSAGE = 4096  # Telegram's limit, in UTF-16 code units after entity parsing
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_CHAT = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{4,31}|-?\d+)$")
_CHAT_RULE = (
    "a Telegram @name is 5-32 letters, digits and underscores starting with a letter; "
    "a numeric id is an integer (channels and supergroups start with -100)"
)
_TELEGRAM = field_defaults(TelegramSettings)


def read_settings(n: Node) -> TelegramSettings:
    """Read a telegram channel's own keys: chat_id and token (in the forms Telegram takes), api_base_url, limits."""
    raw_chat = n.require("chat_id")
    if isinstance(raw_chat, str):
        chat_id = n.string("chat_id").strip()  # ${VAR} is read from the environment
    elif isinstance(raw_chat, int) and not isinstance(raw_chat, bool):
        chat_id = str(raw_chat)  # a numeric id written bare
    else:
        chat_id = ""
    if not _CHAT.fullmatch(chat_id):
        raise n.error(f"expected '@channelname' or a numeric id, got {raw_chat!r}: {_CHAT_RULE}", "chat_id")
    token = n.string("token", required=True)
    if not _TOKEN.fullmatch(token):
        # Never echo the value: it may be a real token with a typo.
        raise n.error("does not look like a bot token (digits, ':', then letters)", "token")
    return TelegramSettings(
        chat_id,
        token,
        api_base_url=n.url("api_base_url") or _TELEGRAM.api_base_url,
        per_second=n.number("per_second", _TELEGRAM.per_second, minimum=0.001),
        per_minute=n.number("per_minute", _TELEGRAM.per_minute, minimum=0.001),
    )


class TelegramChannel:
    """Sends alerts to one Telegram chat through a bot."""

    def __init__(self, config: ChannelConfig[TelegramSettings], bot: Bot | None = None) -> None:
        self.config, kind = config, config.kind
        self.renderer = Renderer(config, HTML, MAX_MESSAGE)
        self.chat_id: str | int = int(kind.chat_id) if kind.chat_id.lstrip("-").isdigit() else kind.chat_id
        self.bot = bot or Bot(
            kind.token,
            base_url=kind.api_base_url,
            request=HTTPXRequest(connect_timeout=10, read_timeout=20, write_timeout=20),
        )
        self._ready = False

    def pack(self, alerts: Sequence[Alert]) -> list[list[Alert]]:
        """Group alerts into digests that each fit in one Telegram message."""
        return self.renderer.pack(alerts)

    async def send(self, alerts: Sequence[Alert]) -> str | None:
        """Send one alert, or several as one digest; raise DeliveryError saying if a retry can help.

        A text too long for one message goes out in parts; parts Telegram accepted before a fault
        are counted in the error (parts_sent) and skipped when the alert is tried again.
        """
        first = alerts[0]
        texts = self.renderer.one(first) if len(alerts) == 1 else [self.renderer.digest(alerts)]
        silent = not rings(self.config, alerts, time.time())
        preview = LinkPreviewOptions(is_disabled=True)
        done = first.parts_sent if len(alerts) == 1 else 0
        message_id: str | None = None
        try:
            if not self._ready:
                await self.bot.initialize()
                self._ready = True
            if first.edit_of is not None:  # an edited ticker line: change the message already sent
                await self.bot.edit_message_text(
                    texts[0],
                    chat_id=self.chat_id,
                    message_id=int(first.edit_of),
                    parse_mode="HTML",
                    link_preview_options=preview,
                )
                return first.edit_of
            for text in texts[done:]:
                message = await self.bot.send_message(
                    chat_id=self.chat_id,
                    text=text,
                    parse_mode="HTML",
                    link_preview_options=preview,
                    disable_notification=silent,
                )
                message_id = str(message.message_id)
                done += 1
        except BadRequest as exc:
            if first.edit_of is not None and "not modified" in exc.message.lower():
                return first.edit_of  # the message already reads so
            raise self._classify(exc, done) from None
        except TelegramError as exc:
            raise self._classify(exc, done) from None
        except Exception as exc:  # an answer python-telegram-bot cannot read (not a Message, say)
            raise DeliveryError(
                self._redact(f"Telegram's answer was not understood: {type(exc).__name__}: {exc}"),
                unexpected=True,
                parts_sent=done,
            ) from None
        return message_id

    def _classify(self, exc: TelegramError, parts_sent: int = 0) -> DeliveryError:
        """Map python-telegram-bot's errors to plain words and retry advice."""
        error = self._words(exc)
        error.parts_sent = parts_sent
        return error

    def _words(self, exc: TelegramError) -> DeliveryError:
        chat = self.config.kind.chat_id
        reason = self._redact(exc.message)
        if isinstance(exc, RetryAfter):
            seconds = retry_seconds(exc)
            return DeliveryError(f"Telegram asks to wait {seconds:g}s (429)", retry_after=seconds)
        if isinstance(exc, InvalidToken):  # 401 for a wrong or revoked token, 404 for a malformed one
            return DeliveryError(
                f"Telegram refused the bot token for channel {self.config.name!r}: check its token"
                " (revoked or mistyped?)",
                blocked="token refused",
            )
        if isinstance(exc, ChatMigrated):
            return DeliveryError(f"chat {chat} moved to {exc.new_chat_id}: update chat_id", permanent=True)
        if isinstance(exc, Forbidden):
            if "not a member" in reason or "not enough rights" in reason or "administrator" in reason:
                return DeliveryError(
                    f"bot is not an administrator of {chat}: add it as an admin that may post ({reason})",
                    permanent=True,
                )
            return DeliveryError(f"bot may not post to {chat}: {reason}", permanent=True)
        if isinstance(exc, BadRequest):
            if "chat not found" in reason.lower():
                return DeliveryError(f"chat {chat} not found (is the bot an administrator of it?)", permanent=True)
            return DeliveryError(f"Telegram refused the message for {chat}: {reason}", permanent=True)
        if isinstance(exc, NetworkError):
            return DeliveryError(f"cannot reach Telegram: {reason}")
        return DeliveryError(f"Telegram error: {reason}")

    def _redact(self, text: str) -> str:
        return redact(text, [self.config.kind.token])

    async def close(self) -> None:
        """Close the bot's HTTP connections (also those opened by an initialize() that failed)."""
        with contextlib.suppress(TelegramError):
            await self.bot.shutdown()


def retry_seconds(exc: RetryAfter) -> float:
    """The seconds a 429 asks to wait (python-telegram-bot gives an int or, in newer versions, a timedelta)."""
    wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
