"""Tests for monitor.entries: the one entry builder of html, feed and json sources."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from monitor.entries import Line, build_entries
from monitor.models import Entry, Parsed

BASE = "https://news.example.net/en/page"


def one(item: tuple[str, object]) -> Sequence[Line]:
    return [(item[0], [item[1]])]


def test_text_cleaned_empty_and_repeats_dropped_links_made_absolute() -> None:
    items = [
        (" Lebanon:\u200b  strike\n", "/n/1"),
        ("", "/n/2"),
        (" \t", "/n/3"),
        ("Lebanon: strike", "/n/4"),
        ("Iraq: blast", "javascript:alert(1)"),
        ("Yemen: flights", "tg://x"),
        ("Gaza: toll", None),
    ]
    assert build_entries(items, one, BASE) == Parsed(
        [
            Entry("Lebanon: strike", "https://news.example.net/n/1"),
            Entry("Iraq: blast", None),
            Entry("Yemen: flights", None),
            Entry("Gaza: toll", None),
        ],
        found=4,
    )


def test_a_line_takes_the_first_of_its_links_that_is_usable_and_reads_no_further() -> None:
    read: list[object] = []

    def links() -> Iterator[object]:
        for link in ["#top", "mailto:x@example.net", "n/5", "/never-read"]:
            read.append(link)
            yield link

    def lines(text: str) -> Sequence[Line]:
        return [(text, links())]

    assert build_entries(["one", "one"], lines, BASE).entries == [Entry("one", "https://news.example.net/en/n/5")]
    assert read == ["#top", "mailto:x@example.net", "n/5"]  # and nothing of the repeated line


def test_capped_with_what_the_items_offered() -> None:
    items = [(f"Line {i}", f"/n/{i}") for i in range(10)]
    parsed = build_entries(items, one, BASE, limit=4)
    assert [e.text for e in parsed.entries] == ["Line 0", "Line 1", "Line 2", "Line 3"]
    assert parsed.capped and parsed.found == 10


def test_items_of_several_lines_are_capped_midway() -> None:
    items = [["a1", "a2", "a3"], ["b1", "b2"], ["c1"]]
    parsed = build_entries(items, lambda item: [(t, ()) for t in item], BASE, limit=4)
    assert [e.text for e in parsed.entries] == ["a1", "a2", "a3", "b1"]
    assert parsed.found == 4 + 1 + 1  # b2 and c1 left out
