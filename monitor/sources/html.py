"""HTML pages: fetch, decode, then find the ticker by selector or by its heading."""

from __future__ import annotations

import aiohttp

from ..config import SourceConfig
from ..extract import decode, extract
from ..http import Page
from ..models import Entry
from .fetcher import Fetcher

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


class HtmlSource:
    """A web page with a ticker on it."""

    def __init__(self, config: SourceConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.fetcher = Fetcher(config, session, HTML_ACCEPT)

    async def entries(self) -> list[Entry] | None:
        """Fetch the page and return its ticker lines in page order; None if not modified."""
        return await self.fetcher.read(self._parse)

    async def _parse(self, page: Page) -> list[Entry]:
        html = decode(page.body, page.content_type)
        return extract(html, page.url, selector=self.config.selector, headings=self.config.headings)
