"""Which character encoding a fetched body is in: one rule for html, feed and json sources and probe.

As browsers decide (WHATWG Encoding): a byte order mark wins; then the charset of the Content-Type
header; then what the body says of itself (html: a <meta> charset in its first 4 KB; a feed: its XML
declaration; json: UTF-16 or UTF-32 told by its first bytes, RFC 4627); else UTF-8. A label names
Python's codec of that name, except that:
- UTF-7 is never used: no WHATWG encoding, and a known way to smuggle markup past filters. Its label
  is passed over like an unknown one, and so are codecs that are not text encodings (base64);
- ISO-2022-KR, ISO-2022-CN and HZ-GB-2312 are WHATWG's "replacement" encoding: the whole body reads
  as one U+FFFD, as in browsers (the same kind of smuggling);
- ISO-8859-1 and US-ASCII are windows-1252, and a UTF-16 or UTF-32 label in a <meta> or XML
  declaration readable as ASCII means UTF-8, as in browsers.
UTF-32 (its byte order mark or label) is read too, though browsers do not.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["html", "feed", "json"]

REPLACEMENT = "replacement"
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([^"';,\s]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:\-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""\A<\?xml\s[^>]*?encoding\s*=\s*["']\s*([a-z0-9_.:\-]+)""", re.IGNORECASE)
_META_BYTES = 4096  # how far into a page a <meta> charset is looked for
# UTF-32 LE before UTF-16 LE: its mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_UTF16 = ((b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))  # "<?" without a mark (XML Appendix F)
_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252"}
_NOT_READ = {"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "utf-7"}
_REPLACEMENT_LABELS = {"csiso2022kr", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext", "iso-2022-kr"}
_REPLACEMENT_CODECS = {"iso2022_kr", "hz"}  # what Python reads those labels (and their aliases) as


@dataclass(frozen=True, slots=True)
class Charset:
    """How a body is decoded: the codec, where it was found, and its label as the body or header gives it."""

    codec: str  # Python's codec name, or REPLACEMENT
    origin: str  # as probe reports it: "from the HTTP header", "default", ...
    label: str  # as written (lower case); the codec's name for a byte order mark or a default
    bom: int = 0  # bytes of byte order mark before the text

    def decode(self, body: bytes, errors: str = "replace") -> str:
        """Return the text of body; with errors="strict", UnicodeDecodeError where it is not in this charset."""
        if self.codec != REPLACEMENT:
            return body[self.bom :].decode(self.codec, errors)
        if body and errors == "strict":
            raise UnicodeDecodeError(self.label, body, 0, len(body), "the replacement encoding reads nothing")
        return "\ufffd" if body else ""


def decode(body: bytes, content_type: str | None, kind: Kind = "html") -> str:
    """Return the text of a fetched body (see charset_of); bytes not in its charset become U+FFFD."""
    return charset_of(body, content_type, kind).decode(body)


def charset_of(body: bytes, content_type: str | None, kind: Kind = "html") -> Charset:
    """Return how a body of a kind is decoded: its byte order mark, else the HTTP charset, else what the body
    says (html <meta>, feed XML declaration, json first bytes), else UTF-8."""
    for mark, marked in _BOMS:
        if body.startswith(mark):
            return Charset(marked, "from the byte order mark", marked, len(mark))
    header = _HEADER_CHARSET.search(content_type or "")
    if header is not None and (name := codec(header.group(1))) is not None:
        return Charset(name, "from the HTTP header", _label(header.group(1)))
    if kind == "html":
        found = _declared(_META_CHARSET.finditer(body[:_META_BYTES]), "from <meta>")
    elif kind == "feed":
        found = _sniffed(body) or _declared(_XML_ENCODING.finditer(body), "from the XML declaration")
    elif (sniffed := json.detect_encoding(body)) != "utf-8":  # UTF-16 or UTF-32 told by its zero bytes
        found = Charset(sniffed, "from its first bytes", sniffed)
    else:
        found = None
    return found or Charset("utf-8", "default", "utf-8")


def codec(label: str) -> str | None:
    """Return the codec a charset label is read with (Python's name, or REPLACEMENT); None if it is not used."""
    label = _label(label)
    if label in _REPLACEMENT_LABELS:
        return REPLACEMENT
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_READ:
        return None
    if info.name in _REPLACEMENT_CODECS:
        return REPLACEMENT
    return _ALIASES.get(info.name, info.name)


def _sniffed(body: bytes) -> Charset | None:
    """Return the charset that an XML body's first bytes tell without a byte order mark, if they tell one."""
    name = next((name for start, name in _XML_UTF16 if body.startswith(start)), None)
    return Charset(name, "from its first bytes", name) if name else None


def _declared(matches: Iterable[re.Match[bytes]], origin: str) -> Charset | None:
    """Return the charset of the first usable label a body declares (<meta>, XML declaration)."""
    for match in matches:
        label = match.group(1).decode("ascii")
        if (name := codec(label)) is not None:
            if name.startswith(("utf-16", "utf-32")):  # the label itself reads as ASCII: it is wrong
                return Charset("utf-8", origin, "utf-8")
            return Charset(name, origin, _label(label))
    return None


def _label(label: str) -> str:
    return label.strip().strip("\"'").strip().lower()
