"""The fake Bot API server must behave like Telegram for the real python-telegram-bot."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter

from conftest import TOKEN
from fake_telegram import FakeTelegram, TelegramHTMLError, parse_html


@pytest.fixture
def tg() -> Any:
    with FakeTelegram(token=TOKEN, chats=("@alerts", -1001234567890), forbidden=("@alerts_ro",)) as server:
        server.chats["@alerts_ro"] = -1009
        yield server


@pytest.mark.parametrize(
    "text, plain",
    [
        ("plain", "plain"),
        ("<b>bold</b> &amp; &lt;tag&gt; &quot;q&quot; &#39;", "bold & <tag> \"q\" '"),
        ('<a href="https://x.example/?a=1&amp;b=2">link</a>', "link"),
        ('<span class="tg-spoiler">s</span><i><u>x</u></i>', "sx"),
    ],
)
def test_html_accepted(text: str, plain: str) -> None:
    assert parse_html(text) == plain


@pytest.mark.parametrize(
    "text, error",
    [
        ("<foo>x</foo>", 'unsupported start tag "foo"'),
        ("<b>unclosed", 'start tag "b"'),
        ("<b><i>x</b></i>", "unmatched end tag"),
        ("a < b", "unexpected character"),
        ("Q&A", "unsupported HTML entity"),
        ("&nbsp;", "unsupported HTML entity"),
        ("<span>x</span>", 'unsupported start tag "span"'),
    ],
)
def test_html_refused(text: str, error: str) -> None:
    with pytest.raises(TelegramHTMLError, match=error):
        parse_html(text)


async def test_real_bot_against_fake(tg: FakeTelegram) -> None:
    async with Bot(TOKEN, base_url=tg.base_url) as bot:
        me = await bot.get_me()
        assert me.username == "fake_bot"
        line = 'Trump: "A < B" & more'
        msg = await bot.send_message("@alerts", html.escape(line), parse_mode="HTML", disable_notification=True)
        [sent] = tg.sent
        assert sent.plain == line and sent.chat_id == "@alerts" and sent.disable_notification
        assert msg.message_id == sent.message_id
        await bot.send_message(-1001234567890, "numeric id")
        assert [s.plain for s in tg.sent_to(-1001234567890)] == ["numeric id"]
        await bot.edit_message_text("edited", chat_id="@alerts", message_id=msg.message_id)
        assert tg.sent_to("@alerts")[0].plain == "edited"

        with pytest.raises(BadRequest, match="[Cc]an't parse entities"):
            await bot.send_message("@alerts", "<b>unclosed", parse_mode="HTML")
        with pytest.raises(BadRequest, match="[Cc]hat not found"):
            await bot.send_message("@nobody", "x")
        with pytest.raises(Forbidden, match="not a member"):
            await bot.send_message("@alerts_ro", "x")
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message("@alerts", "x" * 4097)
        await bot.send_message("@alerts", "x" * 4096)

        tg.fail("@alerts", status=429, retry_after=3)
        with pytest.raises(RetryAfter) as info:
            await bot.send_message("@alerts", "x")
        assert info.value.retry_after in (3, timedelta(seconds=3))
        await bot.send_message(-1001234567890, "other chat is not limited")

        tg.fail(status=500)
        with pytest.raises(NetworkError):
            await bot.send_message("@alerts", "x")
        tg.fail(drop=True)
        with pytest.raises(NetworkError):
            await bot.send_message("@alerts", "x")
        await bot.send_message("@alerts", "recovered")
    assert tg.sent[-1].plain == "recovered"


async def test_wrong_token(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=tg.base_url) as bot:
            await bot.get_me()


@pytest.mark.parametrize("encoding", ["json", "form", "multipart"])
async def test_body_encodings(tg: FakeTelegram, encoding: str) -> None:
    url = f"{tg.base_url}{TOKEN}/sendMessage"
    params = {"chat_id": "@alerts", "text": "<b>hi</b>", "parse_mode": "HTML"}
    async with aiohttp.ClientSession() as session:
        if encoding == "json":
            resp = await session.post(url, json=params)
        elif encoding == "form":
            resp = await session.post(url, data=params)
        else:
            form = aiohttp.FormData()
            for k, v in params.items():
                form.add_field(k, v, content_type="text/plain")
            form.add_field("dummy", b"bytes", filename="f.bin")  # forces multipart
            resp = await session.post(url, data=form)
        assert resp.status == 200, await resp.text()
        resp.release()
    assert tg.sent[0].plain == "hi"


def test_wait_for_has_a_deadline(tg: FakeTelegram) -> None:
    with pytest.raises(AssertionError, match="timed out"):
        tg.wait_for(1, timeout=0.2)
