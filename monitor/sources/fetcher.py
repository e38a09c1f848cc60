"""One source's conditional GET: the last response's validators are sent back, 304 means unchanged."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

import aiohttp

from ..config import SourceConfig
from ..http import Page, fetch
from ..models import Entry

# Pages at least this big are parsed on a worker thread, so that the event loop keeps serving the
# other sources meanwhile (a flat 3.7 MB page takes 35-45 ms; one nested just under extract's <div>
# guard, 0.6 s). Smaller HTML pages stay on the loop: measured on the 2-core reference machine,
# handing 100 KB pages to a thread cost 25-50% more CPU per check (thread hops, GIL hand-overs) and
# more wall time.
OFF_LOOP_BYTES = 1024 * 1024
_PARSERS = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="monitor-parse")


class Fetcher:
    """GETs a source's URL for it, asking conditionally with the validators of the last response."""

    def __init__(self, config: SourceConfig, session: aiohttp.ClientSession, accept: str) -> None:
        self.config = config
        self.session = session
        self.headers = {"User-Agent": config.user_agent, "Accept": accept, **dict(config.headers)}
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.max_age: float | None = None  # from the last answer's Cache-Control

    async def read(self, parse: Callable[[Page], list[Entry]], *, off_loop: int) -> list[Entry] | None:
        """Fetch and parse the page (on a worker thread if off_loop bytes or more); None on 304 Not Modified."""
        page = await fetch(
            self.session,
            self.config.url,
            timeout=self.config.timeout,
            headers=self.headers,
            max_bytes=self.config.max_bytes,
            proxy=self.config.proxy,
            etag=self.etag,
            last_modified=self.last_modified,
            allow_private=self.config.allow_private,
        )
        self.max_age = page.max_age
        if page.not_modified:
            return None
        if len(page.body) >= off_loop:
            entries = await asyncio.get_running_loop().run_in_executor(_PARSERS, parse, page)
        else:
            entries = parse(page)
        # Keep the validators only once the page was read: a page that failed to parse (a changed
        # markup) must come whole again next time, not as a 304 taken for "nothing changed".
        self.etag, self.last_modified = page.etag, page.last_modified
        return entries

    def forget_validators(self) -> None:
        """Ask for the whole page next time (its lines could not be recorded)."""
        self.etag = self.last_modified = None


class FetchedSource:
    """A source read over HTTP: subclasses name what they accept and how they parse a page."""

    accept: ClassVar[str]
    off_loop: ClassVar[int] = OFF_LOOP_BYTES  # parse bodies this big on a worker thread

    def __init__(self, config: SourceConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.fetcher = Fetcher(config, session, self.accept)

    async def entries(self) -> list[Entry] | None:
        """Fetch and return the entries in page order; None if not modified."""
        return await self.fetcher.read(self.parse, off_loop=self.off_loop)

    def parse(self, page: Page) -> list[Entry]:
        """Turn a fetched page into entries, raising ExtractError when it holds none (may run on a thread)."""
        raise NotImplementedError
