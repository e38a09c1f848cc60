"""Load config.yaml, validate it once, and return a frozen tree; every fault names its key path."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .bot.texts import LANGUAGES, check_override
from .channels import CHANNELS
from .channels.render import check_template
from .config_reader import Node, did_you_mean, field_defaults, read_yaml
from .config_types import (  # the tree this module builds (also importable from here)
    BotConfig,
    ChannelConfig,
    ChannelSettings,
    Config,
    DedupConfig,
    DefaultsConfig,
    DeliveryConfig,
    HttpAuth,
    HttpConfig,
    RuleConfig,
    SourceConfig,
    SourceSettings,
    StateConfig,
    TelegramSettings,
)
from .errors import ConfigError
from .passwords import check_hash
from .rules import Matcher, compile_regex, is_regex
from .sources import DEFAULT_KIND, SOURCES

# Every key parse() reads at the top level: checked first, as a misspelt one (chanels:) leaves
# something missing that would otherwise be reported instead of the typo.
TOP_KEYS = (
    "state",
    "defaults",
    "delivery",
    "alarm_after",
    "dedup",
    "sources",
    "channels",
    "rules",
    "http",
    "stop_timeout",
    "admin_channel",
    "bot",
)
# The defaults each key falls back to, as the dataclasses write them (parse() writes none of its own).
_STATE, _DEFAULTS, _DELIVERY, _DEDUP = StateConfig(), DefaultsConfig(), DeliveryConfig(), DedupConfig()
_CONFIG, _SOURCE, _CHANNEL, _RULE = (field_defaults(c) for c in (Config, SourceConfig, ChannelConfig, RuleConfig))
_BOT = field_defaults(BotConfig)
_BOT_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{4,31}$")


def default_path() -> str:
    """Return the config path used when --config is not given."""
    return os.environ.get("MONITOR_CONFIG") or "config.yaml"


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file; any fault in it, of any kind, is a ConfigError."""
    file = str(path)
    data = read_yaml(file)
    try:
        return parse(data if data is not None else {}, file=file, base=Path(file).resolve().parent)
    except ConfigError:
        raise
    except Exception as exc:  # a gap in validation must not kill a running service on reload
        raise ConfigError(file, "", f"cannot validate ({type(exc).__name__}: {exc}); please report this") from None


def parse(data: Any, *, file: str = "config.yaml", base: Path | None = None) -> Config:
    """Validate already-loaded YAML data into a Config."""
    root = Node(file, "", data)
    root.only(TOP_KEYS)
    state = _state(root.node("state"), base)
    defaults = _defaults(root.node("defaults"))
    delivery = _delivery(root.node("delivery"))
    alarm_after = _whole(root, "alarm_after", _CONFIG.alarm_after, minimum=1)
    dedup = _dedup(root.node("dedup"))
    sources = tuple(_source(n, defaults, alarm_after) for n in root.items("sources"))
    channels = tuple(_channel(n) for n in root.items("channels"))
    _unique(root, "sources", [s.name for s in sources])
    _unique(root, "channels", [c.name for c in channels])
    source_names, channel_names = {s.name for s in sources}, {c.name for c in channels}
    rules = tuple(_rule(n, source_names, channel_names) for n in root.items("rules"))
    _unique(root, "rules", [r.name for r in rules])
    http = _http(root.node("http"))
    stop_timeout = root.duration("stop_timeout", _CONFIG.stop_timeout)
    admin_channel = root.string("admin_channel")
    if admin_channel is not None and admin_channel not in {c.name for c in channels}:
        raise root.error(
            f"unknown channel {admin_channel!r}{did_you_mean(admin_channel, channel_names)}", "admin_channel"
        )
    if not sources:
        raise root.error("no sources: add at least one under 'sources'", "sources")
    bot = _bot(root.node("bot"), channels) if root.get("bot") is not None else None
    root.done()
    return Config(
        file,
        state=state,
        defaults=defaults,
        delivery=delivery,
        dedup=dedup,
        http=http,
        sources=sources,
        channels=channels,
        rules=rules,
        admin_channel=admin_channel,
        alarm_after=alarm_after,
        stop_timeout=stop_timeout,
        bot=bot,
    )


def _state(n: Node, base: Path | None) -> StateConfig:
    given, url = n.string("path"), n.string("url")
    if given is not None and url is not None:
        raise n.error("give path (a SQLite file) or url (a PostgreSQL database), not both", "url")
    if url is not None and not url.startswith(("postgresql://", "postgres://")):
        raise n.error("expected a PostgreSQL url: postgresql://user@host/database", "url")
    path = Path(given or _STATE.path)
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    takeover = n.duration("takeover", _STATE.takeover)
    if takeover < 1:
        raise n.error("expected at least 1s", "takeover")
    state = StateConfig(path=path, url=url, retention=n.duration("retention", _STATE.retention), takeover=takeover)
    n.done()
    return state


def _defaults(n: Node) -> DefaultsConfig:
    defaults = DefaultsConfig(
        interval=n.duration("interval", _DEFAULTS.interval),
        timeout=n.duration("timeout", _DEFAULTS.timeout),
        user_agent=n.string("user_agent", _DEFAULTS.user_agent),
        connections=_whole(n, "connections", _DEFAULTS.connections, minimum=1),
        per_host=_whole(n, "per_host", _DEFAULTS.per_host, minimum=1),
    )
    n.done()
    return defaults


def _delivery(n: Node) -> DeliveryConfig:
    delivery = DeliveryConfig(
        timeout=n.duration("timeout", _DELIVERY.timeout),
        max_age=n.duration("max_age", _DELIVERY.max_age),
        per_second_total=n.number("per_second_total", _DELIVERY.per_second_total, minimum=0.001),
        retry_base=n.duration("retry_base", _DELIVERY.retry_base),
        retry_max=n.duration("retry_max", _DELIVERY.retry_max),
        max_attempts=_whole(n, "max_attempts", _DELIVERY.max_attempts, minimum=1),
        stall_after=n.duration("stall_after", _DELIVERY.stall_after),
    )
    n.done()
    return delivery


def _dedup(n: Node) -> DedupConfig:
    dedup = DedupConfig(
        same_line_window=n.duration("same_line_window", _DEDUP.same_line_window),
        edit_window=n.duration("edit_window", _DEDUP.edit_window),
    )
    n.done()
    return dedup


def _http(n: Node) -> HttpConfig:
    listen = n.string("listen")
    if listen is not None and not (
        re.match(r"^[\w.\-\[\]:]*:\d{1,5}$", listen) and int(listen.rsplit(":", 1)[1]) <= 65535
    ):
        raise n.error(f"expected host:port such as 127.0.0.1:9464, got {listen!r}", "listen")
    auth = _auth(n.node("auth")) if n.get("auth") is not None else None
    if listen is not None and auth is None and not loopback(listen.rpartition(":")[0]):
        raise n.error(
            f"listening on {listen} opens the status page, /healthz and /metrics beyond this machine: "
            "that needs a password (http.auth: user and password_hash from `monitor hash-password`), "
            "or listen on 127.0.0.1",
            "listen",
        )
    n.done()
    return HttpConfig(listen=listen, auth=auth)


def _auth(n: Node) -> HttpAuth:
    user = n.string("user", required=True)
    if ":" in user or not user.isprintable():  # HTTP Basic auth cannot carry a user name with a colon
        raise n.error("expected a user name without ':' or control characters", "user")
    stored = n.string("password_hash", required=True)
    if (fault := check_hash(stored)) is not None:
        raise n.error(fault, "password_hash")
    n.done()
    return HttpAuth(user=user, password_hash=stored)


def loopback(host: str) -> bool:
    """Whether a listen address's host is this machine only (empty: 127.0.0.1, as the server binds it)."""
    host = host.strip("[]")
    if host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any address
        return False


def _unique(root: Node, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ConfigError(root.file, f"{key}[{i}].name", f"duplicate name {name!r}")
        seen.add(name)


ON_EDIT = ("ignore", "edit", "send")


def _source(n: Node, defaults: DefaultsConfig, alarm_after: int) -> SourceConfig[SourceSettings]:
    url = n.url("url", required=True)
    type_ = n.string("type", DEFAULT_KIND)
    if type_ not in SOURCES:
        raise n.error(f"unknown source type {type_!r}{did_you_mean(type_, SOURCES, or_list=True)}", "type")
    kind = SOURCES[type_].read(n)
    _other_kinds_keys(n, type_)
    on_edit = n.string("on_edit", _SOURCE.on_edit)
    if on_edit not in ON_EDIT:
        raise n.error(f"expected one of {', '.join(ON_EDIT)}, got {on_edit!r}", "on_edit")
    low, high = _interval(n, defaults.interval)
    # aiohttp speaks only HTTP proxies; a socks5:// URL would silently be used as an HTTP one.
    proxy = n.url("proxy", expected="a proxy URL such as http://host:3128")
    headers = n.headers("headers")
    source = SourceConfig(
        name=n.string("name", required=True),
        url=url,
        interval=low,
        interval_max=high,
        kind=kind,
        backfill=_whole(n, "backfill", _SOURCE.backfill),
        timeout=n.duration("timeout", defaults.timeout),
        user_agent=n.string("user_agent", defaults.user_agent),
        headers=headers,
        on_edit=on_edit,
        alarm_after=_whole(n, "alarm_after", alarm_after, minimum=1),
        proxy=proxy,
        max_bytes=_whole(n, "max_bytes", _SOURCE.max_bytes, minimum=1024),
        allow_private=n.boolean("allow_private", _SOURCE.allow_private),
        empty_ok=n.boolean("empty_ok", _SOURCE.empty_ok),
    )
    n.done()
    return source


def _other_kinds_keys(n: Node, type_: str) -> None:
    """Let an entry keep another kind's keys, unused (a heading on a feed), but for those that kind alone may set."""
    for other, kind in SOURCES.items():
        if other == type_:
            continue
        for key in kind.keys:  # read, so that done() lets them be
            if n.get(key) is not None and key in kind.only:
                raise n.error(f"applies to {other} sources only, not type {type_}", key)


def _interval(n: Node, default: float) -> tuple[float, float | None]:
    """`interval: 30` (fixed) or `interval: {min: 10s, max: 2m}` (adaptive)."""
    if not isinstance(n.get("interval"), dict):
        return n.duration("interval", default), None
    node = n.node("interval")
    low = node.duration("min", default)
    high = node.duration("max", low)
    node.done()
    if high < low:
        raise node.error(f"max ({high:g}s) is less than min ({low:g}s)", "max")
    return low, high


def _channel(n: Node) -> ChannelConfig[ChannelSettings]:
    name = n.string("name", required=True)
    type_ = n.string("type", required=True)
    if type_ not in CHANNELS:
        raise n.error(f"unknown channel type {type_!r}{did_you_mean(type_, CHANNELS, or_list=True)}", "type")
    channel = ChannelConfig(
        name=name,
        kind=CHANNELS[type_].read(n),
        silent=n.boolean("silent", _CHANNEL.silent),
        digest_after=_whole(n, "digest_after", _CHANNEL.digest_after),
        template=_template(n),
        timezone=_timezone(n, "timezone"),
        quiet_hours=_quiet_hours(n),
    )
    n.done()
    return channel


def _whole(n: Node, key: str, default: int, *, minimum: int = 0) -> int:
    value = n.number(key, default, minimum=minimum)
    if value != int(value):
        raise n.error(f"expected a whole number, got {value}", key)
    return int(value)


def _template(n: Node) -> str:
    template: str = n.string("template", _CHANNEL.template)
    try:
        check_template(template)
    except ValueError as exc:
        raise n.error(f"bad template: {exc}", "template") from None
    return template


def _quiet_hours(n: Node) -> tuple[int, int, str] | None:
    if n.get("quiet_hours") is None:
        return None
    q = n.node("quiet_hours")
    bounds = []
    for key in ("from", "to"):
        value = q.string(key, required=True)
        m = re.match(r"^([01]?\d|2[0-3]):([0-5]\d)$", value)
        if not m:
            raise q.error(f"expected a time such as 23:00, got {value!r}", key)
        bounds.append(int(m.group(1)) * 60 + int(m.group(2)))
    tz = _timezone(q, "tz")
    q.done()
    return bounds[0], bounds[1], tz


def _timezone(n: Node, key: str) -> str:
    name: str = n.string(key, _CHANNEL.timezone)  # quiet_hours.tz too: its own, or UTC (not the timezone key)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a directory, a long name too long
        raise n.error(f"unknown time zone {name!r} (e.g. UTC, Asia/Beirut)", key) from None
    return name


def _rule(n: Node, sources: set[str], channels: set[str]) -> RuleConfig:
    terms = {key: n.strings(key) or () for key in ("any", "all", "none")}
    for key, values in terms.items():
        for i, term in enumerate(values):
            _check_term(n, f"{n.sub(key)}[{i}]", term)
    rule_sources = n.strings("sources")
    for i, s in enumerate(rule_sources or ()):
        if s not in sources:
            raise ConfigError(n.file, f"{n.sub('sources')}[{i}]", f"unknown source {s!r}{did_you_mean(s, sources)}")
    rule_channels = n.strings("channels")
    if not rule_channels:
        raise n.missing("channels", "is required: the channels this rule sends to")
    for i, c in enumerate(rule_channels):
        if c not in channels:
            raise ConfigError(n.file, f"{n.sub('channels')}[{i}]", f"unknown channel {c!r}{did_you_mean(c, channels)}")
    priority = n.string("priority", _RULE.priority)
    if priority not in ("normal", "urgent"):
        raise n.error(f"expected normal or urgent, got {priority!r}", "priority")
    examples = n.node("examples")
    rule = RuleConfig(
        name=n.string("name", required=True),
        channels=rule_channels,
        sources=rule_sources,
        silent=n.boolean("silent", _RULE.silent),
        near=_near(n),
        priority=priority,
        examples_match=examples.strings("match") or (),
        examples_no_match=examples.strings("no_match") or (),
        **terms,
    )
    examples.done()
    n.done()
    _check_examples(n, rule)
    return rule


def _near(n: Node) -> tuple[tuple[str, str, int], ...]:
    value = n.get("near") or []
    if not isinstance(value, list):
        raise n.error("expected a list of [term, term, N]", "near")
    out = []
    for i, entry in enumerate(value):
        ok = (
            isinstance(entry, list)
            and len(entry) == 3
            and all(isinstance(t, str) and t.strip() for t in entry[:2])
            and isinstance(entry[2], int)
            and not isinstance(entry[2], bool)
            and entry[2] >= 1
        )
        if not ok:
            raise ConfigError(n.file, f"{n.sub('near')}[{i}]", f"expected [term, term, N] with N >= 1, got {entry!r}")
        _check_term(n, f"{n.sub('near')}[{i}][0]", entry[0])
        _check_term(n, f"{n.sub('near')}[{i}][1]", entry[1])
        out.append((entry[0], entry[1], entry[2]))
    return tuple(out)


def _check_term(n: Node, path: str, term: str) -> None:
    """A /regex/ term must compile as the matcher will compile it."""
    if is_regex(term):
        try:
            compile_regex(term)
        except ValueError as exc:
            raise ConfigError(n.file, path, str(exc)) from None


def _check_examples(n: Node, rule: RuleConfig) -> None:
    """A rule must match its own `match` examples and none of its `no_match` ones."""
    matcher = Matcher([replace(rule, sources=None)])
    for key, lines, expected in (("match", rule.examples_match, True), ("no_match", rule.examples_no_match, False)):
        for i, line in enumerate(lines):
            if bool(matcher.matches("", line)) is not expected:
                verb = "does not match" if expected else "matches"
                raise ConfigError(n.file, f"{n.sub('examples')}.{key}[{i}]", f"rule {verb} its example {line!r}")


def _bot(n: Node, channels: tuple[ChannelConfig[ChannelSettings], ...]) -> BotConfig:
    """bot: the token and Bot API of the first telegram channel unless given; who may use it; limits; texts."""
    first = next((c.kind for c in channels if isinstance(c.kind, TelegramSettings)), None)
    token = n.string("token") or (first.token if first else None)
    if token is None:
        raise n.missing("token", "is required: no telegram channel has a token to share")
    if not _BOT_TOKEN.fullmatch(token):
        raise n.error("does not look like a bot token (digits, ':', then letters)", "token")
    api = n.url("api_base_url") or (first.api_base_url if first else _BOT.api_base_url)
    bot = BotConfig(
        token=token,
        api_base_url=api,
        access=_access(n),
        admins=tuple(_user_id(n, "admins", i, v) for i, v in enumerate(_list(n, "admins"))),
        max_terms=_whole(n, "max_terms", _BOT.max_terms, minimum=1),
        max_users=_whole(n, "max_users", _BOT.max_users, minimum=1),
        texts=_texts(n.node("texts")),
        poll_timeout=n.number("poll_timeout", _BOT.poll_timeout, minimum=0, maximum=50),
    )
    n.done()
    return bot


def _list(n: Node, key: str) -> list[Any]:
    value = n.get(key) or []
    if not isinstance(value, list):
        raise n.error(f"expected a list, got {type(value).__name__}", key)
    return value


def _user_id(n: Node, key: str, i: int, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(n.file, f"{n.sub(key)}[{i}]", f"expected a Telegram user id (a whole number), got {value!r}")
    return value


def _access(n: Node) -> tuple[str, ...] | None:
    """access: open (anyone), or the user ids and @usernames allowed."""
    value = n.get("access", "open")
    if value == "open":
        return None
    if not isinstance(value, list):
        raise n.error(f"expected open, or a list of user ids and @usernames, got {value!r}", "access")
    allowed = []
    for i, entry in enumerate(value):
        if isinstance(entry, str) and _USERNAME.fullmatch(entry):
            allowed.append(entry.lower())
        else:
            allowed.append(str(_user_id(n, "access", i, entry)))
    return tuple(allowed)


def _texts(n: Node) -> tuple[tuple[str, str, str], ...]:
    """texts: {key: text} for every language, or {key: {en: text, ar: text}}."""
    out = []
    for key in list(n.value):
        value = n.get(key)
        per_language = value if isinstance(value, dict) else {"": value}
        for lang, text in per_language.items():
            where = f"{key}.{lang}" if lang else str(key)
            if lang and lang not in LANGUAGES:
                raise n.error(f"unknown language {lang!r} (known: {', '.join(LANGUAGES)})", where)
            if not isinstance(text, str) or not text.strip():
                raise n.error("expected a non-empty string", where)
            problem = check_override(str(key), text)
            if problem:
                raise n.error(problem, where)
            out.append((str(key), str(lang), text))
    n.done()
    return tuple(out)
