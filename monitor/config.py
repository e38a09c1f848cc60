"""Load config.yaml, validate it once, and return a frozen tree; every fault names its key path."""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from .errors import ConfigError
from .extract import DEFAULT_HEADINGS

DEFAULT_USER_AGENT = "Mozilla/5.0 (compatible; monitor/0.1; +https://github.com/monitor/monitor)"
CHANNEL_TYPES = ("telegram", "webhook", "console")
TEMPLATE_FIELDS = ("text", "source", "link", "time", "source_link")
DEFAULT_TEMPLATE = "{text}\n— {source_link} · {time}"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_CHAT = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{3,}|-?\d+)$")


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One page to poll."""

    name: str
    url: str
    interval: float
    selector: str | None = None
    headings: tuple[str, ...] = DEFAULT_HEADINGS
    backfill: int = 0
    timeout: float = 20.0
    user_agent: str = DEFAULT_USER_AGENT
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """One place alerts go."""

    name: str
    type: str
    chat_id: str | None = None
    token: str | None = field(default=None, repr=False)
    api_base_url: str | None = None
    url: str | None = None  # webhook
    silent: bool = False
    per_second: float | None = None  # None: no limit (console)
    per_minute: float | None = None
    digest_after: int = 5  # more new alerts than this at once go out as one digest
    template: str = DEFAULT_TEMPLATE
    timezone: str = "UTC"

    @property
    def chat_key(self) -> str:
        """What Telegram's per-chat limits count: the chat, whichever channel names it."""
        return f"telegram:{self.chat_id}" if self.chat_id else self.name


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Keyword rule: which items go to which channels."""

    name: str
    channels: tuple[str, ...]
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    sources: tuple[str, ...] | None = None
    silent: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration."""

    file: str
    state_path: Path
    retention: float
    sources: tuple[SourceConfig, ...]
    channels: tuple[ChannelConfig, ...]
    rules: tuple[RuleConfig, ...]
    delivery_timeout: float = 60.0
    max_age: float = 86400.0
    per_second_total: float = 30.0
    retry_base: float = 2.0
    retry_max: float = 300.0

    def secrets(self) -> list[str]:
        """Return every secret value, for log redaction."""
        return [c.token for c in self.channels if c.token]


class _Node:
    """A mapping being read, which knows its key path and refuses keys nobody read."""

    def __init__(self, file: str, path: str, value: Any) -> None:
        self.file, self.path = file, path
        if not isinstance(value, dict):
            raise self.error(f"expected a mapping, got {_kind(value)}")
        self.value: dict[str, Any] = value
        self.read: set[str] = set()

    def error(self, fault: str, key: str | None = None) -> ConfigError:
        return ConfigError(self.file, self.sub(key) if key else self.path or "(top level)", fault)

    def sub(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.value.get(key, default)

    def require(self, key: str) -> Any:
        self.read.add(key)
        if self.value.get(key) is None:
            raise self.error("is required", key)
        return self.value[key]

    def node(self, key: str) -> _Node:
        return _Node(self.file, self.sub(key), self.get(key) or {})

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.require(key) if required else self.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"expected a non-empty string, got {_kind(value)}", key)
        return _expand_env(value, self, key)

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.error(f"expected a list of strings, got {_kind(value)}", key)
        for i, v in enumerate(value):
            if not isinstance(v, (str, int, float)) or isinstance(v, bool) or not str(v).strip():
                raise ConfigError(self.file, f"{self.sub(key)}[{i}]", "expected a non-empty string")
        return tuple(str(v) for v in value)

    def duration(self, key: str, default: float) -> float:
        value = self.get(key)
        if value is None:
            return default
        seconds = parse_duration(value)
        if seconds is None or seconds <= 0:
            raise self.error(f"expected a duration such as 30, '30s', '5m' or '1h', got {value!r}", key)
        return seconds

    def number(self, key: str, default: float, *, minimum: float = 0) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise self.error(f"expected a number >= {minimum}, got {value!r}", key)
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {value!r}", key)
        return value

    def items(self, key: str) -> list[_Node]:
        value = self.get(key) or []
        if not isinstance(value, list):
            raise self.error(f"expected a list, got {_kind(value)}", key)
        return [_Node(self.file, f"{self.sub(key)}[{i}]", v) for i, v in enumerate(value)]

    def done(self) -> None:
        """Refuse keys that were never read: a typo must not be silently ignored."""
        for key in self.value:
            if key not in self.read:
                raise self.error("unknown key", str(key))


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _expand_env(value: str, node: _Node, key: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in os.environ:
            raise node.error(f"environment variable {m.group(1)} is not set", key)
        return os.environ[m.group(1)]

    return _ENV.sub(sub, value)


def parse_duration(value: Any) -> float | None:
    """Return seconds for 30, 2.5, '30s', '5m', '1h' or '1d'; None when it is not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = _DURATION.match(str(value))
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def default_path() -> str:
    """Return the config path used when --config is not given."""
    return os.environ.get("MONITOR_CONFIG") or "config.yaml"


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file, raising ConfigError."""
    file = str(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, "", f"cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(file, where, f"invalid YAML: {problem}") from None
    return parse(data if data is not None else {}, file=file, base=Path(file).resolve().parent)


def parse(data: Any, *, file: str = "config.yaml", base: Path | None = None) -> Config:
    """Validate already-loaded YAML data into a Config."""
    root = _Node(file, "", data)
    state = root.node("state")
    state_path = Path(state.string("path", "state/monitor.db"))
    if not state_path.is_absolute():
        state_path = (base or Path.cwd()) / state_path
    retention = state.duration("retention", 30 * 86400.0)
    state.done()

    defaults = root.node("defaults")
    interval = defaults.duration("interval", 60.0)
    timeout = defaults.duration("timeout", 20.0)
    user_agent = defaults.string("user_agent", DEFAULT_USER_AGENT)
    defaults.done()

    delivery = root.node("delivery")
    delivery_timeout = delivery.duration("timeout", 60.0)
    max_age = delivery.duration("max_age", 86400.0)
    per_second_total = delivery.number("per_second_total", 30.0, minimum=0.001)
    retry_base = delivery.duration("retry_base", 2.0)
    retry_max = delivery.duration("retry_max", 300.0)
    delivery.done()

    sources = tuple(_source(n, interval, timeout, user_agent) for n in root.items("sources"))
    channels = tuple(_channel(n) for n in root.items("channels"))
    _unique(root, "sources", [s.name for s in sources])
    _unique(root, "channels", [c.name for c in channels])
    rules = tuple(
        _rule(n, {s.name for s in sources}, {c.name for c in channels}) for n in root.items("rules")
    )
    _unique(root, "rules", [r.name for r in rules])
    if not sources:
        raise root.error("no sources: add at least one under 'sources'", "sources")
    root.done()
    return Config(
        file, state_path, retention, sources, channels, rules, delivery_timeout, max_age,
        per_second_total, retry_base, retry_max,
    )


def _unique(root: _Node, key: str, names: list[str]) -> None:
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(root.file, f"{key}[{i}].name", f"duplicate name {name!r}")


def _source(n: _Node, interval: float, timeout: float, user_agent: str) -> SourceConfig:
    url = n.string("url", required=True)
    if not re.match(r"^https?://[^/\s]+", url):
        raise n.error(f"expected an http:// or https:// URL, got {url!r}", "url")
    selector = n.string("selector")
    if selector is not None and not _valid_selector(selector):
        raise n.error(f"invalid CSS selector {selector!r}", "selector")
    headings = n.strings("heading")
    headers = n.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise n.error("expected a mapping of header names to strings", "headers")
    source = SourceConfig(
        name=n.string("name", required=True),
        url=url,
        interval=n.duration("interval", interval),
        selector=selector,
        headings=headings or DEFAULT_HEADINGS,
        backfill=_whole(n, "backfill", 0),
        timeout=n.duration("timeout", timeout),
        user_agent=n.string("user_agent", user_agent),
        headers=tuple((str(k), _expand_env(v, n, "headers")) for k, v in headers.items()),
    )
    n.done()
    return source


def _valid_selector(selector: str) -> bool:
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except SelectolaxError:
        return False
    return True


def _channel(n: _Node) -> ChannelConfig:
    name = n.string("name", required=True)
    kind = n.string("type", required=True)
    if kind not in CHANNEL_TYPES:
        raise n.error(f"unknown channel type {kind!r} (known: {', '.join(CHANNEL_TYPES)})", "type")
    chat_id = token = api_base_url = url = None
    if kind == "webhook":
        url = n.string("url", required=True)
        if not re.match(r"^https?://[^/\s]+", url):
            raise n.error(f"expected an http:// or https:// URL, got {url!r}", "url")
    if kind == "telegram":
        raw_chat = n.require("chat_id")
        chat_id = str(raw_chat).strip()
        if isinstance(raw_chat, bool) or not _CHAT.match(chat_id):
            raise n.error(f"expected '@channelname' or a numeric id, got {raw_chat!r}", "chat_id")
        token = n.string("token", required=True)
        if not _TOKEN.match(token):
            # Never echo the value: it may be a real token with a typo.
            raise n.error("does not look like a bot token (digits, ':', then letters)", "token")
        api_base_url = n.string("api_base_url")
        if api_base_url and not re.match(r"^https?://", api_base_url):
            raise n.error(f"expected an http:// or https:// URL, got {api_base_url!r}", "api_base_url")
    channel = ChannelConfig(
        name=name,
        type=kind,
        chat_id=chat_id,
        token=token,
        api_base_url=api_base_url,
        url=url,
        silent=n.boolean("silent", False),
        digest_after=_whole(n, "digest_after", 5),
        template=_template(n),
        timezone=_timezone(n),
        # Telegram's own limits: about one message a second and 20 a minute to one channel.
        per_second=n.number("per_second", 1.0, minimum=0.001) if kind == "telegram" else None,
        per_minute=n.number("per_minute", 20.0, minimum=0.001) if kind == "telegram" else None,
    )
    n.done()
    return channel


def _whole(n: _Node, key: str, default: int) -> int:
    value = n.number(key, default)
    if value != int(value):
        raise n.error(f"expected a whole number, got {value}", key)
    return int(value)


def _template(n: _Node) -> str:
    template = n.string("template", DEFAULT_TEMPLATE)
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise n.error(f"bad template: {exc}", "template") from None
    unknown = sorted(fields - set(TEMPLATE_FIELDS))
    if unknown or "text" not in fields:
        problem = f"unknown field {{{unknown[0]}}}" if unknown else "it must contain {text}"
        raise n.error(f"bad template: {problem} (fields: {', '.join(TEMPLATE_FIELDS)})", "template")
    return template


def _timezone(n: _Node) -> str:
    name = n.string("timezone", "UTC")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise n.error(f"unknown time zone {name!r} (e.g. UTC, Asia/Beirut)", "timezone") from None
    return name


def _rule(n: _Node, sources: set[str], channels: set[str]) -> RuleConfig:
    terms = {key: n.strings(key) or () for key in ("any", "all", "none")}
    for key, values in terms.items():
        for i, term in enumerate(values):
            if len(term) > 2 and term.startswith("/") and term.endswith("/"):
                try:
                    re.compile(term[1:-1])
                except re.error as exc:
                    raise ConfigError(n.file, f"{n.sub(key)}[{i}]", f"bad regular expression: {exc}") from None
    rule_sources = n.strings("sources")
    for i, s in enumerate(rule_sources or ()):
        if s not in sources:
            raise ConfigError(n.file, f"{n.sub('sources')}[{i}]", f"unknown source {s!r}")
    rule_channels = n.strings("channels")
    if not rule_channels:
        raise n.error("is required: the channels this rule sends to", "channels")
    for i, c in enumerate(rule_channels):
        if c not in channels:
            raise ConfigError(n.file, f"{n.sub('channels')}[{i}]", f"unknown channel {c!r}")
    rule = RuleConfig(
        name=n.string("name", required=True),
        channels=rule_channels,
        sources=rule_sources,
        silent=n.boolean("silent", False),
        **terms,
    )
    n.done()
    return rule
