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


# The selectors of config.yaml's html sources; seed_shaped_page lays a ticker out for each.
SEED_LAYOUTS = [".ticker__item", "#ticker-box ul li .ticker-item .ticker-text", "div.single-latest-news h3"]


def seed_pages() -> list[tuple[list[str], list[str], list[str]]]:
    """Return (menu, ticker lines, the rest) of each seed page that carries a BREAKING ticker."""
    found = []
    for path in sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []:
        lines = path.read_text(encoding="utf-8").splitlines()
        if "BREAKING" not in lines:
            continue
        at = lines.index("BREAKING")
        menu = list(dict.fromkeys(m for line in lines[:at] if (m := line.strip(" •\t")) and len(m) < 30))
        end = lines.index("", at)
        found.append((menu, lines[at + 1 : end], lines[end:]))
    return found


def seed_shaped_page(layout: str, menu: list[str], lines: list[str], rest: list[str], nonce: int) -> str:
    """Return a page shaped like config.yaml's sites from a seed page's text: a head with a nonce, the menu,
    the ticker as the layout (the config's selector) expects it, the article, a clock, and story cards and
    a footer that bring it to a real page's size (about 90 KB: the seeds are text renderings)."""
    e = html.escape
    nav = "".join(f'<li class="menu-item"><a href="/{i}">{e(m)}</a></li>' for i, m in enumerate(menu))
    texts = [t for t in rest if t.strip()]
    article = "".join(f"<p>{e(t)}</p>" for t in texts)
    cards = "".join(
        f'<div class="card"><a href="/news/{k}"><img src="/img/{k}.jpg" alt="{e(texts[k % len(texts)][:60])}">'
        f"<h4>{e(texts[k % len(texts)][:90])}</h4></a><p>{e(texts[(k + 1) % len(texts)][:160])}</p></div>"
        for k in range(200)
    )
    footer = "".join(f'<li><a href="/section/{k}/{e(m)}">{e(m)} {k}</a></li>' for k in range(8) for m in menu)
    if layout == ".ticker__item":
        ticker = '<div class="ticker"><span class="ticker__title">BREAKING</span><div class="ticker__items">'
        ticker += "".join(f'<div class="ticker__item">{e(t)}</div>' for t in lines) + "</div></div>"
    elif layout == "#ticker-box ul li .ticker-item .ticker-text":
        ticker = '<div id="ticker-box"><h3>عاجل</h3><ul>'
        ticker += "".join(
            f'<li><a class="ticker-item" href="/news/{i}"><p class="ticker-text">{e(t)}</p></a></li>'
            for i, t in enumerate(lines)
        )
        ticker += "</ul></div>"
    else:
        ticker = '<section class="latest">' + "".join(
            f'<div class="single-latest-news"><a href="/short/{i}"><h3>{e(t)}</h3></a><span>12:0{i % 10}</span></div>'
            for i, t in enumerate(lines)
        )
        ticker += "</section>"
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><script nonce="{nonce}">var cfg = {{}};</script>'
        f"<title>{e(lines[0])}</title></head><body><header><nav><ul>{nav}</ul></nav></header>{ticker}"
        f"<main><article><h1>{e(rest[1] if len(rest) > 1 else '')}</h1>{article}</article></main>"
        f'<div class="clock">{nonce}</div><aside class="more">{cards}</aside><footer><ul>{footer}</ul></footer>'
        "</body></html>"
    )
