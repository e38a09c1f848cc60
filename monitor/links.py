"""Item links: resolve a link against its page and keep it only if it is an absolute http(s) URL.

One rule for html, feed and json sources, so no `tg://`, `file://`, `javascript:` or `data:` link
reaches a message: an allow-list of schemes, checked after joining (a relative link on a page whose
<base> says tg:// would otherwise come out as one).
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urljoin, urlsplit

SCHEMES = ("http", "https")
_TAB_NEWLINE = re.compile(r"[\t\n\r]")  # browsers drop these anywhere in a URL
_EDGES = "".join(map(chr, range(0x21)))  # C0 controls and space, trimmed at both ends as browsers do
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# "/a/b" or "/a/b?q": not "//host", no fragment, params, empty query, backslash or control character,
# and (checked apart) no dot segment
_PLAIN_PATH = re.compile(r"/(?![/\\])[^?#;\\\x00-\x20\x7f]*(?:\?[^#;\x00-\x1f\x7f]+)?\Z")


def absolute_link(link: object, base: str) -> str | None:
    """Return link resolved against base if that gives an absolute http(s) URL, else None."""
    if not isinstance(link, str):
        return None
    link = _TAB_NEWLINE.sub("", link).strip(_EDGES)
    # Most ticker links are plain site paths: their join is the base's origin + the path, which is
    # what the general case returns for them, at a fifth of the cost.
    if _PLAIN_PATH.match(link) and "/." not in link and (origin := _origin(base)):
        return origin + link
    return _resolve(link, base)


def _resolve(link: str, base: str) -> str | None:
    """The general case of absolute_link, for a link already trimmed."""
    if not link or link.startswith("#"):  # empty, or a place on the page itself
        return None
    try:
        url = urljoin(base, _slashes(link))
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a malformed URL, such as http://[::1
        return None
    if parts.scheme not in SCHEMES or not host or _CONTROL.search(url):
        return None
    return url if url.startswith(parts.scheme) else parts.scheme + url[len(parts.scheme) :]  # HTTP:// too


def _slashes(link: str) -> str:
    """Read backslashes before the query as slashes, as browsers do in http(s) URLs (\\\\host is //host)."""
    if "\\" not in link:
        return link
    end = min((i for i in (link.find("?"), link.find("#")) if i >= 0), default=len(link))
    return link[:end].replace("\\", "/") + link[end:]


@functools.lru_cache(maxsize=1024)
def _origin(base: str) -> str | None:
    """Return scheme://host[:port] of an http(s) base URL, as urljoin takes them; else None."""
    try:
        parts = urlsplit(base)
        host = parts.hostname
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in SCHEMES and host else None
