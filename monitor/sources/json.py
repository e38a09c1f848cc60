"""JSON endpoints that a page's script loads its ticker from.

`items` is the dotted path to the list (``data.breaking``, ``data.0.items``; ``.`` is the top level);
an object there is one item (a single breaking-news banner), and null or null fields are no items now,
`text` and `link` the (possibly dotted) fields of each element (``text: .`` for a list of strings).
Repeated texts are kept once, as in html and feed sources. JSONP (``callback({...})``) is not
supported: point the source at an endpoint that returns plain JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..charset import charset_of
from ..config_reader import Node, field_defaults
from ..config_types import JsonSettings, SourceConfig
from ..entries import Line, build_entries
from ..errors import ExtractError
from ..http import Page
from ..models import MAX_ITEMS, Entry, Parsed
from .feed import strip_html
from .fetcher import FetchedSource

JSON_ACCEPT = "application/json, text/javascript;q=0.9, */*;q=0.5"
_JSONP = re.compile(r"^\s*[\w$.]+\s*\(")
_INDEX = re.compile(r"^-?\d+$")


def parse_json_page(config: SourceConfig[JsonSettings], page: Page) -> Parsed:
    """Read the entries of a fetched JSON document."""
    c = config.kind
    return read_json(
        page.body,
        items=c.items,
        text=c.text_field,
        link=c.link_field,
        base_url=page.url,
        content_type=page.content_type,
    )


class JsonSource(FetchedSource):
    """A JSON document holding a list of ticker items."""

    accept = JSON_ACCEPT
    parser = staticmethod(parse_json_page)


KEYS = ("items", "text", "link")  # a json source's own keys in its config entry
_JSON = field_defaults(JsonSettings)


def read_settings(n: Node) -> JsonSettings:
    """Read a json source's own keys: items (required), text, link."""
    items = n.string("items")
    if not items:
        raise n.missing("items", "is required for a json source: the dotted path to the list, e.g. data.breaking")
    return JsonSettings(items, text_field=n.string("text", _JSON.text_field), link_field=n.string("link"))


def parse_json(
    body: bytes, *, items: str, text: str, link: str | None, base_url: str, content_type: str | None = None
) -> list[Entry]:
    """Return the entries of the list at `items` (the first MAX_ITEMS): cleaned text and absolute link."""
    return read_json(body, items=items, text=text, link=link, base_url=base_url, content_type=content_type).entries


def read_json(
    body: bytes,
    *,
    items: str,
    text: str,
    link: str | None,
    base_url: str,
    content_type: str | None = None,
    limit: int = MAX_ITEMS,
) -> Parsed:
    """Return the first `limit` entries of the list at `items`, repeats dropped, and how many it has."""
    found = resolve(load_json(body, content_type), items)
    # An object holding the text field is one item (a single banner); null is no item right now.
    banner = isinstance(found, dict) and _has(found, text)
    elements = [] if found is None else [found] if banner else found
    if not isinstance(elements, list):
        raise ExtractError(f"{items!r} is not a list (it is {describe(found)})")
    parsed = build_entries(elements, lambda element: _line(element, text, link), base_url, limit)
    # Not one line offered, and no element has the text field (a wrong `text:`); null fields are "nothing now".
    if elements and not parsed.found and not any(_has(e, text) for e in elements):
        raise ExtractError(f"no element of {items!r} has a {text!r} string")
    return parsed


def _has(element: Any, path: str) -> bool:
    """Whether an element has the (possibly dotted) field, whatever its value, null included."""
    return _walk(element, _parts(path))[1] is None


def load_json(body: bytes, content_type: str | None = None) -> Any:
    """Decode and parse a JSON body (as monitor.charset reads it: a BOM, the header's charset, else UTF-8/16/32)."""
    charset = charset_of(body, content_type, "json")
    try:
        text = charset.decode(body, errors="strict").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise ExtractError(f"invalid JSON: not {charset.label} text (byte {exc.start + charset.bom})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = ""
        if _JSONP.match(text):
            hint = " (it looks like JSONP, a function call around the JSON: not supported)"
        elif text.lstrip()[:1] == "<":
            hint = " (it looks like HTML or XML: use type: html or type: feed)"
        raise ExtractError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}") from None
    except RecursionError:
        raise ExtractError("invalid JSON: nested too deeply") from None


def resolve(data: Any, path: str) -> Any:
    """Return the value at a dotted path, raising ExtractError that says where the path broke."""
    parts = _parts(path)
    value, failed = _walk(data, parts)
    if failed is None:
        return value
    part, parent = parts[failed], value
    if isinstance(parent, dict):
        keys = ", ".join(list(map(str, parent))[:20]) + (", …" if len(parent) > 20 else "") or "none"
        where = f"available keys: {keys}"
    elif isinstance(parent, list):
        where = f"a list of {len(parent)}" + (f", indexes 0 to {len(parent) - 1}" if parent else "")
    else:
        where = f"{'.'.join(parts[:failed]) or 'the top level'} is {describe(parent)}"
    raise ExtractError(f"JSON path {path!r} not found (at {part!r}: {where})")


def _line(element: Any, text: str, link: str | None) -> list[Line]:
    """Return an element's line (its text field, a string or a number) and its link; none without one."""
    value = _field(element, text)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return []
    return [(strip_html(value) if isinstance(value, str) else str(value), [_field(element, link) if link else None])]


def _parts(path: str | None) -> list[str]:
    path = (path or "").strip()
    return [] if path in ("", ".", "$") else path.removeprefix("$.").split(".")


def _field(element: Any, path: str) -> Any:
    """Return an element's (possibly dotted) field, or None if it has none."""
    value, failed = _walk(element, _parts(path))
    return value if failed is None else None


def _walk(node: Any, parts: list[str]) -> tuple[Any, int | None]:
    """Follow parts from node: (value, None), or (the last value reached, index of the failing part)."""
    for i, part in enumerate(parts):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and _INDEX.match(part) and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return node, i
    return node, None


def describe(value: Any) -> str:
    """Name a JSON value's kind for an error message."""
    if isinstance(value, dict):
        return f"an object with keys: {', '.join(list(map(str, value))[:10]) or 'none'}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a string" if isinstance(value, str) else "a number"
