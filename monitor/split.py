"""Pure: cut one run of ticker text ("A | B | C", a marquee) into its items at a separator.

A separator is written as the page shows it; its spaces match any run of whitespace (a non-breaking
space too), so " - " cuts "A - B" but not "cease-fire". `auto` looks for the usual separators: the
commonest one found at least twice. Dashes count only with spaces around them.
"""

from __future__ import annotations

import functools
import re

AUTO = "auto"
# As a `split:` value would say them; most likely first, which breaks a tie in auto.
USUAL = ("|", "•", "◆", "■", "●", "▪", "♦", "★", "·", " – ", " — ")
MIN_ITEM = 3  # a cut piece shorter than this (a stray "»", a number) is no item
_USUAL = tuple((sep, re.compile(r"\s+".join(map(re.escape, sep.split(" "))))) for sep in USUAL)
_SPACES = re.compile(r"\s+")


def usual_separator(text: str) -> str | None:
    """Return the usual separator that occurs most often in text, if it does at least twice."""
    best, most = None, 1
    for sep, pattern in _USUAL:
        count = text.count(sep) if len(sep) == 1 else len(pattern.findall(text))
        if count > most:
            best, most = sep, count
    return best


def split_text(text: str, separator: str) -> list[str]:
    """Return text cut at separator (a literal, or AUTO for the usual ones); [text] if it is not there."""
    if separator == AUTO:
        found = usual_separator(text)
        if found is None:
            return [text]
        separator = found
    return _pattern(separator).split(text)


@functools.lru_cache(maxsize=64)
def _pattern(separator: str) -> re.Pattern[str]:
    """A literal separator whose runs of whitespace match any whitespace."""
    return re.compile(r"\s+".join(re.escape(part) for part in _SPACES.split(separator)))
