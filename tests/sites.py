"""Local ticker sites for tests: an aiohttp server on 127.0.0.1 in a background thread.

Pages are set and changed by the test between polls; the server runs in its own thread and loop,
so both async tests and `monitor` subprocesses can poll it.
"""

from __future__ import annotations

import asyncio
import html
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


class BackgroundServer:
    """Runs an aiohttp Application on 127.0.0.1 (or host; free port) in a thread of its own."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str | None = None  # when set, a request with If-None-Match: etag gets 304


class Site(BackgroundServer):
    """A web site whose pages the test sets and changes; counts hits per path."""

    def __init__(self) -> None:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        super().__init__(app)
        self.pages: dict[str, Page] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str], int]] = []  # (path, headers, status answered)
        self.held: dict[str, asyncio.Event] = {}  # paths whose requests wait until released
        self._lock = threading.Lock()

    def __enter__(self) -> Site:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set(
        self,
        path: str,
        body: str | bytes,
        *,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
        etag: str | None = None,
    ) -> None:
        with self._lock:
            data = body.encode() if isinstance(body, str) else body
            self.pages[path] = Page(data, content_type, status, etag)

    def stop(self) -> None:
        for path in list(self.held):  # let held requests finish, or cleanup waits on them
            self.release(path)
        super().stop()

    def hold(self, path: str) -> None:
        """Make requests for path wait (a hung host) until release(path)."""
        self.held[path] = asyncio.Event()

    def release(self, path: str) -> None:
        if (gate := self.held.pop(path, None)) is not None:
            self.loop.call_soon_threadsafe(gate.set)

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        with self._lock:
            self.hits[path] += 1
            page = self.pages.get(path)
        if (gate := self.held.get(path)) is not None:
            await gate.wait()
        if page is None:
            response = web.Response(status=404, text="not found")
        elif page.etag and request.headers.get("If-None-Match") == page.etag:
            response = web.Response(status=304, headers={"ETag": page.etag})
        else:
            headers = {"Content-Type": page.content_type, **({"ETag": page.etag} if page.etag else {})}
            response = web.Response(body=page.body, status=page.status, headers=headers)
        with self._lock:
            self.requests.append((path, dict(request.headers), response.status))
        return response


def ticker_page(lines: Sequence[str], *, heading: str = "BREAKING", links: bool = True) -> str:
    """Return an Al Mayadeen-like page: a nav menu, a ticker under its heading, an article."""
    items = "\n".join(
        f'<li><a href="/news/{i}">{html.escape(line)}</a></li>' if links else f"<li>{html.escape(line)}</li>"
        for i, line in enumerate(lines)
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>News</title></head><body>
<nav><ul><li><a href="/politics">Politics</a></li><li><a href="/economy">Economy</a></li>
<li><a href="/sports">Sports</a></li></ul></nav>
<div class="breaking"><h3>{html.escape(heading)}</h3><ul>
{items}
</ul></div>
<article><h1>Article title</h1><p>Body text of the article.</p></article>
</body></html>"""


def seed_ticker(name: str) -> list[str]:
    """Return the ticker lines of a seed page (the lines after 'BREAKING' up to the blank line)."""
    lines = (SEEDS / name).read_text(encoding="utf-8").splitlines()
    start = lines.index("BREAKING") + 1
    end = lines.index("", start)
    return lines[start:end]


def seed_names() -> list[str]:
    """Return the seed files that carry a BREAKING ticker."""
    if not SEEDS.is_dir():
        return []
    return sorted(p.name for p in SEEDS.glob("*.txt") if "\nBREAKING\n" in p.read_text(encoding="utf-8"))
