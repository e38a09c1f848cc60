"""The readers' bot (monitor/bot/): its config, its state, its commands, and /watch end to end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fake_telegram import FakeTelegram
from helpers import Service, telegram_channel, wait, write_config
from sites import Site, ticker_page

from monitor.config import parse
from monitor.errors import ConfigError

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


def bot_config(tmp_path: Path, site: Site, tg: FakeTelegram, **bot: Any) -> Path:
    """A service config: one ticker on the site, a channel, and the readers' bot on the fake Bot API."""
    return write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 1}],
        channels=[telegram_channel(tg)],
        rules=[{"name": "gaza", "any": ["gaza"], "channels": ["alerts"]}],
        bot={"poll_timeout": 1, **bot},
    )


def replies(tg: FakeTelegram, user: int, count: int, timeout: float = 20) -> list[str]:
    """Wait for the first count messages in a user's chat; return their plain texts."""
    tg.wait_for(lambda sent: len([s for s in sent if s.numeric_chat_id == user]) >= count, timeout)
    return [s.plain for s in tg.sent_to(user)]


def test_watch_then_a_matching_line_arrives_as_a_direct_message(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Ceasefire talks resume in Cairo"]))
    service = Service(tmp_path, bot_config(tmp_path, site, telegram))
    services.append(service)
    service.notified("READY")
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
    time.sleep(1.5)  # the football line is excluded: nothing more comes
    assert len(telegram.sent_to(ME)) == 3
    assert [s.plain.split("\n")[0] for s in telegram.sent_to("@alerts")] == ["Air strike near Gaza"]
    assert service.stop() == 0
    assert "Traceback" not in service.log()
