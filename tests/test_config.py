import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import config_reader
from monitor.config import load, parse
from monitor.config_reader import parse_duration
from monitor.errors import ConfigError

TOKEN = "123456:TEST-token-not-real"

GOOD = """
state: {path: state/monitor.db}
defaults: {interval: 60}
sources:
  - name: almayadeen-en
    url: https://english.almayadeen.net/
    selector: null
    heading: BREAKING
    interval: 30
channels:
  - name: alerts
    type: telegram
    chat_id: "@my_alerts"
    token: ${TELEGRAM_BOT_TOKEN}
    api_base_url: null
rules:
  - name: ukraine
    any: [Ukraine, Kyiv, Kiev]
    all: []
    none: [football]
    sources: [almayadeen-en]
    channels: [alerts]
"""


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_issue_example_loads(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD))
    [source] = config.sources
    assert (source.name, source.interval, source.kind.selector, source.kind.headings) == (
        "almayadeen-en",
        30.0,
        None,
        ("BREAKING",),
    )
    [channel] = config.channels
    assert channel.kind.token == TOKEN and channel.kind.chat_id == "@my_alerts"
    assert TOKEN not in repr(config)
    assert config.state.path == tmp_path / "state" / "monitor.db"
    assert config.rules[0].any == ("Ukraine", "Kyiv", "Kiev")


@pytest.mark.parametrize(
    ("line", "expected"), [("", False), ("allow_private: true", True), ("allow_private: false", False)]
)
def test_allow_private(tmp_path: Path, line: str, expected: bool) -> None:
    [source] = load(write(tmp_path, GOOD.replace("interval: 30", f"interval: 30\n    {line}"))).sources
    assert source.allow_private is expected


def test_allow_private_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\]\.allow_private: expected true or false, got 'sometimes'"):
        load(write(tmp_path, GOOD.replace("interval: 30", "interval: 30\n    allow_private: sometimes")))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", None),
        ("split: '|'", "|"),
        ("split: ' - '", " - "),
        ("split: auto", "auto"),
        ("split: Auto", "auto"),
        ('split: "•"', "•"),
    ],
)
def test_split(tmp_path: Path, line: str, expected: str | None) -> None:
    [source] = load(write(tmp_path, GOOD.replace("interval: 30", f"interval: 30\n    {line}"))).sources
    assert source.kind.split == expected


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        ("split: |", 'split: is empty: write the separator in quotes, as in split: "|"'),
        ("split: '   '", "split: expected a separator of at most 20 characters"),
        ("split: 3", 'split: expected a separator of at most 20 characters such as "|", "•" or " - ", or auto; got 3'),
        ("split: [a, b]", "split: expected a separator"),
        ("split: 'a very long separator indeed'", "split: expected a separator of at most 20 characters"),
        ('split: "a\\tb"', "split: expected a separator"),
        ("split: '|'\n    type: feed", "split: applies to html sources only, not type feed"),
    ],
)
def test_split_refused_when_wrong(tmp_path: Path, line: str, fault: str) -> None:
    path = write(tmp_path, GOOD.replace("interval: 30", f"interval: 30\n    {line}"))
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: sources[0].{fault}")


def test_shipped_config_is_valid() -> None:
    config = load(Path(__file__).parents[1] / "config.yaml")
    assert {s.name for s in config.sources} == {
        "almayadeen-en",
        "almayadeen-ar",
        "almayadeen-ar-latest",
        "aljazeera-en",
        "elbalad",
    }


BAD = [
    ("rules[0].channels[0]: unknown channel 'alrets'", ("channels: [alerts]", "channels: [alrets]")),
    ("rules[0].sources[0]: unknown source 'nope'", ("sources: [almayadeen-en]", "sources: [nope]")),
    ("sources[0]: unknown key 'colour'", ("interval: 30", "interval: 30\n    colour: red")),
    ("sources[0].interval: expected a duration", ("interval: 30", "interval: soon")),
    ("sources[0].url: expected an http:// or https:// URL", ("url: https://english.almayadeen.net/", "url: ftp://x")),
    ("sources[0].selector: invalid CSS selector 'div['", ("selector: null", "selector: 'div['")),
    ("sources[0].proxy: expected a proxy URL", ("interval: 30", "interval: 30\n    proxy: socks5://127.0.0.1:1080")),
    ("sources[0].url: is required", ("url: https://english.almayadeen.net/", "")),
    ("channels[0].type: unknown channel type 'sms'", ("type: telegram", "type: sms")),
    ("channels[0].chat_id: expected '@channelname' or a numeric id", ('chat_id: "@my_alerts"', "chat_id: my alerts")),
    ("channels[0].token: environment variable NOPE_TOKEN is not set", ("${TELEGRAM_BOT_TOKEN}", "${NOPE_TOKEN}")),
    ("channels[0].token: does not look like a bot token", ("${TELEGRAM_BOT_TOKEN}", "not-a-token")),
    ("rules[0].any[0]: bad regular expression", ("any: [Ukraine", "any: ['/(unclosed/'")),
    ("rules[0].channels: is required", ("channels: [alerts]", "channels: []")),
    ("defaults: expected a mapping, got a list", ("defaults: {interval: 60}", "defaults: [60]")),
    ("unknown key 'stat' (did you mean 'state'?)", ("state: {path", "stat: {path")),
    (
        "sources[1].name: duplicate name 'almayadeen-en'",
        (
            "channels:",
            """  - name: almayadeen-en
    url: https://x.example/
channels:""",
        ),
    ),
    ("line 3, column", ("defaults: {interval: 60}", "defaults: {interval: [60}")),
]


@pytest.mark.parametrize("expected, change", BAD, ids=[b[0][:45] for b in BAD])
def test_bad_config_names_file_path_and_fault(tmp_path: Path, expected: str, change: tuple[str, str]) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)
    assert TOKEN not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "value, seconds",
    [(30, 30.0), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("2.5", 2.5), ("soon", None), (True, None)],
)
def test_parse_duration(value: object, seconds: float | None) -> None:
    assert parse_duration(value) == seconds


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_check_config_cli_exit_codes(tmp_path: Path) -> None:
    good = write(tmp_path, GOOD)
    ok = run_cli("check-config", "--config", str(good))
    assert ok.returncode == 0, ok.stderr
    assert "almayadeen-en" in ok.stdout and "ukraine" in ok.stdout and "-> alerts" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("channels: [alerts]", "channels: [alrets]"))
    out = run_cli("check-config", "--config", str(bad))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"monitor: config error: {bad}: rules[0].channels[0]: unknown channel 'alrets' (did you mean 'alerts'?)"
    )
    assert "Traceback" not in out.stderr


def test_config_from_environment_variable(tmp_path: Path) -> None:
    good = write(tmp_path, GOOD)
    out = run_cli("check-config", env={"MONITOR_CONFIG": str(good)}, cwd=tmp_path.parent)
    assert out.returncode == 0, out.stderr
    assert str(good) in out.stdout


def edit(*pairs: str) -> str:
    """GOOD with each (old, new) pair replaced once; old must be there."""
    text = GOOD
    for old, new in zip(pairs[::2], pairs[1::2], strict=True):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


INDENT = "; check the indentation: use spaces, not tabs, and line up keys of the same level"
TAB = "invalid YAML: a tab character: YAML indents with spaces only, so replace the tab with spaces"
CHAT = (
    "a Telegram @name is 5-32 letters, digits and underscores starting with a letter; a numeric id is an "
    "integer (channels and supergroups start with -100)"
)
NEWCOMER = [
    (
        "top channels",
        edit("channels:\n  - name: alerts", "chanels:\n  - name: alerts"),
        "unknown key 'chanels' (did you mean 'channels'?)",
    ),
    ("top sources", edit("sources:\n  - name", "sourcs:\n  - name"), "unknown key 'sourcs' (did you mean 'sources'?)"),
    ("top rules", edit("rules:", "rule:"), "unknown key 'rule' (did you mean 'rules'?)"),
    ("top state", edit("state:", "stat:"), "unknown key 'stat' (did you mean 'state'?)"),
    (
        "top, none close",
        "colour: red\n" + GOOD,
        "unknown key 'colour' (known: admin_channel, alarm_after, bot, channels, "
        "dedup, defaults, delivery, http, rules, sources, state, stop_timeout)",
    ),
    ("source key", edit("url:", "ulr:"), "sources[0]: unknown key 'ulr' (did you mean 'url'?)"),
    (
        "source name",
        edit("  - name: almayadeen-en", "  - nmae: almayadeen-en"),
        "sources[0]: unknown key 'nmae' (did you mean 'name'?)",
    ),
    ("source optional key", edit("heading:", "headng:"), "sources[0]: unknown key 'headng' (did you mean 'heading'?)"),
    (
        "json items",
        edit("interval: 30", "interval: 30\n    type: json\n    item: data.breaking"),
        "sources[0]: unknown key 'item' (did you mean 'items'?)",
    ),
    (
        "adaptive interval",
        edit("interval: 30", "interval: {min: 10, mx: 60}"),
        "sources[0].interval: unknown key 'mx' (did you mean 'max'?)",
    ),
    ("channel key", edit("chat_id:", "chat-id:"), "channels[0]: unknown key 'chat-id' (did you mean 'chat_id'?)"),
    ("channel token", edit("token:", "tokn:"), "channels[0]: unknown key 'tokn' (did you mean 'token'?)"),
    (
        "quiet hours",
        edit("api_base_url: null", "quiet_hours: {from: '23:00', to: '07:00', timezone: UTC}"),
        "channels[0].quiet_hours: unknown key 'timezone' (known: from, to, tz)",
    ),
    (
        "rule channels",
        edit("    channels: [alerts]", "    chanels: [alerts]"),
        "rules[0]: unknown key 'chanels' (did you mean 'channels'?)",
    ),
    ("rule key", edit("none:", "nnoe:"), "rules[0]: unknown key 'nnoe' (did you mean 'none'?)"),
    (
        "rule examples",
        edit("    channels: [alerts]", "    channels: [alerts]\n    examples: {matches: [Kyiv]}"),
        "rules[0].examples: unknown key 'matches' (did you mean 'match'?)",
    ),
    ("state key", edit("{path:", "{pth:"), "state: unknown key 'pth' (did you mean 'path'?)"),
    (
        "defaults key",
        edit("{interval: 60}", "{intervall: 60}"),
        "defaults: unknown key 'intervall' (did you mean 'interval'?)",
    ),
    ("delivery key", "delivery: {timout: 60}\n" + GOOD, "delivery: unknown key 'timout' (did you mean 'timeout'?)"),
    ("dedup key", "dedup: {edit_windw: 1h}\n" + GOOD, "dedup: unknown key 'edit_windw' (did you mean 'edit_window'?)"),
    ("http key", "http: {lisen: '127.0.0.1:9464'}\n" + GOOD, "http: unknown key 'lisen' (did you mean 'listen'?)"),
    (
        "channel type",
        edit("type: telegram", "type: telgram"),
        "channels[0].type: unknown channel type 'telgram' (did you mean 'telegram'?)",
    ),
    (
        "rule channel name",
        edit("channels: [alerts]", "channels: [alrets]"),
        "rules[0].channels[0]: unknown channel 'alrets' (did you mean 'alerts'?)",
    ),
    (
        "rule source name",
        edit("sources: [almayadeen-en]", "sources: [almayaden-en]"),
        "rules[0].sources[0]: unknown source 'almayaden-en' (did you mean 'almayadeen-en'?)",
    ),
    (
        "key indented too deep",
        edit("    url:", "      url:"),
        "line 6, column 10: invalid YAML: mapping values are not allowed in this context" + INDENT,
    ),
    (
        "entry out of line",
        edit("channels:\n  - name: alerts\n    type", "channels:\n  - name: alerts\n   type"),
        "line 12, column 4: invalid YAML: did not find expected '-' indicator" + INDENT,
    ),
    (
        "key out of line",
        edit("state: {path: state/monitor.db}", "state:\n  path: state/monitor.db\n retention: 30d"),
        "line 4, column 2: invalid YAML: did not find expected key" + INDENT,
    ),
    (
        "key missing its colon",
        edit("    heading: BREAKING", "    heading BREAKING"),
        "line 8, column 5: invalid YAML: could not find expected ':'" + INDENT,
    ),
    ("tab indent", edit("    type: telegram", "\ttype: telegram"), f"line 12, column 1: {TAB}"),
    ("tab after spaces", edit("    type: telegram", "  \ttype: telegram"), f"line 12, column 3: {TAB}"),
    (
        "chat id with a space",
        edit('"@my_alerts"', "my alerts"),
        f"channels[0].chat_id: expected '@channelname' or a numeric id, got 'my alerts': {CHAT}",
    ),
    (
        "chat id too short",
        edit('"@my_alerts"', '"@news"'),
        f"channels[0].chat_id: expected '@channelname' or a numeric id, got '@news': {CHAT}",
    ),
    (
        "chat id a fraction",
        edit('"@my_alerts"', "-100.5"),
        f"channels[0].chat_id: expected '@channelname' or a numeric id, got -100.5: {CHAT}",
    ),
]


@pytest.mark.parametrize("text, fault", [n[1:] for n in NEWCOMER], ids=[n[0] for n in NEWCOMER])
def test_newcomer_mistake_gets_one_line_that_says_what_to_do(tmp_path: Path, text: str, fault: str) -> None:
    path = write(tmp_path, text)
    out = run_cli("check-config", "--config", str(path))
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == f"monitor: config error: {path}: {fault}\n"


def test_telegram_names_are_5_to_32_characters(tmp_path: Path) -> None:
    for name in ("@a1_b2", "@" + "a" * 32):
        assert load(write(tmp_path, edit('"@my_alerts"', f'"{name}"'))).channels[0].kind.chat_id == name
    with pytest.raises(ConfigError, match=f"got '@{'a' * 33}': a Telegram @name is 5-32"):
        load(write(tmp_path, edit('"@my_alerts"', f'"@{"a" * 33}"')))


@pytest.mark.parametrize(
    "args, env, name, origin",
    [
        (["--config", "nope.yaml"], {}, "nope.yaml", "given with --config"),
        ([], {"MONITOR_CONFIG": "nope.yaml"}, "nope.yaml", "from $MONITOR_CONFIG"),
        ([], {"MONITOR_CONFIG": ""}, "config.yaml", "the default: no --config given and $MONITOR_CONFIG not set"),
    ],
    ids=["--config", "MONITOR_CONFIG", "default"],
)
def test_missing_config_says_how_to_name_one_and_how_to_start(
    tmp_path: Path, args: list[str], env: dict[str, str], name: str, origin: str
) -> None:
    out = run_cli("check-config", *args, env=env, cwd=tmp_path)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == (
        f"monitor: config error: {name}: file not found ({origin}); name the config file with "
        "--config PATH or $MONITOR_CONFIG, or to start: run `monitor demo`, or copy config.yaml "
        "from the repository and edit it\n"
    )


def test_usage_error_exits_2() -> None:
    assert run_cli("--no-such-flag").returncode == 2


@pytest.mark.parametrize(
    "examples, fault",
    [
        (
            "{match: ['Ukrainian army retreats']}",
            "rules[0].examples.match[0]: rule does not match its example 'Ukrainian army retreats'",
        ),
        (
            "{no_match: ['Kyiv mayor speaks']}",
            "rules[0].examples.no_match[0]: rule matches its example 'Kyiv mayor speaks'",
        ),
        ("{match: ['Kyiv says'], no_match: ['Moscow says']}", None),
    ],
)
def test_rule_examples_are_checked(tmp_path: Path, examples: str, fault: str | None) -> None:
    text = GOOD.replace("none: [football]", "none: [club]").replace(
        "    channels: [alerts]\n", f"    channels: [alerts]\n    examples: {examples}\n"
    )
    path = write(tmp_path, text)
    if fault is None:
        assert load(path).rules[0].examples_match == ("Kyiv says",)
        return
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == f"{path}: {fault}"


@pytest.mark.parametrize(
    "change, fault",
    [
        ("    channels: [alerts]\n", "    channels: [alerts]\n    near: [[drone, south]]\n"),
        ("    channels: [alerts]\n", "    channels: [alerts]\n    priority: high\n"),
        ("    api_base_url: null\n", "    api_base_url: null\n    quiet_hours: {from: '25:00', to: '07:00'}\n"),
        (
            "    api_base_url: null\n",
            "    api_base_url: null\n    quiet_hours: {from: '23:00', to: '07:00', tz: Mars/Base}\n",
        ),
    ],
    ids=["near", "priority", "quiet-time", "quiet-tz"],
)
def test_rule_and_channel_extras_refused_when_wrong(tmp_path: Path, change: str, fault: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, GOOD.replace(change, fault, 1)))
    assert any(key in str(info.value) for key in ("near[0]", "priority", "quiet_hours.from", "quiet_hours.tz"))


async def test_match_and_replay_commands(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    hit = run_cli("match", "Kiev asks allies for help", "--source", "almayadeen-en", "--config", str(path))
    assert hit.returncode == 0 and hit.stdout.strip() == "ukraine: term 'Kiev' -> alerts"
    miss = run_cli("match", "Kiev football club wins", "--config", str(path))
    assert miss.returncode == 1 and "no rule matches" in miss.stdout
    from monitor.models import Item
    from monitor.normalize import fingerprint
    from monitor.store import SqliteStore

    store = SqliteStore(tmp_path / "state" / "monitor.db")
    lines = ["Kyiv: air raid alert", "Oil prices rise", "Ukraine and Kiev talks"]
    await store.record("almayadeen-en", [Item("almayadeen-en", t, None, fingerprint(t)) for t in lines], [])
    await store.close()
    out = run_cli("replay", "--since", "1h", "--config", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("-> alerts") == 2 and "Oil prices" not in out.stdout
    assert out.stdout.strip().endswith("3 items seen in the last 1h; would send alerts: 2")


def test_adaptive_interval(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD.replace("interval: 30", "interval: {min: 10s, max: 2m}")))
    assert (config.sources[0].interval, config.sources[0].interval_max) == (10.0, 120.0)
    with pytest.raises(ConfigError, match=r"sources\[0\]\.interval\.max: max \(5s\) is less than min \(10s\)"):
        load(write(tmp_path, GOOD.replace("interval: 30", "interval: {min: 10s, max: 5s}")))


def channel(line: str) -> str:
    """GOOD with one more line in its channel."""
    return GOOD.replace("    api_base_url: null\n", f"    api_base_url: null\n    {line}\n")


def rule(line: str) -> str:
    """GOOD with one more line in its rule."""
    return GOOD.replace("    channels: [alerts]\n", f"    channels: [alerts]\n    {line}\n")


def source(line: str) -> str:
    """GOOD with one more line in its source."""
    return GOOD.replace("    interval: 30\n", f"    interval: 30\n    {line}\n")


def laughs(levels: int = 9) -> str:
    """A billion laughs: 9 levels of 9 aliases each, 387 million strings once expanded."""
    lines = ['  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefghi", "bcdefghij"[: levels - 1], strict=False):
        lines.append(f"  {name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    return "lol:\n" + "\n".join(lines) + "\n"


# (what the red team tried, the config text, the fault it must be refused with)
HOSTILE = [
    (
        "regex overflow",
        GOOD.replace("any: [Ukraine", "any: ['/a{1,99999999999}/', Ukraine"),
        "rules[0].any[0]: bad regular expression: the repetition number is too large",
    ),
    (
        "regex too long",
        GOOD.replace("any: [Ukraine", f"any: ['/{'x' * 1001}/', Ukraine"),
        "rules[0].any[0]: regular expression longer than 1000 characters",
    ),
    ("regex in near", rule("near: [[a, '/a{1,99999999999}/', 3]]"), "rules[0].near[0][1]: bad regular expression"),
    (
        "template conversion",
        channel("template: '{text!z}'"),
        "channels[0].template: bad template: {text!z} cannot be rendered: Unknown conversion specifier z",
    ),
    (
        "template spec",
        channel("template: '{text} {time:%Q}'"),
        "channels[0].template: bad template: {time:%Q} cannot be rendered",
    ),
    ("template index", channel("template: '{text[0]}'"), "channels[0].template: bad template: unknown field {text[0]}"),
    (
        "template attribute",
        channel("template: '{text.upper}'"),
        "channels[0].template: bad template: unknown field {text.upper}",
    ),
    (
        "template giant width",
        channel("template: '{text:>999999999}'"),
        "channels[0].template: bad template: a width over 9999",
    ),
    (
        "template nested spec",
        channel("template: '{text:{source}}'"),
        "channels[0].template: bad template: a field inside the format spec of {text}",
    ),
    (
        "billion laughs in a scalar",
        laughs() + GOOD.replace("interval: 30", "interval: *i"),
        "invalid YAML: aliases expand this to more than 2048 KB",
    ),
    ("billion laughs unused", laughs() + GOOD, "invalid YAML: aliases expand this to more than 2048 KB"),
    (
        "alias cycle",
        GOOD.replace("heading: BREAKING", "heading: &h [*h]"),
        "an alias refers to a node that contains it",
    ),
    ("deep flow nesting", GOOD.replace("heading: BREAKING", "heading: " + "[" * 5000 + "]" * 5000), "invalid YAML: "),
    (
        "nesting through aliases",
        "x-deep:\n"
        + "".join(f"  d{i}: &d{i} " + "[" * 40 + (f"*d{i - 1}" if i else "x") + "]" * 40 + "\n" for i in range(3))
        + GOOD,
        "nested more than 50 deep",
    ),
    ("bad float tag", GOOD.replace("interval: 30", "interval: !!float abc"), "invalid YAML: could not convert"),
    ("impossible date", GOOD.replace("interval: 30", "interval: 2020-13-45"), "invalid YAML: month must be in 1..12"),
    ("infinite interval", GOOD.replace("interval: 30", "interval: .inf"), "sources[0].interval: expected a duration"),
    ("NaN interval", GOOD.replace("interval: 30", "interval: .nan"), "sources[0].interval: expected a duration"),
    ("interval of ages", GOOD.replace("interval: 30", "interval: 99999999999999d"), "sources[0].interval: expected"),
    ("infinite backfill", source("backfill: .inf"), "sources[0].backfill: expected a number from 0 to 1e+09, got inf"),
    ("NaN rate", channel("per_second: .nan"), "channels[0].per_second: expected a number"),
    (
        "URL port out of range",
        GOOD.replace("url: https://english.almayadeen.net/", "url: 'https://x.example:99999/'"),
        "sources[0].url: invalid URL 'https://x.example:99999/': Port out of range",
    ),
    ("URL bad IPv6", source("proxy: 'http://[::1'"), "sources[0].proxy: invalid URL 'http://[::1'"),
    (
        "URL with a space",
        GOOD.replace("api_base_url: null", "api_base_url: 'http://a b/bot'"),
        "channels[0].api_base_url: invalid URL 'http://a b/bot'",
    ),
    (
        "NUL in the state path",
        GOOD.replace("path: state/monitor.db", 'path: "state/m\\0.db"'),
        "state.path: contains a NUL character",
    ),
    ("port out of range", "http: {listen: '127.0.0.1:99999'}\n" + GOOD, "http.listen: expected host:port"),
    ("zone is a directory", channel("timezone: America"), "channels[0].timezone: unknown time zone 'America'"),
    (
        "header with a line break",
        source('headers: {X-A: "a\\r\\nHost: evil"}'),
        "sources[0].headers.X-A: a header value may not contain a line break",
    ),
    ("header name", source("headers: {'X A': b}"), "sources[0].headers: not a header name: 'X A'"),
    ("key with a line break", GOOD.replace("state:", '"sta\\nte": 1\nstate:'), "unknown key 'sta\\nte'"),
    (
        "chat id not set",
        GOOD.replace('chat_id: "@my_alerts"', "chat_id: ${NO_SUCH_CHAT}"),
        "channels[0].chat_id: environment variable NO_SUCH_CHAT is not set",
    ),
    ("chat id a list", GOOD.replace('chat_id: "@my_alerts"', "chat_id: [1]"), "channels[0].chat_id: expected '@chan"),
    (
        "token with a line break",
        GOOD.replace("${TELEGRAM_BOT_TOKEN}", '"123:abc\\n"'),
        "channels[0].token: does not look like a bot token",
    ),
]


@pytest.mark.parametrize("name, text, fault", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_config_is_a_config_error(tmp_path: Path, name: str, text: str, fault: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert fault in message and message.startswith(f"{path}: ")
    assert "\n" not in message and len(message) < 1000


def test_oversized_file_refused_before_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    with path.open("wb") as f:
        f.truncate(100 * 1024 * 1024)  # sparse: 100 MB that costs no disk
    with pytest.raises(ConfigError, match="larger than 1024 KB"):
        load(path)
    with pytest.raises(ConfigError, match="larger than 1024 KB"):
        load("/dev/zero")  # no size to ask in advance: still read no more than the limit


def test_env_expands_in_chat_id_token_url_and_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT", "-1001234567890")
    monkeypatch.setenv("API", "http://127.0.0.1:8081/bot")
    monkeypatch.setenv("HOOK", "https://hooks.example/abc")
    monkeypatch.setenv("KEY", "sekrit")
    text = (
        GOOD.replace('chat_id: "@my_alerts"', "chat_id: ${CHAT}")
        .replace("api_base_url: null", "api_base_url: ${API}")
        .replace("interval: 30", "interval: 30\n    headers: {X-Key: 'k=${KEY}'}")
        .replace("rules:", "  - {name: hook, type: webhook, url: '${HOOK}'}\nrules:")
    )
    config = load(write(tmp_path, text))
    alerts, hook = config.channels
    assert (alerts.kind.chat_id, alerts.kind.token, alerts.kind.api_base_url) == (
        "-1001234567890",
        TOKEN,
        "http://127.0.0.1:8081/bot",
    )
    assert hook.kind.url == "https://hooks.example/abc"
    assert config.sources[0].headers == (("X-Key", "k=sekrit"),)
    bare = load(write(tmp_path, GOOD.replace('chat_id: "@my_alerts"', "chat_id: -1001234567890")))
    assert bare.channels[0].kind.chat_id == "-1001234567890"


def test_templates_that_render_are_kept(tmp_path: Path) -> None:
    template = "<b>{source!s:>12}</b> {time:^7} {text:.300} {link!r}"
    config = load(write(tmp_path, channel(f"template: '{template}'")))
    assert config.channels[0].template == template


# What YAML can hand to parse(): scalars, lists, and mappings keyed by scalars; often a tricky one.
TRICKY = st.sampled_from(
    [
        "",
        " ",
        "30s",
        "/x/",
        "/a{1,99999999999}/",
        "/" + "x" * 2000 + "/",
        "${TELEGRAM_BOT_TOKEN}",
        "${NOPE}",
        "{text!z}",
        "{text}",
        "{text:>99999}",
        "telegram",
        "webhook",
        "console",
        "alerts",
        "almayadeen-en",
        "https://x.example/",
        "UTC",
        "America",
        "23:00",
        "-100123",
        "@chan_name",
        "div[",
        "a\nb",
        "\0",
        float("inf"),
        float("-inf"),
        float("nan"),
        1e300,
        10**30,
        -1,
        0,
        0.5,
        True,
    ]
)
SCALARS = TRICKY | st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
YAMLISH = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a YAML tree a value could be put: each existing key or index, and a new key."""
    out = [prefix]
    if isinstance(value, dict):
        out.append((*prefix, "extra"))
        for key, sub in value.items():
            out += paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            out += paths(sub, (*prefix, i))
    return out


def put(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(tree) if isinstance(tree, dict) else list(tree)
    copy[path[0]] = put(
        tree[path[0]] if path[0] in (tree if isinstance(tree, dict) else range(len(tree))) else None, path[1:], value
    )
    return copy


# GOOD with every optional key set, so that changing any value reaches every check.
GOOD_TREE = yaml.safe_load(
    GOOD.replace(
        "    api_base_url: null\n",
        """    api_base_url: http://127.0.0.1:1/bot
    silent: false
    per_second: 1
    per_minute: 20
    digest_after: 5
    template: "{text} {time}"
    timezone: UTC
    quiet_hours: {from: '23:00', to: '07:00', tz: UTC}
  - {name: hook, type: webhook, url: 'https://x.example/'}
""",
    )
    .replace(
        "    interval: 30\n",
        """    interval: {min: 10, max: 60}
    type: html
    backfill: 1
    timeout: 5
    user_agent: x
    headers: {X-A: b}
    items: a.b
    text: title
    link: url
    on_edit: edit
    alarm_after: 3
    proxy: http://127.0.0.1:3128
    max_bytes: 100000
    split: '|'
""",
    )
    .replace(
        "    channels: [alerts]\n",
        """    channels: [alerts, hook]
    silent: false
    near: [[a, /b/, 3]]
    priority: urgent
    examples: {match: [Kyiv a b], no_match: [x]}
""",
    )
    + """
http: {listen: '127.0.0.1:9464'}
stop_timeout: 10
admin_channel: alerts
alarm_after: 5
dedup: {same_line_window: 1h, edit_window: 6h}
delivery: {timeout: 60, max_age: 1d, per_second_total: 30, retry_base: 2, retry_max: 300}
"""
)
GOOD_PATHS = paths(GOOD_TREE)


def test_the_fuzzed_config_is_good() -> None:
    assert len(parse(GOOD_TREE).channels) == 2


def only_config_errors(data: Any) -> None:
    try:
        parse(data, file="fuzz.yaml")
    except ConfigError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(YAMLISH)
def test_parse_raises_only_config_errors_on_any_tree(data: Any) -> None:
    only_config_errors(data)


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(GOOD_PATHS), TRICKY | YAMLISH)
def test_parse_raises_only_config_errors_on_a_good_config_changed_anywhere(path: tuple[Any, ...], value: Any) -> None:
    only_config_errors(put(GOOD_TREE, path, value))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="ab:-[]{}&*!|>'\"#%@ \n\t?,.1", max_size=80))
def test_load_raises_only_config_errors_on_any_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load(path)
    except ConfigError as exc:
        assert "cannot validate" not in str(exc) and "\n" not in str(exc)


RED_TEAM = [
    "regex overflow",
    "regex in near",
    "template conversion",
    "template spec",
    "template giant width",
    "billion laughs in a scalar",
    "alias cycle",
    "deep flow nesting",
    "bad float tag",
    "infinite backfill",
    "key with a line break",
    "header with a line break",
]


@pytest.mark.parametrize("name", [*RED_TEAM, "100 MB"])
def test_check_config_refuses_hostile_configs_in_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / "config.yaml"
    if name == "100 MB":
        with path.open("wb") as f:
            f.truncate(100 * 1024 * 1024)
    else:
        path.write_text(next(text for n, text, _ in HOSTILE if n == name), encoding="utf-8")
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.monotonic() - started < 20  # about a second; generous for a loaded machine
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith(f"monitor: config error: {path}: ") and out.stderr.count("\n") == 1, out.stderr


YAML_LEVEL = [
    "billion laughs in a scalar",
    "billion laughs unused",
    "alias cycle",
    "deep flow nesting",
    "nesting through aliases",
    "bad float tag",
    "impossible date",
]


@pytest.mark.parametrize("name", YAML_LEVEL)
def test_hostile_yaml_refused_without_libyaml_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(config_reader, "_Loader", yaml.SafeLoader)  # PyYAML installed without libyaml
    path = tmp_path / "config.yaml"
    text, fault = next((text, fault) for n, text, fault in HOSTILE if n == name)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert fault in str(info.value) or "nested more than 50 deep" in str(info.value)


@pytest.mark.parametrize("loader", ["libyaml", "python"])
def test_anchors_and_merge_keys_used_sensibly_still_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loader: str
) -> None:
    if loader == "python":
        monkeypatch.setattr(config_reader, "_Loader", yaml.SafeLoader)
    anchored = "  - &first {name: first, url: 'https://a.example/', interval: 45, on_edit: edit}\n"
    merged = "  - {<<: *first, name: second, url: 'https://b.example/'}\n"
    config = load(write(tmp_path, GOOD.replace("sources:\n", "sources:\n" + anchored + merged, 1)))
    second = config.sources[1]
    assert (second.name, second.url, second.interval, second.on_edit) == ("second", "https://b.example/", 45.0, "edit")


# http.auth: a well-formed hash (of no password in particular: loading never verifies one).
HASH = "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$" + "A" * 43 + "="
AUTH = f"auth: {{user: ops, password_hash: '{HASH}'}}"

HTTP_CASES = [
    ("everywhere without auth", "listen: '0.0.0.0:9464'", "http.listen: listening on 0.0.0.0:9464 opens"),
    ("a host name without auth", "listen: 'status.example:9464'", "needs a password (http.auth: user and"),
    ("ipv6 any without auth", "listen: '[::]:9464'", "http.listen: listening on [::]:9464"),
    ("auth without a user", f"listen: '0.0.0.0:1', auth: {{password_hash: '{HASH}'}}", "http.auth.user: is required"),
    ("auth without a hash", "listen: '0.0.0.0:1', auth: {user: ops}", "http.auth.password_hash: is required"),
    ("a password, not its hash", "auth: {user: ops, password_hash: hunter2}", "http.auth.password_hash: expected"),
    ("a plain password key", "auth: {user: ops, password: hunter2}", "http.auth: unknown key 'password'"),
    ("a colon in the user", f"auth: {{user: 'a:b', password_hash: '{HASH}'}}", "http.auth.user: expected a user"),
]


@pytest.mark.parametrize("http, fault", [c[1:] for c in HTTP_CASES], ids=[c[0] for c in HTTP_CASES])
def test_http_auth_refused_when_wrong(tmp_path: Path, http: str, fault: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, f"http: {{{http}}}\n" + GOOD))
    assert fault in str(caught.value)


@pytest.mark.parametrize(
    "http",
    [
        "listen: '127.0.0.1:9464'",
        "listen: 'localhost:9464'",
        "listen: '[::1]:9464'",
        "listen: ':9464'",
        f"listen: '0.0.0.0:9464', {AUTH}",
        f"listen: '127.0.0.1:9464', {AUTH}",
    ],
)
def test_http_loopback_or_auth_loads(tmp_path: Path, http: str) -> None:
    config = load(write(tmp_path, f"http: {{{http}}}\n" + GOOD))
    if "auth" in http:
        assert config.http.auth is not None and config.http.auth.user == "ops"
        assert HASH not in repr(config) and HASH in config.secrets()


def test_check_config_refuses_listening_beyond_loopback_without_auth(tmp_path: Path) -> None:
    path = write(tmp_path, "http: {listen: '0.0.0.0:9464'}\n" + GOOD)
    out = run_cli("check-config", "--config", str(path))
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr.startswith(f"monitor: config error: {path}: http.listen: listening on 0.0.0.0:9464 ")
    assert "needs a password" in out.stderr and "monitor hash-password" in out.stderr
