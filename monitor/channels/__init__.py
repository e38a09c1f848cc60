"""Channel kinds behind one protocol: each takes alerts and delivers them somewhere.

CHANNELS is the one list of kinds: config.py checks `type:` against it and has each kind read its
own keys. A new kind is one module (its class, and a reader of its keys) and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

import aiohttp

from ..config_reader import Node
from ..config_types import AnyChannel, ChannelSettings, ConsoleSettings
from ..models import Alert
from . import apprise, telegram, webhook
from .apprise import AppriseChannel
from .console import ConsoleChannel, format_plain
from .telegram import TelegramChannel
from .webhook import WebhookChannel

__all__ = ["CHANNELS", "Channel", "format_plain", "make_channel"]


class Channel(Protocol):
    """Where alerts go. send() raises DeliveryError; permanent=True means retrying cannot help."""

    config: AnyChannel

    def pack(self, alerts: Sequence[Alert]) -> list[list[Alert]]:
        """Group alerts into digests that each go out as one message."""
        ...

    async def send(self, alerts: Sequence[Alert]) -> str | None:
        """Deliver one alert, or a group from pack() as one digest; return a message id if any."""
        ...

    async def close(self) -> None: ...


class ChannelKind(NamedTuple):
    """One kind of channel: how to build it, and how config.py reads its own keys."""

    make: Callable[[AnyChannel, aiohttp.ClientSession], Channel]
    read: Callable[[Node], ChannelSettings]  # the kind's settings from its keys in a channel entry


CHANNELS: dict[str, ChannelKind] = {
    "telegram": ChannelKind(lambda config, session: TelegramChannel(config), telegram.read_settings),
    "webhook": ChannelKind(WebhookChannel, webhook.read_settings),
    "apprise": ChannelKind(lambda config, session: AppriseChannel(config), apprise.read_settings),
    "console": ChannelKind(lambda config, session: ConsoleChannel(config), lambda n: ConsoleSettings()),
}


def make_channel(config: AnyChannel, session: aiohttp.ClientSession) -> Channel:
    """Build the channel for a config entry."""
    return CHANNELS[config.type].make(config, session)
