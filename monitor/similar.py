"""Pure: is a new ticker line an edited version of a recent one?

Tickers fix typos, quotes, punctuation and small words, and add words, after publishing. Two lines
are one line edited when, after pairing equal words, near-equal words (typos of 4+ letters) and
function words with function words, one line's words are all found in the other and they share
most of their words. Function words are a closed list of articles, prepositions, conjunctions and
auxiliaries ("a", "an", "the", "in", "on", "في", "على", "من"): one may be swapped for another
("a attack" for "an attack"), and any word may be added or dropped. A negation ("not", "n't",
"never", "لا", "لم", "غير") is never a function word: adding, dropping or swapping one is news.
Numbers (in digits or words) pair only when equal, and any other swap of a word for a different one
("Blida" for "Aitaroun", "13" for "14", "confirms" for "denies") makes a new line: losing a real
alert is worse than sending a corrected one twice.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from difflib import SequenceMatcher

from .normalize import words

THRESHOLD = 0.75  # Dice similarity of word multisets, typo and function-word pairs counted as equal
TYPO_RATIO = 0.8  # two words of 4+ letters this close are one word misspelt
_TYPO_MIN_LEN = 4
_DIGIT = re.compile(r"\d")


def _folded(text: str) -> frozenset[str]:
    return frozenset(words(text))


# Words a correction swaps, adds or drops without changing the news. Folded as lines are, so
# "إلى" is "الي" and "على" is "علي". Words whose swap changes the news stay out: negations,
# "after"/"before", "against", "without", modals ("may", "will").
FUNCTION_WORDS = _folded("""
    a an the  in on at of to into onto by for from with as  and or
    is are was were be been has have had
    في على من إلى عن مع عند لدى و أو ثم أن إن قد
""")
# Never a function word: adding, dropping or swapping one reverses the line. "t" is the tail of
# "n't", which words() splits off ("wasn't" is "wasn" "t").
NEGATIONS = _folded("""
    not no never nor neither none nobody nothing nowhere without cannot t
    dont doesnt didnt isnt arent wasnt werent hasnt havent hadnt wont wouldnt cant couldnt shouldnt mustnt aint
    لا لم لن ليس ليست ليسا ليسوا لست لسنا ما غير عدم دون بدون بلا مش
    ولا ولم ولن وليس وليست وما وغير ودون فلا فلم فلن فليس
""")
# Number words pair only with themselves, as digits do ("million" and "billion" look like a typo).
NUMBER_WORDS = _folded("""
    one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
    hundred hundreds thousand thousands million millions billion billions trillion trillions dozen dozens
    واحد واحدة اثنان اثنين اثنتان اثنتين ثلاث ثلاثة أربع أربعة خمس خمسة ست ستة سبع سبعة ثمان ثماني ثمانية
    تسع تسعة عشر عشرة عشرات عشرون عشرين ثلاثون ثلاثين أربعون أربعين خمسون خمسين ستون ستين سبعون سبعين
    ثمانون ثمانين تسعون تسعين مئة مائة مئات ألف ألفا آلاف مليون ملايين مليار مليارات
""")


def compare(a: Sequence[str], b: Sequence[str]) -> tuple[float, int]:
    """Return (similarity 0..1, words of a and b left unpaired on both sides) for two word lists."""
    if not a or not b:
        return 0.0, 0
    paired, short, long = _leftovers(a, b)
    typos = sum(_typo_pairs(short, long))
    return 2 * (paired + typos) / (len(a) + len(b)), len(short) - typos


def is_edit(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether word lists a and b are one ticker line before and after an edit."""
    if not a or not b:
        return False
    paired, short, long = _leftovers(a, b)
    if not (NEGATIONS.isdisjoint(short) and NEGATIONS.isdisjoint(long)):
        return False  # "was hit" and "was not hit" are two pieces of news
    # No other word may be swapped: after pairing, every leftover word of the shorter side needs a
    # typo partner. So the similarity is known before any typo test, and the first word without a
    # partner ends the comparison (most pairs of distinct lines end at their first leftover word).
    if 2 * (paired + len(short)) / (len(a) + len(b)) < THRESHOLD:
        return False
    if not all(_typo_candidate(w) for w in short):
        return False  # a short word or a number can only pair exactly: "13" for "14" is a swap
    return all(_typo_pairs(short, long))  # stops at the first word without a partner


def _leftovers(a: Sequence[str], b: Sequence[str]) -> tuple[int, list[str], list[str]]:
    """Pair equal words, then function words; return the pairs, the fewer unpaired words and the others."""
    unpaired = Counter(b)
    rest_a = []
    for word in a:
        if unpaired[word] > 0:
            unpaired[word] -= 1
        else:
            rest_a.append(word)
    rest_b = list(unpaired.elements())
    # Which function word pairs with which makes no difference: each pair is one word swapped.
    swaps = min(sum(w in FUNCTION_WORDS for w in rest_a), sum(w in FUNCTION_WORDS for w in rest_b))
    if swaps:
        rest_a, rest_b = _drop_function_words(rest_a, swaps), _drop_function_words(rest_b, swaps)
    paired = len(a) - len(rest_a)
    return (paired, rest_a, rest_b) if len(rest_a) <= len(rest_b) else (paired, rest_b, rest_a)


def _drop_function_words(tokens: list[str], n: int) -> list[str]:
    """Return tokens without their first n function words."""
    out = []
    for word in tokens:
        if n and word in FUNCTION_WORDS:
            n -= 1
        else:
            out.append(word)
    return out


def _typo_pairs(short: Sequence[str], long: Sequence[str]) -> Iterator[bool]:
    """Yield, word by word of short, whether it has a typo partner in long (each used once)."""
    pool = list(long)
    for word in short:
        k = next((k for k, other in enumerate(pool) if _typo(word, other)), None)
        if k is not None:
            del pool[k]
        yield k is not None


def _typo_candidate(word: str) -> bool:
    """Whether a word may be a misspelling of another: 4+ letters, and not a number ("13th", "billion")."""
    return len(word) >= _TYPO_MIN_LEN and word not in NUMBER_WORDS and not _DIGIT.search(word)


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
