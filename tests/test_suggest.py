"""Tests for monitor.suggest: candidate tickers of a page without a heading, ranked, each selector checked."""

from __future__ import annotations

import html

import pytest
from sites import SEEDS, seed_names, seed_ticker

from monitor.extract import extract
from monitor.suggest import SHOWN, suggest

URL = "https://news.example/"
TICKER = [
    "Lebanon: Israeli drone strikes a car in Bint Jbeil",
    "Iraq: Explosions heard near a military base north of Baghdad",
    "Yemen: Sanaa airport resumes flights after a two-day halt",
]
READ = [
    "How the budget vote could change the coalition this spring",
    "Ten years on, the port city rebuilds its old market",
    "Why the central bank left rates on hold again this month",
]


def items(lines: list[str], template: str = "<li><a href='/n/{i}'>{text}</a></li>") -> str:
    return "".join(template.format(i=i, text=html.escape(t)) for i, t in enumerate(lines))


def texts(found: list, i: int) -> list[str]:
    return [e.text for e in found[i].entries]


def test_names_of_tickers_rank_a_run_above_a_plain_list_and_menus_never_show() -> None:
    page = f"""<body><div class="menu"><a href="/a">World</a><a href="/b">Sport</a><a href="/c">Arts</a></div>
<section class="most-read"><ul>{items(READ)}</ul></section>
<div class="breaking-strip"><ul>{items(TICKER)}</ul></div>
<footer><ul>{items(["Terms of service and use", "Our privacy policy in full", "Advertise with us today"])}</ul>
</footer></body>"""
    found = suggest(page, URL)
    assert [c.selector for c in found] == ["div.breaking-strip ul > li", "section.most-read ul > li"]
    assert texts(found, 0) == TICKER and texts(found, 1) == READ
    assert "class or id says 'breaking'" in found[0].reasons
    assert found[0].score > found[1].score > 0


def test_short_items_and_paragraphs_are_not_offered() -> None:
    prose = "".join(f"<p>{s} It went on. Then it stopped. Nobody knew why.</p>" for s in READ)
    page = f"<body><ul class='latest'>{items(['Home', 'News', 'Live TV', 'Contact us'])}</ul>{prose}</body>"
    assert suggest(page, URL) == []


def test_at_most_five_and_none_inside_another() -> None:
    lists = "".join(f"<div class='box-{n}'><ul>{items([f'{t} ({n})' for t in READ])}</ul></div>" for n in range(8))
    found = suggest(f"<body><div class='all'>{lists}</div></body>", URL)
    assert len(found) == SHOWN == 5
    assert [c.selector for c in found] == [f"div.box-{n} ul > li" for n in range(5)]


def test_a_ticker_shown_twice_for_scrolling_is_one_candidate() -> None:
    copy = f"<ul class='ticker-list'>{items(TICKER)}</ul>"
    found = suggest(f"<body><div class='ticker'>{copy}{copy}</div></body>", URL)
    assert [c.selector for c in found] == ["ul.ticker-list > li"]  # matches both copies: the same lines
    assert texts(found, 0) == TICKER


def test_a_run_of_text_is_offered_with_its_separator() -> None:
    page = f"<body><div class='bar'><div class='txt'>{' • '.join(TICKER)}</div></div><p>Short text.</p></body>"
    [found] = suggest(page, URL)
    assert (found.selector, found.split) == ("div.txt", "•")
    assert [e.text for e in extract(page, URL, selector="div.txt", split="•")] == TICKER


def test_spans_between_separators_are_items_not_one_run() -> None:
    spans = " | ".join(f"<span class='it'><a href='/n/{i}'>{t}</a></span>" for i, t in enumerate(TICKER))
    [found] = suggest(f"<body><div class='news-bar'>{spans}</div></body>", URL)
    assert (found.selector, found.split) == ("span.it", None)
    assert found.entries[2].link == f"{URL}n/2"


def test_arabic_ticker() -> None:
    lines = [
        "لبنان: غارة إسرائيلية على بلدة عيتا الشعب",
        "اليمن: استهداف سفينة في البحر الأحمر",
        "العراق: انفجار في محيط قاعدة عسكرية شمال بغداد",
    ]
    menu = items(["الرئيسية", "سياسة", "اقتصاد"])
    page = f"<body dir='rtl'><nav><ul>{menu}</ul></nav><div id='ajel'><ul>{items(lines)}</ul></div>"
    [found] = suggest(page, URL)
    assert found.selector == "#ajel ul > li"
    assert "class or id says 'ajel'" in found.reasons
    assert texts([found], 0) == lines


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"seed pages not found at {SEEDS}")
@pytest.mark.parametrize("name", seed_names() or ["none"])
def test_seed_tickers_without_their_heading(name: str) -> None:
    lines = seed_ticker(name)
    menu = "".join(f"<li><a href='/m/{i}'>{w}</a></li>" for i, w in enumerate(["News", "Politics", "Sports"]))
    page = f"<body><ul class='nav'>{menu}</ul><div class='scroll-strip'><ul>{items(lines)}</ul></div></body>"
    found = suggest(page, "https://english.almayadeen.net/")
    assert found[0].selector == "div.scroll-strip ul > li"
    assert texts(found, 0) == list(dict.fromkeys(lines))


def test_ticker_lines_outrank_a_sidebar_of_headlines_without_names_to_go_by() -> None:
    strip = f"<header><div class='strip'><div class='txt'>{' • '.join(TICKER)}</div></div></header>"
    side = f"<aside><h2>Most read</h2><ol>{items(READ)}</ol></aside>"
    found = suggest(f"<body>{side}{strip}</body>", URL)
    assert [(c.selector, c.split) for c in found] == [("div.txt", "•"), ("ol > li", None)]
    assert "lines open with a place or a source ('Lebanon: ...')" in found[0].reasons
    assert "in an <aside>" in found[1].reasons
