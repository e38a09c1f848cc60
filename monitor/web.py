"""The optional HTTP endpoint: the status page, /healthz and /metrics (off unless config has http.listen).

Read-only: GET and HEAD only. With http.auth, every request needs HTTP Basic auth, except that /healthz
answers a load balancer without it with its status code alone (no problems named); failures are
counted per client address, and a client that fails too often is refused for a while without a check.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from .config_types import HttpAuth
from .errors import ConfigError
from .metrics import Metrics
from .passwords import verify_password

logger = logging.getLogger(__name__)
FAILURES = 5  # wrong passwords from one address within WINDOW before it is refused...
WINDOW = 60.0  # ... for the rest of this many seconds
CLIENTS = 10_000  # addresses remembered at most (the oldest are forgotten first)
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="monitor", charset="UTF-8"'}


class Failures:
    """Wrong passwords per client address in a sliding window: too many, and the address must wait."""

    def __init__(self, limit: int = FAILURES, window: float = WINDOW, clients: int = CLIENTS) -> None:
        self.limit, self.window, self.clients = limit, window, clients
        self.seen: OrderedDict[str, list[float]] = OrderedDict()

    def wait(self, client: str, now: float) -> float:
        """Seconds the client must wait before it may try again (0: it may try now)."""
        recent = [t for t in self.seen.get(client, ()) if now - t < self.window]
        if len(recent) < self.limit:
            return 0.0
        return recent[-self.limit] + self.window - now

    def fail(self, client: str, now: float) -> None:
        """Count a wrong password from the client."""
        recent = [t for t in self.seen.pop(client, []) if now - t < self.window]
        self.seen[client] = [*recent, now][-self.limit :]
        while len(self.seen) > self.clients:
            self.seen.popitem(last=False)

    def forget(self, client: str) -> None:
        """The client gave the right password."""
        self.seen.pop(client, None)


class WebServer:
    """Serves the status page, health and metrics; problems() says what is wrong now (it changes on reload)."""

    def __init__(
        self,
        metrics: Metrics,
        problems: Callable[[], Awaitable[list[str]]],
        page: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self.metrics, self.problems, self.page = metrics, problems, page
        self.runner: web.AppRunner | None = None
        self.auth: HttpAuth | None = None
        self.failures = Failures()
        self.verified: set[bytes] = set()  # digests of Authorization headers found right: scrypt once each

    async def start(self, listen: str, auth: HttpAuth | None = None) -> None:
        """Listen on "host:port"; with auth, every request needs its user and password."""
        self.auth = auth
        host, _, port = listen.rpartition(":")
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/", self.status_page)  # add_get serves HEAD too; other methods get 405
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        try:
            await web.TCPSite(self.runner, host.strip("[]") or "127.0.0.1", int(port)).start()
        except OSError as exc:
            raise ConfigError("config", "http.listen", f"cannot listen on {listen}: {exc.strerror}") from None
        logger.info("http.listening address=%s auth=%s", listen, "basic" if auth else "none")

    async def stop(self) -> None:
        """Stop listening."""
        if self.runner is not None:
            await self.runner.cleanup()

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """HTTP Basic auth on every request when http.auth is set; a client failing too often waits."""
        if self.auth is None:
            return await handler(request)
        client, now = request.remote or "?", time.monotonic()
        header = request.headers.get("Authorization")
        if header is None:
            if request.path == "/healthz":
                request["anonymous"] = True
                return await handler(request)
            return _unauthorized("login required")
        if (wait := self.failures.wait(client, now)) > 0:
            retry = {"Retry-After": f"{max(1, round(wait))}"}
            return web.Response(status=429, text="too many wrong passwords: wait\n", headers=retry)
        if not await self._right(header):
            self.failures.fail(client, now)
            logger.warning("http.auth_failed client=%s", client)
            return _unauthorized("wrong user or password")
        self.failures.forget(client)
        return await handler(request)

    async def _right(self, header: str) -> bool:
        """Whether an Authorization header carries the configured user and password."""
        assert self.auth is not None
        digest = hashlib.sha256(header.encode("utf-8", "surrogateescape")).digest()
        if digest in self.verified:
            return True
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if not colon:
            return False
        # The user is compared in constant time and the password checked whatever the user: a wrong
        # user answers no sooner than a wrong password. scrypt takes tens of milliseconds: off the loop.
        user_ok = hmac.compare_digest(user.encode(), self.auth.user.encode())
        if not await asyncio.to_thread(verify_password, password, self.auth.password_hash) or not user_ok:
            return False
        if len(self.verified) < 16:  # a few browsers and scrapers; a changed password is a restart
            self.verified.add(digest)
        return True

    async def status_page(self, request: web.Request) -> web.Response:
        """The status page: sources, channels, the last alerts, the instances."""
        if self.page is None:
            raise web.HTTPNotFound()
        body = await self.page()
        return web.Response(text=body, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS)

    async def healthz(self, request: web.Request) -> web.Response:
        """200 when nothing is wrong, else 503 with the problems: a dead part, a stalled channel, an
        unpolled source, the state file gone. Without credentials (auth set), the status code alone."""
        problems = await self.problems()
        body = {"ok": not problems} if request.get("anonymous") else {"ok": not problems, "problems": problems}
        return web.Response(status=503 if problems else 200, text=json.dumps(body), content_type="application/json")

    async def metrics_page(self, request: web.Request) -> web.Response:
        """Prometheus text format."""
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _unauthorized(why: str) -> web.Response:
    return web.Response(status=401, text=f"{why}\n", headers=_CHALLENGE)
