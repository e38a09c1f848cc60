"""Channel kinds behind one protocol: each takes alerts and delivers them somewhere.

A new kind is one module and one entry in CHANNELS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import aiohttp

from ..config_types import ChannelConfig
from ..models import Alert
from .console import ConsoleChannel, format_plain
from .telegram import TelegramChannel
from .webhook import WebhookChannel

__all__ = ["CHANNELS", "Channel", "format_plain", "make_channel"]


class Channel(Protocol):
    """Where alerts go. send() raises DeliveryError; permanent=True means retrying cannot help."""

    config: ChannelConfig

    def pack(self, alerts: Sequence[Alert]) -> list[list[Alert]]:
        """Group alerts into digests that each go out as one message."""
        ...

    async def send(self, alerts: Sequence[Alert]) -> str | None:
        """Deliver one alert, or a group from pack() as one digest; return a message id if any."""
        ...

    async def close(self) -> None: ...


CHANNELS: dict[str, Callable[[ChannelConfig, aiohttp.ClientSession], Channel]] = {
    "console": lambda config, session: ConsoleChannel(config),
    "telegram": lambda config, session: TelegramChannel(config),
    "webhook": WebhookChannel,
}


def make_channel(config: ChannelConfig, session: aiohttp.ClientSession) -> Channel:
    """Build the channel for a config entry."""
    return CHANNELS[config.type](config, session)
