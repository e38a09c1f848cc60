"""Webhook channel: alerts as a JSON POST, for chat systems and scripts that take one."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp

from ..config_reader import Node
from ..config_types import ChannelConfig, WebhookSettings
from ..errors import DeliveryError
from ..http import env_proxy
from ..models import Alert
from .render import PLAIN, Renderer, rings

BATCH = 50  # alerts in one POST when a burst is sent as a digest


def read_settings(n: Node) -> WebhookSettings:
    """Read a webhook channel's own key: its url."""
    return WebhookSettings(n.url("url", required=True))


class WebhookChannel:
    """POSTs {"channel", "text", "alerts": [{source, text, link, time}]} to a URL."""

    def __init__(self, config: ChannelConfig[WebhookSettings], session: aiohttp.ClientSession) -> None:
        self.config, self.session = config, session
        self.url = config.kind.url
        self.renderer = Renderer(config, PLAIN, limit=1_000_000)

    def pack(self, alerts: Sequence[Alert]) -> list[list[Alert]]:
        """Batches of up to BATCH alerts."""
        return [list(alerts[i : i + BATCH]) for i in range(0, len(alerts), BATCH)]

    async def send(self, alerts: Sequence[Alert]) -> str | None:
        """POST the alerts; 429 and 5xx can be retried, other 4xx cannot."""
        text = self.renderer.one(alerts[0])[0] if len(alerts) == 1 else self.renderer.digest(alerts)
        body = {
            "channel": self.config.name,
            "text": text,
            "silent": not rings(self.config, alerts, time.time()),
            "urgent": any(a.urgent for a in alerts),
            "edit_of": alerts[0].edit_of,  # set when a ticker line was edited after it was sent
            "alerts": [
                {
                    "source": a.source,
                    "text": a.text,
                    "link": a.link,
                    "time": datetime.fromtimestamp(a.created, UTC).isoformat(),
                }
                for a in alerts
            ],
        }
        try:
            timeout = aiohttp.ClientTimeout(total=20)
            proxy, proxy_auth = env_proxy(self.url)
            async with self.session.post(
                self.url, json=body, timeout=timeout, proxy=proxy, proxy_auth=proxy_auth
            ) as resp:
                if resp.status == 429:
                    retry_after = resp.headers.get("Retry-After", "")
                    wait = float(retry_after) if retry_after.isdigit() else None
                    raise DeliveryError(f"{self.url} answered 429", retry_after=wait)
                if resp.status >= 400:
                    raise DeliveryError(f"{self.url} answered HTTP {resp.status}", permanent=resp.status < 500)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"cannot reach {self.url}: {type(exc).__name__} {exc}".rstrip()) from None
        return None

    async def close(self) -> None:
        """The session belongs to the runtime."""
