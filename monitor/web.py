"""The optional HTTP endpoint: /healthz and /metrics (off unless config has http.listen)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from .errors import ConfigError
from .metrics import Metrics

if TYPE_CHECKING:
    from .service import Running

logger = logging.getLogger(__name__)


class WebServer:
    """Serves health and metrics of whichever Running is current (it changes on reload)."""

    def __init__(self, metrics: Metrics, current: Callable[[], Running | None]) -> None:
        self.metrics, self.current = metrics, current
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
        """200 while the scheduler runs and every source polled within 3 of its intervals, else 503."""
        running, now = self.current(), time.time()
        problems = []
        if running is None or not running.scheduler.running:
            problems.append("scheduler is not running")
        else:
            for source in running.rt.sources:
                name = source.config.name
                interval = source.config.interval_max or source.config.interval  # adaptive: its longest wait
                last = running.rt.last_polled.get(name, running.started)
                if now - last > 3 * interval:
                    problems.append(f"{name}: not polled for {now - last:.0f}s (interval {interval:g}s)")
        body = {"ok": not problems, "problems": problems}
        return web.Response(status=503 if problems else 200, text=json.dumps(body), content_type="application/json")

    async def metrics_page(self, request: web.Request) -> web.Response:
        """Prometheus text format."""
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
