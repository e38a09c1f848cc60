"""Source kinds behind one protocol: each turns a configured source into ticker entries.

SOURCES is the one list of kinds: config.py checks `type:` against it and has each kind read its
own keys. A new kind is one module (its class, and a reader of its keys) and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

import aiohttp

from ..config_reader import Node
from ..config_types import AnySource, FeedSettings, SourceSettings
from ..models import Entry
from . import html, json
from .feed import FeedSource
from .fetcher import Validators
from .html import HtmlSource
from .json import JsonSource


class Source(Protocol):
    """Something that can be asked for its current ticker entries, newest first."""

    config: AnySource

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


class SourceKind(NamedTuple):
    """One kind of source: the class that polls it, and how config.py reads its own keys."""

    make: Callable[[AnySource, aiohttp.ClientSession], Source]
    read: Callable[[Node], SourceSettings]  # the kind's settings from its keys in a source entry
    keys: tuple[str, ...] = ()  # those keys: an entry of another kind may keep them, unused ...
    only: tuple[str, ...] = ()  # ... but for these, which it may not set


SOURCES: dict[str, SourceKind] = {
    "html": SourceKind(HtmlSource, html.read_settings, html.KEYS, only=("split",)),
    "feed": SourceKind(FeedSource, lambda n: FeedSettings()),
    "json": SourceKind(JsonSource, json.read_settings, json.KEYS),
}
DEFAULT_KIND = "html"  # the kind of a source entry without `type:`


def make_source(config: AnySource, session: aiohttp.ClientSession) -> Source:
    """Build the source for a config entry."""
    return SOURCES[config.type].make(config, session)
