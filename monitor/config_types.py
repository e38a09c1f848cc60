"""The configuration tree: frozen dataclasses that config.py builds and the rest of monitor reads.

One type per section of config.yaml, and one per source or channel kind for its own settings;
every default is written once, here, and config.py reads each key with it.

A leaf: it imports nothing of the project, so the pure core (rules, rendering, extraction) can name
these types without loading the YAML reader and the validators that use the core in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_PAGE_BYTES = 5 * 1024 * 1024  # a page larger than this is refused, not read
DEFAULT_HEADINGS: tuple[str, ...] = ("BREAKING", "Breaking News", "URGENT", "عاجل", "ÚLTIMA HORA")
DEFAULT_USER_AGENT = "Mozilla/5.0 (compatible; monitor/0.1; +https://github.com/monitor/monitor)"
TEMPLATE_FIELDS = ("text", "source", "link", "time", "source_link")
DEFAULT_TEMPLATE = "{text}\n— {source_link} · {time}"


@dataclass(frozen=True, slots=True)
class StateConfig:
    """state: the SQLite file (or a PostgreSQL database's url) and how long it remembers."""

    path: Path = Path("state/monitor.db")  # a relative path is relative to the config file
    url: str | None = field(default=None, repr=False)  # postgresql://...: the state there, not in path's file

    @property
    def file(self) -> Path | None:
        """The SQLite file, or None for a PostgreSQL state."""
        return self.path if self.url is None else None

    def where(self) -> str:
        """The state's file, or its database's url without the password, for messages."""
        if self.url is None:
            return str(self.path)
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.rpartition("@")[2]
        return parts._replace(netloc=f"{parts.username}@{netloc}" if parts.username else netloc).geturl()

    retention: float = 30 * 86400.0  # forget lines not seen on their ticker for this long
    takeover: float = 30.0  # PostgreSQL: a dead instance's sources and chats are taken over within this


@dataclass(frozen=True, slots=True)
class DefaultsConfig:
    """defaults: what a source leaves out, and the HTTP connections of all sources."""

    interval: float = 60.0
    timeout: float = 20.0
    user_agent: str = DEFAULT_USER_AGENT
    connections: int = 32  # HTTP connections open at once, in all
    per_host: int = 2  # ... and to one host


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """delivery: how queued alerts reach their channels."""

    timeout: float = 60.0  # how long `monitor --once` waits for its deliveries
    max_age: float = 86400.0  # an alert still undeliverable after this long is dropped
    per_second_total: float = 30.0  # Telegram's limit for one bot across all chats
    retry_base: float = 2.0  # the first retry after a transient fault; doubles up to retry_max
    retry_max: float = 300.0
    max_attempts: int = 5  # tries of an alert whose send met an unexpected fault (it may have gone out)
    stall_after: float = 600.0  # /healthz is 503 while a channel's oldest queued alert is older than this


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """dedup: when two lines are one."""

    same_line_window: float = 3600.0  # the same line from two sources reaches a channel once within this
    edit_window: float = 6 * 3600.0  # a line this close to a recent one of its source is an edit of it


@dataclass(frozen=True, slots=True)
class HttpAuth:
    """http.auth: the one user of the HTTP endpoint and its password's salted hash (never the password)."""

    user: str
    password_hash: str = field(repr=False)  # "scrypt$n$r$p$salt$hash", from `monitor hash-password`


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """http: the optional status page, /healthz and /metrics endpoint."""

    listen: str | None = None  # "127.0.0.1:9464"; None: not served
    auth: HttpAuth | None = None  # HTTP Basic auth on every endpoint; required beyond loopback


# A kind's own settings: one type per `type:` of a source or channel entry. The registries
# (monitor.sources.SOURCES, monitor.channels.CHANNELS) are the list of kinds; `type` names each here.


@dataclass(frozen=True, slots=True)
class HtmlSettings:
    """type: html: a web page whose ticker items are found by a CSS selector, or beside a heading."""

    type: ClassVar[str] = "html"
    selector: str | None = None  # None: find the ticker by its heading
    headings: tuple[str, ...] = DEFAULT_HEADINGS
    split: str | None = None  # cut each item's text at this separator, or "auto" (monitor.split)


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """type: feed: RSS or Atom, each entry's title an item; nothing of its own to set."""

    type: ClassVar[str] = "feed"


@dataclass(frozen=True, slots=True)
class JsonSettings:
    """type: json: a list of items in a JSON document."""

    type: ClassVar[str] = "json"
    items: str  # dotted path to the list, e.g. data.breaking ("." for the top level)
    text_field: str = "title"  # field of each item holding its text
    link_field: str | None = None  # field of each item holding its link


SourceSettings = HtmlSettings | FeedSettings | JsonSettings
_S = TypeVar("_S", bound=SourceSettings)


@dataclass(frozen=True, slots=True)
class SourceConfig(Generic[_S]):
    """One page to poll: what every kind has, and its kind's own settings.

    interval, timeout, user_agent and alarm_after are the source's own or else the config-wide ones
    (defaults:, alarm_after:), whose defaults are written there: parse() always hands them in.
    """

    name: str
    url: str
    interval: float
    timeout: float
    user_agent: str
    alarm_after: int  # failed or empty polls in a row before the admin channel hears of it
    kind: _S
    backfill: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    on_edit: str = "ignore"  # an edited line: ignore, edit (the sent message) or send
    proxy: str | None = None
    max_bytes: int = MAX_PAGE_BYTES
    interval_max: float | None = None  # adaptive polling between interval and this; None: fixed
    allow_private: bool = False  # follow redirects from a public address to a private one
    empty_ok: bool = False  # no items is normal for this source (a banner that is often down): no alarm

    @property
    def type(self) -> str:
        """The kind's name, as `type:` says it."""
        return self.kind.type


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    """type: telegram: a chat that a bot posts to."""

    type: ClassVar[str] = "telegram"
    chat_id: str  # "@name", or a numeric id such as -1001234567890
    token: str = field(repr=False)
    api_base_url: str = "https://api.telegram.org/bot"  # or a self-hosted Bot API server's
    per_second: float = 1.0  # Telegram's own limits: about one message a second and 20 a minute to one chat
    per_minute: float = 20.0


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """type: webhook: a URL that alerts are POSTed to as JSON."""

    type: ClassVar[str] = "webhook"
    url: str


@dataclass(frozen=True, slots=True)
class AppriseSettings:
    """type: apprise: any service Apprise knows, by its URLs (discord://, slack://, ntfy://, mailto://...)."""

    type: ClassVar[str] = "apprise"
    urls: tuple[str, ...] = field(repr=False)  # secrets inside: never printed
    per_second: float = 1.0  # chat services allow about this much to one channel (Discord: 30 a minute)
    per_minute: float = 30.0

    def secrets(self) -> list[str]:
        """The parts of the URLs that may be secret, for log redaction: each URL, its user and password,
        its path parts and query values (tokens live there), when 6 characters or longer."""
        found = []
        for url in self.urls:
            parts = urlsplit(url)
            found += [url, parts.username or "", parts.password or "", *parts.path.split("/")]
            found += [value for _, value in parse_qsl(parts.query)]
        return [s for s in found if len(s) >= 6]


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """type: console: stdout; nothing of its own to set."""

    type: ClassVar[str] = "console"


ChannelSettings = TelegramSettings | WebhookSettings | AppriseSettings | ConsoleSettings
_C = TypeVar("_C", bound=ChannelSettings)


@dataclass(frozen=True, slots=True)
class ChannelConfig(Generic[_C]):
    """One place alerts go: what every kind has, and its kind's own settings."""

    name: str
    kind: _C
    silent: bool = False
    digest_after: int = 5  # more new alerts than this at once go out as one digest
    template: str = DEFAULT_TEMPLATE
    timezone: str = "UTC"
    quiet_hours: tuple[int, int, str] | None = None  # (from, to) in minutes after midnight, time zone

    @property
    def type(self) -> str:
        """The kind's name, as `type:` says it."""
        return self.kind.type

    @property
    def chat_key(self) -> str:
        """What Telegram's per-chat limits count: the chat, whichever channel names it."""
        return f"telegram:{self.kind.chat_id}" if isinstance(self.kind, TelegramSettings) else self.name

    @property
    def per_second(self) -> float | None:
        """Messages a second the chat takes; None: no limit (a webhook, the console)."""
        return self.kind.per_second if isinstance(self.kind, (TelegramSettings, AppriseSettings)) else None

    @property
    def per_minute(self) -> float | None:
        """Messages a minute the chat takes; None: no limit."""
        return self.kind.per_minute if isinstance(self.kind, (TelegramSettings, AppriseSettings)) else None


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
    near: tuple[tuple[str, str, int], ...] = ()  # two terms at most N words apart
    priority: str = "normal"  # urgent: marked, and notifies even in quiet hours
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BotConfig:
    """bot: readers' personal alerts (/watch) through a Telegram bot; no bot: section, no bot."""

    token: str = field(repr=False)  # default: the first telegram channel's (the channels' bot)
    api_base_url: str = "https://api.telegram.org/bot"  # default: likewise
    access: tuple[str, ...] | None = None  # None: open to anyone; else user ids and @usernames
    admins: tuple[int, ...] = ()  # user ids that may use /status and /mute
    max_terms: int = 20  # terms of one /watch, and of all a reader's watches together
    max_users: int = 10_000
    texts: tuple[tuple[str, str, str], ...] = ()  # (key, language or "", text): the operator's own replies
    poll_timeout: float = 25.0  # seconds a getUpdates long poll waits for news

    @property
    def bot_id(self) -> str:
        """The bot's numeric id, the part of its token before the colon."""
        return self.token.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated configuration: one field per top-level key of config.yaml."""

    file: str
    state: StateConfig
    defaults: DefaultsConfig
    delivery: DeliveryConfig
    dedup: DedupConfig
    http: HttpConfig
    sources: tuple[SourceConfig[SourceSettings], ...]
    channels: tuple[ChannelConfig[ChannelSettings], ...]
    rules: tuple[RuleConfig, ...]
    admin_channel: str | None = None  # where health alarms go
    alarm_after: int = 5  # a source's bad polls in a row before admin_channel hears of it, unless it sets its own
    stop_timeout: float = 10.0  # on SIGTERM, running polls and sends get this long to finish
    bot: BotConfig | None = None  # readers' /watch bot; None: none

    def secrets(self) -> list[str]:
        """Return every secret value, for log redaction."""
        found = [c.kind.token for c in self.channels if isinstance(c.kind, TelegramSettings)]
        found += [self.bot.token] if self.bot else []
        if self.state.url and (password := urlsplit(self.state.url).password):
            found += [self.state.url, password, unquote(password)]
        if self.http.auth is not None:
            found.append(self.http.auth.password_hash)
        return found + [s for c in self.channels if isinstance(c.kind, AppriseSettings) for s in c.kind.secrets()]


AnySource = SourceConfig[Any]  # a source of whichever kind, where its kind does not matter
AnyChannel = ChannelConfig[Any]  # likewise a channel
