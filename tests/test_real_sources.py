"""The sources config.yaml ships, against local pages and JSON of the shapes those sites serve (written here)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sites import Site

from monitor.config import load
from monitor.config_types import AnySource
from monitor.health import Health
from monitor.http import new_session
from monitor.models import PollResult
from monitor.sources import make_source

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"

# Pages shaped as each site's markup is described by public scrapers of it.
PAGES = {
    "almayadeen-en": (
        "text/html; charset=utf-8",
        '<html><body><div class="ticker"><span class="ticker__title">BREAKING</span><div class="ticker__list">'
        '<div class="ticker__item">Iraq: Al Mayadeen\'s correspondent: The explosion hit a radar</div>'
        '<div class="ticker__item">Lebanon: Israeli drone strikes a car in the south</div>'
        "</div></div><main><p>An article.</p></main></body></html>",
    ),
    "almayadeen-ar": (
        "text/html; charset=utf-8",
        '<html dir="rtl"><body><div id="ticker-box"><ul>'
        '<li><div class="ticker-item"><span class="ticker-time">12:01</span><div class="ticker-text">'
        '<a href="/news/politics/1"><p>لبنان: غارة إسرائيلية على بلدة في الجنوب</p></a></div></div></li>'
        '<li><div class="ticker-item"><span class="ticker-time">11:58</span><div class="ticker-text">'
        '<a href="/news/politics/2"><p>اليمن: استهداف سفينة في البحر الأحمر</p></a></div></div></li>'
        "</ul></div></body></html>",
    ),
    "almayadeen-ar-latest": (
        "text/html; charset=utf-8",
        '<html dir="rtl"><body><section class="latest">'
        '<div class="single-latest-news"><a href="/shortnews/101"><h3>العراق: انفجار قرب قاعدة عسكرية</h3></a>'
        '<span class="date">منذ دقيقتين</span></div>'
        '<div class="single-latest-news"><a href="/shortnews/100"><h3>سوريا: استئناف المحادثات</h3></a>'
        '<span class="date">منذ خمس دقائق</span></div>'
        "</section></body></html>",
    ),
    "aljazeera-en": (
        "application/json",
        json.dumps(
            {
                "data": {
                    "breakingNews": {
                        "tickerTitle": "Breaking",
                        "tickerText": "Explosions reported near the port of Hodeidah",
                        "link": "/news/liveblog/2026/12/1/live-hodeidah",
                    }
                }
            }
        ),
    ),
    "elbalad": (
        "application/rss+xml; charset=utf-8",
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>صدى البلد</title>'
        "<item><title>الرئيس يستقبل وزير الخارجية</title><link>https://www.elbalad.news/6012345</link></item>"
        "<item><title>الأرصاد: طقس معتدل غدا</title><link>https://www.elbalad.news/6012344</link></item>"
        "</channel></rss>",
    ),
}
EXPECTED = {
    "almayadeen-en": [
        ("Iraq: Al Mayadeen's correspondent: The explosion hit a radar", None),
        ("Lebanon: Israeli drone strikes a car in the south", None),
    ],
    "almayadeen-ar": [
        ("لبنان: غارة إسرائيلية على بلدة في الجنوب", "/news/politics/1"),
        ("اليمن: استهداف سفينة في البحر الأحمر", "/news/politics/2"),
    ],
    "almayadeen-ar-latest": [
        ("العراق: انفجار قرب قاعدة عسكرية", "/shortnews/101"),
        ("سوريا: استئناف المحادثات", "/shortnews/100"),
    ],
    "aljazeera-en": [("Explosions reported near the port of Hodeidah", "/news/liveblog/2026/12/1/live-hodeidah")],
    "elbalad": [
        ("الرئيس يستقبل وزير الخارجية", "https://www.elbalad.news/6012345"),
        ("الأرصاد: طقس معتدل غدا", "https://www.elbalad.news/6012344"),
    ],
}


def shipped() -> dict[str, AnySource]:
    return {s.name: s for s in load(CONFIG).sources}


def test_config_yaml_ships_the_real_sources() -> None:
    assert sorted(shipped()) == sorted(PAGES)


@pytest.mark.parametrize("name", sorted(PAGES))
async def test_each_shipped_source_reads_a_page_of_its_shape(site: Site, name: str) -> None:
    content_type, body = PAGES[name]
    site.set(f"/{name}", body, content_type=content_type)
    config = dataclasses.replace(shipped()[name], url=site.url(f"/{name}"))
    async with new_session() as session:
        entries = await make_source(config, session).entries()
    assert entries is not None
    base = site.url("")
    got = [(e.text, e.link.removeprefix(base) if e.link else None) for e in entries]
    assert got == EXPECTED[name]


async def test_al_jazeera_without_a_banner_is_nothing_now_not_a_fault(site: Site) -> None:
    site.set(
        "/aj",
        json.dumps({"data": {"breakingNews": {"tickerTitle": None, "tickerText": None, "link": None}}}),
        content_type="application/json",
    )
    config = dataclasses.replace(shipped()["aljazeera-en"], url=site.url("/aj"), alarm_after=1)
    async with new_session() as session:
        assert await make_source(config, session).entries() == []
    assert site.requests[-1][1].get("wp-site") == "aje"  # the header the endpoint wants
    health = Health([config])
    for at in range(3):  # empty again and again: no alarm, as empty_ok says
        assert health.observe(PollResult("aljazeera-en", found=0), float(at)) is None
    strict = Health([dataclasses.replace(config, empty_ok=False)])
    assert strict.observe(PollResult("aljazeera-en", found=0), 0.0) is not None  # without it: an alarm
