"""The readers' bot (monitor/bot/): its config, its state, its commands, and /watch end to end."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml
from fake_telegram import FakeTelegram, parse_html
from helpers import Service, free_port, run_monitor, scrape, telegram_channel, wait, write_config
from sites import Site, ticker_page
from telegram import Bot

from monitor.bot.commands import Commands, Message
from monitor.bot.delivery import ReaderDelivery
from monitor.bot.parts import open_bot
from monitor.bot.readers import Readers, in_quiet_hours
from monitor.cluster import Solo
from monitor.config import load, parse
from monitor.errors import ConfigError
from monitor.models import Item, Outgoing
from monitor.normalize import fingerprint
from monitor.pipeline import Deliverer
from monitor.store import Reader, SqliteStore, open_store

BASE: dict[str, Any] = {
    "sources": [{"name": "a", "url": "https://x.example/"}],
    "channels": [
        {
            "name": "c",
            "type": "telegram",
            "chat_id": "@alerts",
            "token": "1:abc",
            "api_base_url": "http://h.example/bot",
        }
    ],
    "rules": [],
}


def test_bot_config_defaults_to_the_channels_bot() -> None:
    assert parse(BASE).bot is None
    bot = parse({**BASE, "bot": {}}).bot
    assert bot is not None
    assert (bot.token, bot.api_base_url, bot.access, bot.max_terms, bot.max_users) == (
        "1:abc",
        "http://h.example/bot",
        None,
        20,
        10_000,
    )
    bot = parse(
        {
            **BASE,
            "bot": {
                "token": "2:xyz",
                "access": [5, "@Someone"],
                "admins": [7],
                "texts": {"welcome": {"ar": "مرحبا"}, "help": "h {sources}"},
            },
        }
    ).bot
    assert bot is not None
    assert (bot.token, bot.bot_id, bot.access, bot.admins) == ("2:xyz", "2", ("5", "@someone"), (7,))
    assert bot.texts == (("welcome", "ar", "مرحبا"), ("help", "", "h {sources}"))


@pytest.mark.parametrize(
    "bot, error",
    [
        ({"acess": "open"}, "bot: unknown key 'acess' (did you mean 'access'?)"),
        ({"access": "closed"}, "bot.access: expected open, or a list"),
        ({"access": ["someone"]}, "bot.access[0]: expected a Telegram user id"),
        ({"admins": ["x"]}, "bot.admins[0]: expected a Telegram user id"),
        ({"token": "nope"}, "bot.token: does not look like a bot token"),
        ({"max_users": 0}, "bot.max_users: expected a number from 1"),
        ({"texts": {"nope": "x"}}, "bot.texts.nope: unknown text 'nope'"),
        ({"texts": {"help": "{foo}"}}, "bot.texts.help: unknown placeholder {foo}"),
        ({"texts": {"help": {"fr": "x"}}}, "bot.texts.help.fr: unknown language 'fr'"),
    ],
)
def test_bot_config_errors(bot: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse({**BASE, "bot": bot})
    assert error in str(caught.value)


def test_bot_without_a_telegram_channel_needs_a_token() -> None:
    with pytest.raises(ConfigError, match=r"bot\.token: is required"):
        parse({**BASE, "channels": [{"name": "c", "type": "console"}], "bot": {}})


ME = 4242  # a reader's Telegram user id


def bot_config(tmp_path: Path, site: Site, tg: FakeTelegram, top: dict[str, Any] | None = None, **bot: Any) -> Path:
    """A service config: one ticker on the site, a channel, and the readers' bot on the fake Bot API."""
    return write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 1}],
        channels=[telegram_channel(tg)],
        rules=[{"name": "gaza", "any": ["gaza"], "channels": ["alerts"]}],
        bot={"poll_timeout": 1, **bot},
        **(top or {}),
    )


def start(services: list[Service], tmp_path: Path, config: Path) -> Service:
    """Start the service on a config; return it once it is ready (the fixture stops it if the test fails)."""
    service = Service(tmp_path, config)
    services.append(service)
    service.notified("READY")
    return service


def listened(tg: FakeTelegram, times: int = 2) -> None:
    """Wait until the bot asked for updates `times` more times: it went on working (before checking nothing came)."""
    asked = sum(1 for c in tg.log if c.method == "getUpdates")
    wait(lambda: sum(1 for c in tg.log if c.method == "getUpdates") >= asked + times, "the bot to listen on")


def replies(tg: FakeTelegram, user: int, count: int, timeout: float = 20) -> list[str]:
    """Wait for the first count messages in a user's chat; return their plain texts."""
    tg.wait_for(lambda sent: len([s for s in sent if s.numeric_chat_id == user]) >= count, timeout)
    return [s.plain for s in tg.sent_to(user)]


def test_watch_then_a_matching_line_arrives_as_a_direct_message(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Ceasefire talks resume in Cairo"]))
    service = start(services, tmp_path, bot_config(tmp_path, site, telegram))
    wait(lambda: site.hits["/"] >= 1, "the baseline poll")
    telegram.push(ME, "/start", username="Reader1")
    telegram.push(ME, '/watch ceasefire "air strike" -football')
    got = replies(telegram, ME, 2)
    assert got[0].startswith("Hello!")
    assert got[1].startswith('Watching #1: ceasefire OR "air strike", not football')
    assert "The latest line that would have matched:\nCeasefire talks resume in Cairo (en)" in got[1]
    site.set("/", ticker_page(["Air strike near Gaza", "Football: ceasefire cup", "Ceasefire talks resume in Cairo"]))
    got = replies(telegram, ME, 3)
    assert got[2].startswith("Air strike near Gaza\n— en")
    polled = site.hits["/"]
    wait(lambda: site.hits["/"] >= polled + 2, "two more polls")  # the football line is excluded: nothing more comes
    assert len(telegram.sent_to(ME)) == 3
    assert [s.plain.split("\n")[0] for s in telegram.sent_to("@alerts")] == ["Air strike near Gaza"]
    assert service.stop() == 0
    assert "Traceback" not in service.log()


@dataclass
class Chat:
    """The bot's commands on a real SQLite state, without Telegram: say() returns the reply."""

    commands: Commands
    store: SqliteStore
    path: Path

    async def say(self, text: str | None, user: int = ME, **kw: Any) -> str | None:
        reply = await self.commands.handle(Message(1, user, kw.pop("chat_id", user), text, **kw))
        if reply is not None:  # what Telegram would take: valid HTML, one message
            assert len(parse_html(reply).encode("utf-16-le")) // 2 <= 4096
        return reply

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.path)) as db:
            return db.execute(query).fetchall()


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[Chat]:
    yield await open_chat(tmp_path)


async def open_chat(tmp_path: Path, **bot: Any) -> Chat:
    config = parse({**BASE, "sources": [*BASE["sources"], {"name": "ar", "url": "https://y.example/"}], "bot": bot})
    assert config.bot is not None
    store = SqliteStore(tmp_path / "state.db")
    readers = Readers(store, [s.name for s in config.sources], max_terms=config.bot.max_terms)
    await readers.load()
    return Chat(Commands(config.bot, readers, store, config.sources, username="fake_bot"), store, tmp_path / "state.db")


def line(text: str, source: str = "a") -> Item:
    return Item(source, text, None, fingerprint(text))


async def test_watch_list_unwatch_and_settings(chat: Chat) -> None:
    assert await chat.say("/watch ceasefire") == "Watching #1: ceasefire\nNo recent line matches yet."
    assert (await chat.say('/watch "air strike" in:ar') or "").startswith('Watching #2: "air strike", in ar')
    assert await chat.say("/list") == 'Your watches:\n#1 ceasefire\n#2 "air strike", in ar'
    assert chat.commands.readers.matching(line("Air strike on a port", "ar")) == [ME]
    assert chat.commands.readers.matching(line("Air strike on a port", "a")) == []
    assert await chat.say("/unwatch AIR STRIKE") == 'Stopped watching #2: "air strike", in ar'
    assert await chat.say("/unwatch 7") == "You have no watch 7: /list shows yours."
    assert await chat.say("/unwatch #1") == "Stopped watching #1: ceasefire"
    assert await chat.say("/list") == "You watch nothing yet. Try /watch ceasefire"
    await chat.say("/watch port")
    assert await chat.say("/pause") == "Paused: no alerts until /resume."
    assert chat.commands.readers.matching(line("port closed")) == []
    assert (await chat.say("/list") or "").endswith("(paused: /resume)")
    await chat.say("/resume")
    assert chat.commands.readers.matching(line("port closed")) == [ME]
    assert await chat.say("/quiet 23:00-7:00") == "Quiet hours 23:00-07:00 (UTC): alerts wait until they end."
    assert await chat.say("/quiet 25:00-07:00") == "Write it as /quiet 23:00-07:00, or /quiet off."
    assert await chat.say("/tz Asia/Beirut") == "Your time zone is Asia/Beirut."
    for bad in ("Mars/Olympus", "../../etc/passwd", "", "A" * 100):
        assert (await chat.say(f"/tz {bad}") or "").startswith("I do not know the time zone")
    assert chat.sql("SELECT tz, quiet_from, quiet_to, paused FROM readers") == [("Asia/Beirut", 1380, 420, 0)]
    assert "• a (https://x.example/)" in (await chat.say("/sources") or "")
    assert "a, ar" in (await chat.say("/help") or "")


async def test_watch_shows_the_latest_stored_line_it_would_have_matched(chat: Chat) -> None:
    await chat.store.record("a", [line("Old <b> ceasefire & more")], [])
    await chat.store.record("a", [line("Newest ceasefire news"), line("unrelated")], [])
    reply = await chat.say("/watch ceasefire")
    assert reply == (
        "Watching #1: ceasefire\nThe latest line that would have matched:\n<i>Newest ceasefire news</i> (a)"
    )


async def test_arabic_flow(chat: Chat) -> None:
    assert (await chat.say("/start", language_code="ar") or "").startswith("أهلاً!")
    reply = await chat.say("/watch غزة", language_code="ar")
    assert reply == "أتابع #1: غزة\nلا خبر حديثاً يطابق بعد."
    assert chat.commands.readers.matching(line("قصف إسرائيلي بغزة")) == [ME]  # the proclitic بـ
    assert chat.commands.readers.matching(line("غزال في الحديقة")) == []
    reply = await chat.say('/watch لبنان "وقف إطلاق النار" -كرة in:ar', language_code="ar")
    assert (reply or "").startswith('أتابع #2: لبنان أو "وقف إطلاق النار"، عدا كرة، في ar'), reply  # Arabic joiners
    assert await chat.say("/lang en") == "I will answer in English."
    assert (await chat.say("/help", language_code="ar") or "").startswith("I watch")  # the reader's choice wins
    assert await chat.say("/lang ar") == "سأجيب بالعربية."
    assert (await chat.say("/nope")) == "لا أعرف هذا الأمر. /help تعرض الأوامر."
    # A stranger's language comes from Telegram; anything but Arabic is English.
    assert (await chat.say("/help", user=7, language_code="ar-EG") or "").startswith("أتابع")
    assert (await chat.say("/help", user=8, language_code="fr") or "").startswith("I watch")


async def test_forget_leaves_nothing_in_the_state(chat: Chat) -> None:
    await chat.say("/start", username="Reader_one")
    await chat.say("/watch ceasefire")
    await chat.say("/watch ceasefire", user=7)
    item = line("ceasefire agreed")
    await chat.store.record("a", [item], [Outgoing(f"reader:{ME}", item, False), Outgoing("reader:7", item, False)])
    assert await chat.say("/forget yes") == (
        "This deletes your watches and everything I keep about you. Send /forget yes to go on."
    )  # asked first, always
    assert chat.sql("SELECT COUNT(*) FROM readers WHERE user_id = 4242") == [(1,)]
    assert (await chat.say("/forget yes") or "").startswith("Done: I keep nothing about you")
    assert chat.sql("SELECT COUNT(*) FROM readers WHERE user_id = 4242 OR username = 'reader_one'") == [(0,)]
    assert chat.sql("SELECT COUNT(*) FROM watches WHERE user_id = 4242") == [(0,)]
    assert chat.sql("SELECT channel FROM outbox") == [("reader:7",)]
    assert chat.commands.readers.matching(item) == [7]
    await chat.store.close()
    with closing(sqlite3.connect(chat.path)) as db:
        dump = "\n".join(db.iterdump())
    assert "4242" not in dump and "reader_one" not in dump.lower()


@pytest.mark.parametrize(
    "text, reply",
    [
        ("/frobnicate", "I do not know that command. /help lists them."),
        ("hello there", "I do not know that command. /help lists them."),
        ("/watch", 'Tell me what to watch, e.g. /watch ceasefire or /watch "air strike"'),
        ("/watch    ", 'Tell me what to watch, e.g. /watch ceasefire or /watch "air strike"'),
        ("/watch ...", 'I could not read that: nothing to watch: give a word or a "phrase", e.g. /watch ceasefire'),
        ("/watch " + " ".join(f"w{i}" for i in range(500)), "I could not read that: that is too long"),
        ("/watch " + " ".join(f"w{i}" for i in range(30)), "I could not read that: at most 20 terms"),
        ("/watch " + "x" * 10_000, "I could not read that: that is too long: at most 1000 characters"),
        ("/watch in:nowhere gaza", "I could not read that: there is no source 'nowhere'"),
        ("/watch in:<i>&amp gaza", "I could not read that: there is no source '&lt;i&gt;&amp;amp'"),
        ("/watch <b>gaza</b> & co", "Watching #1: &lt;b&gt;gaza&lt;/b&gt; OR co"),
        ("/watch \u202egaza\u202c \x07x\x00", "Watching #1: gaza OR x"),
        ("/status", "Only the bot's admins may do that."),
        ("/mute a 2h", "Only the bot's admins may do that."),
        ("/forget", "This deletes your watches and everything I keep about you. Send /forget yes to go on."),
        ("/lang fr", "Choose /lang en or /lang ar."),
        ("/watch@fake_bot gaza", "Watching #1: gaza\nNo recent line matches yet."),
        ("/watch@other_bot gaza", None),
        (None, "I read only text commands. /help lists them."),
    ],
)
async def test_hostile_and_odd_messages(chat: Chat, text: str | None, reply: str | None) -> None:
    got = await chat.say(text)
    assert got == reply if reply is None else (got or "").startswith(reply), got


async def test_groups_edits_floods(chat: Chat) -> None:
    group = {"chat_id": -100123, "chat_type": "supergroup"}
    assert await chat.say("/watch gaza", **group) is None  # not addressed to this bot
    assert await chat.say(None, **group) is None
    assert await chat.say("/watch@fake_bot gaza", **group) == (
        "Personal alerts work in a private chat: write to me directly."
    )
    assert chat.sql("SELECT COUNT(*) FROM readers") == [(0,)]  # a group subscribes nothing
    assert await chat.say("/watch gaza", edited=True) is None  # an edited command is not run again
    got = [await chat.say("/list", user=9) for _ in range(25)]
    assert got[:20] == ["You watch nothing yet. Try /watch ceasefire"] * 20
    assert got[20:] == ["Too many commands at once: wait a minute, please.", None, None, None, None]
    assert await chat.say("/list") is not None  # others are not slowed down


async def test_access_list_max_users_and_admins(tmp_path: Path) -> None:
    chat = await open_chat(tmp_path, access=[ME, "@friend_of_mine"], admins=[1], max_users=2)
    assert await chat.say("/start", user=5) == "Sorry, this bot is open to some readers only."
    assert (await chat.say("/start", user=6, username="Friend_Of_Mine") or "").startswith("Hello!")
    assert (await chat.say("/start") or "").startswith("Hello!")
    assert await chat.say("/start", user=1) == "Sorry, this bot has all the readers it can take for now."
    assert (await chat.say("/help", user=1) or "").startswith("I watch")  # asks nothing of the store
    status = await chat.say("/status", user=1) or ""
    assert status.endswith("Readers: 2 (0 watches)")
    assert (
        await chat.say("/mute a 2h", user=1)
        == f"Muted a until {time.strftime('%Y-%m-%d %H:%M', time.gmtime(time.time() + 7200))} UTC."
    )
    await chat.say("/watch gaza")
    assert chat.commands.readers.matching(line("gaza")) == []  # muted
    assert chat.commands.readers.matching(line("gaza", "ar")) == [ME]
    restarted = Readers(chat.store, ["a", "ar"], max_terms=20)  # a restart, or another instance reading the state
    await restarted.load()
    assert restarted.matching(line("gaza")) == [] and restarted.matching(line("gaza", "ar")) == [ME]
    assert await chat.say("/mute a off", user=1) == "a is no longer muted."
    assert chat.commands.readers.matching(line("gaza")) == [ME]
    await restarted.load()
    assert restarted.matching(line("gaza")) == [ME]
    assert await chat.say("/mute nowhere 2h", user=1) == "Write it as /mute SOURCE 2h (or /mute SOURCE off)."
    await chat.store.close()


def test_quiet_hours_in_the_readers_time_zone() -> None:
    reader = Reader(1, tz="Asia/Beirut", quiet=(23 * 60, 7 * 60))
    at = datetime(2026, 1, 10, tzinfo=ZoneInfo("Asia/Beirut")).timestamp()
    assert in_quiet_hours(reader, at + 23.5 * 3600) and in_quiet_hours(reader, at + 3 * 3600)
    assert not in_quiet_hours(reader, at + 7 * 3600) and not in_quiet_hours(reader, at + 12 * 3600)
    assert not in_quiet_hours(Reader(1), at)


def state_rows(tmp_path: Path, query: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(tmp_path / "state" / "monitor.db")) as db:
        return db.execute(query).fetchall()


def test_a_reader_who_blocks_the_bot_gets_nothing_until_start(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Old"]))
    service = start(services, tmp_path, bot_config(tmp_path, site, telegram))
    telegram.push(ME, "/watch port")
    replies(telegram, ME, 1)
    telegram.blocked.add(ME)
    site.set("/", ticker_page(["Port closed", "Old"]))
    wait(lambda: state_rows(tmp_path, "SELECT blocked FROM readers") == [(1,)], "the reader marked blocked")
    site.set("/", ticker_page(["Port open again", "Port closed", "Old"]))  # not queued for a reader who blocked us
    wait(lambda: site.hits["/"] >= 4, "more polls")
    listened(telegram)
    refused = [c for c in telegram.log if c.chat_id == str(ME) and c.status == 403]
    assert len(refused) == 1  # not retried while blocked
    assert state_rows(tmp_path, "SELECT text, status FROM outbox WHERE channel = 'reader:4242'") == [
        ("Port closed", "queued")
    ]
    out = run_monitor("status", "--config", str(tmp_path / "config.yaml"))
    assert re.search(r"^readers \(bot\)\s+1\s+0\s+0", out.stdout, re.M) and "reader:" not in out.stdout, out.stdout
    telegram.blocked.discard(ME)
    telegram.push(ME, "/start")
    got = replies(telegram, ME, 3)
    assert got[1].startswith("Hello!")
    assert got[2].startswith("Port closed")
    assert state_rows(tmp_path, "SELECT blocked FROM readers") == [(0,)]
    assert service.stop() == 0


def test_a_restart_in_the_middle_of_a_conversation_neither_loses_nor_replays(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Old"]))
    path = bot_config(tmp_path, site, telegram)
    first = Service(tmp_path, path)
    services.append(first)
    first.notified("READY")
    telegram.push(ME, "/start")
    telegram.push(ME, "/watch port")
    replies(telegram, ME, 2)
    assert first.stop() == 0
    telegram.push(ME, "/watch harbour")  # while no service runs
    telegram.push(ME, "/list")
    second = Service(tmp_path, path)
    services.append(second)
    second.notified("READY")
    got = replies(telegram, ME, 4)
    assert got[2].startswith("Watching #2: harbour")
    assert got[3] == "Your watches:\n#1 port\n#2 harbour"
    listened(telegram)
    assert len(telegram.sent_to(ME)) == 4  # nothing answered twice
    assert telegram.confirmed() == 5  # every update confirmed
    assert state_rows(tmp_path, "SELECT update_offset FROM bot_state") == [(5,)]
    assert second.stop() == 0


def test_a_reply_refused_with_429_or_a_5xx_is_sent_again(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Old"]))
    telegram.fail(method="sendMessage", status=429, retry_after=1)
    telegram.fail(method="sendMessage", status=502, after=1)
    service = start(services, tmp_path, bot_config(tmp_path, site, telegram))
    telegram.push(ME, "/help")
    assert replies(telegram, ME, 1)[0].startswith("I watch")
    telegram.push(ME, "/list")
    assert replies(telegram, ME, 2)[1].startswith("You watch nothing")
    tries = [c.status for c in telegram.log if c.method == "sendMessage"]
    assert tries == [429, 200, 502, 200]
    assert service.stop() == 0


def test_healthz_tells_of_readers_alerts_that_wait_and_of_a_refused_token(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Old"]))
    port = free_port()
    delivery = {"timeout": 15, "stall_after": 2, "retry_base": 1, "retry_max": 2}
    top = {"http": {"listen": f"127.0.0.1:{port}"}, "delivery": delivery}
    service = start(services, tmp_path, bot_config(tmp_path, site, telegram, top))
    telegram.push(ME, "/watch port")
    replies(telegram, ME, 1)
    wait(lambda: scrape(port, "/healthz")[0] == 200, "healthy")
    telegram.fail(ME, status=502, times=3)
    site.set("/", ticker_page(["Port closed", "Old"]))
    wait(lambda: "bot: readers' alerts waiting for" in scrape(port, "/healthz")[1], "/healthz to say so", timeout=20)
    assert replies(telegram, ME, 2, timeout=30)[1].startswith("Port closed")
    wait(lambda: scrape(port, "/healthz")[0] == 200, "healthy again")
    telegram.fail(method="getUpdates", status=401, times=1000)
    wait(lambda: "bot: cannot read its updates" in scrape(port, "/healthz")[1], "the refused token", timeout=20)
    assert "check bot.token" in scrape(port, "/healthz")[1]
    assert service.stop() == 0


async def test_once_sends_readers_alerts_after_the_channels(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/", ticker_page(["Old"]))
    path = bot_config(tmp_path, site, telegram)
    store = await open_store(load(path).state)
    await store.save_reader(Reader(ME))
    await store.add_watch(ME, "port")
    await store.close()
    assert (await asyncio.to_thread(run_monitor, "--once", "--config", str(path))).returncode == 0  # the baseline
    telegram.push(ME, "/start")  # the fake knows the reader's chat (the command is not read by --once)
    site.set("/", ticker_page(["Gaza port closed", "Old"]))
    done = await asyncio.to_thread(run_monitor, "--once", "--config", str(path))
    assert done.returncode == 0, done.stderr
    assert [s.plain.split("\n")[0] for s in telegram.sent_to("@alerts")] == ["Gaza port closed"]
    assert [s.plain.split("\n")[0] for s in telegram.sent_to(ME)] == ["Gaza port closed"]
    assert state_rows(tmp_path, "SELECT status FROM outbox WHERE channel = 'reader:4242'") == [("delivered",)]
    assert not any(c.method == "getUpdates" for c in telegram.log)  # --once reads no commands


def test_another_listener_on_the_token_is_backed_off_from(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Old"]))
    telegram.fail(method="getUpdates", status=409, times=2)
    service = start(services, tmp_path, bot_config(tmp_path, site, telegram))
    telegram.push(ME, "/help")
    assert replies(telegram, ME, 1)[0].startswith("I watch")
    log = service.log()
    assert log.count("bot.conflict") == 1 and "Traceback" not in log
    assert service.stop() == 0


def pg_rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def test_the_bot_on_a_postgresql_state(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service], pg_url: str
) -> None:
    site.set("/", ticker_page(["Old"]))
    path = bot_config(tmp_path, site, telegram)
    data = yaml.safe_load(path.read_text())
    data["state"] = {"url": pg_url}
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    service = Service(tmp_path, path)
    services.append(service)
    service.notified("READY")
    telegram.push(ME, "/watch غزة", language_code="ar")
    assert replies(telegram, ME, 1)[0].startswith("أتابع #1: غزة")
    site.set("/", ticker_page(["غارة على بغزة", "Old"]))
    assert replies(telegram, ME, 2)[1].startswith("غارة على بغزة")
    telegram.push(ME, "/forget")
    telegram.push(ME, "/forget yes")
    replies(telegram, ME, 4)
    assert pg_rows(pg_url, "SELECT COUNT(*) FROM readers") == [(0,)]
    assert pg_rows(pg_url, "SELECT COUNT(*) FROM outbox WHERE channel LIKE 'reader:%'") == [(0,)]
    wait(lambda: pg_rows(pg_url, "SELECT update_offset FROM bot_state") == [(4,)], "the offset stored")
    assert service.stop() == 0


async def test_reader_deliveries_quiet_paused_deactivated_and_one_a_second(tmp_path: Path) -> None:
    with FakeTelegram(token="1:abc", chats=()) as tg:
        config = parse({**BASE, "bot": {"api_base_url": tg.base_url}})
        assert config.bot is not None
        store = SqliteStore(tmp_path / "state.db")
        readers = Readers(store, ["a"], max_terms=20)
        now = time.time()
        minute = int(now // 60 % 1440)
        people = {
            1: Reader(1, quiet=(minute, (minute + 120) % 1440)),  # quiet now (UTC)
            2: Reader(2, paused=True),
            3: Reader(3),  # a deleted account
            4: Reader(4),
            5: Reader(5),  # back from quiet hours, eight alerts waiting
        }
        for reader in people.values():
            tg.push(reader.user_id, "/start")  # the fake knows their chats
            await readers.save(reader)
        tg.deactivated.add(3)
        first, second = line("First <line> & more"), line("Second line")
        await store.record("a", [first], [Outgoing(f"reader:{uid}", first, False) for uid in people])
        await store.record("a", [second], [Outgoing("reader:4", second, False)])
        backlog = [line(f"Backlog line {n}") for n in range(7)]
        await store.record("a", backlog, [Outgoing("reader:5", item, False) for item in backlog])
        deliverer = Deliverer(store, {}, config.delivery)
        async with Bot("1:abc", base_url=tg.base_url) as bot:
            delivery = ReaderDelivery(bot, config.bot, config.delivery, store, readers, deliverer, Solo())
            wait = await delivery.drain(time.time())
            assert 0 < wait <= 1.0  # reader 4's second alert waits for their chat's second
            assert [s.plain.split("\n")[0] for s in tg.sent_to(4)] == ["First <line> & more"]
            await asyncio.sleep(wait)
            await delivery.drain(time.time())
        assert [s.plain.split("\n")[0] for s in tg.sent_to(4)] == ["First <line> & more", "Second line"]
        assert tg.sent_to(4)[1].at - tg.sent_to(4)[0].at >= 0.9
        assert tg.sent_to(1) == tg.sent_to(2) == []
        [digest] = tg.sent_to(5)  # one message, not eight
        assert all(f"Backlog line {n}" in digest.plain for n in range(7))
        assert 3 not in readers.by_id and [r.user_id for r in await store.readers()] == [1, 2, 4, 5]
        assert [(a.channel, a.text) for a in await store.load_reader_queue()] == [("reader:1", first.text)]
        status = {s.channel: (s.queued, s.delivered, s.failed) for s in await store.status()}
        assert status == {"reader:1": (1, 0, 0), "reader:2": (0, 0, 1), "reader:4": (0, 2, 0), "reader:5": (0, 8, 0)}
        await store.close()


async def test_alerts_that_must_wait_do_not_hold_up_other_readers(tmp_path: Path) -> None:
    """600 alerts of a reader who blocked the bot, queued first, do not keep another reader's from going."""
    with FakeTelegram(token="1:abc", chats=()) as tg:
        config = parse({**BASE, "bot": {"api_base_url": tg.base_url}})
        assert config.bot is not None
        store = SqliteStore(tmp_path / "state.db")
        readers = Readers(store, ["a"], max_terms=20)
        for reader in (Reader(1, blocked=True), Reader(2)):
            tg.push(reader.user_id, "/start")
            await readers.save(reader)
        waiting = [line(f"Line {n} for the blocked reader") for n in range(600)]
        await store.record("a", waiting, [Outgoing("reader:1", item, False) for item in waiting])
        news = line("News for the second reader")
        await store.record("a", [news], [Outgoing("reader:2", news, False)])
        async with Bot("1:abc", base_url=tg.base_url) as bot:
            delivery = ReaderDelivery(
                bot, config.bot, config.delivery, store, readers, Deliverer(store, {}, config.delivery), Solo()
            )
            await delivery.drain(time.time())
        assert [s.plain.split("\n")[0] for s in tg.sent_to(2)] == [news.text]
        assert tg.sent_to(1) == [] and len(await store.load_reader_queue(limit=1000)) == 600
        await store.close()


def test_two_instances_on_one_postgresql_state_listen_once(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service], pg_url: str
) -> None:
    site.set("/", ticker_page(["Old"]))
    path = bot_config(tmp_path, site, telegram)
    data = yaml.safe_load(path.read_text())
    data["state"] = {"url": pg_url}
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    for _ in range(2):
        services.append(Service(tmp_path, path))
    for service in services:
        service.notified("READY")
    for n in range(6):
        telegram.push(ME + n, "/watch port")
    for n in range(6):
        assert replies(telegram, ME + n, 1)[0].startswith("Watching #1: port")
    site.set("/", ticker_page(["Port closed", "Old"]))
    for n in range(6):
        assert replies(telegram, ME + n, 2)[1].startswith("Port closed")
    polled = site.hits["/"]
    wait(lambda: site.hits["/"] >= polled + 2, "two more polls")
    listened(telegram)
    assert all(len(telegram.sent_to(ME + n)) == 2 for n in range(6))  # each answered and alerted once
    assert not [c for c in telegram.log if c.method == "getUpdates" and c.status == 409]
    for service in services:
        assert service.stop() == 0


class Shared(Solo):
    """One of several instances on a state, as far as the bot cares: every lease granted."""

    shared = True


async def test_an_instance_reads_the_watches_another_instance_took(pg_url: str) -> None:
    config = parse({**BASE, "state": {"url": pg_url}, "bot": {}})
    assert config.bot is not None
    bot_id = config.bot.bot_id
    stores = [await open_store(config.state) for _ in range(2)]
    try:
        a, b = [await open_bot(config, s, Deliverer(s, {}, config.delivery), Shared()) for s in stores]
        assert a is not None and b is not None and b.delivery.sync is not None
        a.listener.listening = True  # a listens: its index changes as it handles commands
        assert await a.commands.handle(Message(1, ME, ME, "/watch port")) is not None
        await stores[0].save_bot_offset(bot_id, 2)
        assert a.readers.matching(line("port closed")) == [ME]
        assert b.readers.matching(line("port closed")) == []
        await b.sync()  # before b's next poll or delivery
        assert b.readers.matching(line("port closed")) == [ME]
        await a.commands.handle(Message(2, ME, ME, "/pause"))
        await b.sync()  # the offset did not move: nothing is read again
        assert b.readers.matching(line("port closed")) == [ME]
        await stores[0].save_bot_offset(bot_id, 3)
        await b.sync()
        assert b.readers.matching(line("port closed")) == []
        await a.close()
        await b.close()
    finally:
        for store in stores:
            await store.close()
