import pytest

from monitor.normalize import clean, fingerprint, fold, words


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  Iran:\u00a0Tehran \n\t says ", "Iran: Tehran says"),
        ("zero\u200bwidth\u200c and\ufeff bom", "zerowidth and bom"),
        ("bell\x07 and\x00null", "bell and null"),
        ("e\u0301cole", "\u00e9cole"),  # NFC
        ("", ""),
        ("\u200f\u200e", ""),
    ],
)
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


@pytest.mark.parametrize(
    "a, b",
    [
        ("Iran", "IRAN"),
        ("Café", "cafe"),
        ("إيران", "ايران"),
        ("إِيرَان", "ايران"),
        ("آمال", "امال"),
        ("ٱلقدس", "القدس"),
        ("غــزة", "غزة"),  # tatweel
        ("Trump’s", "Trump's"),
        ("١٢", "12"),
    ],
)
def test_fold_makes_equal(a: str, b: str) -> None:
    assert fold(a) == fold(b)


def test_words_split_on_apostrophes_and_hyphens() -> None:
    assert words("Iran's 12-day war") == ["iran", "s", "12", "day", "war"]


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("Trump: THE 12 DAY WAR", "trump the 12 day war", True),
        ("Drone strikes a motorcycle in Aitaroun", "Drone strikes a motorcycle in Aitaroun.", True),
        ("Drone strikes a motorcycle in Aitaroun", "Drone strikes a motorcycle in Khiam", False),
        ("Cabinet approves the budget draft", "Cabinet approves the budget drafts", False),
    ],
)
def test_fingerprint(a: str, b: str, same: bool) -> None:
    assert (fingerprint(a) == fingerprint(b)) is same
