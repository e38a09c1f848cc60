"""Edited lines versus distinct lines that share words.

Distinct lines come from the real tickers in ../shared/seeds (read at test time): every pair of
lines of one ticker is two different items and must stay distinct. Edits are made from those
lines the way tickers edit them. The hand-written table uses lines written for it.
"""

import itertools
import re

import pytest
from sites import seed_names, seed_ticker

from monitor.normalize import words
from monitor.similar import compare, is_edit

needs_seeds = pytest.mark.skipif(not seed_names(), reason="../shared/seeds not found beside the clone")

LINE = "Al Mayadeen's correspondent in South Lebanon: Israeli drone strikes a motorcycle in Aitaroun with one missile."

PAIRS = [
    # (line before, line after, is it an edit?)
    (LINE, LINE.replace("Aitaroun", "Aitaroon"), True),  # typo fixed in a name
    (LINE, LINE.replace("strikes", "strieks"), True),  # typo
    (LINE, LINE.replace("one missile.", "one guided missile"), True),  # a word added
    (LINE, LINE.replace("'s", "’s"), True),  # curly apostrophe
    (LINE, LINE.replace("Lebanon:", "Lebanon -"), True),  # punctuation
    ("Kremlin says talks could resume next week", "Kremlin says the talks could resume next week", True),
    ("لبنان: غارة إسرائيلية على بلدة الخيام", "لبنان: غارة إسرائيلية على بلدة الخيام الجنوبية", True),
    ("لبنان: غارة إسرائيلية على بلدة الخيام", "لبنان: غارة إسرائيلية على بلدة الخيام.", True),
    # Distinct lines that share most of their words: one word swapped.
    (LINE, LINE.replace("Aitaroun", "Khiam"), False),
    ("Israeli drone strike targets a car in the town of Blida in south Lebanon",
     "Israeli drone strike targets a car in the town of Houla in south Lebanon", False),
    ("The council adopted the draft by a majority of 13 members", "The council adopted the draft by a majority of 12 members",
     False),
    ("Yemen: drone shot down over Sanaa", "Yemen: drone shot down over Marib", False),
    ("لبنان: غارة إسرائيلية على بلدة الخيام", "لبنان: غارة إسرائيلية على بلدة عيترون", False),
    # Same speaker, different statements.
    ("Lavrov: Moscow is ready for talks without preconditions", "Lavrov: Moscow will answer any new sanctions", False),
]


@pytest.mark.parametrize("before, after, expected", PAIRS, ids=[f"{i}-{p[2]}" for i, p in enumerate(PAIRS)])
def test_edit_table(before: str, after: str, expected: bool) -> None:
    assert is_edit(words(before), words(after)) is expected
    assert is_edit(words(after), words(before)) is expected  # symmetric


@needs_seeds
def test_distinct_seed_lines_stay_distinct() -> None:
    pairs = [(a, b) for name in seed_names() for a, b in itertools.combinations(seed_ticker(name), 2)]
    assert len(pairs) >= 4 * 45
    merged = [(a, b) for a, b in pairs if is_edit(words(a), words(b))]
    assert merged == []


def _typo(line: str) -> str:
    """Swap two letters inside the longest word, as a hurried editor would."""
    word = max(re.findall(r"[A-Za-z]+", line), key=len)
    fixed = word[:2] + word[3] + word[2] + word[4:]
    return line.replace(word, fixed, 1)


EDITS = {
    "typo": _typo,
    "word added": lambda line: line.replace(" ", " also ", 1) if len(line.split()) > 6 else line + " today",
    "final stop": lambda line: line.rstrip(".") if line.endswith(".") else line + ".",
    "curly quotes": lambda line: line.replace("'", "’").replace('"', "“"),
    "colon to dash": lambda line: line.replace(":", " -", 1),
}


@needs_seeds
@pytest.mark.parametrize("edit", EDITS)
def test_seed_lines_after_edits_are_recognised(edit: str) -> None:
    lines = [line for name in seed_names() for line in seed_ticker(name)]
    missed = [line for line in lines if not is_edit(words(line), words(EDITS[edit](line)))]
    assert missed == []


def test_compare_reports_similarity_and_swaps() -> None:
    assert compare(["a", "b"], ["a", "b"]) == (1.0, 0)
    assert compare([], ["a"]) == (0.0, 0)
    assert compare(["drone", "blida"], ["drone", "aitaroun"]) == (0.5, 1)
