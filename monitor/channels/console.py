"""Console channel: alerts as plain lines on stdout, for trials, dry runs and the demo."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from ..config_types import AnyChannel
from ..models import Alert
from .render import URGENT


def format_plain(alert: Alert) -> str:
    """Return an alert as one readable line (and its link on the next)."""
    stamp = time.strftime("%H:%M", time.localtime(alert.created))
    edited = "(edited) " if alert.edit_of else ""
    urgent = f"{URGENT} " if alert.urgent else ""  # as Telegram shows it
    line = f"{stamp} [{alert.channel}] {urgent}{edited}{alert.source}: {alert.text}"
    return f"{line}\n    {alert.link}" if alert.link else line


class ConsoleChannel:
    """Prints each alert to stdout; a terminal needs no digests."""

    def __init__(self, config: AnyChannel) -> None:
        self.config = config

    def pack(self, alerts: Sequence[Alert]) -> list[list[Alert]]:
        """One alert per print."""
        return [[a] for a in alerts]

    async def send(self, alerts: Sequence[Alert]) -> str | None:
        """Print the alerts."""
        for alert in alerts:
            print(format_plain(alert), file=sys.stdout, flush=True)
        return None

    async def close(self) -> None:
        """Nothing to close."""
