"""Pure: is a new ticker line an edited version of a recent one?

Tickers fix typos, change quotes or punctuation and add words after publishing. Such a line is
an edit when, after pairing equal words and near-equal words (typos), one line's words are all
found in the other and they share most of their words. A line that swaps a word for a different
one ("Blida" for "Aitaroun", "13" for "14") is a different line: losing a real alert is worse than
sending a corrected one twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from difflib import SequenceMatcher

THRESHOLD = 0.75  # Dice similarity of word multisets, typo pairs counted as equal
TYPO_RATIO = 0.8  # two words of 4+ letters this close are one word misspelt
_TYPO_MIN_LEN = 4


def compare(a: Sequence[str], b: Sequence[str]) -> tuple[float, int]:
    """Return (similarity 0..1, words of a and b left unpaired on both sides) for two word lists."""
    if not a or not b:
        return 0.0, 0
    common = Counter(a) & Counter(b)
    rest_a = list((Counter(a) - common).elements())
    rest_b = list((Counter(b) - common).elements())
    paired = sum(common.values())
    for word in list(rest_a):
        match = next((w for w in rest_b if _typo(word, w)), None)
        if match is not None:
            rest_a.remove(word)
            rest_b.remove(match)
            paired += 1
    similarity = 2 * paired / (len(a) + len(b))
    return similarity, min(len(rest_a), len(rest_b))


def is_edit(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether word lists a and b are one ticker line before and after an edit."""
    similarity, swapped = compare(a, b)
    return swapped == 0 and similarity >= THRESHOLD


def _typo(x: str, y: str) -> bool:
    if min(len(x), len(y)) < _TYPO_MIN_LEN or x.isdigit() or y.isdigit():
        return False
    return SequenceMatcher(None, x, y).ratio() >= TYPO_RATIO
