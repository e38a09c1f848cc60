"""HTML pages: fetch, decode, then find the ticker by selector or by its heading."""

from __future__ import annotations

from ..charset import decode
from ..config_types import SourceConfig
from ..extract import extract_page
from ..http import Page
from ..markup import CHEAP_TAGS
from ..models import Parsed
from .fetcher import OFF_LOOP_BYTES, FetchedSource

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


def parse_html(config: SourceConfig, page: Page) -> Parsed:
    """Decode a fetched page and extract its ticker lines."""
    html = decode(page.body, page.content_type)
    return extract_page(html, page.url, selector=config.selector, headings=config.headings, split=config.split)


class HtmlSource(FetchedSource):
    """A web page with a ticker on it."""

    accept = HTML_ACCEPT
    parser = staticmethod(parse_html)

    def on_loop(self, page: Page) -> bool:
        # Few tags bound lexbor's worst case (markup.py); counted at C speed. A page in a charset
        # where '<' is not b"<" is still refused by extract's own check, only on the loop.
        return len(page.body) < OFF_LOOP_BYTES and page.body.count(b"<") <= CHEAP_TAGS
