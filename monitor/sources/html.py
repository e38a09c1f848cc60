"""HTML pages: fetch, decode, then find the ticker by selector or by its heading."""

from __future__ import annotations

import aiohttp
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from ..charset import decode
from ..config_reader import Node
from ..config_types import AnySource, HtmlSettings, SourceConfig
from ..extract import extract_page
from ..http import Page
from ..markup import CHEAP_TAGS
from ..models import Entry, Parsed
from ..prefix import PrefixCut
from ..split import AUTO
from .fetcher import OFF_LOOP_BYTES, FetchedSource

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
KEYS = ("selector", "heading", "split")  # an html source's own keys in its config entry
_HTML = HtmlSettings()


def read_settings(n: Node) -> HtmlSettings:
    """Read an html source's own keys: a valid CSS selector, the heading(s), the separator to split at."""
    selector = n.string("selector")
    if selector is not None and (len(selector) > 1000 or not _valid_selector(selector)):
        raise n.error(f"invalid CSS selector {selector!r}", "selector")
    return HtmlSettings(selector=selector, headings=n.strings("heading") or _HTML.headings, split=_split(n))


def _valid_selector(selector: str) -> bool:
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except SelectolaxError:
        return False
    return True


def _split(n: Node) -> str | None:
    """`split: "|"` (a literal separator, its spaces matching any whitespace) or `split: auto`."""
    value = n.get("split")
    if value is None:
        return _HTML.split
    if value == "":  # `split: |` is YAML for an empty block of text
        raise n.error('is empty: write the separator in quotes, as in split: "|"', "split")
    if not isinstance(value, str) or not value.strip() or len(value) > 20 or not value.isprintable():
        raise n.error(
            f'expected a separator of at most 20 characters such as "|", "•" or " - ", or auto; got {value!r}', "split"
        )
    return AUTO if value.strip().lower() == AUTO else value


def parse_html(config: SourceConfig[HtmlSettings], page: Page, cut: PrefixCut | None = None) -> Parsed:
    """Decode a fetched page and extract its ticker lines (by a selector, from the page's top when
    `cut` shows that is the same)."""
    html = decode(page.body, page.content_type)
    kind = config.kind

    def whole() -> Parsed:
        return extract_page(html, page.url, selector=kind.selector, headings=kind.headings, split=kind.split)

    if cut is None or kind.selector is None:
        return whole()
    return cut.extract(html, page.url, kind.selector, kind.split, whole)


class HtmlSource(FetchedSource):
    """A web page with a ticker on it."""

    accept = HTML_ACCEPT
    parser = staticmethod(parse_html)

    def __init__(self, config: AnySource, session: aiohttp.ClientSession) -> None:
        super().__init__(config, session)
        self.cut = PrefixCut(config.name)  # pages parsed in a worker are parsed whole

    async def entries(self) -> list[Entry] | None:
        return await self.fetcher.read(type(self).parser, on_loop=self.on_loop, here=self.parse_here)

    def parse_here(self, page: Page) -> Parsed:
        """Parse a page on the event loop, keeping where its ticker ends."""
        return parse_html(self.config, page, self.cut)

    def on_loop(self, page: Page) -> bool:
        # Few tags bound lexbor's worst case (markup.py); counted at C speed. A page in a charset
        # where '<' is not b"<" is still refused by extract's own check, only on the loop.
        return len(page.body) < OFF_LOOP_BYTES and page.body.count(b"<") <= CHEAP_TAGS
