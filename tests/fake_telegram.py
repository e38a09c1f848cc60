"""A local fake of the Telegram Bot API that the real python-telegram-bot reaches via base_url.

It behaves like Telegram where monitor depends on it: it checks the token, knows which chats
exist, refuses HTML that Telegram's parser refuses, enforces the 4096-character limit, and can be
told to answer 429 with retry_after, 500, or to drop connections.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sites import BackgroundServer

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                "blockquote", "span", "tg-spoiler", "tg-emoji"}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^>]*)?)>")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
MAX_TEXT = 4096


class TelegramHTMLError(ValueError):
    """Text that Telegram's HTML parser would refuse."""


def parse_html(text: str) -> str:
    """Return the plain text of Telegram-flavoured HTML, or raise TelegramHTMLError as Telegram would."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    offset = lambda: len(text[:i].encode("utf-8"))  # noqa: E731 - Telegram reports byte offsets
    while i < len(text):
        char = text[i]
        if char == "<":
            m = _TAG.match(text, i)
            if m is None:
                raise TelegramHTMLError(f"Can't parse entities: unexpected character at byte offset {offset()}")
            closing, name, attrs = m.group(1) == "/", m.group(2).lower(), m.group(3)
            if name not in ALLOWED_TAGS:
                kind = "end" if closing else "start"
                raise TelegramHTMLError(f'Can\'t parse entities: unsupported {kind} tag "{name}" at byte offset {offset()}')
            if closing:
                if not stack or stack[-1] != name:
                    raise TelegramHTMLError(f'Can\'t parse entities: unmatched end tag at byte offset {offset()}, expected "</{stack[-1] if stack else ""}>", found "</{name}>"')
                stack.pop()
            else:
                if name == "span" and "tg-spoiler" not in attrs:
                    raise TelegramHTMLError(f'Can\'t parse entities: unsupported start tag "span" at byte offset {offset()}')
                if name == "a" and not re.search(r'href\s*=\s*"[^"]*"', attrs):
                    raise TelegramHTMLError(f"Can't parse entities: expected href attribute at byte offset {offset()}")
                stack.append(name)
            i = m.end()
        elif char == "&":
            m = _ENTITY.match(text, i)
            # Telegram accepts only these entities; a bare "&" must be written &amp;.
            if m is None:
                raise TelegramHTMLError(f"Can't parse entities: unsupported HTML entity at byte offset {offset()}")
            out.append(html.unescape(m.group()))
            i = m.end()
        else:
            out.append(char)
            i += 1
    if stack:
        raise TelegramHTMLError(f'Can\'t parse entities: can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Sent:
    """A message Telegram accepted (or the latest text of an edited one)."""

    chat_id: str
    text: str
    plain: str
    parse_mode: str | None
    disable_notification: bool
    link_preview_disabled: bool
    message_id: int
    method: str
    at: float  # time.monotonic() on arrival


@dataclass
class Fault:
    chat_id: str | None
    status: int
    retry_after: int
    times: int
    drop: bool


class FakeTelegram(BackgroundServer):
    """The fake Bot API server; use as a context manager."""

    def __init__(self, token: str = "123456:TEST-token-not-real", chats: Iterable[str | int] = ("@alerts",),
                 forbidden: Iterable[str | int] = ()) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        super().__init__(app)
        self.token = token
        self.chats = {str(c): -1001000000000 - n if str(c).startswith("@") else int(c) for n, c in enumerate(chats)}
        self.forbidden = {str(c) for c in forbidden}
        self.down = False
        self.log: list[tuple[str, str | None, int, float]] = []  # (method, chat_id, status, monotonic)
        self._sent: list[Sent] = []
        self._faults: list[Fault] = []
        self._cond = threading.Condition()
        self._next_id = 1

    def __enter__(self) -> FakeTelegram:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def sent(self) -> list[Sent]:
        with self._cond:
            return list(self._sent)

    def sent_to(self, chat_id: str | int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == str(chat_id)]

    @property
    def requests(self) -> int:
        with self._cond:
            return len(self.log)

    def fail(self, chat_id: str | int | None = None, *, status: int = 429, retry_after: int = 3,
             times: int = 1, drop: bool = False) -> None:
        """Answer the next `times` sendMessage calls (to chat_id, or any) with an error."""
        with self._cond:
            self._faults.append(Fault(None if chat_id is None else str(chat_id), status, retry_after, times, drop))

    def wait_for(self, what: int | Callable[[list[Sent]], bool], timeout: float = 10.0) -> list[Sent]:
        """Block until `what` messages arrived (or the predicate holds); AssertionError at the deadline."""
        test = (lambda sent: len(sent) >= what) if isinstance(what, int) else what
        with self._cond:
            if not self._cond.wait_for(lambda: test(self._sent), timeout=timeout):
                raise AssertionError(f"timed out after {timeout}s waiting for messages; have {len(self._sent)}: "
                                     f"{[s.plain[:60] for s in self._sent]}")
            return list(self._sent)

    async def await_for(self, what: int | Callable[[list[Sent]], bool], timeout: float = 10.0) -> list[Sent]:
        """wait_for, without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_for, what, timeout)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await _params(request)
        chat = params.get("chat_id")
        chat = None if chat is None else str(chat)
        with self._cond:
            fault = self._take_fault(method, chat)
        if self.down or (fault is not None and fault.drop):
            self._record(method, chat, 0)
            assert request.transport is not None
            request.transport.abort()  # like a connection that dies under the request
            return web.Response()
        if request.match_info["token"] != self.token:
            return self._answer(method, chat, 401, "Unauthorized")
        if fault is not None:
            if fault.status == 429:
                return self._answer(method, chat, 429, f"Too Many Requests: retry after {fault.retry_after}",
                                    parameters={"retry_after": fault.retry_after})
            return self._answer(method, chat, fault.status, "Internal Server Error" if fault.status >= 500 else "Bad Request")
        if method == "getMe":
            return self._answer(method, chat, 200, result={"id": 123456, "is_bot": True, "first_name": "Fake",
                                                          "username": "fake_bot"})
        if method not in ("sendMessage", "editMessageText"):
            return self._answer(method, chat, 404, "Not Found: method not found")
        if chat is None or chat not in self.chats:
            return self._answer(method, chat, 400, "Bad Request: chat not found")
        if chat in self.forbidden:
            return self._answer(method, chat, 403, "Forbidden: bot is not a member of the channel chat")
        return self._message(method, chat, params)

    def _message(self, method: str, chat: str, params: dict[str, Any]) -> web.Response:
        text = str(params.get("text") or "")
        parse_mode = params.get("parse_mode")
        try:
            plain = parse_html(text) if str(parse_mode).upper() == "HTML" else text
        except TelegramHTMLError as exc:
            return self._answer(method, chat, 400, f"Bad Request: {exc}")
        if not plain.strip():
            return self._answer(method, chat, 400, "Bad Request: message text is empty")
        if len(plain) > MAX_TEXT:
            return self._answer(method, chat, 400, "Bad Request: message is too long")
        preview = params.get("link_preview_options") or {}
        with self._cond:
            if method == "editMessageText":
                message_id = int(params.get("message_id") or 0)
                index = next((n for n, s in enumerate(self._sent) if s.message_id == message_id and s.chat_id == chat), None)
                if index is None:
                    return self._answer(method, chat, 400, "Bad Request: message to edit not found")
            else:
                message_id, index = self._next_id, None
                self._next_id += 1
            sent = Sent(chat, text, plain, parse_mode, bool(params.get("disable_notification")),
                        bool(preview.get("is_disabled")) or bool(params.get("disable_web_page_preview")),
                        message_id, method, time.monotonic())
            if index is None:
                self._sent.append(sent)
            else:
                self._sent[index] = sent
            self._cond.notify_all()
        numeric = self.chats[chat]
        return self._answer(method, chat, 200, result={
            "message_id": message_id, "date": int(time.time()), "text": plain,
            "chat": {"id": numeric, "type": "channel", "title": chat, **({"username": chat[1:]} if chat.startswith("@") else {})},
        })

    def _take_fault(self, method: str, chat: str | None) -> Fault | None:
        if method not in ("sendMessage", "editMessageText"):
            return None
        for fault in self._faults:
            if fault.times > 0 and fault.chat_id in (None, chat):
                fault.times -= 1
                return fault
        return None

    def _record(self, method: str, chat: str | None, status: int) -> None:
        with self._cond:
            self.log.append((method, chat, status, time.monotonic()))

    def _answer(self, method: str, chat: str | None, status: int, description: str = "", *,
                result: Any = None, parameters: dict[str, Any] | None = None) -> web.Response:
        self._record(method, chat, status)
        if status == 200:
            return web.json_response({"ok": True, "result": result})
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)


async def _params(request: web.Request) -> dict[str, Any]:
    """Read Bot API parameters from a JSON, form-encoded or multipart body (or the query string)."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
    elif request.can_read_body:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = _json_value(key, value)
    return params


def _json_value(key: str, value: str) -> Any:
    """Form values of non-string parameters arrive JSON-encoded (as python-telegram-bot sends them)."""
    if key in ("text", "chat_id", "parse_mode"):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
