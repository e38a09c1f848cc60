"""One source's conditional GET: the last response's validators are sent back, 304 means unchanged."""

from __future__ import annotations

import aiohttp

from ..config import SourceConfig
from ..http import Page, fetch


class Fetcher:
    """GETs a source's URL for it, asking conditionally with the validators of the last response."""

    def __init__(self, config: SourceConfig, session: aiohttp.ClientSession, accept: str) -> None:
        self.config = config
        self.session = session
        self.headers = {"User-Agent": config.user_agent, "Accept": accept, **dict(config.headers)}
        self.etag: str | None = None
        self.last_modified: str | None = None

    async def get(self) -> Page | None:
        """Return the fetched Page, or None when the server answered 304 Not Modified."""
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
        self.etag, self.last_modified = page.etag, page.last_modified
        return None if page.not_modified else page
