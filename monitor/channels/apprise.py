"""Apprise channel: one alert stream to any chat service Apprise knows (Discord, Slack, Matrix, ntfy, email...).

Apprise sends synchronously, so each send runs on a worker thread: the event loop never waits on a
chat service. Apprise's answer is read per service: a 4xx (but 408 and 429) is permanent, anything
else (5xx, 429, a refused connection, a timeout) is retried by the deliverer. The URLs hold secrets
(webhook tokens, passwords): they are never logged, and errors name a service by Apprise's privacy form.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from ..config_reader import Node, expand_env
from ..config_types import AppriseSettings, ChannelConfig
from ..errors import DeliveryError
from ..logs import redact
from ..models import Alert
from .render import PLAIN, Renderer, rings

_STATUS = re.compile(r"error=(\d{3})")
_RETRYABLE = frozenset({408, 425, 429})  # client errors that a later try can pass


def read_settings(n: Node) -> AppriseSettings:
    """Read an apprise channel's own keys: urls (one or a list, ${VAR} for secrets) and its limits."""
    urls = n.strings("urls")
    if not urls:
        raise n.error("is required: one or more Apprise URLs (discord://..., ntfy://..., mailto://...)", "urls")
    expanded = []
    for i, raw in enumerate(urls):
        key = f"urls[{i}]"
        url = expand_env(raw, n, key)
        if _service(url) is None:
            scheme = url.split("://", 1)[0] if "://" in url else "?"
            # Never echo the URL: it may hold a token.
            raise n.error(f"not an Apprise URL (scheme {scheme!r}); see https://github.com/caronc/apprise/wiki", key)
        expanded.append(url)
    default = AppriseSettings(urls=())
    return AppriseSettings(
        tuple(expanded),
        per_second=n.number("per_second", default.per_second, minimum=0.001),
        per_minute=n.number("per_minute", default.per_minute, minimum=0.001),
    )


def _service(url: str) -> Any:
    """Apprise's object for a URL, or None when Apprise does not know it."""
    import apprise  # imported when a config has an apprise channel: it loads many plugins

    return apprise.Apprise.instantiate(url)


class AppriseChannel:
    """Sends alerts through Apprise to the channel's URLs, as plain text split to the strictest service's limit.

    When some services took a message and others failed, a retry goes only to those that failed (kept in
    memory: a restart in between sends it once more to all).
    """

    def __init__(self, config: ChannelConfig[AppriseSettings]) -> None:
        import apprise

        self.config = config
        self.apprise = apprise.Apprise()
        services = [_service(url) for url in config.kind.urls]
        self.tags = [f"url{i}" for i in range(len(services))]
        for url, tag in zip(config.kind.urls, self.tags, strict=True):
            self.apprise.add(url, tag=tag)  # by URL: Apprise tags what it builds, not an object handed in
        limit = min(getattr(s, "body_maxlen", 32768) or 32768 for s in services)
        self.renderer = Renderer(config, PLAIN, limit)
        self._took: dict[tuple[int, int], set[str]] = {}  # (first alert id, part) -> tags that took it

    def pack(self, alerts: Sequence[Alert]) -> list[list[Alert]]:
        """Group alerts into digests that fit in one message of every service."""
        return self.renderer.pack(alerts)

    async def send(self, alerts: Sequence[Alert]) -> str | None:
        """Send one alert (in parts if long) or a digest; raise DeliveryError saying whether to retry."""
        first = alerts[0]
        texts = self.renderer.one(first) if len(alerts) == 1 else [self.renderer.digest(alerts)]
        done = first.parts_sent if len(alerts) == 1 else 0
        loud = rings(self.config, alerts, time.time())
        for part in range(done, len(texts)):
            key = (first.id, part)
            took = self._took.setdefault(key, set())
            pending = [t for t in self.tags if t not in took]
            error = await asyncio.to_thread(self._notify, texts[part], loud, pending, took) if pending else None
            if error is not None:
                if error.permanent:
                    del self._took[key]
                error.parts_sent = part
                raise error
            del self._took[key]
        return None

    def _notify(self, text: str, loud: bool, tags: list[str], took: set[str]) -> DeliveryError | None:
        """Send one message to the services with these tags (on a worker thread); note which took it."""
        import apprise

        result = self.apprise.notify(
            body=text,
            body_format=apprise.NotifyFormat.TEXT,
            notify_type=apprise.NotifyType.WARNING if loud else apprise.NotifyType.INFO,
            tag=tags,  # a list of tags: any of them (a tuple inside would mean all of its tags)
            log_level=logging.WARNING,
        )
        if not result.results:  # nothing was tried: never take that for delivered
            return DeliveryError(f"Apprise tried no service ({result.status.name})")
        reasons, permanent = [], True
        for service in result.results:
            if service.status == apprise.AppriseResultStatus.SUCCESS:
                took.update(service.tag)
                continue
            messages = [entry.message for entry in service.logs()]
            codes = {int(c) for m in messages for c in _STATUS.findall(m)}
            permanent = permanent and bool(codes) and all(400 <= c < 500 and c not in _RETRYABLE for c in codes)
            reasons.append(f"{service.name} ({service.url}): {messages[-1] if messages else service.status.name}")
        if not reasons:
            return None
        # The service's address can hold its token (a webhook path): errors go to the log, the state
        # file, `status` and `history`, so they are redacted here, not only in the log.
        return DeliveryError(redact("; ".join(reasons), self.config.kind.secrets()), permanent=permanent)

    async def close(self) -> None:
        """Nothing held open between sends."""
