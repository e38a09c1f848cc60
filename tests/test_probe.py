"""Tests for monitor.probe: one fetch, a plain report per kind of source, and a config snippet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sites import Site, ticker_page

from monitor.http import new_session
from monitor.probe import probe
from monitor.sources.json import parse_json

FEEDS = Path(__file__).parent / "data" / "feeds"
UA = "monitor-test/1.0"
LINES = [
    "Lebanon: Israeli drone strikes a car in Bint Jbeil",
    "Yemen: Sanaa airport resumes flights after a two-day halt",
    "Iraq: Explosions heard near a military base north of Baghdad",
]
AR_LINES = ["لبنان: غارة إسرائيلية على بلدة عيتا الشعب", "اليمن: استهداف سفينة في البحر الأحمر"]


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as s:
        yield s


async def run(url: str, **kw: Any) -> str:
    async with new_session() as session:
        return await probe(url, session=session, user_agent=UA, timeout=10, **kw)


def snippet(report: str) -> dict[str, Any]:
    """Return the suggested source entry, parsed as YAML."""
    head = "Suggested source entry (under sources:):\n"
    assert head in report, report
    entries = yaml.safe_load(report.split(head, 1)[1])
    assert isinstance(entries, list) and len(entries) == 1
    return entries[0]


async def test_probe_html_ticker_by_heading(site: Site) -> None:
    site.set("/", ticker_page(LINES))
    report = await run(site.url("/"))
    assert f"final URL:    {site.url('/')}" in report
    assert "content type: text/html; charset=utf-8" in report
    assert "charset:      utf-8 (from the HTTP header)" in report
    assert "as html, heading 'BREAKING' found" in report
    for i, line in enumerate(LINES):
        assert line in report
        assert site.url(f"/news/{i}") in report
    assert "  3 items" in report
    assert snippet(report) == {"name": "127.0.0.1", "url": site.url("/"), "heading": "BREAKING"}
    assert site.hits["/"] == 1
    assert "Traceback" not in report


async def test_probe_html_names_the_heading_it_found_and_the_charset(site: Site) -> None:
    page = ticker_page(AR_LINES, heading="عاجل").replace('<meta charset="utf-8">', '<meta charset="windows-1256">')
    site.set("/ar/", page.encode("cp1256"), content_type="text/html")
    report = await run(site.url("/ar/"))
    assert "charset:      cp1256 (from <meta>)" in report
    assert "as html, heading 'عاجل' found" in report
    assert all(line in report for line in AR_LINES)
    assert snippet(report)["heading"] == "عاجل"


async def test_probe_html_with_selector(site: Site) -> None:
    site.set("/", ticker_page(LINES))
    report = await run(site.url("/"), selector="div.breaking li")
    assert "as html, selector 'div.breaking li' matches:" in report
    assert LINES[2] in report and "  3 items" in report
    assert snippet(report)["selector"] == "div.breaking li"
    report = await run(site.url("/"), selector="div.nothing-here")
    assert "as html: selector 'div.nothing-here' matched nothing" in report
    assert "Nothing to suggest" in report


async def test_probe_feed(site: Site) -> None:
    site.set("/feed.xml", (FEEDS / "arabic_cp1256.xml").read_bytes(), content_type="application/rss+xml")
    report = await run(site.url("/feed.xml"))
    assert "as feed (decoded as windows-1256):" in report
    assert "لبنان: مسيّرة إسرائيلية تستهدف سيارة على طريق بنت جبيل" in report
    assert site.url("/ar/news/7002") in report
    assert "  3 items" in report
    assert "as html" not in report
    assert snippet(report) == {"name": "127.0.0.1", "url": site.url("/feed.xml"), "type": "feed"}


TICKER_JSON = {
    "meta": {"version": 3, "tags": [{"slug": "politics", "label": "Politics"}]},
    "data": {
        "breaking": [
            {"id": i, "headline": line, "urls": {"web": f"/news/{i}", "amp": f"/amp/{i}"}, "time": "09:4{i}"}
            for i, line in enumerate(LINES)
        ],
        "counts": [1, 2, 3],
    },
}


async def test_probe_json_lists_candidate_paths(site: Site) -> None:
    site.set("/api/ticker.json", json.dumps(TICKER_JSON), content_type="application/json")
    report = await run(site.url("/api/ticker.json"))
    assert "as json, lists of objects" in report
    assert "  data.breaking  (3 elements; string fields: headline, urls.web, urls.amp, time)" in report
    assert "  meta.tags  (1 element; string fields: slug, label)" in report
    assert "data.counts" not in report  # a list of numbers is no candidate
    assert "as json, items 'data.breaking', text 'headline', link 'urls.web':" in report  # a preview
    assert all(line in report for line in LINES) and site.url("/news/2") in report
    entry = snippet(report)
    assert entry == {"name": "127.0.0.1", "url": site.url("/api/ticker.json"), "type": "json",
                     "items": "data.breaking", "text": "headline", "link": "urls.web"}
    # the suggestion works as it stands
    body = json.dumps(TICKER_JSON).encode()
    got = parse_json(body, items=entry["items"], text=entry["text"], link=entry["link"], base_url=site.url("/api/"))
    assert [e.text for e in got] == LINES and got[0].link == site.url("/news/0")


async def test_probe_json_with_items(site: Site) -> None:
    site.set("/api/ticker.json", json.dumps(TICKER_JSON), content_type="application/json; charset=utf-8")
    report = await run(site.url("/api/ticker.json"), items="data.breaking", text="headline", link="urls.web")
    assert "as json, items 'data.breaking', text 'headline', link 'urls.web':" in report
    assert all(line in report for line in LINES) and site.url("/news/2") in report
    assert snippet(report)["items"] == "data.breaking"
    report = await run(site.url("/api/ticker.json"), items="data.latest")
    assert "as json: JSON path 'data.latest' not found (at 'latest': available keys: breaking, counts)" in report
    assert "Nothing to suggest" in report


async def test_probe_reports_errors_as_plain_lines(site: Site) -> None:
    report = await run(site.url("/missing"))
    assert report.splitlines()[-1] == "fetch failed: HTTP 404 Not Found"
    site.set("/plain", "<html><body><p>Nothing breaking here.</p></body></html>")
    report = await run(site.url("/plain"))
    assert "as feed" not in report  # an HTML page: the html section speaks for it
    assert "as html: heading not found" in report
    assert report.splitlines()[-1] == "Nothing to suggest: no kind of source found items here."
    site.set("/sitemap.xml", "<?xml version='1.0'?><urlset><url><loc>/a</loc></url></urlset>", content_type="text/xml")
    report = await run(site.url("/sitemap.xml"))
    assert "as feed: not an RSS or Atom feed: no <rss>, <rdf:RDF> or <feed> root element" in report
    assert "Nothing to suggest" in report
    site.set("/bin", b"\x00\x01\xff\xfe junk", content_type="application/octet-stream")
    report = await run(site.url("/bin"), items="data")
    assert "as json: invalid JSON" in report and "Traceback" not in report
