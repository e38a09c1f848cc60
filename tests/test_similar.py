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

IRAQ = "Iraq: Israeli drone carries out a attack on a convoy near al-Qaim crossing"
STRIKE = "Israeli strike in the outskirts of Tyre wounds 13 people"
ARMY = "The army confirms that the building was hit by a missile"
AR = "لبنان: غارة إسرائيلية في بلدة الخيام جنوب البلاد"

PAIRS = [
    # (line before, line after, is it an edit?, why)
    (LINE, LINE.replace("Aitaroun", "Aitaroon"), True, "typo fixed in a name"),
    (LINE, LINE.replace("strikes", "strieks"), True, "typo"),
    (LINE, LINE.replace("one missile.", "one guided missile"), True, "a word added"),
    (LINE, LINE.replace("'s", "’s"), True, "curly apostrophe"),
    (LINE, LINE.replace("Lebanon:", "Lebanon -"), True, "punctuation"),
    (
        "Kremlin says talks could resume next week",
        "Kremlin says the talks could resume next week",
        True,
        "article added",
    ),
    (
        "لبنان: غارة إسرائيلية على بلدة الخيام",
        "لبنان: غارة إسرائيلية على بلدة الخيام الجنوبية",
        True,
        "Arabic word added",
    ),
    ("لبنان: غارة إسرائيلية على بلدة الخيام", "لبنان: غارة إسرائيلية على بلدة الخيام.", True, "Arabic full stop"),
    # A function word swapped, added or dropped, alone or with punctuation and typos.
    (IRAQ, IRAQ.replace("a attack", "an attack"), True, "a for an"),
    (IRAQ, IRAQ.replace("Iraq:", "Iraq -"), True, "colon for dash"),
    (IRAQ, IRAQ.replace("Iraq:", "Iraq -").replace("a attack", "an attack"), True, "a for an and colon for dash"),
    (STRIKE, STRIKE.replace(" in ", " on "), True, "in for on"),
    (STRIKE, STRIKE.replace("the outskirts", "a outskirts"), True, "the for a"),
    (STRIKE, STRIKE.replace(" in the ", " on "), True, "in for on, the dropped"),
    (STRIKE, STRIKE.replace(" in ", " on ").replace("outskirts", "outksirts"), True, "in for on and a typo"),
    (ARMY, ARMY.replace("was hit", "has been hit"), True, "auxiliaries swapped and added"),
    (AR, AR.replace(" في ", " على "), True, "Arabic fi for ala"),
    (AR, AR.replace("لبنان:", "لبنان -").replace(" في ", " على "), True, "Arabic fi for ala and colon for dash"),
    (
        AR,
        AR.replace(" في بلدة", " على بلدة").replace("إسرائيلية", "اسرائيلية"),
        True,
        "Arabic fi for ala and a hamza dropped",
    ),
    (
        "مصدر: الوفد وصل إلى القاهرة صباح اليوم",
        "مصدر: الوفد قد وصل القاهرة صباح اليوم",
        True,
        "Arabic ila dropped, qad added",
    ),
    # Distinct lines that share most of their words: one word swapped.
    (LINE, LINE.replace("Aitaroun", "Khiam"), False, "a name swapped"),
    (
        "Israeli drone strike targets a car in the town of Blida in south Lebanon",
        "Israeli drone strike targets a car in the town of Houla in south Lebanon",
        False,
        "a name swapped",
    ),
    (
        "Israeli drone strike targets a car in the town of Blida in south Lebanon",
        "Israeli drone strike targets a car in the town of Aitaroun in south Lebanon",
        False,
        "a name swapped",
    ),
    (
        "The council adopted the draft by a majority of 13 members",
        "The council adopted the draft by a majority of 12 members",
        False,
        "a number swapped",
    ),
    (STRIKE, STRIKE.replace("13", "14"), False, "13 for 14"),
    (STRIKE, STRIKE.replace(" in ", " on ").replace("13", "14"), False, "in for on, but 13 for 14"),
    (
        "Pentagon: the aid package is worth 1 million dollars",
        "Pentagon: the aid package is worth 1 billion dollars",
        False,
        "number words look like a typo",
    ),
    (
        "Airbus A320neo makes an emergency landing in Larnaca",
        "Airbus A321neo makes an emergency landing in Larnaca",
        False,
        "a word with digits is a number",
    ),
    (
        "مصدر: ثمانية قتلى في القصف على بلدة الخيام",
        "مصدر: ثمانين قتلى في القصف على بلدة الخيام",
        False,
        "Arabic number words look like a typo",
    ),
    ("Yemen: drone shot down over Sanaa", "Yemen: drone shot down over Marib", False, "a name swapped"),
    ("لبنان: غارة إسرائيلية على بلدة الخيام", "لبنان: غارة إسرائيلية على بلدة عيترون", False, "Arabic name swapped"),
    (ARMY, ARMY.replace("confirms", "denies"), False, "a content word swapped"),
    (
        "Senate votes for the new sanctions bill",
        "Senate votes against the new sanctions bill",
        False,
        "a function word swapped for a content word",
    ),
    # A negation added, dropped or swapped.
    (ARMY, ARMY.replace("was hit", "was not hit"), False, "not added"),
    (ARMY, ARMY.replace("was hit", "wasn't hit"), False, "n't added"),
    (ARMY, ARMY.replace("was hit", "wasn’t hit"), False, "n't added, curly apostrophe"),
    (ARMY, ARMY.replace("was hit", "was never hit"), False, "never added"),
    (ARMY, ARMY.replace("by a missile", "by no missile"), False, "a for no"),
    (
        "الجيش الإسرائيلي: الصاروخ أصاب الهدف",
        "الجيش الإسرائيلي: الصاروخ لم يصب الهدف",
        False,
        "Arabic lam added, verb swapped",
    ),
    ("مصدر: الوفد قد يصل إلى القاهرة اليوم", "مصدر: الوفد لن يصل إلى القاهرة اليوم", False, "Arabic qad for lan"),
    ("مصدر: الوفد يصل إلى القاهرة اليوم", "مصدر: الوفد لا يصل إلى القاهرة اليوم", False, "Arabic la added"),
    ("وزير: القرار نهائي بشأن الحدود", "وزير: القرار غير نهائي بشأن الحدود", False, "Arabic ghayr added"),
    # Same speaker, different statements.
    (
        "Lavrov: Moscow is ready for talks without preconditions",
        "Lavrov: Moscow will answer any new sanctions",
        False,
        "same speaker, another statement",
    ),
]


@pytest.mark.parametrize("before, after, expected, why", PAIRS, ids=[f"{i}-{p[2]}-{p[3]}" for i, p in enumerate(PAIRS)])
def test_edit_table(before: str, after: str, expected: bool, why: str) -> None:
    assert is_edit(words(before), words(after)) is expected, why
    assert is_edit(words(after), words(before)) is expected, why  # symmetric


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


_SMALL = {"the": "a", "a": "the", "in": "on", "on": "in", "of": "for", "في": "على", "على": "في", "من": "عن"}
_SMALL_WORD = re.compile(r"(?<!\w)(" + "|".join(_SMALL) + r")(?!\w)")


def _small_word(line: str) -> str:
    """Swap the first article or preposition for another, as a corrected ticker line does."""
    return _SMALL_WORD.sub(lambda m: _SMALL[m.group(1)], line, count=1)


EDITS = {
    "typo": _typo,
    "small word swapped": _small_word,
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
