import time

import pytest

from monitor.watches import MAX_INPUT, Watch, WatchError, WatchIndex, parse_watch

SOURCES = ("almayadeen-en", "almayadeen-ar", "aljazeera-ar")


def parse(text: str, max_terms: int = 20) -> Watch:
    return parse_watch(text, sources=SOURCES, max_terms=max_terms)


PARSED = [
    # (/watch arguments, terms, exclude, sources)
    ("ceasefire", ("ceasefire",), (), ()),
    ("Gaza Lebanon", ("Gaza", "Lebanon"), (), ()),
    ('"air strike" drone', ("air strike", "drone"), (), ()),
    ('"  air   strike "', ("air strike",), (), ()),
    ("«وقف إطلاق النار» غزة", ("وقف إطلاق النار", "غزة"), (), ()),
    ("“air strike” “Strait of Hormuz”", ("air strike", "Strait of Hormuz"), (), ()),
    ('"air strike', ("air strike",), (), ()),  # a quote left open runs to the end
    ("«قصف على", ("قصف على",), (), ()),
    ('«say "hi" now»', ("say hi now",), (), ()),  # quotes inside a term are no part of it
    ("Gaza -football", ("Gaza",), ("football",), ()),
    ('Gaza -"world cup" -«كرة القدم»', ("Gaza",), ("world cup", "كرة القدم"), ()),
    ("Gaza in:almayadeen-en", ("Gaza",), (), ("almayadeen-en",)),
    ("IN:Almayadeen-EN Gaza", ("Gaza",), (), ("almayadeen-en",)),  # the config's spelling
    ("Gaza in:almayadeen-en in:aljazeera-ar in:almayadeen-en", ("Gaza",), (), ("almayadeen-en", "aljazeera-ar")),
    ("Gaza gaza GAZA غزة", ("Gaza", "غزة"), (), ()),  # one term as matching sees it: the first spelling
    ("إيران ايران", ("إيران",), (), ()),
    ('Gaza "Gaza" «gaza»', ("Gaza",), (), ()),
    ("Gaza ... , - !!", ("Gaza",), (), ()),  # punctuation alone is no term
    ('Gaza "" «»', ("Gaza",), (), ()),
    ("\u202egaza\u202c \u2066غزة\u2069", ("gaza", "غزة"), (), ()),  # bidi controls dropped
    ("ga\u200bza غ\u061cزة", ("gaza", "غزة"), (), ()),  # invisibles do not split a word
    ("gaza\x00lebanon\tiran\x1b", ("gaza", "lebanon", "iran"), (), ()),  # control characters split
    ("١٢ day war", ("١٢", "day", "war"), (), ()),
]


@pytest.mark.parametrize("text, terms, exclude, sources", PARSED, ids=[c[0][:30] for c in PARSED])
def test_parse_watch(text: str, terms: tuple[str, ...], exclude: tuple[str, ...], sources: tuple[str, ...]) -> None:
    assert parse(text) == Watch(terms, exclude, sources)


REFUSED = [
    # (/watch arguments, words of the message)
    ("", "nothing to watch"),
    ("   ", "nothing to watch"),
    ("... !!! ---", "nothing to watch"),
    ('"" «» “”', "nothing to watch"),
    ("\u202e\u202c\u200b\x00", "nothing to watch"),
    ("in:almayadeen-en", "nothing to watch"),
    ("-football", "only exclusions"),
    ('-football -"world cup"', "only exclusions"),
    ("Gaza in:nowhere", "there is no source 'nowhere'"),
    ("Gaza in:", "in: needs a source name"),
    ("Gaza -in:almayadeen-en", "a source cannot be excluded"),
    ("Gaza -gaza", "gaza is both watched and excluded"),
    ('"air strike" -"Air Strike"', '"Air Strike" is both watched and excluded'),
    ('"one two three four five six seven"', "at most 6 words"),
    ("x" * 81, "80 characters"),
    (" ".join(f"w{i}" for i in range(21)), "at most 20 terms"),
    ("a -b -c -d -e -f -g -h -i -j -k -l -m -n -o -p -q -r -s -t -u", "at most 20 terms"),
    ("x" * 10_000, f"at most {MAX_INPUT} characters"),
]


@pytest.mark.parametrize("text, message", REFUSED, ids=[c[0][:30] for c in REFUSED])
def test_parse_watch_refuses(text: str, message: str) -> None:
    with pytest.raises(WatchError, match=message.replace("(", r"\(")):
        parse(text)


def test_repeated_terms_count_once_against_the_limit() -> None:
    assert parse("gaza " * 30, max_terms=2) == Watch(("gaza",))


def test_unknown_source_is_said_back_short() -> None:
    with pytest.raises(WatchError) as info:
        parse("gaza in:" + "x" * 900)
    assert len(str(info.value)) < 120


def test_500_terms() -> None:
    text = " ".join(chr(0x4E00 + i) for i in range(500))  # 500 one-letter words fit in MAX_INPUT
    assert len(text) <= MAX_INPUT
    assert len(parse(text, max_terms=500).terms) == 500
    with pytest.raises(WatchError, match="at most 499 terms"):
        parse(text, max_terms=499)


HOSTILE = [
    "x" * 10_000,
    "\u202e" * 10_000,
    "\u202e" * 999,
    "a\u0301" * 500,  # combining marks
    "\u0651" * 999,  # Arabic shadda, nothing else
    '"' * 999,
    "«" * 999,
    "-" * 999,
    '-"' * 499,
    "in:" * 333,
    "ﷺ" * 999,  # one character, 18 once decomposed
    "\x00\x01\x1b[31m" * 150,
    "a " * 499 + "a",
    "\ud800 gaza",  # a lone surrogate, as a broken client may send
]


@pytest.mark.parametrize("text", HOSTILE, ids=[f"{t[:6]!r}x{len(t)}" for t in HOSTILE])
def test_hostile_input_is_bounded(text: str) -> None:
    t0 = time.perf_counter()
    try:
        watch = parse_watch(text, sources=SOURCES, max_terms=500)
    except WatchError as exc:
        assert str(exc)
    else:
        assert watch.terms
        assert all(len(t) <= 80 for t in watch.terms + watch.exclude)
        watch.describe()
    assert time.perf_counter() - t0 < 0.5


DESCRIBED = [
    ("ceasefire", "ceasefire"),
    ('غزة "air strike" -football in:almayadeen-en', 'غزة OR "air strike", not football, in almayadeen-en'),
    ("«وقف إطلاق النار» -“world cup” -sport", '"وقف إطلاق النار", not "world cup", sport'),
    ("a b in:almayadeen-en in:aljazeera-ar", "a OR b, in almayadeen-en, aljazeera-ar"),
    ("\u202egaza\u202c", "gaza"),
]


@pytest.mark.parametrize("text, shown", DESCRIBED, ids=[c[0][:30] for c in DESCRIBED])
def test_describe(text: str, shown: str) -> None:
    assert parse(text).describe() == shown


def test_describe_reads_back_as_the_same_watch() -> None:
    for text, *_ in PARSED:
        watch = parse(text)
        shown = " ".join(
            [*(f'"{t}"' for t in watch.terms), *(f'-"{t}"' for t in watch.exclude), *(f"in:{s}" for s in watch.sources)]
        )
        assert parse(shown) == watch


MATCHES = [
    # (/watch arguments, source, line, matches?)
    ("Iran", "almayadeen-en", "Iran's foreign minister speaks", True),
    ("Iran", "almayadeen-en", "Iranian foreign minister speaks", False),  # whole words
    ("iran", "almayadeen-en", "IRAN: Tehran says", True),
    ("Cafe", "almayadeen-en", "Le Café de Flore", True),
    ("غزة", "almayadeen-ar", "قصف على غزة", True),
    ("غزة", "almayadeen-ar", "قصف إسرائيلي وغزة تحت النار", True),
    ("غزة", "almayadeen-ar", "غارات بغزة", True),
    ("غزة", "almayadeen-ar", "مسيرة فوق غــزة", True),  # tatweel
    ("غزة", "almayadeen-ar", "أمطار غزيرة", False),
    ("الرئيس", "almayadeen-ar", "كلمة للرئيس", True),
    ("ايران", "almayadeen-ar", "إيران تعلن", True),
    ("مسؤول", "almayadeen-ar", "مسئول أمريكي", True),
    ('"air strike"', "almayadeen-en", "An AIR-STRIKE on the camp", True),
    ('"air strike"', "almayadeen-en", "air defence strike", False),
    ('"air strike"', "almayadeen-en", "strike from the air", False),
    ("«وقف إطلاق النار»", "almayadeen-ar", "خرق وقف إطلاق النار", True),
    ("«وقف إطلاق النار»", "almayadeen-ar", "وقف إطلاق صواريخ", False),
    ("Lebanon -football", "almayadeen-en", "Lebanon football team wins", False),
    ("Lebanon -football", "almayadeen-en", "Drone strike in south Lebanon", True),
    ('Lebanon -"world cup"', "almayadeen-en", "Lebanon in the World Cup", False),
    ('Lebanon -"world cup"', "almayadeen-en", "Lebanon: a world of trouble, cup", True),
    ("غزة -«كرة القدم»", "almayadeen-ar", "منتخب غزة لكرة القدم", False),  # ل + كرة: the phrase's first word
    ("غزة -«كرة القدم»", "almayadeen-ar", "منتخب غزة وكرة القدم", False),
    ("غزة -«كرة القدم»", "almayadeen-ar", "غزة: كرة من نار", True),
    ("Gaza in:almayadeen-en", "almayadeen-en", "Gaza", True),
    ("Gaza in:almayadeen-en", "aljazeera-ar", "Gaza", False),
    ("Gaza in:almayadeen-en in:aljazeera-ar", "aljazeera-ar", "Gaza", True),
    ("Gaza", "any-source", "Gaza", True),
]


@pytest.mark.parametrize("text, source, line, expected", MATCHES, ids=[f"{c[0][:20]}|{c[2][:20]}" for c in MATCHES])
def test_match_table(text: str, source: str, line: str, expected: bool) -> None:
    index = WatchIndex()
    index.add(7, 1, parse(text))
    assert index.match(source, line) == ({7: [1]} if expected else {})


def test_match_many_readers_and_watches() -> None:
    index = WatchIndex()
    index.add(1, 1, parse("Gaza"))
    index.add(1, 2, parse('"air strike" -football'))
    index.add(1, 3, parse("Iran"))
    index.add(2, 1, parse("غزة in:almayadeen-ar"))
    index.add(3, 5, parse("Gaza -strike"))
    line = "Air strike on Gaza, غزة"
    assert index.match("almayadeen-ar", line) == {1: [1, 2], 2: [1]}
    assert index.match("almayadeen-en", line) == {1: [1, 2]}
    assert index.match("almayadeen-en", "Gaza calm") == {1: [1], 3: [5]}
    assert index.match("almayadeen-en", "nothing here") == {}
    assert index.match("almayadeen-en", "") == {}
    assert index.match("almayadeen-en", "...") == {}


def test_add_replaces_a_watch_of_the_same_id() -> None:
    index = WatchIndex()
    index.add(1, 1, parse("Gaza"))
    index.add(1, 1, parse("Iran"))
    assert len(index) == 1
    assert index.match("s", "Gaza") == {}
    assert index.match("s", "Iran") == {1: [1]}


def test_remove_keeps_the_terms_others_still_want() -> None:
    index = WatchIndex()
    index.add(1, 1, parse("Gaza -football"))
    index.add(2, 1, parse("football Gaza"))
    index.remove(1, 1)
    index.remove(1, 1)  # twice: nothing happens
    index.remove(9, 9)
    assert index.match("s", "Gaza football") == {2: [1]}
    index.remove_reader(2)
    index.remove_reader(2)
    assert index.match("s", "Gaza football") == {}
    assert len(index) == 0


def _empty(index: WatchIndex) -> None:
    for name, value in vars(index).items():
        assert not value, f"{name} keeps {value!r}"


def test_removing_everything_leaves_no_residue() -> None:
    index = WatchIndex()
    watches = [parse(t) for t, *_ in PARSED] + [parse(t) for t, *_ in MATCHES]
    watches.append(Watch(("...", "Gaza", "gaza"), ("", "gaza strip")))  # made by hand, not parsed
    for month in range(3):  # months of /watch and /unwatch
        for reader in range(50):
            for k, watch in enumerate(watches):
                index.add(reader, k, watch)
        index.match("almayadeen-en", "Gaza air strike")
        for reader in range(0, 50, 2):
            index.remove_reader(reader)
        for reader in range(1, 50, 2):
            for k in range(len(watches)):
                index.remove(reader, k)
        assert len(index) == 0
        _empty(index)
        assert month >= 0


def test_slots_are_reused() -> None:
    index = WatchIndex()
    index.add(1, 1, parse("Gaza"))
    for i in range(1000):
        index.add(2, i, parse("Iran"))
        index.remove(2, i)
    assert len(vars(index)["_owner"]) <= 2
    assert index.match("s", "Gaza Iran") == {1: [1]}
