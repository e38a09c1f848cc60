import pytest

from monitor.config import RuleConfig
from monitor.models import Item
from monitor.normalize import fingerprint
from monitor.rules import Matcher, Route


def rule(name: str = "r", **kw: object) -> RuleConfig:
    kw.setdefault("channels", ("alerts",))
    return RuleConfig(name=name, **{k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()})  # type: ignore[arg-type]


CASES = [
    # (rule keywords, line, matches?)
    ({"any": ["Iran"]}, "Iran's foreign minister speaks in Muscat", True),
    ({"any": ["Iran"]}, "Iranian foreign minister speaks in Muscat", False),
    ({"any": ["iran"]}, "IRAN: Tehran says", True),
    ({"any": ["Kiev", "Kyiv"]}, "Kiev asks allies for more air defence", True),
    ({"any": ["Ukraine"]}, "Ukrainian military fails", False),
    ({"any": ["12 day war"]}, "a year after THE 12-DAY WAR", True),
    ({"any": ["Strait of Hormuz"]}, "Tankers cross the Strait of Hormuz", True),
    ({"any": ["Strait of Hormuz"]}, "Hormuz: the strait is open", False),
    ({"any": ["Cafe"]}, "Le Café de Flore", True),
    ({"any": ["ايران"]}, "إيران: التلفزيون الإيراني", True),
    ({"any": ["إيران"]}, "ايران تعلن", True),
    ({"any": ["ايران"]}, "إِيرَان تعلن", True),
    ({"any": ["غزة"]}, "قصف على غــزة", True),
    ({"any": ["لبنان"]}, "جنوب لبنان: غارة", True),
    ({"any": ["Lebanon"]}, "drone strike in south Lebanon", True),
    ({"any": ["Lebanon"], "none": ["football"]}, "Lebanon football team wins", False),
    ({"any": ["drone"], "all": ["Lebanon"]}, "Israeli drone strike in south Lebanon", True),
    ({"any": ["drone"], "all": ["Lebanon"]}, "Israeli drone shot down over Tehran", False),
    ({"all": ["UN", "Gaza"]}, "UN envoy presents a new Gaza aid plan", True),
    ({}, "anything at all", True),
    ({"none": ["sport"]}, "anything at all", True),
    ({"any": ["/cease-?fire/"]}, "Envoy: the ceasefire holds for a third day", True),
    ({"any": ["/cease-?fire/"]}, "A cease-fire holds", True),
    ({"any": ["/^Trump:/"]}, "Reuters: Trump says", False),
]


@pytest.mark.parametrize("keywords, line, expected", CASES, ids=[c[1][:40] for c in CASES])
def test_rule_table(keywords: dict[str, list[str]], line: str, expected: bool) -> None:
    matcher = Matcher([rule(**keywords)])
    assert bool(matcher.matches("src", line)) is expected


def test_sources_filter_and_channel_routing() -> None:
    matcher = Matcher(
        [
            rule("iran", any=["Iran"], channels=("a", "b")),
            rule("gaza", any=["Gaza"], channels=("b", "c"), sources=("en",)),
        ]
    )
    item = Item("en", "Iran and Gaza", None, fingerprint("Iran and Gaza"))
    assert list(matcher.channels_for(item)) == ["a", "b", "c"]
    other = Item("ar", "Iran and Gaza", None, fingerprint("Iran and Gaza"))
    assert list(matcher.channels_for(other)) == ["a", "b"]


def test_silent_only_when_every_matching_rule_is_silent() -> None:
    matcher = Matcher(
        [
            rule("loud", any=["Iran"], channels=("a",)),
            rule("quiet", any=["Gaza"], channels=("a", "b"), silent=True),
        ]
    )
    both = Item("en", "Iran and Gaza", None, fingerprint("Iran and Gaza"))
    assert matcher.channels_for(both) == {
        "a": Route(silent=False, rules=("loud", "quiet")),
        "b": Route(silent=True, rules=("quiet",)),
    }


def test_match_reports_rule_and_term() -> None:
    matcher = Matcher([rule("kyiv", any=["Kyiv", "Kiev"])])
    [match] = matcher.matches("en", "Kiev asks allies for help")
    assert (match.rule, match.term) == ("kyiv", "Kiev")
