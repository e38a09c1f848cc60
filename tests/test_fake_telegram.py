"""The fake Bot API server must behave like Telegram for the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from fake_telegram import FakeTelegram, TelegramHTMLError, parse_html
from helpers import TOKEN
from telegram import Bot, LinkPreviewOptions
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter

CHANNEL = -1001234567890


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN, chats=("@alerts", CHANNEL), forbidden=("@readonly",)) as server:
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=tg.base_url) as b:
        yield b


async def post(tg: FakeTelegram, method: str, token: str = TOKEN, **kw: Any) -> tuple[int, dict[str, Any]]:
    """POST to the fake directly (aiohttp, not PTB) and return the status and JSON body."""
    async with aiohttp.ClientSession() as session, session.post(f"{tg.base_url}{token}/{method}", **kw) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize(
    "text, plain",
    [
        ("plain", "plain"),
        ("<b>bold</b> &amp; &lt;tag&gt; &quot;q&quot; &#39;&#x41;", 'bold & <tag> "q" \'A'),
        ('<a href="https://x.example/?a=1&amp;b=2">link</a> <a>bare</a>', "link bare"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler><I><u>x</u></i>', "stx"),
        ('<blockquote expandable>q</blockquote><pre><code class="language-py">c</code></pre>', "qc"),
        ('He said "yes" > no', 'He said "yes" > no'),  # Telegram keeps a bare ">" and '"'
        ("<b>x</>", "x"),  # "</>" closes the open tag
    ],
)
def test_html_accepted(text: str, plain: str) -> None:
    assert parse_html(text) == plain


@pytest.mark.parametrize(
    "text, error",
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("إيران <br>", 'Unsupported start tag "br" at byte offset 11'),  # offsets count UTF-8 bytes
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("Q&A", 'Unescaped "&"'),  # Telegram would keep it; the fake refuses on purpose
        ("&nbsp;", 'Unescaped "&"'),
        ('<a href="/?a=1&b=2">x</a>', 'Unescaped "&"'),
    ],
)
def test_html_refused(text: str, error: str) -> None:
    with pytest.raises(TelegramHTMLError) as info:
        parse_html(text)
    assert str(info.value).startswith(error)


async def test_get_me_and_an_escaped_html_message(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "fake_bot"
    line = 'Trump: "A < B" & more'
    msg = await bot.send_message(
        "@alerts",
        html.escape(line),
        parse_mode="HTML",
        disable_notification=True,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    [sent] = tg.sent
    assert (sent.chat_id, sent.plain, sent.parse_mode) == ("@alerts", line, "HTML")
    assert sent.text == html.escape(line) and sent.disable_notification and sent.link_preview_disabled
    assert sent.method == "sendMessage" and msg.message_id == sent.message_id and msg.text == line
    assert msg.chat.username == "alerts" and msg.chat.id == sent.numeric_chat_id < 0
    # The "@name" and the numeric id the fake assigned name the same chat.
    await bot.send_message(msg.chat.id, "by number")
    assert [s.plain for s in tg.sent_to(msg.chat.id)] == [line, "by number"] == [s.plain for s in tg.sent_to("@alerts")]
    await bot.send_message(CHANNEL, "plain text")
    [other] = tg.sent_to(str(CHANNEL))
    assert (other.chat_id, other.parse_mode, other.disable_notification) == (str(CHANNEL), None, False)


@pytest.mark.parametrize("text", ["<foo>", "<b>unclosed", "a < b", "Q&A"])
async def test_bad_html_raises_bad_request(tg: FakeTelegram, bot: Bot, text: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message("@alerts", text, parse_mode="HTML")
    await bot.send_message("@alerts", text)  # the same text without parse_mode is plain text
    assert [s.plain for s in tg.sent] == [text]


async def test_unknown_and_forbidden_chats(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"^Chat not found$"):  # PTB drops "Bad Request: ", capitalizes
        await bot.send_message("@nobody", "x")
    with pytest.raises(Forbidden, match="bot is not a member of the channel chat"):
        await bot.send_message("@readonly", "x")
    assert tg.sent == [] and [(c.chat_id, c.status) for c in tg.log[1:]] == [("@nobody", 400), ("@readonly", 403)]


async def test_wrong_token(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=tg.base_url):
            pass
    assert await post(tg, "getMe", token="999:WRONG") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert TOKEN not in repr(tg.log) and tg.requests == 2


async def test_length_and_empty_text(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message("@alerts", "x" * 4097)
    with pytest.raises(BadRequest, match="Message is too long"):  # UTF-16 units: an emoji counts 2
        await bot.send_message("@alerts", "x" * 4095 + "😀")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message("@alerts", "<b> </b>", parse_mode="HTML")
    await bot.send_message("@alerts", "x" * 4096)
    await bot.send_message("@alerts", "<b>" + "&lt;" * 4096 + "</b>", parse_mode="HTML")  # counted after parsing
    assert [len(s.plain) for s in tg.sent] == [4096, 4096]


async def test_edit_message_text(tg: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message("@alerts", "first")
    await bot.send_message("@alerts", "second")
    edited = await bot.edit_message_text(
        "<i>edited</i>", chat_id="@alerts", message_id=first.message_id, parse_mode="HTML"
    )
    assert not isinstance(edited, bool) and edited.text == "edited" and edited.edit_date is not None
    assert [(s.plain, s.method) for s in tg.sent] == [("edited", "editMessageText"), ("second", "sendMessage")]
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("<i>edited</i>", chat_id="@alerts", message_id=first.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHANNEL, message_id=first.message_id)


async def test_429_for_one_chat(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail("@alerts", status=429, retry_after=3, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as info:
            await bot.send_message("@alerts", "x")
        assert info.value.retry_after in (3, timedelta(seconds=3))  # timedelta with PTB_TIMEDELTA=1
        await bot.send_message(CHANNEL, "other chats are not limited")
    await bot.send_message("@alerts", "after the pause")
    assert [s.plain for s in tg.sent_to("@alerts")] == ["after the pause"] and len(tg.sent) == 3
    assert [c.status for c in tg.log if c.chat_id == "@alerts"] == [429, 429, 200]


async def test_error_bodies_are_telegrams(tg: FakeTelegram) -> None:
    tg.fail(status=429, retry_after=3)
    assert await post(tg, "sendMessage", json={"chat_id": "@alerts", "text": "x"}) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        },
    )
    tg.fail(status=500)
    assert await post(tg, "sendMessage", json={"chat_id": "@alerts", "text": "x"}) == (
        500,
        {"ok": False, "error_code": 500, "description": "Internal Server Error"},
    )
    assert await post(tg, "sendMessage", json={"chat_id": "@nobody", "text": "x"}) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )
    assert await post(tg, "noSuchMethod") == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_500_and_dropped_connections_are_network_errors(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail(status=500)
    await bot.get_me()  # a fault is for sendMessage unless told otherwise
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message("@alerts", "x")
    tg.fail(drop=True)
    with pytest.raises(NetworkError):  # httpx.RemoteProtocolError: Server disconnected...
        await bot.send_message("@alerts", "x")
    tg.down = True
    with pytest.raises(NetworkError):
        await bot.get_me()
    tg.down = False
    await bot.send_message("@alerts", "recovered")
    assert [s.plain for s in tg.sent] == ["recovered"]
    assert [c.status for c in tg.log[1:]] == [200, 500, 0, 0, 200] and tg.requests == 6


@pytest.mark.parametrize("encoding", ["json", "form", "multipart"])
async def test_body_encodings(tg: FakeTelegram, encoding: str) -> None:
    params: dict[str, Any] = {
        "chat_id": CHANNEL,
        "text": "<b>12</b>",
        "parse_mode": "HTML",
        "disable_notification": True,
        "link_preview_options": {"is_disabled": True},
    }
    # As PTB does in forms: strings as they are, everything else JSON-encoded.
    fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    if encoding == "json":
        kw: dict[str, Any] = {"json": params}
    elif encoding == "form":
        kw = {"data": fields}
    else:
        form = aiohttp.FormData()
        for key, value in fields.items():
            form.add_field(key, value)
        form.add_field("thumbnail", b"bytes", filename="f.bin")  # forces multipart/form-data
        kw = {"data": form}
    status, body = await post(tg, "sendMessage", **kw)
    assert status == 200 and body["result"]["text"] == "12" and body["result"]["chat"]["id"] == CHANNEL
    [sent] = tg.sent
    assert (sent.chat_id, sent.text, sent.plain) == (str(CHANNEL), "<b>12</b>", "12")
    assert sent.disable_notification and sent.link_preview_disabled


def test_wait_for_has_a_deadline(tg: FakeTelegram) -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"timed out after 0\.2s.*have 0"):
        tg.wait_for(1, timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 5
    assert tg.wait_for(lambda sent: sent == [], timeout=0.2) == []


async def test_await_for_leaves_the_loop_running(tg: FakeTelegram, bot: Bot) -> None:
    # Were await_for to block this loop, the send could not run and await_for would time out.
    sent, _ = await asyncio.gather(
        tg.await_for(lambda s: any(m.plain == "hi" for m in s), timeout=10), bot.send_message("@alerts", "hi")
    )
    assert [m.plain for m in sent] == ["hi"]


async def test_get_updates_long_polls_confirms_by_offset_and_refuses_overlap(tg: FakeTelegram, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()  # nothing: the long poll waits its timeout
    assert time.monotonic() - started >= 0.9
    first = tg.push(7, "/start", username="someone", language_code="ar")
    tg.push(7, None)  # a sticker
    tg.push(8, "/help", chat_id=-100555, chat_type="supergroup")
    updates = await bot.get_updates(timeout=5)
    assert [u.update_id for u in updates] == [first, first + 1, first + 2]
    assert updates[0].message is not None and updates[0].message.text == "/start"
    user = updates[0].message.from_user
    assert user is not None and (user.id, user.username, user.language_code) == (7, "someone", "ar")
    assert updates[1].message is not None and updates[1].message.sticker is not None
    assert updates[2].message is not None and updates[2].message.chat.type == "supergroup"
    assert len(await bot.get_updates(offset=first + 2)) == 1  # what came before the offset is confirmed, gone
    assert tg.confirmed() == first + 2
    waiting = asyncio.ensure_future(bot.get_updates(offset=first + 3, timeout=5))
    await asyncio.sleep(0.3)
    status, body = await post(tg, "getUpdates", json={"offset": first + 3})  # PTB itself would queue it
    assert (status, body["error_code"]) == (409, 409)
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")
    edited = tg.push(7, "/watch x", edit_of=5)
    [update] = await waiting  # a long poll answers as soon as an update comes
    assert update.update_id == edited and update.edited_message is not None
    message = await bot.send_message(7, "<b>hi</b>", parse_mode="HTML")  # the user's private chat
    assert message.chat.type == "private" and tg.sent_to(7)[0].plain == "hi"
    tg.blocked.add(7)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(7, "again")
    tg.deactivated.add(8)
    tg.push(8, "/start")
    with pytest.raises(Forbidden, match="user is deactivated"):
        await bot.send_message(8, "hello")


async def test_known_readers_and_a_latency() -> None:
    with FakeTelegram(token=TOKEN, readers=[41, 42], latency=0.2) as tg:
        async with Bot(TOKEN, base_url=tg.base_url) as bot:
            started = time.monotonic()
            messages = await asyncio.gather(*(bot.send_message(uid, "hi") for uid in (41, 42)))
            assert 0.2 <= time.monotonic() - started < 0.4 * 2  # held back once each, side by side
            assert [m.chat.type for m in messages] == ["private", "private"]
            assert sorted(s.numeric_chat_id for s in tg.sent) == [41, 42]
            assert all(s.at < time.monotonic() - 0.15 for s in tg.sent)  # recorded on arrival, not on answer
            assert tg.updates == []  # no update for the bot to answer
