"""Tests for the feed and json sources: pure parsing on fixtures, then end to end on a local site."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sites import Site, ticker_page

from monitor.config import SourceConfig
from monitor.config_types import DEFAULT_USER_AGENT, FeedSettings, HtmlSettings, JsonSettings, SourceSettings
from monitor.errors import ExtractError, FetchError
from monitor.http import Page, new_session
from monitor.markup import CHEAP_TAGS
from monitor.models import Entry, Parsed
from monitor.sources import make_source, pool
from monitor.sources.feed import FeedSource, parse_feed
from monitor.sources.fetcher import OFF_LOOP_BYTES
from monitor.sources.html import HtmlSource, parse_html
from monitor.sources.json import JsonSource, parse_json

FEEDS = Path(__file__).parent / "data" / "feeds"
BASE = "https://feeds.example.net/dir/feed.xml"


def data(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def pairs(entries: list[Entry] | None) -> list[tuple[str, str | None]]:
    assert entries is not None
    return [(e.text, e.link) for e in entries]


# --- parse_feed on fixture feeds -------------------------------------------------------------

LEBANON = "Lebanon: Israeli drone strikes a car on the road between Bint Jbeil and Aitaroun"
ARABIC = [
    ("لبنان: مسيّرة إسرائيلية تستهدف سيارة على طريق بنت جبيل", "https://feeds.example.net/ar/news/7002"),
    ("اليمن: استئناف الرحلات في مطار صنعاء بعد توقف يومين", "https://feeds.example.net/ar/news/7001"),
    ("العراق: تأجيل جلسة البرلمان إلى الأسبوع المقبل", "https://ar.example.net/ar/news/7000"),
]

FEED_CASES = [
    pytest.param(
        "rss2.xml",
        "application/rss+xml; charset=utf-8",
        [
            # first of two items with this title: the repeat further down is dropped
            (LEBANON, "https://news.example.net/news/5004/lebanon-drone"),
            # escaped HTML in the title is stripped to text, whitespace collapsed, root-relative link
            (
                "URGENT Yemen: Sanaa airport resumes flights after a two-day halt",
                "https://feeds.example.net/news/5003/yemen-airport",
            ),
            # CDATA title with a tag; path-relative link resolved against the feed URL
            (
                "Iraq: Al Mayadeen's correspondent: Explosions heard near Baghdad airport",
                "https://feeds.example.net/dir/news/5002",
            ),
            # (an item with a description and no title is skipped)
            ("Markets: AT&T shares fall 3% – oil above $80", None),
        ],
        id="rss2",
    ),
    pytest.param(
        "rss091.xml",
        "text/xml",
        [
            (
                "Syria: State media: Air defences intercepted hostile targets over the capital",
                "http://wire.example.org/flash/77",
            ),
            ("Spain: Gobierno convoca reunión de urgencia en Madrid", "http://wire.example.org/flash/76"),
        ],
        id="rss091",
    ),
    pytest.param(
        "rss1_rdf.xml",
        None,
        [
            (
                "Palestine: Health Ministry in Gaza: The death toll has risen to 41 since dawn",
                "https://wire.example.org/flash/302",
            ),
            (
                "Russia: Kremlin: Talks with Washington have not yet been scheduled",
                "https://wire.example.org/flash/301",
            ),
            (
                "Iran: Foreign Ministry: Tehran will respond to any violation of its airspace",
                "https://wire.example.org/flash/300",
            ),
        ],
        id="rss1-rdf-no-content-type",
    ),
    pytest.param(
        "atom.xml",
        "application/atom+xml",
        [
            # type="html": tags and the script are gone; rel="alternate" wins over the enclosure;
            # relative hrefs resolve against xml:base
            ("BREAKING Iran: Explosion reported at a port in Bandar Abbas", "https://live.example.com/en/live/903"),
            ("Yemen: Ansar Allah says a vessel was targeted in the Red Sea", "https://live.example.com/en/live/902"),
            (
                "Gaza: Civil defence: 12 killed in a strike on a school sheltering displaced families",
                "https://other.example.org/story/901",
            ),
            # (an entry with an empty title is skipped)
        ],
        id="atom",
    ),
    pytest.param(
        "malformed_rss.xml",
        "application/rss+xml",
        [
            # a bare '&' in the title and in the link, and an HTML entity XML does not define
            (
                "Lebanon: Israeli artillery shells the outskirts of Kfarchouba & Kfarhamam",
                "https://sloppy.example.com/n?id=88&lang=en",
            ),
            ("Syria: Road between Homs and Tartus reopened", "https://sloppy.example.com/n?id=87"),
            ("Iraq: Parliament session postponed to next week", "https://sloppy.example.com/n?id=86"),
        ],
        id="malformed-rss",
    ),
    pytest.param("arabic_cp1256.xml", "application/xml", ARABIC, id="arabic-cp1256-application-xml"),
    # RFC 3023 says text/xml without charset is us-ascii; the XML declaration still wins
    pytest.param("arabic_cp1256.xml", "text/xml", ARABIC, id="arabic-cp1256-text-xml"),
    pytest.param("arabic_cp1256.xml", None, ARABIC, id="arabic-cp1256-no-content-type"),
    pytest.param("empty_rss.xml", "application/rss+xml", [], id="empty-feed"),
]


@pytest.mark.parametrize(("name", "content_type", "expected"), FEED_CASES)
def test_parse_feed(name: str, content_type: str | None, expected: list[tuple[str, str | None]]) -> None:
    assert pairs(parse_feed(data(name), BASE, content_type)) == expected


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(data("not_a_feed.html"), "looks like an HTML page", id="html-page"),
        pytest.param(b"", "empty", id="empty-body"),
        pytest.param(b"lorem ipsum, not markup at all", "XML error", id="junk"),
        pytest.param(b'{"data": {"breaking": []}}', "looks like JSON", id="json"),
        pytest.param(b"<?xml version='1.0'?><config><a>1</a></config>", "no <rss>", id="other-xml"),
        pytest.param(b"<?xml version='1.0'?><rss version='2.0'><channel><title>cut off", "XML error", id="truncated"),
    ],
)
def test_parse_feed_rejects_what_is_not_a_feed(body: bytes, reason: str) -> None:
    with pytest.raises(ExtractError, match=r"^not an RSS or Atom feed: ") as info:
        parse_feed(body, BASE, "text/html; charset=utf-8")
    assert reason in str(info.value)


def rss(*items: str, head: str = "") -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    channel = f"<channel><title>T</title>{body}</channel>"
    return f'<?xml version="1.0" encoding="utf-8"?>{head}<rss version="2.0">{channel}</rss>'.encode()


def test_parse_feed_keeps_only_http_links() -> None:
    body = rss(
        "<title>One</title><link>javascript:alert(1)</link>",
        "<title>Two</title><link>mailto:desk@example.net</link>",
        "<title>Three</title><link>  /n/3\n</link>",
    )
    assert pairs(parse_feed(body, BASE)) == [("One", None), ("Two", None), ("Three", "https://feeds.example.net/n/3")]


def test_parse_feed_500_entries_in_order() -> None:
    lines = (f"<title>Line {i}: strike reported near town {i}</title><link>/n/{i}</link>" for i in range(500, 0, -1))
    body = rss(*lines)
    entries = parse_feed(body, BASE)
    assert len(entries) == 500
    assert entries[0] == Entry("Line 500: strike reported near town 500", "https://feeds.example.net/n/500")
    assert entries[-1].text == "Line 1: strike reported near town 1"


def test_parse_feed_fetches_no_external_entity_or_dtd(site: Site, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    site.set("/ent", "PWNED-ENTITY", content_type="text/plain")
    site.set("/dtd", '<!ENTITY leak "PWNED-DTD">', content_type="application/xml-dtd")
    head = f"""<!DOCTYPE rss SYSTEM "{site.url("/dtd")}" [
<!ENTITY ext SYSTEM "{site.url("/ent")}">
<!ENTITY file SYSTEM "{secret.as_uri()}">
<!ENTITY % param SYSTEM "{site.url("/param")}"> %param;
<!ENTITY ok "plain text">
]>"""
    body = rss("<title>A &ext; B &file; C &ok;</title>", "<title>Second line</title>", head=head)
    texts = [e.text for e in parse_feed(body, BASE, "application/rss+xml")]
    assert len(texts) == 2
    assert not any("PWNED" in t or "SECRET" in t for t in texts)
    assert sum(site.hits.values()) == 0


def test_parse_feed_never_opens_a_path_given_as_bytes(tmp_path: Path) -> None:
    # feedparser.parse(b"/some/path") would read that file: parse_feed must only parse the bytes
    path = tmp_path / "feed.xml"
    path.write_bytes(data("rss2.xml"))
    with pytest.raises(ExtractError, match="not an RSS or Atom feed"):
        parse_feed(str(path).encode(), BASE)


# --- parse_json --------------------------------------------------------------------------------

DOC = {
    "meta": {"generated": "2025-06-03T09:45:00Z"},
    "data": {
        "breaking": [
            {"title": "Lebanon: Israeli drone strikes a car near <b>Aitaroun</b>", "urls": {"web": "/news/1"}, "id": 1},
            {"title": "  Yemen:\n Sanaa   airport resumes flights ", "urls": {"web": "https://other.example.org/2"}},
            {"title": 2025, "urls": {"web": "/news/3"}},
            {"title": "", "urls": {"web": "/news/4"}},
            {"title": None},
            {"title": True},
            {"title": ["not", "text"]},
            {"headline": "no title field"},
            "a bare string",
            {"title": "Lebanon: Israeli drone strikes a car near <b>Aitaroun</b>", "urls": {"web": "/dup"}},
            {"title": "Iraq: AT&amp;T &amp; others <script>x()</script>", "urls": {"web": "javascript:void(0)"}},
        ],
        "news": [{"text": "only text"}],
    },
    "pages": [{"items": [{"t": "first page, first item"}]}, {"items": [{"t": "second page", "u": "p/2"}]}],
    "list": ["x"],
    "empty": [],
}
JSON_BASE = "https://api.example.net/v1/ticker.json"


def parse(doc: Any, items: str, text: str = "title", link: str | None = None) -> list[tuple[str, str | None]]:
    return pairs(parse_json(json.dumps(doc).encode(), items=items, text=text, link=link, base_url=JSON_BASE))


def test_parse_json_nested_path_and_fields() -> None:
    assert parse(DOC, "data.breaking", link="urls.web") == [
        ("Lebanon: Israeli drone strikes a car near Aitaroun", "https://api.example.net/news/1"),
        ("Yemen: Sanaa airport resumes flights", "https://other.example.org/2"),
        ("2025", "https://api.example.net/news/3"),
        ("Iraq: AT&T & others", None),
    ]


@pytest.mark.parametrize(
    ("items", "text", "link", "expected"),
    [
        pytest.param("pages.1.items", "t", "u", [("second page", "https://api.example.net/v1/p/2")], id="index"),
        pytest.param("pages.-2.items", "t", None, [("first page, first item", None)], id="negative-index"),
        pytest.param("data.breaking", "title", None, None, id="no-link-field"),
        pytest.param("data.news", "text", "missing.field", [("only text", None)], id="missing-link"),
        pytest.param("empty", "title", None, [], id="empty-list"),
        pytest.param(".", "title", None, [("top", None)], id="top-level-list"),
    ],
)
def test_parse_json_paths(items: str, text: str, link: str | None, expected: list[Any] | None) -> None:
    doc: Any = [{"title": "top"}] if items == "." else DOC
    got = parse(doc, items, text, link)
    if expected is None:
        assert all(lnk is None for _, lnk in got) and len(got) == 4
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("items", "text", "message"),
    [
        ("data.latest", "title", "JSON path 'data.latest' not found (at 'latest': available keys: breaking, news)"),
        ("stories.list", "title", "JSON path 'stories.list' not found (at 'stories': available keys: meta, data,"),
        ("pages.2.items", "t", "JSON path 'pages.2.items' not found (at '2': a list of 2, indexes 0 to 1)"),
        ("pages.first", "t", "JSON path 'pages.first' not found (at 'first': a list of 2"),
        ("meta.generated.x", "t", "(at 'x': meta.generated is a string)"),
        ("data", "title", "'data' is not a list (it is an object with keys: breaking, news)"),
        ("meta.generated", "title", "'meta.generated' is not a list (it is a string)"),
        ("data.breaking", "summary", "no element of 'data.breaking' has a 'summary' string"),
        ("list", "title", "no element of 'list' has a 'title' string"),
    ],
)
def test_parse_json_errors_name_the_path(items: str, text: str, message: str) -> None:
    with pytest.raises(ExtractError) as info:
        parse(DOC, items, text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        pytest.param(b'\xef\xbb\xbf{"d": [{"title": "with BOM"}]}', None, [("with BOM", None)], id="utf8-bom"),
        pytest.param(
            b'\xef\xbb\xbf{"d": [{"title": "with BOM"}]}',
            "application/json; charset=utf-8",
            [("with BOM", None)],
            id="utf8-bom-and-charset",
        ),
        pytest.param('{"d": [{"title": "عاجل: خبر"}]}'.encode("utf-16"), None, [("عاجل: خبر", None)], id="utf16"),
        pytest.param(
            '{"d": [{"title": "عاجل: خبر"}]}'.encode("cp1256"),
            "application/json; charset=windows-1256",
            [("عاجل: خبر", None)],
            id="charset-header",
        ),
    ],
)
def test_parse_json_encodings(body: bytes, content_type: str | None, expected: list[Any]) -> None:
    entries = parse_json(body, items="d", text="title", link=None, base_url=JSON_BASE, content_type=content_type)
    assert pairs(entries) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b'{"d": [', "invalid JSON: Expecting value at line 1 column 8", id="truncated"),
        pytest.param(b"", "invalid JSON: Expecting value at line 1 column 1", id="empty"),
        pytest.param(b'jQuery123({"d": []});', "looks like JSONP", id="jsonp"),
        pytest.param(b"<!doctype html><html></html>", "looks like HTML", id="html"),
        pytest.param(b'{"d": "\xff\xfe"}', "invalid JSON: not utf-8 text", id="bad-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "invalid JSON", id="deep-nesting"),
    ],
)
def test_parse_json_invalid(body: bytes, message: str) -> None:
    with pytest.raises(ExtractError) as info:
        parse_json(body, items="d", text="title", link=None, base_url=JSON_BASE)
    assert message in str(info.value)


# --- end to end against a local site -------------------------------------------------------------


def source_config(url: str, kind: SourceSettings, **kw: Any) -> SourceConfig:
    return SourceConfig(
        name="s", url=url, interval=60, timeout=10, user_agent=DEFAULT_USER_AGENT, alarm_after=5, kind=kind, **kw
    )


async def test_feed_source_end_to_end(site: Site) -> None:
    site.set("/rss", data("rss2.xml"), content_type="application/rss+xml; charset=utf-8")
    site.set("/ar.xml", data("arabic_cp1256.xml"), content_type="text/xml")
    async with new_session() as session:
        rss_source = FeedSource(source_config(site.url("/rss"), FeedSettings()), session)
        got = await rss_source.entries()
        ar_got = await FeedSource(source_config(site.url("/ar.xml"), FeedSettings()), session).entries()
        again = await rss_source.entries()
    assert pairs(got)[1] == (
        "URGENT Yemen: Sanaa airport resumes flights after a two-day halt",
        site.url("/news/5003/yemen-airport"),
    )
    assert len(pairs(got)) == 4 and got == again
    assert [text for text, _ in pairs(ar_got)] == [text for text, _ in ARABIC]
    assert pairs(ar_got)[0][1] == site.url("/ar/news/7002")
    assert site.hits["/rss"] == 2


def pid_noting(config: SourceConfig, page: Page) -> Parsed:
    """parse_html, with the id of the process that parsed the page as the first entry."""
    parsed = parse_html(config, page)
    return Parsed([Entry(str(os.getpid())), *parsed.entries], parsed.found + 1)


class PidNoting(HtmlSource):
    parser = staticmethod(pid_noting)

    def parse_here(self, page: Page) -> Parsed:
        return pid_noting(self.config, page)


async def test_big_pages_are_parsed_in_a_worker_process(site: Site) -> None:
    small = ticker_page(["Small page line"])
    big = ticker_page(["Big page line"]).replace("</body>", "<p>" + "padding " * 140_000 + "</p></body>")
    many = ticker_page(["Many tags line"]).replace("</body>", "<b>x</b>" * CHEAP_TAGS + "</body>")
    assert len(small) < OFF_LOOP_BYTES <= len(big.encode()) and len(many) < OFF_LOOP_BYTES
    for path, page in (("/small", small), ("/big", big), ("/many", many)):
        site.set(path, page)
    try:
        async with new_session() as session:
            got = {
                p: await PidNoting(source_config(site.url(p), HtmlSettings()), session).entries()
                for p in ("/small", "/big", "/many")
            }
    finally:
        pool.close()
    texts = {p: [e.text for e in entries or []] for p, entries in got.items()}
    assert texts["/small"] == [str(os.getpid()), "Small page line"]  # on the event loop
    assert texts["/big"][1:] == ["Big page line"] and texts["/big"][0] != str(os.getpid())
    assert texts["/many"][1:] == ["Many tags line"] and texts["/many"][0] != str(os.getpid())


async def test_json_source_end_to_end(site: Site) -> None:
    site.set("/api/ticker", json.dumps(DOC), content_type="application/json")
    config = source_config(site.url("/api/ticker"), JsonSettings("data.breaking", link_field="urls.web"))
    async with new_session() as session:
        got = await JsonSource(config, session).entries()
    assert pairs(got)[0] == ("Lebanon: Israeli drone strikes a car near Aitaroun", site.url("/news/1"))
    assert len(pairs(got)) == 4


async def test_sources_raise_plain_errors(site: Site) -> None:
    site.set("/page.html", data("not_a_feed.html"))
    site.set("/api", "<html>maintenance</html>", content_type="text/html")
    async with new_session() as session:
        with pytest.raises(ExtractError, match="looks like an HTML page"):
            await FeedSource(source_config(site.url("/page.html"), FeedSettings()), session).entries()
        with pytest.raises(ExtractError, match="invalid JSON"):
            await JsonSource(source_config(site.url("/api"), JsonSettings("data")), session).entries()
        with pytest.raises(FetchError, match="404"):
            await FeedSource(source_config(site.url("/gone.xml"), FeedSettings()), session).entries()


# --- conditional requests against a local site that honours ETags --------------------------------


@pytest.mark.parametrize(
    "kind, path, content_type, settings",
    [
        ("feed", "rss2.xml", "application/rss+xml", FeedSettings()),
        ("json", None, "application/json", JsonSettings("d")),
        ("html", None, "text/html; charset=utf-8", HtmlSettings()),
    ],
)
async def test_not_modified_page_is_not_parsed(
    kind: str, path: str | None, content_type: str, settings: SourceSettings
) -> None:
    bodies = {
        "feed": data(path) if path else b"",
        "json": json.dumps({"d": [{"title": "x"}]}).encode(),
        "html": b"<div><h3>BREAKING</h3><ul><li>one</li><li>two</li></ul></div>",
    }
    with Site() as site:
        site.set("/p", bodies[kind], content_type=content_type, etag='"v1"')
        config = source_config(site.url("/p"), settings, headers=(("X-Key", "k"),))
        async with new_session() as session:
            source = make_source(config, session)
            first = await source.entries()
            assert first
            assert await source.entries() is None  # 304: nothing parsed
            site.set("/p", bodies[kind], content_type=content_type, etag='"v2"')
            assert await source.entries() == first
    sent = [(headers.get("If-None-Match"), status) for _, headers, status in site.requests]
    assert sent == [(None, 200), ('"v1"', 304), ('"v1"', 200)]
    assert all(headers["X-Key"] == "k" for _, headers, _ in site.requests)


# --- whatever the bytes, only ExtractError comes out ----------------------------------------------

FEED_BITS = [
    "<rss version='2.0'>",
    "<channel>",
    "<item>",
    "<title>",
    "</title>",
    "<link>",
    "</link>",
    "</item>",
    "<feed xmlns='http://www.w3.org/2005/Atom'>",
    "<entry>",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&",
    "&nbsp;",
    "<!DOCTYPE rss [<!ENTITY e 'x'>]>",
    "&e;",
    "<?xml version='1.0' encoding='utf-16'?>",
    "عاجل",
    "\x00",
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(FEED_BITS) | st.text(max_size=8), max_size=25),
    st.sampled_from([None, "text/xml", "text/html; charset=koi8-r"]),
)
def test_parse_feed_only_raises_extract_error(parts: list[str], content_type: str | None) -> None:
    try:
        entries = parse_feed("".join(parts).encode(), BASE, content_type)
    except ExtractError:
        return
    assert all(e.text and e.text == e.text.strip() for e in entries)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["d", "title", "0", "a.b"]), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES, st.sampled_from(["d", "d.0", "0.d", ".", "d.title", "a.b"]))
def test_parse_json_only_raises_extract_error(doc: Any, items: str) -> None:
    try:
        entries = parse_json(json.dumps(doc).encode(), items=items, text="title", link="d", base_url=JSON_BASE)
    except ExtractError:
        return
    assert all(e.text for e in entries)
