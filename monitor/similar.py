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
    if not a or not b:
        return False
    # Cheap tests first, so most pairs of distinct lines never build a SequenceMatcher: after
    # exact pairing, one side's leftover words must all be able to pair as typos (no swap), and
    # even then the pair must be able to reach the threshold.
    common = Counter(a) & Counter(b)
    rest_a = list((Counter(a) - common).elements())
    rest_b = list((Counter(b) - common).elements())
    if rest_a and rest_b and not (_may_pair_all(rest_a, rest_b) or _may_pair_all(rest_b, rest_a)):
        return False
    if 2 * (sum(common.values()) + min(len(rest_a), len(rest_b))) / (len(a) + len(b)) < THRESHOLD:
        return False
    similarity, swapped = compare(a, b)
    return swapped == 0 and similarity >= THRESHOLD


def _may_pair_all(mine: list[str], theirs: list[str]) -> bool:
    """Whether every word of mine could have a typo partner in theirs (a necessary condition)."""
    return len(mine) <= len(theirs) and all(_typo_candidate(w) for w in mine)


def _typo_candidate(word: str) -> bool:
    return len(word) >= _TYPO_MIN_LEN and not word.isdigit()


def _typo(x: str, y: str) -> bool:
    if not (_typo_candidate(x) and _typo_candidate(y)):
        return False
    matcher = SequenceMatcher(None, x, y)
    # quick_ratio is an upper bound of ratio, and far cheaper.
    return matcher.quick_ratio() >= TYPO_RATIO and matcher.ratio() >= TYPO_RATIO
