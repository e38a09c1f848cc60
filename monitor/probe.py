"""Fetch a URL once and report how it reads as an html, feed or json source, with a config snippet.

An html page whose ticker has no heading gets candidate selectors instead (monitor.suggest), each
with the lines it yields and a source entry.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .charset import charset_of, decode
from .config_edit import entry_lines
from .config_reader import field_defaults
from .config_types import DEFAULT_HEADINGS, DefaultsConfig, JsonSettings
from .errors import ExtractError, FetchError
from .extract import extract
from .http import fetch
from .models import Entry
from .sources.feed import parse_feed
from .sources.json import load_json, parse_json
from .suggest import suggest

SHOWN = 10  # entries and candidate paths listed
_TEXT_NAMES = ("title", "headline", "text", "name", "content", "body", "description")
_LINK_NAMES = ("url", "link", "href", "permalink", "web_url", "share_url", "urls.web", "links.web")
_NOT_JSON = object()


@dataclass(frozen=True, slots=True)
class Report:
    """What probe found: the plain-text report, and the source entry it suggests (None: nothing found)."""

    text: str
    entry: dict[str, str] | None


async def probe(
    url: str,
    *,
    selector: str | None = None,
    items: str | None = None,
    text: str = field_defaults(JsonSettings).text_field,
    link: str | None = None,
    session: aiohttp.ClientSession,
    user_agent: str,
    timeout: float = DefaultsConfig().timeout,
    name: str | None = None,
) -> Report:
    """Fetch url once and report what each kind of source finds there, ending in a suggested source entry."""
    out = [f"Probing {url}"]
    try:
        page = await fetch(session, url, timeout=timeout, headers={"User-Agent": user_agent, "Accept": "*/*"})
    except FetchError as exc:
        out.append(f"fetch failed: {exc}")
        return Report("\n".join(out), None)
    host = (urlsplit(page.url).hostname or "source").removeprefix("www.")
    head = {"name": name or re.sub(r"[^\w.-]+", "-", host), "url": url}
    charset = charset_of(page.body, page.content_type)  # as an html source reads it
    out += [
        f"final URL:    {page.url}",
        f"HTTP status:  {page.status}",
        f"content type: {page.content_type or '(none)'}",
        f"charset:      {charset.codec} ({charset.origin})",
        f"size:         {len(page.body)} bytes",
    ]
    json_error = ""
    try:
        data = load_json(page.body, page.content_type)
    except ExtractError as exc:
        data, json_error = _NOT_JSON, str(exc)
    suggestion: dict[str, str] | None = None
    if data is not _NOT_JSON or items:
        suggestion = _as_json(out, page, data, json_error, items, text, link)
    if data is _NOT_JSON:
        suggestion = suggestion or _as_feed(out, page)
        if selector or suggestion is None:
            suggestion = suggestion or _as_html(out, page, selector, head)
    out.append("")
    if suggestion is None:
        out.append("Nothing to suggest: no kind of source found items here.")
        return Report("\n".join(out), None)
    entry = {**head, **suggestion}
    out.append("Suggested source entry (under sources:):")
    out += entry_lines(entry)
    return Report("\n".join(out), entry)


def _list(out: list[str], entries: list[Entry]) -> None:
    for i, entry in enumerate(entries[:SHOWN], 1):
        out.append(f"  {i:2}. {entry.text}")
        out.append(f"      -> {entry.link or '(no link)'}")
    more = f" (first {SHOWN} shown)" if len(entries) > SHOWN else ""
    out.append(f"  {len(entries)} item{'s' * (len(entries) != 1)}{more}")


def _as_html(out: list[str], page: Any, selector: str | None, head: dict[str, str]) -> dict[str, str] | None:
    html = decode(page.body, page.content_type)
    out.append("")
    try:
        entries = extract(html, page.url, selector=selector) if selector else extract(html, page.url)
    except ExtractError as exc:
        out.append(f"as html: {exc}")
        return None if selector else _as_candidates(out, html, page.url, head)
    if selector:
        out.append(f"as html, selector {selector!r} matches:")
        found = {"selector": selector}
    else:
        heading = _heading(html, page.url, entries)
        out.append(f"as html, heading {heading!r} found, items beside it:")
        found = {"heading": heading} if heading else {}
    _list(out, entries)
    return found if entries else None


def _as_candidates(out: list[str], html: str, url: str, head: dict[str, str]) -> dict[str, str] | None:
    """List the likeliest tickers of a page without a heading; return the best one's entry fields."""
    try:
        found = suggest(html, url)
    except ExtractError as exc:
        out.append(f"as html: {exc}")
        return None
    if not found:
        out.append("as html: no run of repeated elements with ticker-like lines found")
        return None
    out.append("as html, candidate tickers, likeliest first (each selector checked with the extractor):")
    suggestions = []
    for i, c in enumerate(found, 1):
        fields = {"selector": c.selector, **({"split": c.split} if c.split else {})}
        suggestions.append(fields)
        out.append(f"  {i}. {c.selector}" + (f"  (one run of text, split at {c.split.strip()!r})" if c.split else ""))
        out.append(f"     {'; '.join(c.reasons)}")
        out.append("     first lines:")
        out += [f"       {e.text}" for e in c.entries[:3]]
        out.append("     entry:")
        out += entry_lines({**head, **fields}, dash=7, key=9)
    return suggestions[0]


def _heading(html: str, url: str, entries: list[Entry]) -> str | None:
    """Return the default heading the ticker was found by: the one that alone gives these entries."""
    first = None
    for heading in DEFAULT_HEADINGS:
        try:
            alone = extract(html, url, headings=[heading])
        except ExtractError:
            continue
        if alone == entries:
            return heading
        first = first or heading
    return first


def _as_feed(out: list[str], page: Any) -> dict[str, str] | None:
    try:
        entries = parse_feed(page.body, page.url, page.content_type)
    except ExtractError as exc:
        if "HTML page" not in str(exc):  # the html section below says more about a page
            out += ["", f"as feed: {exc}"]
        return None
    out.append("")
    charset = charset_of(page.body, page.content_type, "feed")
    out.append(f"as feed (decoded as {charset.label}):")
    _list(out, entries)
    return {"type": "feed"}


def _as_json(
    out: list[str], page: Any, data: Any, error: str, items: str | None, text: str, link: str | None
) -> dict[str, str] | None:
    out.append("")
    if data is _NOT_JSON:
        out.append(f"as json: {error}")
        return None
    if not items:
        if not (found := _candidates(data)):
            out.append("as json: no list of objects with string fields found")
            return None
        out.append("as json, lists of objects (pick one as items, its fields as text and link):")
        for path, length, fields, _ in found[:SHOWN]:
            out.append(f"  {path}  ({length} element{'s' * (length != 1)}; string fields: {', '.join(fields[:12])})")
        items, _, fields, sample = found[0]
        text = next((f for f in _TEXT_NAMES if f in fields), fields[0])
        link = next((f for f in _LINK_NAMES if f in fields), None) or next(
            (f for f in fields if str(sample.get(f, "")).startswith(("http://", "https://", "/"))), None
        )
    try:
        entries = parse_json(
            page.body, items=items, text=text, link=link, base_url=page.url, content_type=page.content_type
        )
    except ExtractError as exc:
        out.append(f"as json: {exc}")
        return None
    out.append(f"as json, items {items!r}, text {text!r}, link {link!r}:")
    _list(out, entries)
    return {"type": "json", "items": items, "text": text, **({"link": link} if link else {})}


def _candidates(data: Any) -> list[tuple[str, int, list[str], dict[str, Any]]]:
    """Return (path, length, string fields, first element) of lists of objects, likeliest first."""
    found = []
    stack: list[tuple[Any, list[str]]] = [(data, [])]
    budget = 20000
    while stack and budget:
        node, path = stack.pop()
        budget -= 1
        if isinstance(node, dict):
            stack += [(v, [*path, str(k)]) for k, v in reversed(node.items()) if "." not in str(k)]
        elif isinstance(node, list):
            objects = [e for e in node[:50] if isinstance(e, dict)]
            fields: Counter[str] = Counter()
            for e in objects:
                fields.update(k for k, v in _flat(e).items() if isinstance(v, str) and v.strip())
            names = [k for k, _ in fields.most_common()]
            if names:
                found.append((".".join(path) or ".", len(node), names, _flat(objects[0])))
            stack += [(e, [*path, str(i)]) for i, e in reversed(list(enumerate(node[:3])))]
    found.sort(key=lambda c: (not any(f in c[2] for f in _TEXT_NAMES), -c[1]))
    return found


def _flat(element: dict[str, Any]) -> dict[str, Any]:
    """Return an element's addressable fields, with one level of nested objects as dotted keys."""
    flat: dict[str, Any] = {}
    for k, v in element.items():
        if "." not in str(k):
            flat[str(k)] = v
            if isinstance(v, dict):
                flat.update({f"{k}.{k2}": v2 for k2, v2 in v.items() if "." not in str(k2)})
    return flat
