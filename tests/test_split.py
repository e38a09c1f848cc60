"""Tests for monitor.split: finding the usual separators in a run of ticker text, and cutting at one."""

from __future__ import annotations

import pytest

from monitor.split import AUTO, USUAL, split_text, usual_separator

LEB = "Lebanon: Israeli drone strikes a car in Bint Jbeil"
IRQ = "Iraq: Explosions heard near a base north of Baghdad"
YEM = "Yemen: Sanaa airport resumes flights"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{LEB} | {IRQ} | {YEM}", "|"),
        (f"{LEB}|{IRQ}|{YEM}", "|"),
        (f"{LEB} • {IRQ} • {YEM}", "•"),
        (f"{LEB} ◆ {IRQ} ◆ {YEM}", "◆"),
        (f"{LEB} ■ {IRQ} ■ {YEM}", "■"),
        (f"{LEB} – {IRQ} – {YEM}", " – "),
        (f"{LEB}\u00a0—\u00a0{IRQ} — {YEM}", " — "),  # non-breaking spaces count as spaces
        (f"{LEB} | {IRQ}", None),  # once is no run
        ("Gaza–Israel talks: a 2023–2024 timeline–", None),  # dashes without spaces are words' own
        ("Lebanon | Iraq • Syria • Yemen | Gaza • Iran", "•"),  # the commonest wins
        ("A | B • C | D • E", "|"),  # a tie goes to the likelier
        ("", None),
    ],
)
def test_usual_separator(text: str, expected: str | None) -> None:
    assert usual_separator(text) == expected


@pytest.mark.parametrize(
    ("text", "separator", "expected"),
    [
        (f"{LEB} | {IRQ} | {YEM}", "|", [f"{LEB} ", f" {IRQ} ", f" {YEM}"]),
        (f"{LEB} | {IRQ} | {YEM}", AUTO, [f"{LEB} ", f" {IRQ} ", f" {YEM}"]),
        (f"{LEB} - cease-fire - {YEM}", " - ", [LEB, "cease-fire", YEM]),  # spaces in it: any whitespace
        (f"{LEB}\n-\t{YEM}", " - ", [LEB, YEM]),
        (f"{LEB} // {YEM}", "//", [f"{LEB} ", f" {YEM}"]),  # any literal, not only the usual ones
        (f"{LEB} – {YEM}", AUTO, [f"{LEB} – {YEM}"]),  # auto: one dash is part of a line
        (LEB, "|", [LEB]),
    ],
)
def test_split_text(text: str, separator: str, expected: list[str]) -> None:
    assert split_text(text, separator) == expected


def test_every_usual_separator_is_found_by_auto() -> None:
    for sep in USUAL:
        assert [p.strip() for p in split_text(sep.join([LEB, IRQ, YEM]), AUTO)] == [LEB, IRQ, YEM]
