"""Tests for monitor.probe: one fetch, a plain report per kind of source, and a config snippet."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run_monitor
from sites import Site, ticker_page

from monitor.config_types import DEFAULT_USER_AGENT, HtmlSettings, SourceConfig
from monitor.extract import extract
from monitor.http import new_session
from monitor.probe import probe
from monitor.sources.html import HtmlSource
from monitor.sources.json import parse_json

FEEDS = Path(__file__).parent / "data" / "feeds"
UA = "monitor-test/1.0"
LINES = [
    "Lebanon: Israeli drone strikes a car in Bint Jbeil",
    "Yemen: Sanaa airport resumes flights after a two-day halt",
    "Iraq: Explosions heard near a military base north of Baghdad",
]
AR_LINES = ["لبنان: غارة إسرائيلية على بلدة عيتا الشعب", "اليمن: استهداف سفينة في البحر الأحمر"]


async def run(url: str, **kw: Any) -> str:
    async with new_session() as session:
        report = await probe(url, session=session, user_agent=UA, timeout=10, **kw)
    assert (report.entry is None) == ("Suggested source entry" not in report.text)
    if report.entry is not None:
        assert snippet(report.text) == report.entry
    return report.text


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


@pytest.mark.parametrize(
    ("declared", "content_type"),
    [
        pytest.param('<meta charset="utf-7">', "text/html", id="meta"),
        pytest.param('<meta charset="utf-8">', "text/html; charset=utf-7", id="header-then-meta"),
    ],
)
async def test_probe_reports_the_charset_the_html_source_reads(site: Site, declared: str, content_type: str) -> None:
    # Probe said "utf-7" where the html source, which never reads UTF-7 (WHATWG: no such encoding),
    # read UTF-8: one charset_of now serves both.
    lines = ["Lebanon: +ACI-drone strike+ACI- near Tyre", *LINES[1:]]
    site.set("/", ticker_page(lines).replace('<meta charset="utf-8">', declared).encode(), content_type=content_type)
    report = await run(site.url("/"))
    async with new_session() as session:
        config = SourceConfig(
            name="s",
            url=site.url("/"),
            interval=60,
            timeout=10,
            user_agent=DEFAULT_USER_AGENT,
            alarm_after=5,
            kind=HtmlSettings(),
        )
        entries = await HtmlSource(config, session).entries()
    assert entries is not None and [e.text for e in entries] == lines
    origin = "default" if "utf-7" in declared else "from <meta>"
    assert f"charset:      utf-8 ({origin})" in report
    assert all(f". {e.text}\n      -> {e.link}\n" in report for e in entries)


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
    assert entry == {
        "name": "127.0.0.1",
        "url": site.url("/api/ticker.json"),
        "type": "json",
        "items": "data.breaking",
        "text": "headline",
        "link": "urls.web",
    }
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


# --- pages whose ticker has no heading: candidate selectors, through the command line ----------

NAV = """<nav class="main-menu"><ul><li><a href="/world">World</a></li><li><a href="/politics">Politics</a></li>
<li><a href="/economy">Economy</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/opinion">Opinion</a></li></ul></nav>"""
ARTICLE = """<main><article><h1>Budget talks drag on</h1>
<p>The cabinet met on Tuesday to discuss the budget. Ministers disagreed on several points. A vote is expected
next week, officials said.</p>
<p>Opposition leaders called the plan reckless. They promised to fight it in parliament. Analysts expect a close
vote.</p>
<p>Markets reacted calmly. The currency held steady against the dollar. Bond yields fell slightly.</p>
</article></main>
<footer><ul><li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li>
<li><a href="/privacy">Privacy</a></li></ul></footer>"""
FOUR = [*LINES, "Syria: Air defences intercept hostile targets over the capital"]


def headless_page(ticker: str) -> str:
    """A news page with a menu, an article and a footer; the ticker has no heading."""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Wire | Home | News</title></head><body>
<header>{NAV}{ticker}</header>{ARTICLE}</body></html>"""


def each(template: str) -> str:
    return "".join(template.format(i=i, text=text) for i, text in enumerate(FOUR))


MARKUPS = [
    pytest.param(
        f'<div class="bar"><ul class="ticker">{each("<li><a href=/n/{i}>{text}</a></li>")}</ul></div>',
        "ul.ticker > li",
        None,
        True,
        id="ul-ticker",
    ),
    pytest.param(
        f'<div class="col-main">{each("<div class=news-item><a href=/n/{i}>{text}</a></div>")}</div>',
        "div.news-item",
        None,
        True,
        id="div-news-item",
    ),
    pytest.param(
        f'<div class="marquee-wrap"><div class="scroller">{each("<span class=item>{text}</span>")}</div></div>',
        "span.item",
        None,
        False,
        id="spans-in-marquee-div",
    ),
    pytest.param(
        f'<div class="top-stories"><ul>{each("<li><a href=/n/{i}><span>{text}</span></a></li>")}</ul></div>',
        "div.top-stories ul > li",
        None,
        True,
        id="li-a-span",
    ),
    pytest.param(
        f'<div class="news-ticker">{" | ".join(FOUR)}</div>', "div.news-ticker", "|", False, id="pipe-separated-marquee"
    ),
    pytest.param(
        f'<div id="strip"><marquee>{" ◆ ".join(FOUR)}</marquee></div>',
        "#strip > marquee",
        "◆",
        False,
        id="diamond-separated-marquee-element",
    ),
]


@dataclass
class Shown:
    """One candidate as `monitor probe` prints it."""

    lines: list[str]
    entry: dict[str, Any]


def candidates(stdout: str) -> list[Shown]:
    """Parse the candidate blocks of a probe report: the lines shown and the entry, as YAML."""
    shown: list[Shown] = []
    part = ""
    for line in stdout.splitlines():
        if re.match(r"^  \d+\. ", line):
            shown.append(Shown([], {}))
        elif line in ("     first lines:", "     entry:"):
            part = line.strip()
        elif shown and line.startswith("       ") and part == "first lines:":
            shown[-1].lines.append(line.strip())
        elif shown and line.startswith("       ") and part == "entry:":
            shown[-1].entry = {**shown[-1].entry, **yaml.safe_load(line.strip().removeprefix("- "))}
        elif not line.startswith("     "):
            part = ""
    return shown


@pytest.mark.parametrize(("ticker", "selector", "split", "links"), MARKUPS)
def test_probe_proposes_a_ticker_without_heading(
    site: Site, ticker: str, selector: str, split: str | None, links: bool
) -> None:
    page = headless_page(ticker)
    site.set("/", page)
    out = run_monitor("probe", site.url("/"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "as html: heading not found" in out.stdout
    shown = candidates(out.stdout)
    assert 1 <= len(shown) <= 5
    top = shown[0]
    assert top.entry == {
        "name": "127.0.0.1",
        "url": site.url("/"),
        "selector": selector,
        **({"split": split} if split else {}),
    }
    assert snippet(out.stdout) == top.entry
    got = extract(page, site.url("/"), selector=selector, split=split)
    assert [e.text for e in got] == FOUR
    assert [e.link for e in got] == [site.url(f"/n/{i}") if links else None for i in range(4)]
    for candidate in shown:  # each selector shown yields the lines shown under it
        got = extract(page, site.url("/"), selector=candidate.entry["selector"], split=candidate.entry.get("split"))
        assert [e.text for e in got[:3]] == candidate.lines
    menu = {"World", "Politics", "About us", "Privacy"}
    assert not menu & {line for c in shown for line in c.lines}  # menus and footers are no tickers


def test_probe_exits_1_on_a_page_without_ticker(site: Site) -> None:
    site.set("/", headless_page(""))
    out = run_monitor("probe", site.url("/"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "as html: no run of repeated elements with ticker-like lines found" in out.stdout
    assert out.stdout.rstrip().endswith("Nothing to suggest: no kind of source found items here.")
    assert candidates(out.stdout) == []
    missing = run_monitor("probe", site.url("/gone"))
    assert missing.returncode == 1 and "fetch failed: HTTP 404 Not Found" in missing.stdout
    site.set("/", ticker_page(LINES))
    assert run_monitor("probe", site.url("/")).returncode == 0  # a heading: its entry, exit 0


def test_probe_finds_a_run_of_text_under_a_heading(site: Site) -> None:
    site.set("/", headless_page(f'<div class="bar"><b>BREAKING</b><p>{" • ".join(FOUR)}</p></div>'))
    out = run_monitor("probe", site.url("/"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "as html, heading 'BREAKING' found, items beside it:" in out.stdout
    assert all(f". {line}\n" in out.stdout for line in FOUR) and "  4 items" in out.stdout
    assert snippet(out.stdout) == {"name": "127.0.0.1", "url": site.url("/"), "heading": "BREAKING"}


def test_walkthrough_probe_add_check_config_dry_run_once(site: Site, tmp_path: Path) -> None:
    """README's "Add a source", end to end, with a ticker that is one run of text."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "# trial config\nstate: {path: state/monitor.db}\nsources:\n"
        "channels:\n  - {name: console, type: console}   # prints alerts\n"
        "rules:\n  - {name: iraq, any: [Iraq], channels: [console]}\n",
        encoding="utf-8",
    )
    site.set("/", headless_page(f'<div class="news-ticker">{" | ".join(FOUR)}</div>'))
    probe_out = run_monitor("probe", site.url("/"), "--add", "wire", "--config", str(path))
    assert probe_out.returncode == 0, probe_out.stdout + probe_out.stderr
    assert 'split: "|"' in path.read_text(encoding="utf-8")
    check = run_monitor("check-config", "--config", str(path))
    assert check.returncode == 0 and "wire: every 60s, selector 'div.news-ticker'" in check.stdout, check.stderr
    dry = run_monitor("--once", "--dry-run", "--config", str(path))
    assert dry.returncode == 0, dry.stderr
    assert "wire: 4 items, first poll: a real first run records them as the baseline" in dry.stdout
    assert [line.split(": ", 1)[1] for line in dry.stdout.splitlines() if "baseline: " in line] == FOUR
    once = run_monitor("--once", "--config", str(path))
    assert once.returncode == 0 and "wire: 4 items, first poll: recorded as the baseline" in once.stderr, once.stderr
    fresh = ["Iraq: Parliament convenes an emergency session in Baghdad", "Jordan: Border crossing reopens"]
    site.set("/", headless_page(f'<div class="news-ticker">{" | ".join([*fresh, *FOUR])}</div>'))
    dry = run_monitor("--once", "--dry-run", "--config", str(path))
    assert dry.returncode == 0, dry.stderr
    assert "wire: 6 items, 2 new, 1 alert would be queued" in dry.stdout
    assert [line.split("wire: ", 1)[1] for line in dry.stdout.splitlines() if "[console]" in line] == [fresh[0]]
