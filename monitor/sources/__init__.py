"""Source kinds behind one protocol: each turns a configured source into ticker entries.

A new kind is one module and one entry in SOURCES.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import aiohttp

from ..config_types import SourceConfig
from ..models import Entry
from .feed import FeedSource
from .fetcher import Fetcher
from .html import HtmlSource
from .json import JsonSource


class Source(Protocol):
    """Something that can be asked for its current ticker entries, newest first."""

    config: SourceConfig
    fetcher: Fetcher  # holds the validators of the last page read

    async def entries(self) -> list[Entry] | None:
        """Return the entries in page order, or None when the page has not changed (HTTP 304)."""
        ...


SOURCES: dict[str, Callable[[SourceConfig, aiohttp.ClientSession], Source]] = {
    "html": HtmlSource,
    "feed": FeedSource,
    "json": JsonSource,
}


def make_source(config: SourceConfig, session: aiohttp.ClientSession) -> Source:
    """Build the source for a config entry."""
    return SOURCES[config.type](config, session)
