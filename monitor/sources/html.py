"""HTML pages: fetch, decode, then find the ticker by selector or by its heading."""

from __future__ import annotations

from ..extract import decode, extract
from ..http import Page
from ..models import Entry
from .fetcher import FetchedSource

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


class HtmlSource(FetchedSource):
    """A web page with a ticker on it."""

    accept = HTML_ACCEPT

    def parse(self, page: Page) -> list[Entry]:
        html = decode(page.body, page.content_type)
        return extract(html, page.url, selector=self.config.selector, headings=self.config.headings)
