"""HTML pages: fetch, decode, then find the ticker by selector or by its heading."""

from __future__ import annotations

import aiohttp

from ..config import SourceConfig
from ..extract import decode, extract
from ..http import fetch
from ..models import Entry


class HtmlSource:
    """A web page with a ticker on it."""

    def __init__(self, config: SourceConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session
        self.headers = {"User-Agent": config.user_agent, **dict(config.headers)}

    async def entries(self) -> list[Entry]:
        """Fetch the page and return its ticker lines in page order."""
        page = await fetch(self.session, self.config.url, timeout=self.config.timeout, headers=self.headers)
        html = decode(page.body, page.content_type)
        return extract(html, page.url, selector=self.config.selector, headings=self.config.headings)
