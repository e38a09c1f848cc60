"""Bound what one page's markup may cost lexbor, before it is parsed.

lexbor walks its stack of open elements for many tags: a start tag that closes an open <p>
(div, ul, ol, section, blockquote, dl, ...), dd/dt/li, and end tags with no open match. Deep
nesting therefore makes a parse quadratic: measured on the 2-core reference machine, 20,000 nested
<div>, <ul>, <section> or <blockquote> take 0.8-1.2 s, 10,000 <dl><dd> pairs 1 s, and 2,000 <span>
followed by 2,000 unmatched end tags (a flat tag count, any element) 7 ms, 8,000 of them 80 ms.
Unclosed formatting elements, nested <a> and tables are linear (20,000 deep: under 20 ms).

So the cost is about (tags) x (stack depth). A page with few tags cannot be costly whatever its
nesting: that is decided by a count at C speed, the common case (CHEAP_TAGS decides which pages may
be parsed on the event loop; NEVER_REFUSED which need no scan). Otherwise a scan models which
elements stay open (void elements never; a <p> is closed by the elements that close it; li, dd,
dt, option, tr, td by their next sibling) and sums the stack depth over the tags.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from .errors import ExtractError

# A page with at most this many '<' is parsed without a scan: its worst case (every tag nested in
# the last, or unmatched end tags under deep nesting) costs lexbor about 30 ms. A 93 KB news page
# has 2,600.
CHEAP_TAGS = 3_000
# Real pages nest a few dozen levels; 10,000 nested <div> still parse (0.2 s).
MAX_DEPTH = 20_000
# The sum over tags of the open-element stack depth; lexbor spends about 2-3 ns per unit.
# 10,000 nested <div> (opened and closed) are 1e8; 2.5e8 is about 0.6 s.
MAX_WORK = 250_000_000
# The scan cannot refuse a page of at most this many tags: its depth is at most its tag count, and its
# work at most the square of it. Skipping the scan there changes no answer and saves its cost (about
# 15 ms of Python on a 10,000-tag page, more than lexbor's parse of it).
NEVER_REFUSED = min(MAX_DEPTH, math.isqrt(MAX_WORK))

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)")
# Raw text and comments: tags in them are not tags. An unclosed one is left in (and overcounted).
_RAW = re.compile(r"<(script|style|textarea|title|xmp)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_VOID = frozenset(
    "area base br col embed hr img input keygen link meta param source track wbr frame basefont bgsound".split()
)
_CLOSES_P = frozenset(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hgroup hr main menu nav ol p pre listing search section summary table "
    "ul li dd dt plaintext xmp".split()
)
# An item closes an open item of its kind a few levels up (<li><a>one<li>two), not across a list.
_ITEMS = {
    "li": {"li"},
    "dd": {"dd", "dt"},
    "dt": {"dd", "dt"},
    "option": {"option"},
    "tr": {"tr", "td", "th"},
    "td": {"td", "th"},
    "th": {"td", "th"},
}
_LISTS = frozenset(["ul", "ol", "dl", "select", "table", "tbody", "thead", "tfoot"])
_ITEM_REACH = 8
_CHUNK = 64 * 1024


def check_markup(html: str) -> None:
    """Raise ExtractError if parsing the page would nest too deep or cost too much; cheap on normal pages."""
    if html.count("<") > NEVER_REFUSED:
        _scan(html)


def _scan(html: str) -> None:
    """Model the stack of open elements over the page's tags; raise ExtractError past the bounds."""
    stack: list[str] = []
    open_count: dict[str, int] = {}
    work = tags = 0
    for closing, raw in _tags(html):
        name = raw.lower()
        tags += 1
        work += len(stack)
        if work > MAX_WORK:
            raise ExtractError(
                f"page's markup is too costly to parse ({tags:,} tags so far, nested {work // tags:,} deep "
                "on average); not parsed"
            )
        if closing:
            if open_count.get(name):
                while (top := stack.pop()) != name:
                    open_count[top] -= 1
                open_count[name] -= 1
            continue
        if name in _VOID:
            continue
        if name in _CLOSES_P and open_count.get("p"):
            _close(stack, open_count, {"p"})
        if (siblings := _ITEMS.get(name)) is not None:
            _close_item(stack, open_count, siblings)
        stack.append(name)
        open_count[name] = open_count.get(name, 0) + 1
        if len(stack) > MAX_DEPTH:
            raise ExtractError(f"page nests <{name}> (and others) more than {MAX_DEPTH} levels deep; not parsed")


def _tags(html: str) -> Iterator[tuple[str, str]]:
    """Yield (closing slash, name) of the tags, a chunk at a time: a refusal need not read the rest."""
    start = 0
    while start < len(html):
        end = html.find("<", start + _CHUNK)
        end = len(html) if end < 0 else end
        yield from _TAG.findall(_RAW.sub("", html[start:end]))  # a script across two chunks is overcounted
        start = end


def _close(stack: list[str], open_count: dict[str, int], names: set[str]) -> None:
    """Pop the stack down to and including the topmost element named in names."""
    while stack:
        top = stack.pop()
        open_count[top] -= 1
        if top in names:
            return


def _close_item(stack: list[str], open_count: dict[str, int], siblings: set[str]) -> None:
    """Close an open item of the same kind a few levels up, unless a list lies between."""
    for i in range(len(stack) - 1, max(len(stack) - _ITEM_REACH, 0) - 1, -1):
        if stack[i] in siblings:
            for name in stack[i:]:
                open_count[name] -= 1
            del stack[i:]
            return
        if stack[i] in _LISTS:
            return
