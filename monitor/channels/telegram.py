"""Telegram channel on python-telegram-bot: HTML messages, link previews off, errors classified."""

from __future__ import annotations

import html
import logging
import os
from datetime import timedelta

# Opt in to RetryAfter.retry_after as a timedelta (PTB's next major); without it PTB 22.2+
# warns on every 429. Both forms are handled below.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import Bot, LinkPreviewOptions  # noqa: E402
from telegram.error import (  # noqa: E402
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest  # noqa: E402

from ..config import ChannelConfig
from ..errors import DeliveryError
from ..models import Alert

logger = logging.getLogger(__name__)
MAX_TEXT = 3500  # Telegram allows 4096 characters after entity parsing; leave room for the footer.


def format_html(alert: Alert) -> str:
    """Return the message for an alert in Telegram's HTML: the line, then its source (linked)."""
    text = alert.text if len(alert.text) <= MAX_TEXT else alert.text[: MAX_TEXT - 1] + "…"
    source = html.escape(alert.source)
    footer = f'<a href="{html.escape(alert.link)}">{source}</a>' if alert.link else f"<i>{source}</i>"
    return f"{html.escape(text, quote=False)}\n— {footer}"


class TelegramChannel:
    """Sends alerts to one Telegram chat through a bot."""

    def __init__(self, config: ChannelConfig, bot: Bot | None = None) -> None:
        assert config.token and config.chat_id
        self.config = config
        self.chat_id: str | int = int(config.chat_id) if config.chat_id.lstrip("-").isdigit() else config.chat_id
        self.bot = bot or Bot(
            config.token,
            base_url=config.api_base_url or "https://api.telegram.org/bot",
            request=HTTPXRequest(connect_timeout=10, read_timeout=20, write_timeout=20),
        )
        self._ready = False

    async def send(self, alert: Alert) -> str | None:
        """Send one alert; raise DeliveryError saying whether a retry can help."""
        try:
            if not self._ready:
                await self.bot.initialize()
                self._ready = True
            message = await self.bot.send_message(
                chat_id=self.chat_id,
                text=format_html(alert),
                parse_mode="HTML",
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                disable_notification=self.config.silent,
            )
        except TelegramError as exc:
            raise self._classify(exc) from None
        return str(message.message_id)

    def _classify(self, exc: TelegramError) -> DeliveryError:
        """Map python-telegram-bot's errors to plain words and retry advice."""
        chat = self.config.chat_id
        reason = self._redact(exc.message)
        if isinstance(exc, RetryAfter):
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            return DeliveryError(f"Telegram asks to wait {seconds:g}s (429)", retry_after=seconds)
        if isinstance(exc, InvalidToken):
            return DeliveryError("Telegram refused the bot token: check TELEGRAM_BOT_TOKEN")
        if isinstance(exc, ChatMigrated):
            return DeliveryError(f"chat {chat} moved to {exc.new_chat_id}: update chat_id", permanent=True)
        if isinstance(exc, Forbidden):
            return DeliveryError(f"bot may not post to {chat}: {reason}", permanent=True)
        if isinstance(exc, BadRequest):
            if "chat not found" in reason.lower():
                return DeliveryError(f"chat {chat} not found (is the bot an administrator of it?)", permanent=True)
            return DeliveryError(f"Telegram refused the message for {chat}: {reason}", permanent=True)
        if isinstance(exc, NetworkError):
            return DeliveryError(f"cannot reach Telegram: {reason}")
        return DeliveryError(f"Telegram error: {reason}")

    def _redact(self, text: str) -> str:
        return text.replace(self.config.token or "\0", "<token>")

    async def close(self) -> None:
        """Close the bot's HTTP connections."""
        if self._ready:
            try:
                await self.bot.shutdown()
            except TelegramError:
                pass
