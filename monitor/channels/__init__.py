"""Channel kinds behind one protocol: each takes an alert and delivers it somewhere."""

from __future__ import annotations

from typing import Protocol

from ..config import ChannelConfig
from ..models import Alert
from .console import ConsoleChannel, format_plain
from .telegram import TelegramChannel


__all__ = ["CHANNELS", "Channel", "format_plain", "make_channel"]


class Channel(Protocol):
    """Where alerts go. send() raises DeliveryError; permanent=True means retrying cannot help."""

    config: ChannelConfig

    async def send(self, alert: Alert) -> str | None: ...
    async def close(self) -> None: ...


CHANNELS: dict[str, type[ConsoleChannel] | type[TelegramChannel]] = {
    "console": ConsoleChannel,
    "telegram": TelegramChannel,
}


def make_channel(config: ChannelConfig) -> Channel:
    """Build the channel for a config entry."""
    return CHANNELS[config.type](config)
