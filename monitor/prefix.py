"""Parse only the top of a page: a CSS selector's matches from a prefix, when that provably equals the whole page.

In HTML tree construction an element popped off the stack of open elements is never changed again, and
a later element is only ever inserted under an open element (or the head). So if the prefix html[:cut]
is parsed with a sentinel element appended, the sentinel's ancestors are the elements still open at the
cut, every other element is final, and a selector match of the whole page is either a closed element of
the prefix (found by the prefix parse, the same) or an element open at the cut or made after it. The
last kind is ruled out per selector compound: one of its names (tag, class, id, attribute) does not
occur in the rest of the page, character references decoded, and neither an open element nor a
formatting element of the prefix (which the parser may clone later, attributes and all) matches it.

Whatever cannot be shown falls back to the whole page: only a simple selector subset (type, class, id
and attribute compounds joined by descendant or child combinators), never a table part, never a cut in a
tag, comment, raw text, table, select, template or foreign content, nor under an open formatting element
(the adoption agency may move what is inside it), nor before a later <html>, <body>, <base> or <frameset>.
tests/test_prefix.py holds the proof: prefix and whole parses compared on thousands of generated pages.
"""

from __future__ import annotations

import functools
import html as entities
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from .extract import entries_of, page_base
from .markup import check_markup
from .models import MAX_ITEMS, Parsed

logger = logging.getLogger(__name__)
T = TypeVar("T")

# A name no page uses: random per process, so that no page can hold it (and fake the end of a prefix).
SENTINEL = f"x-monitor-cut-{secrets.token_hex(8)}"
_MARK = f"<{SENTINEL}></{SENTINEL}>"
FORMATTING = frozenset("a b big code em font i nobr s small strike strong tt u".split())
_TABLE = frozenset("table tbody thead tfoot tr".split())
_INVISIBLE = ["script", "style", "noscript", "template"]  # what extract.parse strips
# Open at the cut, these make the rest of the page parse in ways not modelled here.
_UNSAFE_OPEN = FORMATTING | frozenset(["select", "template", "noscript", "svg", "math", "frameset"])
# Elements the parser makes without their name in a start tag (implied, or renamed: <image> is an img).
_IMPLIED = frozenset("html head body colgroup p br img".split()) | _TABLE
_NEVER_MATCHED = frozenset(["html", "head", "body"]) | _TABLE
# Later in the page these change what is already parsed: attributes merged into <html> or <body>, a
# <base href> for the links, a frameset instead of the body.
_LATER = re.compile(rb"<(?:html|body|base|frameset)")
# The character references that make a name's characters (ASCII letters, digits, '_', '-'), in lower case:
# numeric ones (any zeros first; the digits run to the first non-digit) and the three named ones.
_REFS = re.compile(
    rb"&#0*(?:45|4[89]|5[0-7]|6[5-9]|[78][0-9]|9[05789]|1[01][0-9]|12[0-2])(?![0-9])"
    rb"|&#x0*(?:2d|3[0-9]|4[1-9a-f]|5[0-9af]|6[1-9a-f]|7[0-9a])(?![0-9a-f])"
    rb"|&(?:fjlig|lowbar|underbar)"
)
# Smaller pages parse whole: a prefix saves less than its checks cost (bench/prefix_parse.py).
MIN_PAGE = 32_000  # characters
# A cut past two thirds of the page saves little: learn() looks no further.
MOST = 2 / 3
AUDIT_EVERY = 20  # every 20th prefix poll of a source is also parsed whole and compared
_MAX_WAIT = 64  # polls between tries to learn a cut, after misses (doubling)

_IDENT = r"-?[A-Za-z_][A-Za-z0-9_-]*"
_VALUE = rf"""(?:\s*[~|^$*]?=\s*(?:{_IDENT}|"[^"\\]*"|'[^'\\]*')\s*)?\]"""
_ATTR = rf"\[\s*(?:{_IDENT}){_VALUE}"
_COMPOUND = re.compile(rf"(?P<tag>{_IDENT}|\*)?(?P<rest>(?:\.{_IDENT}|\#{_IDENT}|{_ATTR})*)")
_COMBINATOR = re.compile(r"\s*>\s*|\s+")
_PARTS = re.compile(rf"([.#])({_IDENT})|\[\s*({_IDENT}){_VALUE}")


@dataclass(frozen=True, slots=True)
class Compound:
    """One compound of a selector: its tag (None for any), its other parts, and the names it needs."""

    tag: str | None
    rest: str  # the classes, id and attributes
    classes: tuple[str, ...]
    ids: tuple[str, ...]
    attributes: tuple[str, ...]  # the attribute names (their values are not looked at)
    names: tuple[bytes, ...]  # lower-case names that must occur in a start tag of an element it matches

    def may_match(self, node: LexborNode) -> bool:
        """Whether the compound may match an element: its tag, classes, id and attribute names, in any case."""
        if self.tag is not None and node.tag != self.tag:
            return False
        attrs = {k.lower(): (v or "").lower() for k, v in node.attributes.items()}
        words = attrs.get("class", "").split()
        return (
            all(c in words for c in self.classes)
            and all(i in attrs.get("id", "").split() for i in self.ids)
            and all(a in attrs for a in self.attributes)
        )


@functools.lru_cache(maxsize=256)
def plan(selector: str) -> tuple[Compound, ...] | None:
    """Return a selector's compounds, or None if it is outside the subset a prefix parse is proven for."""
    compounds: list[Compound] = []
    text, at = selector.strip(), 0
    while True:
        m = _COMPOUND.match(text, at)
        if m is None or m.end() == at:
            return None
        tag = (m["tag"] or "*").lower()
        if tag in _TABLE:
            return None
        parts = [(kind, (name or attr).lower()) for kind, name, attr in _PARTS.findall(m["rest"]) if name or attr]
        classes = tuple(n for k, n in parts if k == ".")
        ids = tuple(n for k, n in parts if k == "#")
        attributes = tuple(n for k, n in parts if not k)
        names = [*classes, *ids, *attributes] + ([] if tag in ("*", *_IMPLIED) else [tag])
        names_folded = tuple(n.encode() for n in names)
        compounds.append(Compound(None if tag == "*" else tag, m["rest"], classes, ids, attributes, names_folded))
        at = m.end()
        if at == len(text):
            return tuple(compounds)
        if (c := _COMBINATOR.match(text, at)) is None or c.end() == len(text):
            return None
        at = c.end()


def select_prefix(
    html: str, cut: int, selector: str, base_url: str, *, limit: int = MAX_ITEMS, split: str | None = None
) -> Parsed | None:
    """Return what extract_page(html, selector=...) returns, from a parse of html[:cut] (moved to just
    after a '>'), or None when that equality cannot be shown (then parse the whole page)."""
    compounds = plan(selector)
    cut = _after_tag(html, cut)
    if compounds is None or not 0 < cut < len(html):
        return None
    later = html[cut:]
    text = _folded(later)
    if _later_changes(text):
        return None
    if _REFS.search(text):  # a character reference may spell a name's letters
        text += b"\0" + _folded(entities.unescape(later))
    head = html[:cut]
    tree = LexborHTMLParser(head + _MARK)
    path = _open_path(tree)
    if path is None or not _safe_path(path):
        return None
    opened = [*path[:-1], *([tree.head] if tree.head is not None else [])]
    if not any(_blocked(c, text, opened, tree) for c in compounds):
        return None
    path[-1].decompose()  # the sentinel
    tree.strip_tags(_INVISIBLE, recursive=True)
    try:
        nodes = tree.css(selector)
    except (SelectolaxError, ValueError, TypeError):
        return None
    if not nodes or not _closed(nodes, path[:-1]):
        return None
    return entries_of(nodes, page_base(tree, head, base_url), split, limit)


def _folded(text: str) -> bytes:
    """Return text as bytes, ASCII letters in lower case: names are matched ASCII-case-insensitively at most."""
    try:
        raw = text.encode("latin-1")  # a copy, when the page is in Latin-1 (or ASCII)
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "replace")
    return raw.lower()


def _after_tag(html: str, cut: int) -> int:
    """Return the position just after the first '>' at or after cut - 1 (0 if none)."""
    return html.find(">", max(cut - 1, 0)) + 1


def _later_changes(later: bytes) -> bool:
    """Whether the rest of the page (lower case) may change elements already parsed."""
    return _LATER.search(later) is not None


def _open_path(tree: LexborHTMLParser) -> list[LexborNode] | None:
    """Return the elements open at the cut, root first, then the sentinel; None unless the sentinel is an
    element and the last node of the document (a foster-parented one sits before its open table)."""
    node = tree.root
    path: list[LexborNode] = []
    while node is not None:
        path.append(node)
        node = node.last_child
    if not path or path[-1].tag != SENTINEL or not path[-1].is_element_node:
        return None
    return path


def _safe_path(path: list[LexborNode]) -> bool:
    """Whether no element open at the cut makes the rest of the page parse in a way not modelled here."""
    return not any(n.tag in _UNSAFE_OPEN for n in path)


def _blocked(compound: Compound, text: bytes, opened: list[LexborNode], tree: LexborHTMLParser) -> bool:
    """Whether no element open at the cut or made after it can match a compound."""
    if not _absent(compound.names, text):
        return False
    if any(compound.may_match(n) for n in opened):
        return False
    return not _cloneable(compound, tree)


def _absent(names: tuple[bytes, ...], text: bytes) -> bool:
    """Whether one of the names does not occur in the text (the rest of the page, lower case)."""
    return any(name not in text for name in names)


def _cloneable(compound: Compound, tree: LexborHTMLParser) -> bool:
    """Whether a formatting element of the prefix matches a compound: the parser may clone it after the cut."""
    if compound.tag is not None and compound.tag not in FORMATTING:
        return False
    if not compound.rest:
        return tree.css_first(compound.tag or "*") is not None
    return any(n.tag in FORMATTING for n in tree.css(f"{compound.tag or ''}{compound.rest}"))


def _closed(nodes: list[LexborNode], opened: list[LexborNode]) -> bool:
    """Whether every match was closed before the cut (and is no table part, nor html/head/body)."""
    ids = {n.mem_id for n in opened}
    return not any(n.mem_id in ids or n.tag in _NEVER_MATCHED for n in nodes)


def learn(
    html: str, whole: Parsed, selector: str, base_url: str, *, limit: int = MAX_ITEMS, split: str | None = None
) -> tuple[int, Parsed] | None:
    """Return the first of a few cuts (past the last line of `whole`, the page parsed whole, then at a
    quarter and a half of the page; none past MOST of it) at which select_prefix answers, and its answer."""
    n = len(html)
    cuts: list[int] = []
    if whole.entries and not whole.capped and (at := html.rfind(whole.entries[-1].text[:20])) >= 0:
        cuts += [at + d for d in (0, 1024, 4096)]
    cuts += [n // 4, n // 2]
    tried: set[int] = set()
    for cut in cuts:
        cut = _after_tag(html, cut)
        if cut <= 0 or cut > n * MOST or cut in tried or (tried and cut < max(tried)):
            continue
        tried.add(cut)
        if (got := select_prefix(html, cut, selector, base_url, limit=limit, split=split)) is not None:
            return cut, got
    return None


class PrefixCut:
    """One html source's prefix parsing: where its ticker ended, and when to learn that again."""

    __slots__ = ("misses", "name", "off", "offset", "polls", "wait_until")

    def __init__(self, name: str) -> None:
        self.name = name
        self.offset: int | None = None  # characters of the decoded page to parse; None: parse it whole
        self.polls = 0
        self.misses = 0  # polls in a row that parsed the whole page
        self.wait_until = 2  # the poll from which to learn a cut (not on a process's first poll: --once)
        self.off = False  # a prefix parse once differed from the whole page's: never again

    def extract(
        self, html: str, base_url: str, selector: str, split: str | None, whole: Callable[[], Parsed]
    ) -> Parsed:
        """Return whole() (the page parsed whole), computed from a prefix of html when that is proven equal."""
        if self.off or len(html) < MIN_PAGE or plan(selector) is None:
            return whole()
        self.polls += 1
        if self.offset is not None:
            check_markup(html)  # a page refused whole is refused here too
            got = self._guarded(select_prefix, html, self.offset, selector, base_url, split=split)
            if got is not None:
                self.misses = 0
                return self._audit(got, whole) if self.polls % AUDIT_EVERY == 0 else got
            self.offset = None
        parsed = whole()
        self.misses += 1
        if self.polls >= self.wait_until and not self.off:
            if (found := self._guarded(learn, html, parsed, selector, base_url, split=split)) is None:
                self.wait_until = self.polls + min(2**self.misses, _MAX_WAIT)
            elif self._same(found[1], parsed, found[0]):
                self.offset = found[0]
        return parsed

    def _guarded(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Return fn(...), or None if it fails: then log it, and this source's pages are parsed whole."""
        try:
            return fn(*args, **kwargs)
        except Exception:
            logger.exception("extract.prefix_failed source=%s", self.name)
            self.off, self.offset = True, None
            return None

    def _audit(self, got: Parsed, whole: Callable[[], Parsed]) -> Parsed:
        parsed = whole()
        self._same(got, parsed, self.offset)
        return parsed

    def _same(self, got: Parsed, parsed: Parsed, cut: int | None) -> bool:
        """Whether a prefix parse gave the whole page's answer; if not, log it and parse this source whole."""
        if got == parsed:
            return True
        logger.error(
            "extract.prefix_drift source=%s cut=%s prefix=%d whole=%d",
            self.name,
            cut,
            len(got.entries),
            len(parsed.entries),
        )
        self.off, self.offset = True, None
        return False
