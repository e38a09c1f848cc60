"""The readers' bot (monitor/bot/): its config, its state, its commands, and /watch end to end."""

from __future__ import annotations

from typing import Any

import pytest

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
