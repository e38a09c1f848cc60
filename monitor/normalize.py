"""Pure text normalisation: display text, folded text for matching, and fingerprints.

``clean`` is what subscribers read; ``fold`` is what the seen-store and edit detection compare, so
that case, Latin accents, Arabic diacritics, tatweel and alef/hamza forms make no difference.
``match_words`` is what rules compare: ``fold`` and, beyond it, a hamza on a waw or yeh seat
(ؤ ئ) is the bare hamza ء, so "مسؤول" and "مسئول" are one word. That fold is for matching only:
fingerprints stay as stored lines were keyed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Zero-width and invisible formatting characters that sites sprinkle into text.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060\u2066-\u2069\u202a-\u202e\ufeff]+")
# Runs of whitespace and control characters (category Cc): one space each.
_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")

# Letter forms that readers treat as the same letter (after diacritics are stripped).
_FOLD_MAP = str.maketrans(
    {
        "\u0671": "\u0627",  # alef wasla -> alef
        "\u0649": "\u064a",  # alef maksura -> yeh
        "\u0629": "\u0647",  # teh marbuta -> heh
        "\u06a9": "\u0643",  # Persian keheh -> kaf
        "\u06cc": "\u064a",  # Persian yeh -> yeh
        "\u0640": None,  # tatweel
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",
        "\u201c": '"',
        "\u201d": '"',
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Extended (Persian) digits
    }
)
# Every combining mark of the Basic Multilingual Plane, dropped by str.translate (fast, in C):
# Latin accents after NFKD, Arabic harakat, and the hamza/madda that NFKD splits off alef forms.
_MARKS = dict.fromkeys(c for c in range(0x10000) if unicodedata.category(chr(c)) == "Mn")
_FOLD = {**_MARKS, **_FOLD_MAP}
_WORD = re.compile(r"\w+")


# unicodedata.normalize reorders a run of combining marks by insertion sort: quadratic, so a line of
# 100k marks takes minutes. Runs are cut to 30 marks first (Unicode's Stream-Safe Text Format limit,
# UAX #15); real text, Arabic with all its harakat, stays far below it.
MAX_MARKS = 30
_COMBINING = "".join(re.escape(chr(c)) for c in range(0x10000) if unicodedata.combining(chr(c)))
_MARK_RUN = re.compile(f"([{_COMBINING}]{{{MAX_MARKS}}})[{_COMBINING}]+")


def stream_safe(text: str) -> str:
    """Return text with every run of combining marks cut to its first MAX_MARKS (in C, linear)."""
    return text if text.isascii() else _MARK_RUN.sub(r"\1", text)


def clean(text: str) -> str:
    """Return display text: NFC, invisible and control characters dropped, whitespace collapsed."""
    if not text.isascii():  # ASCII has no invisibles and is its own NFC
        # Invisibles go first: left between a letter and its accent they would block NFC composing them.
        text = unicodedata.normalize("NFC", stream_safe(_INVISIBLE.sub("", text)))
    return _SPACE.sub(" ", text).strip()


def fold(text: str) -> str:
    """Return text for comparison: lower case, no accents or Arabic diacritics, one letter form."""
    # NFKD splits accented Latin letters and hamza/madda alef forms into base + combining mark;
    # dropping the marks folds both, and Arabic harakat are marks too.
    # casefold after NFKD: compatibility forms such as "℠" decompose into letters that need folding too.
    if text.isascii():  # all of that leaves ASCII as it is, but for the case
        return text.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFKD", stream_safe(text)).casefold().translate(_FOLD))


def words(text: str) -> list[str]:
    """Return the folded words of text: what rules match against, whole word by whole word."""
    return _WORD.findall(fold(text))


# fold splits ؤ and ئ into a seat letter and a hamza mark, then drops the mark: "مسؤول" becomes
# "مسوول" and "مسئول" becomes "مسيول": one word spelt two ways (Egyptian papers write مسئول, most
# others مسؤول). For matching, both seats become the bare hamza first, as pyarabic's "uniform" does.
# Alef seats (أ إ آ) stay folded to a bare alef, as Lucene's ArabicNormalizer and CAMeL Tools do:
# sites drop the hamza of an initial alef far more often than they move a hamza to another seat.
_WAW_HAMZA, _YEH_HAMZA, _HAMZA = "\u0624", "\u0626", "\u0621"
# A seat and its hamza typed apart (و + U+0654) or as a presentation form (ﺅ): NFKC makes them ؤ/ئ.
_UNCOMPOSED = re.compile("[\u0654\ufb50-\ufdff\ufe70-\ufefe]")


def match_fold(text: str) -> str:
    """Return text as rules compare it: fold, and a hamza on any seat but alef is the bare hamza."""
    if text.isascii():
        return text.lower()
    if _UNCOMPOSED.search(text):
        text = unicodedata.normalize("NFKC", stream_safe(text))
    return fold(text.replace(_WAW_HAMZA, _HAMZA).replace(_YEH_HAMZA, _HAMZA))


def match_words(text: str) -> list[str]:
    """Return the words rules match against: the words of match_fold, whole word by whole word."""
    return _WORD.findall(match_fold(text))


def fingerprint(text: str) -> str:
    """Return a stable key for a line: the hash of its folded words, blind to punctuation.

    Keys are stored: a change to fold changes the key of lines already seen, which are then new.
    """
    canonical = " ".join(words(text))
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()
