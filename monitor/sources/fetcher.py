"""One source's conditional GET: the last response's validators are sent back, 304 means unchanged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

import aiohttp

from ..config import SourceConfig
from ..http import Page, fetch
from ..models import Entry


class Fetcher:
    """GETs a source's URL for it, asking conditionally with the validators of the last response."""

    def __init__(self, config: SourceConfig, session: aiohttp.ClientSession, accept: str) -> None:
        self.config = config
        self.session = session
        self.headers = {"User-Agent": config.user_agent, "Accept": accept, **dict(config.headers)}
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.max_age: float | None = None  # from the last answer's Cache-Control

    async def read(self, parse: Callable[[Page], Awaitable[list[Entry]]]) -> list[Entry] | None:
        """Fetch and parse the page; None when the server answered 304 Not Modified."""
        page = await fetch(
            self.session,
            self.config.url,
            timeout=self.config.timeout,
            headers=self.headers,
            max_bytes=self.config.max_bytes,
            proxy=self.config.proxy,
            etag=self.etag,
            last_modified=self.last_modified,
        )
        self.max_age = page.max_age
        if page.not_modified:
            return None
        entries = await parse(page)
        # Keep the validators only once the page was read: a page that failed to parse (a changed
        # markup) must come whole again next time, not as a 304 taken for "nothing changed".
        self.etag, self.last_modified = page.etag, page.last_modified
        return entries


class FetchedSource:
    """A source read over HTTP: subclasses name what they accept and how they parse a page."""

    accept: ClassVar[str]

    def __init__(self, config: SourceConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.fetcher = Fetcher(config, session, self.accept)

    async def entries(self) -> list[Entry] | None:
        """Fetch and return the entries in page order; None if not modified."""
        return await self.fetcher.read(self.parse)

    async def parse(self, page: Page) -> list[Entry]:
        """Turn a fetched page into entries, raising ExtractError when it holds none."""
        raise NotImplementedError
