"""The optional HTTP endpoint: /healthz and /metrics (off unless config has http.listen)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from .errors import ConfigError
from .metrics import Metrics

logger = logging.getLogger(__name__)


class WebServer:
    """Serves health and metrics; problems() says what is wrong with the service now (it changes on reload)."""

    def __init__(self, metrics: Metrics, problems: Callable[[], Awaitable[list[str]]]) -> None:
        self.metrics, self.problems = metrics, problems
        self.runner: web.AppRunner | None = None

    async def start(self, listen: str) -> None:
        """Listen on "host:port"."""
        host, _, port = listen.rpartition(":")
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        try:
            await web.TCPSite(self.runner, host or "127.0.0.1", int(port)).start()
        except OSError as exc:
            raise ConfigError("config", "http.listen", f"cannot listen on {listen}: {exc.strerror}") from None
        logger.info("http.listening address=%s", listen)

    async def stop(self) -> None:
        """Stop listening."""
        if self.runner is not None:
            await self.runner.cleanup()

    async def healthz(self, request: web.Request) -> web.Response:
        """200 when nothing is wrong, else 503 with the problems: a dead part, a stalled channel, an
        unpolled source, the state file gone."""
        problems = await self.problems()
        body = {"ok": not problems, "problems": problems}
        return web.Response(status=503 if problems else 200, text=json.dumps(body), content_type="application/json")

    async def metrics_page(self, request: web.Request) -> web.Response:
        """Prometheus text format."""
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
