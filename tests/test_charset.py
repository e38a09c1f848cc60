"""Tests for monitor.charset: one reading of a body's charset, as browsers read it, for every source kind."""

from __future__ import annotations

import codecs
import json

import pytest

from monitor.charset import REPLACEMENT, Kind, charset_of, decode
from monitor.errors import ExtractError
from monitor.sources.feed import parse_feed
from monitor.sources.json import parse_json

BASE = "https://news.example.net/feed"


@pytest.mark.parametrize(
    "body, content_type, expected",
    [
        pytest.param("café".encode(), None, "café", id="default-utf8"),
        pytest.param(b"caf\xe9", None, "caf\ufffd", id="bad-utf8-replaced"),
        pytest.param(b"caf\xe9 \x93q\x94", "text/html; charset=ISO-8859-1", "café “q”", id="latin1-is-cp1252"),
        pytest.param(b"caf\xe9", "text/html; charset=nope", "caf\ufffd", id="unknown-header-utf8"),
        pytest.param(b"caf\xe9", "text/html; charset=base64", "caf\ufffd", id="non-text-codec"),
        pytest.param(b"caf\xe9", "text/html; charset=undefined", "caf\ufffd", id="undefined-codec"),
        pytest.param(
            b'<meta charset="bogus"><meta charset=latin-1>\xe9',
            None,
            '<meta charset="bogus"><meta charset=latin-1>é',
            id="second-meta",
        ),
        pytest.param(codecs.BOM_UTF8 + "é".encode(), None, "é", id="bom-utf8"),
        pytest.param(codecs.BOM_UTF8 + "é".encode(), "text/html; charset=utf-8", "é", id="bom-utf8-header"),
        pytest.param(codecs.BOM_UTF16_LE + "عاجل".encode("utf-16-le"), None, "عاجل", id="bom-utf16le"),
        pytest.param(codecs.BOM_UTF16_BE + "عاجل".encode("utf-16-be"), None, "عاجل", id="bom-utf16be"),
        pytest.param(
            b'<meta charset="utf-16">\xc3\xa9',
            None,
            '<meta charset="utf-16">é',
            id="meta-utf16-is-utf8",
        ),
        pytest.param(
            b" " * 5000 + b'<meta charset="cp1256">\xc7',
            None,
            " " * 5000 + '<meta charset="cp1256">\ufffd',
            id="meta-beyond-4k",
        ),
        pytest.param("é".encode("cp1252"), "text/html; charset=cp1252; foo=bar", "é", id="header-params"),
        pytest.param(b"", None, "", id="empty"),
    ],
)
def test_decode(body: bytes, content_type: str | None, expected: str) -> None:
    assert decode(body, content_type) == expected


@pytest.mark.parametrize(
    ("body", "content_type", "expected", "origin"),
    [
        # browsers: a byte order mark, then the HTTP charset, then <meta>
        pytest.param(
            codecs.BOM_UTF8 + "عاجل".encode(),
            "text/html; charset=windows-1256",
            "عاجل",
            "from the byte order mark",
            id="bom-beats-header",
        ),
        pytest.param(
            codecs.BOM_UTF16_LE + '<meta charset="windows-1256">ع'.encode("utf-16-le"),
            None,
            '<meta charset="windows-1256">ع',
            "from the byte order mark",
            id="bom-beats-meta",
        ),
        pytest.param(
            '<meta charset="utf-8">ع'.encode("cp1256"),
            "text/html; charset=windows-1256",
            '<meta charset="utf-8">ع',
            "from the HTTP header",
            id="header-beats-meta",
        ),
        pytest.param(
            '<?xml version="1.0" encoding="windows-1256"?>\xe9'.encode("cp1252"),
            None,
            '<?xml version="1.0" encoding="windows-1256"?>\ufffd',
            "default",
            id="html-has-no-xml-declaration",
        ),
    ],
)
def test_browser_order(body: bytes, content_type: str | None, expected: str, origin: str) -> None:
    assert decode(body, content_type) == expected
    assert charset_of(body, content_type).origin == origin


UTF7 = "+ADw-b+AD4-drone+ADw-/b+AD4-"  # "<b>drone</b>" in UTF-7


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(UTF7.encode(), "text/html; charset=utf-7", id="header"),
        pytest.param(UTF7.encode(), "text/html; charset=UTF7", id="header-alias"),
        pytest.param(f'<meta charset="utf-7">{UTF7}'.encode(), None, id="meta"),
        pytest.param(f'<meta charset="unicode-1-1-utf-7">{UTF7}'.encode(), "text/html", id="meta-alias"),
    ],
)
def test_utf7_is_never_read(body: bytes, content_type: str | None) -> None:
    # not a WHATWG encoding, and a way to smuggle markup past a filter: its label is passed over
    assert (charset_of(body, content_type).codec, charset_of(body, content_type).origin) == ("utf-8", "default")
    assert UTF7 in decode(body, content_type)


def test_utf7_is_never_read_by_a_feed_or_json_source() -> None:
    item = f"<item><title>{UTF7}</title></item>"
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{item}</channel></rss>'.encode()
    declared = feed.replace(b'version="1.0"?>', b'version="1.0" encoding="utf-7"?>')
    assert [e.text for e in parse_feed(feed, BASE, "application/rss+xml; charset=utf-7")] == [UTF7]
    assert [e.text for e in parse_feed(declared, BASE, "application/rss+xml")] == [UTF7]
    doc = json.dumps({"d": [{"title": UTF7}]}).encode()
    entries = parse_json(
        doc, items="d", text="title", link=None, base_url=BASE, content_type="application/json; charset=utf-7"
    )
    assert [e.text for e in entries] == [UTF7]


@pytest.mark.parametrize("label", ["iso-2022-kr", "csISO2022KR", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext"])
def test_replacement_labels_read_as_one_replacement_character(label: str) -> None:
    # WHATWG's "replacement" encoding: the whole body is one U+FFFD, whatever Python could make of it
    body = b"\x1b$)C\x0e!!\x0f<b>x</b>"
    meta = f'<meta charset="{label}">'.encode() + body
    for content_type, page in [(f"text/html; charset={label}", body), (None, meta)]:
        assert charset_of(page, content_type).codec == REPLACEMENT
        assert decode(page, content_type) == "\ufffd"
    assert decode(b"", f"text/html; charset={label}") == ""
    with pytest.raises(ExtractError, match="not an RSS or Atom feed"):
        parse_feed(b'<?xml version="1.0" encoding="' + label.encode() + b'"?><rss version="2.0"></rss>', BASE)
    with pytest.raises(ExtractError, match=f"invalid JSON: not {label.lower()} text"):
        parse_json(
            b'{"d": []}',
            items="d",
            text="t",
            link=None,
            base_url=BASE,
            content_type=f"application/json; charset={label}",
        )


def test_json_with_a_charset_that_is_no_text_encoding_reads_utf8() -> None:
    # it raised LookupError (no ExtractError) before
    doc = json.dumps({"d": [{"title": "عاجل"}]}, ensure_ascii=False).encode()
    entries = parse_json(
        doc, items="d", text="title", link=None, base_url=BASE, content_type="application/json; charset=base64"
    )
    assert [e.text for e in entries] == ["عاجل"]


@pytest.mark.parametrize(
    ("body", "content_type", "kind", "codec", "origin"),
    [
        pytest.param(
            b'<?xml version="1.0" encoding="windows-1256"?><rss/>',
            "application/rss+xml",
            "feed",
            "cp1256",
            "from the XML declaration",
            id="feed-xml-declaration",
        ),
        pytest.param(
            b'<?xml version="1.0" encoding="windows-1256"?><rss/>',
            "text/xml; charset=koi8-r",
            "feed",
            "koi8-r",
            "from the HTTP header",
            id="feed-header-beats-declaration",
        ),
        pytest.param(
            b'<?xml version="1.0" encoding="utf-16"?><rss/>',
            None,
            "feed",
            "utf-8",
            "from the XML declaration",
            id="feed-ascii-declaration-of-utf16-is-utf8",
        ),
        pytest.param(
            '<?xml version="1.0"?><rss/>'.encode("utf-16-le"),
            None,
            "feed",
            "utf-16-le",
            "from its first bytes",
            id="feed-utf16-without-bom",
        ),
        pytest.param(b'<meta charset="windows-1256"><rss/>', None, "feed", "utf-8", "default", id="feed-has-no-meta"),
        pytest.param(
            '{"d": 1}'.encode("utf-16-le"),
            None,
            "json",
            "utf-16-le",
            "from its first bytes",
            id="json-utf16-without-bom",
        ),
        pytest.param(b'{"d": "<meta charset=windows-1256>"}', None, "json", "utf-8", "default", id="json-has-no-meta"),
        pytest.param(
            codecs.BOM_UTF8 + b"{}",
            "application/json; charset=windows-1256",
            "json",
            "utf-8",
            "from the byte order mark",
            id="json-bom-beats-header",
        ),
    ],
)
def test_charset_of_each_kind(body: bytes, content_type: str | None, kind: Kind, codec: str, origin: str) -> None:
    charset = charset_of(body, content_type, kind)
    assert (charset.codec, charset.origin) == (codec, origin)
