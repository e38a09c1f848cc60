"""The extractor and normaliser on hostile input: truncated, giant, binary, mis-declared. Never a
crash (only ExtractError), never a hang, memory bounded."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sites import ticker_page

from monitor.charset import decode
from monitor.errors import ExtractError
from monitor.extract import extract
from monitor.normalize import clean, fingerprint, fold, words
from monitor.rules import Matcher

LINES = [f"Lebanon: Al Mayadeen's correspondent: line number {i} about the south" for i in range(10)]
PAGE = ticker_page(LINES).encode()


def only_extract_error(body: bytes, content_type: str | None = None) -> None:
    try:
        entries = extract(decode(body, content_type), "https://site.example/")
    except ExtractError:
        return
    assert all(e.text == clean(e.text) and e.text for e in entries)


@pytest.mark.parametrize("cut", range(0, len(PAGE), 37))
def test_truncated_page(cut: int) -> None:
    only_extract_error(PAGE[:cut])


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/html",
        "text/html; charset=windows-1256",
        "text/html; charset=utf-16",
        "text/html; charset=nonsense",
        "text/html; charset=",
        "text/html; charset=base64",
        "application/octet-stream",
    ],
)
def test_wrong_or_absent_charsets(content_type: str | None) -> None:
    only_extract_error(PAGE, content_type)
    only_extract_error(ticker_page(["عاجل: خبر"], heading="عاجل").encode("cp1256"), content_type)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from([None, "text/html; charset=utf-8", "text/html; charset=cp1256"]))
def test_binary_bodies(body: bytes, content_type: str | None) -> None:
    only_extract_error(body, content_type)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.integers(min_value=0))
def test_page_with_binary_spliced_in(junk: bytes, at: int) -> None:
    at %= len(PAGE)
    only_extract_error(PAGE[:at] + junk + PAGE[at:])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_normaliser_and_matcher_on_any_text(text: str) -> None:
    cleaned = clean(text)
    assert clean(cleaned) == cleaned  # idempotent
    assert fold(fold(cleaned)) == fold(cleaned)
    assert len(fingerprint(text)) == 32
    assert all(w for w in words(text))
    Matcher([]).matches("s", text)


def test_giant_page_bounded_memory() -> None:
    # 5 MB: the fetch size cap. A ticker of 10 lines inside 40,000 navigation and article rows.
    row = "<div class='row'><a href='/a/{i}'>Article {i}</a><p>" + "text " * 20 + "</p></div>"
    filler = "".join(row.format(i=i) for i in range(40_000))
    page = ticker_page(LINES).replace("<article>", f"<article>{filler}")
    assert len(page) > 5_000_000
    tracemalloc.start()
    try:
        entries = extract(page, "https://site.example/")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.text for e in entries] == LINES
    # Traced allocations (selectolax allocates lexbor's DOM through Python's allocator, so this
    # includes the parse tree) grow with the page, not beyond:
    # measured 10x the page (67 MB for 6.6 MB; the heading search walks every text node in
    # Python). With the 5 MB fetch cap that bounds one extraction to about 70 MB.
    assert peak < 15 * len(page), peak


def test_one_giant_text_node() -> None:
    page = ticker_page(["x " * 500_000, "short line"])
    entries = extract(page, "https://site.example/")
    assert entries[1].text == "short line" and len(entries[0].text) == 999_999


def test_combining_mark_storm_is_cut_not_quadratic() -> None:
    # unicodedata.normalize sorts a run of marks by insertion: 1 M marks in one line would take
    # hours. Runs are cut to 30 marks (Stream-Safe Text Format) before normalising.
    page = "<h3>BREAKING</h3><ul><li>a" + "\u0301\u0316" * 500_000 + "</li><li>b</li></ul>"
    first, second = extract(page, "https://site.example/")
    assert len(first.text) == 30 and second.text == "b"


def test_clean_is_idempotent_around_invisibles() -> None:
    text = "cafe\u200b\u0301"  # a zero-width space between a letter and its accent
    assert clean(text) == clean(clean(text)) == "café"
