"""Source kinds behind one protocol: each turns a configured source into ticker entries."""

from __future__ import annotations

from typing import Protocol

import aiohttp

from ..config import SourceConfig
from ..models import Entry
from .html import HtmlSource


class Source(Protocol):
    """Something that can be asked for its current ticker entries, newest first."""

    config: SourceConfig

    async def entries(self) -> list[Entry] | None:
        """Return the entries in page order, or None when the page has not changed (HTTP 304)."""
        ...


SOURCES: dict[str, type[HtmlSource]] = {"html": HtmlSource}


def make_source(config: SourceConfig, session: aiohttp.ClientSession) -> Source:
    """Build the source for a config entry."""
    return SOURCES["html"](config, session)
