"""Pure: is a new ticker line an edited version of a recent one?

Tickers fix typos, change quotes or punctuation and add words after publishing. Such a line is
an edit when, after pairing equal words and near-equal words (typos), one line's words are all
found in the other and they share most of their words. A line that swaps a word for a different
one ("Blida" for "Aitaroun", "13" for "14") is a different line: losing a real alert is worse than
sending a corrected one twice.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator, Sequence
from difflib import SequenceMatcher

THRESHOLD = 0.75  # Dice similarity of word multisets, typo pairs counted as equal
TYPO_RATIO = 0.8  # two words of 4+ letters this close are one word misspelt
_TYPO_MIN_LEN = 4


def compare(a: Sequence[str], b: Sequence[str]) -> tuple[float, int]:
    """Return (similarity 0..1, words of a and b left unpaired on both sides) for two word lists."""
    if not a or not b:
        return 0.0, 0
    shared, short, long = _leftovers(a, b)
    typos = sum(_typo_pairs(short, long))
    return 2 * (shared + typos) / (len(a) + len(b)), len(short) - typos


def is_edit(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether word lists a and b are one ticker line before and after an edit."""
    if not a or not b:
        return False
    # No word may be swapped: after exact pairing, every leftover word of the shorter side needs a
    # typo partner. So the similarity is known before any typo test, and the first word without a
    # partner ends the comparison (most pairs of distinct lines end at their first leftover word).
    shared, short, long = _leftovers(a, b)
    if 2 * (shared + len(short)) / (len(a) + len(b)) < THRESHOLD:
        return False
    if not all(_typo_candidate(w) for w in short):
        return False  # a short word or a number can only pair exactly: "13" for "14" is a swap
    return all(_typo_pairs(short, long))  # stops at the first word without a partner


def _leftovers(a: Sequence[str], b: Sequence[str]) -> tuple[int, list[str], list[str]]:
    """Return how many words a and b share, then the unshared words of the shorter side and of the other."""
    unpaired = Counter(b)
    rest_a = []
    for word in a:
        if unpaired[word] > 0:
            unpaired[word] -= 1
        else:
            rest_a.append(word)
    rest_b = list(unpaired.elements())
    shared = len(a) - len(rest_a)
    return (shared, rest_a, rest_b) if len(rest_a) <= len(rest_b) else (shared, rest_b, rest_a)


def _typo_pairs(short: Sequence[str], long: Sequence[str]) -> Iterator[bool]:
    """Yield, word by word of short, whether it has a typo partner in long (each used once)."""
    pool = list(long)
    for word in short:
        k = next((k for k, other in enumerate(pool) if _typo(word, other)), None)
        if k is not None:
            del pool[k]
        yield k is not None


def _typo_candidate(word: str) -> bool:
    return len(word) >= _TYPO_MIN_LEN and not word.isdigit()


@functools.lru_cache(maxsize=4096)  # news repeats its words: most pairs were tested before
def _typo(x: str, y: str) -> bool:
    if not (_typo_candidate(x) and _typo_candidate(y)):
        return False
    # ratio = 2·matches / (len x + len y) and matches ≤ the shorter length: a cheap upper bound first.
    if 2 * min(len(x), len(y)) < TYPO_RATIO * (len(x) + len(y)):
        return False
    matcher = SequenceMatcher(None, x, y)
    # quick_ratio is an upper bound of ratio, and far cheaper.
    return matcher.quick_ratio() >= TYPO_RATIO and matcher.ratio() >= TYPO_RATIO
