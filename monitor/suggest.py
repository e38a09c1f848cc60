"""Pure: a page whose ticker has no heading -> CSS selectors that may pick it out, likeliest first.

A ticker is a run of repeated sibling elements (the li of a list; divs, spans or links of one tag and
class) holding short lines, or one element holding a run of text with separators ("A | B | C"). Class
and id names such as ticker, breaking or latest rank a run higher; menus, footers, link lists of one-
or two-word items and long paragraphs rank it lower, and below zero it is not offered. Every selector
is checked by running the extractor with it: it yields the lines shown, and only those.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from selectolax.lexbor import LexborHTMLParser, LexborNode

from .errors import ExtractError
from .extract import TICKER_HINT, entries_of, extract, page_base, parse, select
from .models import MAX_ITEMS, Entry
from .split import usual_separator

SHOWN = 5
_MENU = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|menus|footer|breadcrumbs?|social|share|sharing|pagination|pager"
    r"|copyright|lang|languages|tags|sitemap)(?:$|[\s_-])",
    re.IGNORECASE,
)
_NAME = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")  # class and id names usable in a selector as they are
_SENTENCE = re.compile(r"[.!?؟]\s+\S")
_DATELINE = re.compile(r"^\W*[^\W\d][^:.!?]{0,40}:\s")  # "Lebanon: ...", "Iraq's PM: ...": a ticker line's head
_ASIDE = re.compile(r"sidebar|related|popular|most[-_]?read|most[-_]?viewed|recommend", re.IGNORECASE)
_NOT_ITEMS = frozenset(
    "br hr img input option meta link source svg path iframe picture video audio button select textarea "
    "head title html".split()
)
_BLOCKS = frozenset("div li p ul ol article section h1 h2 h3 h4 h5 h6 tr table dl blockquote".split())
_MAX_TEXT = 3000  # an element with more text than this is no ticker line
_MAX_RUN = 50_000  # ... and one with more than this no run of them
_MAX_GROUPS = 30  # the best runs for which a selector is sought
_MAX_UP = 100  # ancestors looked at; real pages nest a few dozen deep


@dataclass(frozen=True, slots=True)
class Candidate:
    """A selector (and separator) that picks a likely ticker out of the page, and the lines it yields."""

    selector: str
    split: str | None  # the separator for `split:` when the ticker is one run of text
    entries: list[Entry]
    score: int
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Group:
    nodes: list[LexborNode]
    classes: tuple[str, ...]  # class names every node has, usable in a selector
    split: str | None
    order: int


def suggest(html: str, url: str, *, shown: int = SHOWN) -> list[Candidate]:
    """Return up to `shown` candidate tickers of a page, best first; ExtractError if the page is refused."""
    tree = parse(html)
    base = page_base(tree, html, url)
    scored = []
    for group in _groups(tree):
        if (rank := _score(group, base)) is not None and rank[0] > 0:
            scored.append((rank, group))
    scored.sort(key=lambda s: (-s[0][0], s[1].split is not None, s[1].order))
    found: list[Candidate] = []
    lines: set[tuple[str, ...]] = set()
    chosen: set[int] = set()  # the candidates' elements
    holders: set[int] = set()  # ... and every element that holds one
    for (score, reasons, texts), group in scored[:_MAX_GROUPS]:
        if len(found) >= shown:
            break
        # A run inside a better one, or around it (its container, or the same lines as one run of
        # text), is that ticker again.
        if tuple(texts) in lines or any(
            n.mem_id in holders or not chosen.isdisjoint(_up(n.parent)) for n in group.nodes
        ):
            continue
        if (selector := _selector(tree, group, base, texts)) is None:
            continue
        # What the html source will do with it: the whole extraction again, from the page text.
        entries = extract(html, url, selector=selector, split=group.split)
        if [e.text for e in entries] == texts:
            found.append(Candidate(selector, group.split, entries, score, reasons))
            lines.add(tuple(texts))
            chosen.update(n.mem_id for n in group.nodes)
            holders.update(i for n in group.nodes for i in _up(n))
    return found


def _up(node: LexborNode | None) -> list[int]:
    """Return the ids of a node and of its ancestors, up to _MAX_UP of them (a hostile page nests thousands)."""
    ids: list[int] = []
    while node is not None and len(ids) < _MAX_UP:
        ids.append(node.mem_id)
        node = node.parent
    return ids


def _groups(tree: LexborHTMLParser) -> list[_Group]:
    """Return each run of sibling elements of one tag (and class), and each element with a run of text."""
    groups: list[_Group] = []
    if tree.root is None:
        return groups
    for order, parent in enumerate(tree.root.traverse()):
        by_tag: dict[str, list[LexborNode]] = {}
        for child in islice(parent.iter(), 2 * MAX_ITEMS):
            if child.tag and child.tag not in _NOT_ITEMS:
                by_tag.setdefault(child.tag, []).append(child)
        for members in by_tag.values():
            if len(members) < 2:
                continue
            names = [set(_classes(m)) for m in members]
            counts = Counter(c for n in names for c in n)
            runs: dict[tuple[int, ...], list[str]] = {}  # a member set -> the class names that pick it
            for c, k in counts.items():
                if k >= 2 and _NAME.match(c):
                    runs.setdefault(tuple(i for i, n in enumerate(names) if c in n), []).append(c)
            if not runs:
                runs[tuple(range(len(members)))] = []
            for indexes, classes in runs.items():
                ranked = sorted(classes, key=lambda c: not TICKER_HINT.search(c))
                groups.append(_Group([members[i] for i in indexes], tuple(ranked), None, order))
        own = " ".join(n.text_content or "" for n in parent.iter(include_text=True) if n.is_text_node)
        if parent.tag not in _NOT_ITEMS and (sep := usual_separator(own)):
            groups.append(_Group([parent], tuple(c for c in _classes(parent) if _NAME.match(c)), sep, order))
    return groups


def _classes(node: LexborNode) -> list[str]:
    return (node.attributes.get("class") or "").split()


def _score(group: _Group, base: str) -> tuple[int, tuple[str, ...], list[str]] | None:
    """Return (score, reasons, lines) of a run; None if it holds fewer than two lines."""
    if any(len(node.text(deep=True)) > (_MAX_RUN if group.split else _MAX_TEXT) for node in group.nodes):
        return None
    texts = [e.text for e in entries_of(group.nodes, base, group.split).entries]  # as the extractor gives them
    if len(texts) < 2:
        return None
    words = statistics.median(len(t.split()) for t in texts)
    score, reasons = 0, [f"{len(texts)} lines, {words:g} words a line (median)"]
    if words <= 2:  # never a ticker, whatever its names say
        score -= 5
        reasons.append("one- or two-word items, as in a menu")
    elif words > 35:
        score -= 3
        reasons.append("long texts, as in an article")
    elif words >= 4:
        score += 3
    if sum(bool(_SENTENCE.search(t)) for t in texts) * 2 > len(texts):
        score -= 2
        reasons.append("several sentences an item")
    if len(texts) >= 3:
        score += 1
    if sum(bool(_DATELINE.match(t)) for t in texts) * 2 > len(texts):
        score += 2
        reasons.append("lines open with a place or a source ('Lebanon: ...')")
    if _holds_rows(group.nodes[0]):
        score -= 3
        reasons.append("each item holds a list of its own")
    if group.nodes[0].tag == "p":
        score -= 2
        reasons.append("paragraphs")
    hint, menu, aside = _marks(group.nodes[0])
    if hint:
        score += 4
        reasons.append(f"class or id says {hint!r}")
    if menu:
        score -= 4
        reasons.append(f"inside {menu}")
    elif aside:
        score -= 1
        reasons.append(f"in {aside}")
    if any(a.tag == "article" for a in _ancestors(group.nodes[0])):
        score -= 2
        reasons.append("inside an <article>")
    return score, tuple(reasons), list(texts)


def _holds_rows(node: LexborNode) -> bool:
    """Whether an element holds list items, or two blocks with words: a container of lines, not a line."""
    if len(node.css("li")) > (node.tag == "li"):  # the node itself may be among them
        return True
    return sum(1 for c in islice(node.iter(), 50) if c.tag in _BLOCKS and c.text(deep=True).strip()) >= 2


def _ancestors(node: LexborNode) -> Iterator[LexborNode]:
    current = node.parent
    for _ in range(_MAX_UP):
        if current is None or not current.is_element_node:
            break
        yield current
        current = current.parent


def _marks(node: LexborNode) -> tuple[str | None, str | None, str | None]:
    """Return the ticker word in the names around a node (itself and 3 ancestors), the menu around it,
    and the sidebar around it."""
    hint = menu = aside = None
    current: LexborNode | None = node
    for depth in range(12):
        if current is None or not current.is_element_node or current.tag in ("body", "html"):
            break
        attrs = current.attributes
        names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
        if hint is None and depth <= 3 and (m := TICKER_HINT.search(f"{names} <{current.tag}>")):
            hint = m.group(0).lower()
        if menu is None and (current.tag in ("nav", "footer") or attrs.get("role") == "navigation"):
            menu = f"<{current.tag}>"
        elif menu is None and (m := _MENU.search(names)):
            menu = f"a {m.group(0).strip(' _-').lower()}"
        if aside is None and current.tag == "aside":
            aside = "an <aside>"
        elif aside is None and (m := _ASIDE.search(names)):
            aside = f"a {m.group(0).lower()} box"
        current = current.parent
    return hint, menu, aside


def _selector(tree: LexborHTMLParser, group: _Group, base: str, texts: list[str]) -> str | None:
    """Return the shortest selector found that yields exactly the group's lines, or None."""
    first = group.nodes[0]
    tag = first.tag or ""
    items = [f"{tag}.{c}" for c in group.classes] + [tag]
    tried = [*items]
    context = ""  # ancestors, outermost first
    ancestor = first.parent
    for _ in range(4):
        if ancestor is None or ancestor.tag in ("html", "-document"):
            break
        tried += [f"{token} {context}".rstrip() + f" > {items[0]}" for token in _tokens(ancestor)]
        context = f"{_tokens(ancestor)[0]} {context}".rstrip()
        ancestor = ancestor.parent
    # A class or id, else a parent, outlives a change elsewhere on the page better than a bare tag.
    tried.sort(key=lambda sel: 0 if "." in sel or "#" in sel else 1 if " " in sel else 2)
    for selector in tried:
        try:
            lines = [e.text for e in select(tree, selector, base, split=group.split).entries]
        except ExtractError:
            continue
        if lines == texts:
            return selector
    return None


def _tokens(node: LexborNode) -> list[str]:
    """Return the ways to name an element in a selector, most specific first."""
    tag = node.tag or ""
    ident = node.attributes.get("id") or ""
    classes = [c for c in _classes(node) if _NAME.match(c)]
    classes.sort(key=lambda c: not TICKER_HINT.search(c))
    return ([f"#{ident}"] if _NAME.match(ident) else []) + [f"{tag}.{c}" for c in classes] + [tag]
