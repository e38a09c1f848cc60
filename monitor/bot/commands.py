"""What readers say to the bot and what it answers: a message read into a Message, a command handled into a reply.

Nothing a reader types reaches a reply unescaped (texts.py escapes every value), and every reply fits
one Telegram message. Groups may not subscribe: in a group the bot answers only commands addressed to
it by name, and says that personal alerts live in a private chat.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..config_reader import parse_duration
from ..config_types import AnySource, BotConfig
from ..normalize import clean, fold
from ..store import Reader, Store
from ..watches import Watch, WatchError, WatchIndex
from .readers import Readers
from .texts import LANGUAGES, Html, Texts, escape, language

logger = logging.getLogger(__name__)
RATE = 20  # commands a reader may send in RATE_WINDOW seconds
RATE_WINDOW = 60.0
LATEST_WINDOW = 2 * 86400.0  # how far back /watch looks for the latest line that would have matched ...
LATEST_LINES = 5000  # ... and at most this many of the newest lines: a /watch must not hold the event loop
MAX_TEXT = 4096  # characters of a message read at all (Telegram sends no more)
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?$")
_QUIET = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)$")
_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
ADMIN = frozenset({"status", "mute"})


@dataclass(frozen=True, slots=True)
class Message:
    """What the bot reads of one update: who wrote what, where."""

    update_id: int
    user_id: int
    chat_id: int
    text: str | None  # None: a sticker, a photo, anything but text
    username: str | None = None
    language_code: str | None = None
    chat_type: str = "private"
    edited: bool = False


class Commands:
    """Handles readers' messages: their commands, the access list, the rate limit, the limits on readers and terms."""

    def __init__(
        self, config: BotConfig, readers: Readers, store: Store, sources: Sequence[AnySource], username: str = ""
    ) -> None:
        self.config, self.readers, self.store, self.sources = config, readers, store, sources
        self.texts = Texts(config.texts)
        self.username = username.lower()  # the bot's own @name, without "@" (set once getMe answered)
        self._recent: dict[int, deque[float]] = {}
        self._warned: set[int] = set()  # told to slow down in the current window
        self._forget_asked: set[int] = set()

    async def handle(self, msg: Message, now: float | None = None) -> str | None:
        """Handle one message; return the reply (HTML), or None when the bot says nothing."""
        now = time.time() if now is None else now
        if msg.edited:
            return None  # an edited command is not run again
        private = msg.chat_type == "private"
        command, args = _split(msg.text)
        if command is not None and command[1] and command[1].lower() != self.username:
            return None  # addressed to another bot
        if not private and (command is None or not command[1]):
            return None  # in a group, only commands addressed to this bot by name
        lang = self._language(msg)
        if self._flooding(msg.user_id, now):
            return self._once_per_window(msg.user_id, lang)
        if not private:
            return self.texts.get(lang, "private_only")
        if msg.text is None:
            return self.texts.get(lang, "not_text")
        if not self._allowed(msg):
            return self.texts.get(lang, "not_allowed")
        if command is None:
            return self.texts.get(lang, "unknown")
        name = command[0].lower()
        if name in ADMIN and msg.user_id not in self.config.admins:
            return self.texts.get(lang, "not_admin")
        handler = COMMANDS.get(name)
        if handler is None:
            return self.texts.get(lang, "unknown")
        return await handler(self, msg, lang, args, now)

    def _language(self, msg: Message) -> str:
        reader = self.readers.by_id.get(msg.user_id)
        return reader.language if reader else language(msg.language_code)

    def _flooding(self, user_id: int, now: float) -> bool:
        recent = self._recent.setdefault(user_id, deque())
        while recent and recent[0] <= now - RATE_WINDOW:
            recent.popleft()
        if not recent:
            self._warned.discard(user_id)
        if len(self._recent) > 4 * self.config.max_users:  # a flood of strangers must not grow this without end
            self._recent = {uid: q for uid, q in self._recent.items() if q and q[-1] > now - RATE_WINDOW}
            self._recent.setdefault(user_id, recent)
        recent.append(now)
        return len(recent) > RATE

    def _once_per_window(self, user_id: int, lang: str) -> str | None:
        if user_id in self._warned:
            return None
        self._warned.add(user_id)
        logger.info("bot.flood user=%d", user_id)
        return self.texts.get(lang, "flood")

    def _allowed(self, msg: Message) -> bool:
        access = self.config.access
        if access is None or msg.user_id in self.config.admins or str(msg.user_id) in access:
            return True
        return msg.username is not None and f"@{msg.username.lower()}" in access

    async def _reader(self, msg: Message, lang: str) -> Reader | str:
        """The reader who wrote, stored now if new; or the reply when no new reader may join."""
        reader = self.readers.by_id.get(msg.user_id)
        username = msg.username.lower() if msg.username else None
        if reader is not None:
            if reader.username != username:
                reader = await self.readers.save(replace(reader, username=username))
            return reader
        if len(self.readers.by_id) >= self.config.max_users:
            logger.warning("bot.full readers=%d", len(self.readers.by_id))
            return self.texts.get(lang, "full")
        logger.info("bot.reader_joined user=%d", msg.user_id)
        return await self.readers.save(Reader(msg.user_id, username, lang, created=time.time()))

    # The commands: each returns its reply.

    async def _start(self, msg: Message, lang: str, args: str, now: float) -> str:
        reader = await self._reader(msg, lang)
        if isinstance(reader, str):
            return reader
        if reader.blocked:  # back after blocking the bot: their waiting alerts go out again
            await self.readers.save(replace(reader, blocked=False))
        return self.texts.get(lang, "welcome")

    async def _help(self, msg: Message, lang: str, args: str, now: float) -> str:
        return self.texts.get(lang, "help", sources=", ".join(s.name for s in self.sources))

    async def _watch(self, msg: Message, lang: str, args: str, now: float) -> str:
        if not args:
            return self.texts.get(lang, "watch_usage")
        try:
            watch = self.readers.parse(args)
        except WatchError as exc:
            return self.texts.get(lang, "watch_bad", error=str(exc))
        total = self.readers.terms(msg.user_id) + len(watch.terms) + len(watch.exclude)
        if total > self.config.max_terms:
            return self.texts.get(lang, "watch_limit", count=total, max=self.config.max_terms)
        reader = await self._reader(msg, lang)
        if isinstance(reader, str):
            return reader
        number = await self.readers.watch(reader, args, watch)
        latest = await self._latest(lang, watch, now)
        return self.texts.get(lang, "watch_added", n=number, watch=self._shown(lang, watch), latest=latest)

    def _shown(self, lang: str, watch: Watch) -> str:
        """A watch as the reader reads it back, joined with their language's words."""
        return watch.describe(*(self.texts.raw(lang, f"word_{w}") for w in ("or", "not", "in", "comma")))

    async def _latest(self, lang: str, watch: Watch, now: float) -> Html:
        """The most recent stored line the watch would have matched, as a reply's part."""
        index = WatchIndex()
        index.add(0, 0, watch)
        for source, text, _, _ in reversed((await self.store.seen_since(now - LATEST_WINDOW))[-LATEST_LINES:]):
            if index.match(source, text):
                return Html(self.texts.get(lang, "latest", line=text, source=source))
        return Html(self.texts.get(lang, "latest_none"))

    async def _unwatch(self, msg: Message, lang: str, args: str, now: float) -> str:
        if not args:
            return self.texts.get(lang, "unwatch_usage")
        mine = self.readers.of(msg.user_id)
        wanted = fold(args.lstrip("#"))
        found = next(
            (
                (n, w)
                for n, text, w in mine
                if str(n) == wanted or fold(text) == wanted or wanted in (fold(t) for t in w.terms)
            ),
            None,
        )
        if found is None:
            return self.texts.get(lang, "unwatch_unknown", what=args)
        await self.readers.unwatch(msg.user_id, found[0])
        return self.texts.get(lang, "unwatched", n=found[0], watch=self._shown(lang, found[1]))

    async def _list(self, msg: Message, lang: str, args: str, now: float) -> str:
        mine = self.readers.of(msg.user_id)
        if not mine:
            return self.texts.get(lang, "list_empty")
        lines = Html("\n".join(f"#{n} {escape(self._shown(lang, w))}" for n, _, w in mine))
        reader = self.readers.by_id.get(msg.user_id)
        state = Html(self.texts.get(lang, "paused_state")) if reader and reader.paused else ""
        return self.texts.get(lang, "list", watches=lines, state=state)

    async def _set(
        self, msg: Message, lang: str, key: str, values: dict[str, object] | None = None, **changes: Any
    ) -> str:
        """Change the reader's settings and answer with the key's text."""
        reader = await self._reader(msg, lang)
        if isinstance(reader, str):
            return reader
        reader = await self.readers.save(replace(reader, **changes))
        return self.texts.get(reader.language, key, tz=reader.tz, **(values or {}))

    async def _pause(self, msg: Message, lang: str, args: str, now: float) -> str:
        return await self._set(msg, lang, "paused", paused=True)

    async def _resume(self, msg: Message, lang: str, args: str, now: float) -> str:
        return await self._set(msg, lang, "resumed", paused=False)

    async def _quiet(self, msg: Message, lang: str, args: str, now: float) -> str:
        if args.lower() in ("off", "no", "none"):
            return await self._set(msg, lang, "quiet_off", quiet=None)
        m = _QUIET.match(args)
        if not m:
            return self.texts.get(lang, "quiet_bad")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == end:
            return self.texts.get(lang, "quiet_bad")
        return await self._set(
            msg, lang, "quiet_set", {"start": f"{h1:02d}:{m1:02d}", "end": f"{h2:02d}:{m2:02d}"}, quiet=(start, end)
        )

    async def _tz(self, msg: Message, lang: str, args: str, now: float) -> str:
        name = args.strip()
        if len(name) > 64 or not _ZONE.match(name) or not _zone_exists(name):
            return self.texts.get(lang, "tz_bad", tz=name or "?")
        return await self._set(msg, lang, "tz_set", tz=name)

    async def _lang(self, msg: Message, lang: str, args: str, now: float) -> str:
        chosen = args.strip().lower()
        if chosen not in LANGUAGES:
            return self.texts.get(lang, "lang_bad")
        return await self._set(msg, chosen, "lang_set", language=chosen)

    async def _sources(self, msg: Message, lang: str, args: str, now: float) -> str:
        lines = Html("\n".join(f"• {escape(s.name)} ({escape(s.url, 200)})" for s in self.sources[:100]))
        return self.texts.get(lang, "sources", sources=lines)

    async def _forget(self, msg: Message, lang: str, args: str, now: float) -> str:
        if args.strip().lower() != "yes" or msg.user_id not in self._forget_asked:
            if len(self._forget_asked) > self.config.max_users:  # strangers asking must not grow it without end
                self._forget_asked.clear()
            self._forget_asked.add(msg.user_id)
            return self.texts.get(lang, "forget_ask")
        self._forget_asked.discard(msg.user_id)
        await self.readers.forget(msg.user_id)
        self._recent.pop(msg.user_id, None)
        logger.info("bot.reader_forgotten user=%d", msg.user_id)
        return self.texts.get(lang, "forgotten")

    async def _status(self, msg: Message, lang: str, args: str, now: float) -> str:
        states = await self.store.source_states()
        lines = [
            f"{'⚠️' if s.streak or (s.last_error and s.failures) else '✅'} {escape(s.source)}"
            + (f": {escape(s.last_error or '', 120)}" if s.failures else "")
            for s in states[:60]
        ]
        queues = await self.store.status()
        channels = [f"{escape(q.channel)} {q.queued}" for q in queues if not q.channel.startswith("reader:")]
        readers_queued = sum(q.queued for q in queues if q.channel.startswith("reader:"))
        return self.texts.get(
            lang,
            "status",
            sources=Html("\n".join(lines) or "-"),
            queues=Html(", ".join([*channels, f"readers {readers_queued}"])),
            readers=len(self.readers.by_id),
            watches=len(self.readers.watches),
        )

    async def _mute(self, msg: Message, lang: str, args: str, now: float) -> str:
        parts = args.split()
        names = {s.name for s in self.sources}
        if len(parts) != 2 or parts[0] not in names:
            return self.texts.get(lang, "mute_usage")
        source, how_long = parts
        if how_long.lower() == "off":
            await self.readers.mute(source, 0.0)
            return self.texts.get(lang, "unmuted", source=source)
        seconds = parse_duration(how_long)
        if seconds is None or not 0 < seconds <= 30 * 86400:
            return self.texts.get(lang, "mute_usage")
        await self.readers.mute(source, now + seconds)
        until = datetime.fromtimestamp(now + seconds, UTC).strftime("%Y-%m-%d %H:%M")
        logger.info("bot.muted source=%s seconds=%g by=%d", source, seconds, msg.user_id)
        return self.texts.get(lang, "muted", source=source, until=until)


Handler = Callable[[Commands, Message, str, str, float], Awaitable[str]]
COMMANDS: dict[str, Handler] = {
    "start": Commands._start,
    "help": Commands._help,
    "watch": Commands._watch,
    "unwatch": Commands._unwatch,
    "list": Commands._list,
    "pause": Commands._pause,
    "resume": Commands._resume,
    "quiet": Commands._quiet,
    "tz": Commands._tz,
    "lang": Commands._lang,
    "sources": Commands._sources,
    "forget": Commands._forget,
    "status": Commands._status,
    "mute": Commands._mute,
}


def _split(text: str | None) -> tuple[tuple[str, str | None] | None, str]:
    """A message's command (its name and the @bot it is addressed to) and its arguments, cleaned."""
    if text is None:
        return None, ""
    text = clean(_no_bidi(text[:MAX_TEXT]))
    head, _, args = text.partition(" ")
    m = _COMMAND.match(head)
    if m is None:
        return None, text
    return (m.group(1), m.group(2)), args.strip()


def _no_bidi(text: str) -> str:
    """Drop format characters (bidi overrides, zero-width ones) but the joiners Arabic and Persian spell with."""
    return "".join(c for c in text if c in "\u200c\u200d" or unicodedata.category(c) != "Cf")


def _zone_exists(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
