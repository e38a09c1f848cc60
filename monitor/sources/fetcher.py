"""One source's conditional GET: the last response's validators are sent back, 304 means unchanged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar

import aiohttp

from ..config_types import AnySource
from ..http import Page, fetch
from ..models import Entry, Parsed
from .pool import parse_in_worker

logger = logging.getLogger(__name__)

# Pages at least this big are parsed in a worker process (see pool.py), so that the event loop keeps
# serving the other sources meanwhile and a parse can be abandoned at its deadline. A flat 1 MB page
# costs lexbor about 10 ms; smaller ones stay on the loop (HtmlSource also sends pages with many tags).
OFF_LOOP_BYTES = 1024 * 1024

Parser = Callable[[AnySource, Page], Parsed]  # a module-level function: it is sent to a worker
Validators = tuple[str | None, str | None]  # ETag, Last-Modified


class Fetcher:
    """GETs a source's URL for it, asking conditionally with the validators of the last response."""

    def __init__(self, config: AnySource, session: aiohttp.ClientSession, accept: str) -> None:
        self.config = config
        self.session = session
        self.headers = {"User-Agent": config.user_agent, "Accept": accept, **dict(config.headers)}
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.max_age: float | None = None  # from the last answer's Cache-Control

    async def read(
        self, parse: Parser, *, on_loop: Callable[[Page], bool], here: Callable[[Page], Parsed] | None = None
    ) -> list[Entry] | None:
        """Fetch and parse the page (in a worker process unless on_loop(page), then with `here` if given);
        None on 304 Not Modified."""
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
        if not on_loop(page):
            parsed = await parse_in_worker(parse, self.config, page)
        else:
            parsed = here(page) if here is not None else parse(self.config, page)
        if parsed.capped:
            logger.warning(
                "extract.capped source=%s found=%d kept=%d", self.config.name, parsed.found, len(parsed.entries)
            )
        # Keep the validators only once the page was read: a page that failed to parse (a changed
        # markup) must come whole again next time, not as a 304 taken for "nothing changed".
        self.etag, self.last_modified = page.etag, page.last_modified
        return parsed.entries

    def forget_validators(self) -> None:
        """Ask for the whole page next time (its lines could not be recorded)."""
        self.etag = self.last_modified = None


class FetchedSource:
    """A source read over HTTP: subclasses name what they accept and how they parse a page."""

    accept: ClassVar[str]

    def __init__(self, config: AnySource, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.fetcher = Fetcher(config, session, self.accept)

    async def entries(self) -> list[Entry] | None:
        """Fetch and return the entries in page order; None if not modified."""
        return await self.fetcher.read(type(self).parser, on_loop=self.on_loop)

    @property
    def validators(self) -> Validators:
        """The ETag and Last-Modified of the last page read."""
        return self.fetcher.etag, self.fetcher.last_modified

    def restore(self, validators: Validators) -> None:
        """Ask "changed since?" with validators kept from an earlier run."""
        self.fetcher.etag, self.fetcher.last_modified = validators

    def forget_validators(self) -> None:
        """Ask for the whole page next time (its lines could not be recorded)."""
        self.fetcher.forget_validators()

    @property
    def max_age(self) -> float | None:
        """The Cache-Control max-age of the last answer, if it gave one."""
        return self.fetcher.max_age

    @staticmethod
    def parser(config: AnySource, page: Page) -> Parsed:
        """Turn a fetched page into entries, ExtractError if it holds none (a module-level function: it
        may run in a worker process)."""
        raise NotImplementedError

    def on_loop(self, page: Page) -> bool:
        """Whether the page is cheap enough to parse on the event loop."""
        return len(page.body) < OFF_LOOP_BYTES
