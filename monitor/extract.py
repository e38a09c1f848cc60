"""Pure page-to-entries extraction: find the ticker lines in a decoded page (monitor.charset decodes it).

With a CSS selector every match is one line. Without one, the ticker is found by its heading
("BREAKING", "عاجل", ...): the element whose own text is the heading, then the nearest run of
repeated children beside or under it, or one element holding a run of text with separators.
With `split`, an element's text is cut into items at a separator ("A | B | C") before it is cleaned;
heading search cuts a single element found at the usual separators by itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from .config_types import DEFAULT_HEADINGS
from .entries import Line, build_entries
from .errors import ExtractError
from .links import absolute_link
from .markup import check_markup
from .models import MAX_ITEMS, Entry, Parsed
from .normalize import clean, fold
from .split import AUTO, MIN_ITEM, split_text, usual_separator

_INVISIBLE = ["script", "style", "noscript", "template"]
_TOP = frozenset({"body", "html", "head", "-document"})
_NO_TEXT = frozenset({"title", "textarea", "option", "select"}) | _TOP
_BLOCK = frozenset(
    "address article aside blockquote br dd div dl dt figcaption footer h1 h2 h3 h4 h5 h6 header hr li "
    "main marquee nav ol p section table td th tr ul".split()
)
_HEADING_TAGS = frozenset(
    ["h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "span", "div", "label", "p", "th", "dt", "legend"]
)
_WRAPPERS = frozenset(["div", "section", "aside", "header", "footer", "article", "marquee", "span", "td", "body"])
_LISTS = frozenset({"ul", "ol", "marquee"})
_NO_DESCEND = frozenset({"article", "main", "nav", "footer", "form"})
# Class and id words of ticker containers; probe's suggestions rank by the same words.
TICKER_HINT = re.compile(r"breaking|urgent|ticker|news[-_]?bar|flash|latest|marquee|alert|scroll|ajel", re.IGNORECASE)
_MENU = re.compile(r"\b(?:nav|menu|navbar|navigation)\b", re.IGNORECASE)
_KEY_JUNK = re.compile(r"[\W_]+")
_WORD = re.compile(r"\w")
_BASE = re.compile(r"<base\b", re.IGNORECASE)  # no such text, no <base> element: skip the CSS scan
_MAX_UP = 5  # ancestor levels walked up from a heading while looking for its items
_MAX_SIBLINGS = 300  # following siblings looked at on one level
_MAX_CANDIDATES = 50
_MAX_ROWS = 2 * MAX_ITEMS  # children of one container looked at for rows
_SMALL = 6  # a heading element holds at most this many elements


def extract(
    html: str,
    base_url: str,
    *,
    selector: str | None = None,
    headings: Sequence[str] = DEFAULT_HEADINGS,
    limit: int = MAX_ITEMS,
    split: str | None = None,
) -> list[Entry]:
    """Return the ticker lines of a page in page order (the first `limit`), found by selector or by heading."""
    return extract_page(html, base_url, selector=selector, headings=headings, limit=limit, split=split).entries


def extract_page(
    html: str,
    base_url: str,
    *,
    selector: str | None = None,
    headings: Sequence[str] = DEFAULT_HEADINGS,
    limit: int = MAX_ITEMS,
    split: str | None = None,
) -> Parsed:
    """Return the first `limit` ticker lines of a page and how many it has; ExtractError if none or too costly.

    split: a separator to cut each element's text at, or AUTO (see monitor.split).
    """
    tree = parse(html)
    base = page_base(tree, html, base_url)
    if selector is not None:
        return select(tree, selector, base, limit=limit, split=split)
    keys = {_key(h): h for h in headings if _key(h)}
    candidates = _candidates(tree.root, keys) if tree.root is not None and keys else []
    if not candidates:
        raise ExtractError(f"heading not found (looked for: {', '.join(headings)})")
    for _score, _order, anchor, _heading in candidates:
        nodes = _items_near(anchor)
        # One element under a heading is a run of text when it holds separators: cut it by itself.
        how = split if split is not None or len(nodes) != 1 else AUTO
        if (parsed := entries_of(nodes, base, how, limit)).entries:
            return parsed
    raise ExtractError(f"heading {candidates[0][3]!r} found but no items beside it")


def parse(html: str) -> LexborHTMLParser:
    """Return the parsed page without its invisible elements; ExtractError if its markup is too costly."""
    check_markup(html)
    tree = LexborHTMLParser(html)
    tree.strip_tags(_INVISIBLE, recursive=True)
    return tree


def page_base(tree: LexborHTMLParser, html: str, base_url: str) -> str:
    """Return the URL the page's links are relative to: its <base href>, else its own."""
    if _BASE.search(html) and (base_tag := tree.css_first("base[href]")) is not None:
        return absolute_link(base_tag.attributes.get("href"), base_url) or base_url
    return base_url


def select(
    tree: LexborHTMLParser, selector: str, base: str, *, limit: int = MAX_ITEMS, split: str | None = None
) -> Parsed:
    """Return the lines of a parsed page's elements that a CSS selector matches, one per element (or cut by split)."""
    try:
        nodes = tree.css(selector)
    except (SelectolaxError, ValueError, TypeError) as exc:
        raise ExtractError(f"invalid selector {selector!r}: {exc}") from None
    if not nodes:
        raise ExtractError(f"selector {selector!r} matched nothing")
    return entries_of(nodes, base, split, limit)


def entries_of(nodes: list[LexborNode], base: str, split: str | None = None, limit: int = MAX_ITEMS) -> Parsed:
    """Return the first `limit` lines of item elements (each cut by split, if given) and how many they hold."""
    return build_entries(nodes, functools.partial(_lines, base=base, split=split), base, limit)


def item_text(element: LexborNode) -> str:
    """Return an element's text as a line: visible text, cleaned."""
    return clean(_visible_text(element))


@functools.lru_cache(maxsize=8192)  # pages repeat their menu texts poll after poll
def _key(text: str) -> str:
    """Return the comparison key of a heading: folded, without spaces or punctuation."""
    return _KEY_JUNK.sub("", fold(clean(text)))


def _candidates(root: LexborNode, keys: dict[str, str]) -> list[tuple[int, int, LexborNode, str]]:
    """Return (score, order, anchor, heading) for each heading element found, best first."""
    limit = 4 * max(map(len, keys)) + 40
    every_key = "\n".join(keys)  # a fragment (no spaces) is in some key iff it is in this string
    found: dict[int, tuple[int, int, LexborNode, str]] = {}
    # This loop visits every node of the page: the cheapest tests come first.
    for order, node in enumerate(root.traverse(include_text=True)):
        if not node.is_text_node:
            continue
        text = node.text_content
        if not text or len(text := text.strip()) > limit or not text:
            continue
        fragment = _key(text)
        if not fragment or fragment not in every_key:
            continue
        parent = node.parent
        if parent is None or parent.tag in _NO_TEXT:
            continue
        if len(found) >= _MAX_CANDIDATES:
            break
        if (hit := _whole_text_match(parent, keys, limit)) is not None:
            element, heading = hit
            anchor = element
        elif parent.tag in _WRAPPERS and (direct := _key(_direct_text(parent))) in keys:
            element, anchor, heading = parent, node, keys[direct]
        else:
            continue
        if (score := _score(element)) is not None and element.mem_id not in found:
            found[element.mem_id] = (score, order, anchor, heading)
    return sorted(found.values(), key=lambda c: (-c[0], c[1]))


def _whole_text_match(node: LexborNode | None, keys: dict[str, str], limit: int) -> tuple[LexborNode, str] | None:
    """Return the outermost small element around a text's parent whose whole text is a heading."""
    best = None
    for _ in range(4):
        if node is None or not node.is_element_node or node.tag in _NO_TEXT:
            break
        if (text := _small_text(node, limit)) is None:
            break
        if (key := _key(text)) in keys:
            best = (node, keys[key])
        elif best is not None:
            break
        node = node.parent
    if best is None:
        return None
    sides = (best[0].prev, best[0].next)  # words right beside it: part of a sentence, not a heading
    prose = any(s and s.is_text_node and _WORD.search(s.text_content or "") for s in sides)
    return None if prose else best


def _small_text(element: LexborNode, limit: int) -> str | None:
    """Return an element's text, or None if it holds too many elements or too much text."""
    if sum(1 for _ in islice(element.traverse(), _SMALL + 1)) > _SMALL:
        return None
    text = _visible_text(element)
    return text if len(text) <= 2 * limit else None


def _direct_text(element: LexborNode) -> str:
    """Return the text of the text nodes directly inside an element."""
    return " ".join(n.text_content or "" for n in element.iter(include_text=True) if n.is_text_node)


def _score(element: LexborNode) -> int | None:
    """Rank a heading candidate; None for a link that is one item of a menu list."""
    hinted = menu = False
    in_link = element.css_first("a") is not None
    node: LexborNode | None = element
    for depth in range(60):
        if node is None or not node.is_element_node or node.tag in _TOP:
            break
        attrs = node.attributes
        marks = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
        hinted = hinted or (depth < 4 and bool(TICKER_HINT.search(marks)))
        menu = menu or node.tag == "nav" or attrs.get("role") == "navigation"
        menu = menu or bool(_MENU.search(marks))
        in_link = in_link or node.tag == "a"
        # A link that is one of 3+ list items is a menu entry, not a heading.
        if (
            in_link
            and node.tag == "li"
            and node.parent is not None
            and sum(1 for s in node.parent.iter() if s.tag == "li") >= 3
        ):
            return None
        node = node.parent
    return (element.tag in _HEADING_TAGS) + 3 * hinted - 4 * menu - 2 * in_link


def _items_near(anchor: LexborNode) -> list[LexborNode]:
    """Return the item elements of the nearest list-like run beside or under a heading."""
    node: LexborNode | None = anchor
    for _ in range(_MAX_UP + 1):
        if node is None or node.tag in _TOP:
            break
        siblings: list[LexborNode] = []
        sib = node.next
        while sib is not None and len(siblings) < _MAX_SIBLINGS:
            if sib.is_element_node:
                siblings.append(sib)
            sib = sib.next
        if run := _rows(siblings, first_shape=True):
            return run
        for sibling in siblings[:4]:
            if rows := _find_rows(sibling):
                return rows
        if any(s.tag in _LISTS for s in siblings):
            break  # the ticker list is there but empty: do not wander off to other lists
        node = node.parent
    return []


def _find_rows(element: LexborNode) -> list[LexborNode]:
    """Return the rows of the first container at or under an element (depth ≤ 3, pre-order), or the
    first element there whose own text is a run of items with separators ("A | B | C")."""
    stack = [(element, 0)]
    while stack:
        node, depth = stack.pop()
        if node.tag in _NO_DESCEND:
            continue
        children = list(islice(node.iter(), _MAX_ROWS))
        # Separators with words between them: items as plain text, perhaps some in links; the
        # links alone would be rows missing the rest.
        run = usual_separator(direct := _direct_text(node)) is not None
        if run and _WORD.search(direct):
            return [node]
        # A list element is a ticker even while it holds a single item.
        if rows := _rows(children, first_shape=False, least=1 if node.tag in ("ul", "ol") else 2):
            return rows
        if run:
            return [node]
        if depth < 3:
            stack.extend((child, depth + 1) for child in reversed(children[:50]))
    return []


def _rows(children: list[LexborNode], *, first_shape: bool, least: int = 2) -> list[LexborNode]:
    """Return ≥ least word-bearing children of one tag (the first such child's, or the commonest).

    Only the first _MAX_ROWS children are looked at: a list of 80,000 is cut there, not read whole.
    """
    wordy = [c for c in islice(children, _MAX_ROWS) if _WORD.search(c.text())]
    tags = [c.tag for c in wordy]
    if not tags:
        return []
    shape = tags[0] if first_shape else max(dict.fromkeys(tags), key=tags.count)
    rows = [c for c in wordy if c.tag == shape]
    return rows if len(rows) >= least else []


def _lines(element: LexborNode, base: str, split: str | None) -> list[Line]:
    """Return an item element's line and its links; with split, its pieces of MIN_ITEM characters or more."""
    raw = _visible_text(element)
    pieces = split_text(raw, split) if split else [raw]
    if len(pieces) == 1:
        return [(raw, _hrefs(element))]
    texts = [clean(p) for p in pieces]
    links = _piece_links(element, texts, base)
    return [(text, link) for text, link in zip(texts, links, strict=True) if len(text) >= MIN_ITEM]


def _piece_links(element: LexborNode, texts: list[str], base: str) -> list[Iterable[object]]:
    """Return the links of each piece of an element cut at a separator: the link whose text is in it.

    Links are taken in page order, as the pieces are; a piece that holds none has no link. An element
    without links inside gives each piece its own links (an enclosing <a>).
    """
    anchors = [a for a in islice(element.traverse(), 1, None) if a.tag == "a" and absolute_link(_href(a), base)]
    if not anchors:
        return [tuple(_hrefs(element))] * len(texts)
    links: list[Iterable[object]] = []
    j = 0
    for text in texts:
        link: list[object] = []
        for k in range(j, min(j + 3, len(anchors))):  # a few pieces may be plain text between links
            label = item_text(anchors[k])
            if label and len(text) >= MIN_ITEM and (label in text or text in label):
                link, j = [_href(anchors[k])], k + 1
                break
        links.append(link)
    return links


def _visible_text(element: LexborNode) -> str:
    """Return an element's text, with a space at line breaks and block boundaries."""
    parts: list[str] = []
    stop = element.mem_id
    node: LexborNode | None = element.first_child
    while node is not None:
        if node.is_text_node:
            parts.append(node.text_content or "")
        elif node.is_element_node:
            parts.append(" " if node.tag in _BLOCK else "")
            if node.first_child is not None:
                node = node.first_child
                continue
        while node is not None and node.next is None:
            node = node.parent
            if node is None or node.mem_id == stop:
                return "".join(parts)
            parts.append(" " if node.tag in _BLOCK else "")
        node = node.next if node is not None else None
    return "".join(parts)


def _hrefs(element: LexborNode) -> Iterator[str | None]:
    """Yield the hrefs an item's link may be, best first: its own, its inner links' in order, its enclosing <a>'s."""
    if element.tag == "a":
        yield _href(element)
    for inner in islice(element.traverse(), 1, None):  # its descendants, in document order
        if inner.tag == "a":
            yield _href(inner)
    node = element.parent
    for _ in range(50):
        if node is None or not node.is_element_node:
            return
        if node.tag == "a":
            yield _href(node)
            return
        node = node.parent


def _href(anchor: LexborNode) -> str | None:
    return anchor.attributes.get("href")
