"""The compiled matcher: a table of ticker lines, and a property test against a naive rule-by-rule check."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import RuleConfig
from monitor.normalize import match_words
from monitor.rules import ARTICLE_KEPT, PROCLITICS, Matcher


def rule(name: str, **kw: object) -> RuleConfig:
    fields = {
        k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v for k, v in kw.items()
    }
    return RuleConfig(name=name, channels=("c",), **fields)  # type: ignore[arg-type]


RULES = [
    rule("gaza", any=["غزة", "Gaza"]),
    rule("lebanon", any=["لبنان", "Lebanon", "Lebanese"], none=["football", "كرة القدم"]),
    rule("iran", any=["ايران", "Iran", "Tehran", "طهران"]),
    rule("hormuz", any=["Strait of Hormuz", "مضيق هرمز"]),
    rule("war12", any=["12 day war", "حرب ال 12 يوما"]),
    rule("khiam", any=["الخيام"]),
    rule("drone-south", near=[["drone", "south", 5]]),
    rule("uav-south", near=[["مسيرة", "الجنوب", 4]]),
    rule("urgent-nuclear", any=["nuclear", "نووي", "النووي"], all=["Iran"], priority="urgent"),
    rule("cafe", any=["Cafe de Flore"]),
    rule("kyiv", any=["Kyiv", "Kiev", "كييف"]),
    rule("quotes", any=["Trump's plan"]),
    rule("regex", any=["/\\b\\d+ (?:killed|dead)\\b/"]),
    rule("persian", any=["کرمان"]),
    rule("yemen", any=["اليمن", "Yemen"], none=["/^Football/"]),
    rule("president", any=["الرئيس"]),
    rule("army", any=["الجيش"]),
    rule("official", any=["مسؤول", "مسئولين"]),
]

TABLE = [
    # Arabic: proclitics attached, whole words only
    ("قصف مدفعي على غزة", {"gaza"}),
    ("مظاهرات في وغزة تتواصل", {"gaza"}),
    ("مساعدات تصل بغزة صباحا", {"gaza"}),
    ("أمطار غزيرة في الشمال", set()),
    ("الاحتلال يقصف فغزة", {"gaza"}),
    ("غارة على جنوب لبنان", {"lebanon"}),
    ("زيارة وزير إلى للبنان", {"lebanon"}),
    ("وفد يصل إلى بلبنان", {"lebanon"}),
    ("منتخب لبنان لكرة القدم يفوز", set()),  # "لكرة القدم": the none phrase with a proclitic
    ("مباراة كرة القدم بين لبنان وسوريا", set()),
    ("إيران تعلن موقفها", {"iran"}),
    ("وزير خارجية إِيرَان يصل", {"iran"}),
    ("والإيراني يقول", set()),  # another word, not ايران
    ("وطهران ترد على التهديدات", {"iran"}),
    ("ناقلات تعبر مضيق هرمز", {"hormuz"}),
    ("غارة على بلدة الخيام", {"khiam"}),
    ("القصف طال والخيام وعيترون", {"khiam"}),
    ("غارة بالخيام فجرا", {"khiam"}),
    ("مسيرة إسرائيلية تحلق فوق الجنوب", {"uav-south"}),
    ("مسيرة تحلق فوق بلدات عدة في الشمال وليس الجنوب", set()),  # too far apart
    ("كرمان: انفجار قرب مقبرة", {"persian"}),  # Persian keheh in the term, Arabic kaf in the line
    ("كرمان ی", {"persian"}),
    ("انفجار في كييف", {"kyiv"}),
    ("اليمن: استهداف سفينة", {"yemen"}),
    ("غارات على واليمن", {"yemen"}),
    ("طهران: البرنامج النووي سلمي", {"iran"}),  # urgent needs Iran in Latin too
    ("وفد حرب ال ١٢ يوما يصل", {"war12"}),  # Arabic-Indic digits
    # A term with the article: the line's ل + ال is written لل, the alef dropped
    ("كلمة للرئيس في ذكرى الاستقلال", {"president"}),
    ("وللرئيس الفرنسي رأي آخر", {"president"}),
    ("فللرئيس صلاحيات واسعة", {"president"}),
    ("اتصال هاتفي بالرئيس الإيراني", {"president"}),
    ("والرئيس السوري يصل إلى بغداد", {"president"}),
    ("اجتماع وبالرئيس يرحب", {"president"}),
    ("الرئيس: لا تراجع", {"president"}),
    ("رئيس الوزراء يصل إلى عمان", set()),  # the term asks for the article
    ("الرئاسة تنفي الخبر", set()),  # another word
    ("بيان للجيش حول الحادث", {"army"}),
    ("وللجيش رواية أخرى", {"army"}),
    ("الجيش اللبناني ينتشر في الجنوب", {"army"}),  # and لبنان is not اللبناني
    ("قصف مدفعي على بلدات لبنانية", set()),
    # Hamza seats: ؤ and ئ are one letter (Egyptian papers write مسئول)
    ("مسئول أمريكي: المحادثات مستمرة", {"official"}),
    ("مسؤول أمريكي: المحادثات مستمرة", {"official"}),
    ("قال المسئول إن المحادثات مستمرة", {"official"}),
    ("مسو\u0654ول أمريكي يصل", {"official"}),  # the hamza typed apart from its seat
    ("ﻣﺴﺆﻭﻝ أمريكي يصل", {"official"}),  # presentation forms
    ("وفد من المسؤولين يصل", {"official"}),
    ("لقاء مع مسؤولين أتراك", {"official"}),
    ("سؤال عن مسألة الحدود", set()),
    # English: whole words, case, accents, quotes, hyphens
    ("Iran's FM arrives in Muscat", {"iran"}),
    ("Iranian delegation arrives in Muscat", set()),
    ("IRAN: Tehran responds", {"iran"}),
    ("Tankers cross the Strait of Hormuz at dawn", {"hormuz"}),
    ("Hormuz: the strait is calm", set()),
    ("a year after THE 12-DAY WAR", {"war12"}),
    ("a year after the 12 day war", {"war12"}),
    ("Israeli drone strikes a car in south Lebanon", {"drone-south", "lebanon"}),
    ("A drone was seen over the capital; later, clashes erupted far in the south", set()),
    ("Iran: nuclear talks resume in Oman", {"iran", "urgent-nuclear"}),
    ("Nuclear plant in Ukraine loses power", set()),
    ("Meeting at the Café de Flore", {"cafe"}),
    ("Envoy praises Trump’s plan for Gaza", {"quotes", "gaza"}),
    ("Envoy praises Trump's plan", {"quotes"}),
    ("Kiev asks allies for more air defence", {"kyiv"}),
    ("Explosion in Kyiv: 3 killed", {"kyiv", "regex"}),
    ("Lebanese army deploys in the south", {"lebanon"}),
    ("Football: Yemen beats Oman", set()),
    ("Yemen: ship targeted in the Red Sea", {"yemen"}),
    ("Gazans queue for bread", set()),
]


@pytest.mark.parametrize("line, expected", TABLE, ids=[f"{i}" for i in range(len(TABLE))])
def test_matching_table(line: str, expected: set[str]) -> None:
    assert {m.rule for m in Matcher(RULES).matches("src", line)} == expected


def test_table_size() -> None:
    assert len(TABLE) >= 40
    arabic = [line for line, _ in TABLE if re.search("[\u0600-\u06ff]", line)]
    assert len(arabic) >= 15 and len(TABLE) - len(arabic) >= 15


def test_urgent_and_term_reported() -> None:
    [iran, nuclear] = Matcher(RULES).matches("src", "Iran: nuclear talks resume")
    assert (iran.term, iran.urgent) == ("Iran", False)
    assert (nuclear.term, nuclear.urgent) == ("nuclear", True)


# --- the compiled matcher against a naive rule-by-rule check ---------------------------------

_PREFIX = "(?:" + "|".join(PROCLITICS) + ")?"
_ARTICLE = "(?:" + "|".join(ARTICLE_KEPT) + ")"


def naive_found(term: str, line: str) -> bool:
    """Search one term in a line's words with a regular expression, no index, no stems table."""
    phrase = " ".join(match_words(term))
    if not phrase:
        return False
    arabic = bool(re.match("[\u0620-\u064a]", phrase))
    pattern = "(?:^| )" + (_PREFIX if arabic else "") + re.escape(phrase) + "(?= |$)"
    if arabic and phrase.startswith("ال"):  # a term with the article, after a proclitic that holds it
        pattern += "|(?:^| )" + _ARTICLE + re.escape(phrase[2:]) + "(?= |$)"
    return re.search(pattern, " ".join(match_words(line))) is not None


def naive_near(a: str, b: str, n: int, line: str) -> bool:
    tokens = match_words(line)

    def positions(term: str) -> list[int]:
        return [i for i in range(len(tokens)) if naive_found(term, " ".join(tokens[i : i + len(match_words(term))]))]

    return any(abs(x - y) <= n for x in positions(a) for y in positions(b))


def naive(rules: list[RuleConfig], line: str) -> set[str]:
    out = set()
    for r in rules:
        if any(naive_found(t, line) for t in r.none) or not all(naive_found(t, line) for t in r.all):
            continue
        if not all(naive_near(a, b, n, line) for a, b, n in r.near):
            continue
        if r.any and not any(naive_found(t, line) for t in r.any):
            continue
        out.add(r.name)
    return out


VOCAB = [
    "غزة",
    "لبنان",
    "الخيام",
    "طهران",
    "مسيرة",
    "الجنوب",
    "جنوب",
    "قصف",
    "الرئيس",
    "مسؤول",
    "Iran",
    "Gaza",
    "drone",
    "south",
    "Lebanon",
    "strike",
    "Tehran",
    "talks",
    "war",
    "12",
    "day",
    "nuclear",
]
LINE_WORDS = [
    *VOCAB,
    "وغزة",
    "بغزة",
    "للبنان",
    "والخيام",
    "بالجنوب",
    "للجنوب",
    "وللجنوب",
    "وبالجنوب",
    "فللخيام",
    "غزيرة",
    "رئيس",
    "للرئيس",
    "الرئاسة",
    "مسئول",
    "المسئول",
    "اللبناني",
    "Iranian",
    "Iran's",
    "the",
    "of",
    "في",
]
terms = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=2).map(" ".join)
rules_strategy = st.lists(
    st.builds(
        lambda i, any_, all_, none, near: RuleConfig(
            name=f"r{i}", channels=("c",), any=tuple(any_), all=tuple(all_), none=tuple(none), near=tuple(near)
        ),
        st.integers(0, 10**6),
        st.lists(terms, max_size=3),
        st.lists(terms, max_size=2),
        st.lists(terms, max_size=1),
        st.lists(st.tuples(st.sampled_from(VOCAB), st.sampled_from(VOCAB), st.integers(1, 4)), max_size=1),
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda r: r.name,
)


@settings(max_examples=300, deadline=None)
@given(
    rules=rules_strategy, lines=st.lists(st.lists(st.sampled_from(LINE_WORDS), max_size=12).map(" ".join), max_size=5)
)
def test_compiled_matcher_agrees_with_naive_check(rules: list[RuleConfig], lines: list[str]) -> None:
    matcher = Matcher(rules)
    for line in lines:
        assert {m.rule for m in matcher.matches("s", line)} == naive(rules, line), line
