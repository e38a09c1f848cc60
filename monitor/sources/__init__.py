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
from .fetcher import Validators
from .html import HtmlSource
from .json import JsonSource


class Source(Protocol):
    """Something that can be asked for its current ticker entries, newest first."""

    config: SourceConfig

    async def entries(self) -> list[Entry] | None:
        """Return the entries in page order, or None when the page has not changed (HTTP 304)."""
        ...

    @property
    def validators(self) -> Validators:
        """The ETag and Last-Modified of the last page read: kept in the store across restarts."""
        ...

    def restore(self, validators: Validators) -> None:
        """Ask "changed since?" with validators kept from an earlier run."""
        ...

    def forget_validators(self) -> None:
        """Ask for the whole page next time (its lines could not be recorded)."""
        ...

    @property
    def max_age(self) -> float | None:
        """The Cache-Control max-age of the last answer, if it gave one."""
        ...


SOURCES: dict[str, Callable[[SourceConfig, aiohttp.ClientSession], Source]] = {
    "html": HtmlSource,
    "feed": FeedSource,
    "json": JsonSource,
}


def make_source(config: SourceConfig, session: aiohttp.ClientSession) -> Source:
    """Build the source for a config entry."""
    return SOURCES[config.type](config, session)
