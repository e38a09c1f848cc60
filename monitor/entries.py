"""A page's entries, built one way for html, feed and json sources.

Each kind says what its items offer: an item's lines, each as raw text with the links it may have. The
text is cleaned (monitor.normalize), empty and repeated lines are dropped, a line's link is the first of
its links that monitor.links makes an absolute http(s) URL, and the first MAX_ITEMS lines are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from .links import absolute_link
from .models import MAX_ITEMS, Entry, Parsed
from .normalize import clean

Item = TypeVar("Item")
# A line's raw text, and its possible links, best first: read only for a line that is kept.
Line = tuple[str, Iterable[object]]


def build_entries(
    items: Sequence[Item], lines: Callable[[Item], Sequence[Line]], base: str, limit: int = MAX_ITEMS
) -> Parsed:
    """Return the entries of the items' lines in order, at most limit of them, and how many the items offered."""
    entries: list[Entry] = []
    seen: set[str] = set()
    for n, item in enumerate(items):
        if len(entries) >= limit:
            return Parsed(entries, found=len(entries) + len(items) - n)
        offered = lines(item)
        for i, (raw, links) in enumerate(offered):
            text = clean(raw)
            if not text or text in seen:
                continue
            if len(entries) >= limit:  # an item of several lines (a run of text cut by split) filled it
                return Parsed(entries, found=len(entries) + len(offered) - i + len(items) - n - 1)
            seen.add(text)
            entries.append(Entry(text, _first_link(links, base)))
    return Parsed(entries, found=len(entries))


def _first_link(links: Iterable[object], base: str) -> str | None:
    for link in links:
        if url := absolute_link(link, base):
            return url
    return None
