"""A local fake of the Telegram Bot API that the real python-telegram-bot reaches via base_url.

Like Telegram it checks the token and the chat, parses HTML as TDLib's parse_html does (with its
error messages), limits text to 4096, and can answer 429/5xx or drop connections on request. It
runs in a thread of its own, for sync tests (monitor in a subprocess) and async ones (PTB) alike.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, NamedTuple

from aiohttp import web
from sites import BackgroundServer

MAX_TEXT = 4096  # in UTF-16 code units, as Telegram measures entities (the stricter reading)
TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "blockquote",
        "span",
        "tg-spoiler",
        "tg-emoji",
    }
)
_SPACE = " \t\n\r\v\f\0"  # TDLib's is_space; "\0" also stands for the end of the text
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)(?![A-Za-z])|#([0-9]+)|#x([0-9a-fA-F]+));?")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
# Parameters that are strings; PTB JSON-encodes every other value in form bodies ("true", "{...}").
_STRINGS = frozenset({"chat_id", "text", "parse_mode", "business_connection_id", "message_effect_id"})
METHODS = {m.lower(): m for m in ("getMe", "sendMessage", "editMessageText", "getUpdates")}
BOT = {"id": 123456, "is_bot": True, "first_name": "Fake", "username": "fake_bot"}


class TelegramHTMLError(ValueError):
    """HTML that Telegram refuses; the message is Telegram's, after "can't parse entities: "."""


def _entity(text: str, i: int) -> tuple[str, int] | None:
    """Decode a reference at text[i] ("&") as TDLib does (";" optional), or None if it is none."""
    m = _ENTITY.match(text, i)
    if m is None:
        return None
    if m.group(1):
        return _NAMED[m.group(1)], m.end()
    code = int(m.group(2), 10) if m.group(2) else int(m.group(3), 16)
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), m.end()


def parse_html(text: str) -> str:
    """Return the plain text of Telegram HTML, or raise TelegramHTMLError worded as Telegram does."""

    def at(k: int) -> str:  # TDLib reads a C string: "\0" past the end
        return text[k] if k < len(text) else "\0"

    def refuse(message: str, pos: int | None = None) -> TelegramHTMLError:
        where = "" if pos is None else f" at byte offset {len(text[:pos].encode())}"
        return TelegramHTMLError(message + where)

    out: list[str] = []
    open_tags: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "&":
            decoded = _entity(text, i)
            # TDLib keeps an "&" that starts no entity (and &nbsp; etc.) as literal text, but the
            # Bot API docs say it must be written &amp;. The fake is stricter on purpose, to catch
            # text that monitor forgot to escape.
            if decoded is None:
                raise refuse('Unescaped "&" (write &amp;; Telegram would keep it literally)', i)
            out.append(decoded[0])
            i = decoded[1]
        elif text[i] != "<":  # a bare ">" or '"' is plain text for Telegram too
            out.append(text[i])
            i += 1
        elif at(i + 1) == "/":
            if not open_tags:
                raise refuse("Unexpected end tag", i)
            j = i + 2
            while at(j) not in _SPACE and at(j) != ">":
                j += 1
            name = text[i + 2 : j].lower()
            while j < len(text) and at(j) in _SPACE:
                j += 1
            if at(j) != ">":
                raise refuse("Unclosed end tag", i)
            if name and name != open_tags[-1]:  # "</>" closes whatever is open
                raise refuse(
                    f"Unmatched end tag at byte offset {len(text[:i].encode())}, "
                    f'expected "</{open_tags[-1]}>", found "</{name}>"'
                )
            open_tags.pop()
            i = j + 1
        else:
            name, i = _start_tag(text, i, at, refuse)
            open_tags.append(name)
    if open_tags:
        raise refuse(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(out)


def _start_tag(
    text: str, begin: int, at: Callable[[int], str], refuse: Callable[..., TelegramHTMLError]
) -> tuple[str, int]:
    """Read the start tag at text[begin] ("<"); return its name and the index after its ">"."""
    j = begin + 1
    while at(j) not in _SPACE and at(j) != ">":
        j += 1
    if j >= len(text):
        raise refuse("Unclosed start tag", begin)
    name = text[begin + 1 : j].lower()
    if name not in TAGS:
        raise refuse(f'Unsupported start tag "{name}"', begin)
    attrs: dict[str, str] = {}
    while at(j) != ">":
        while j < len(text) and at(j) in _SPACE:
            j += 1
        if at(j) == ">":
            break
        start = j
        while at(j) not in _SPACE and at(j) not in "=>/\"'":
            j += 1
        attr = text[start:j]
        if not attr:
            raise refuse(f'Empty attribute name in the tag "{name}"', begin)
        while j < len(text) and at(j) in _SPACE:
            j += 1
        if at(j) != "=":  # a valueless attribute, e.g. <blockquote expandable>
            if j >= len(text):
                raise refuse("Unclosed start tag", begin)
            attrs[attr] = ""
            continue
        j += 1
        while j < len(text) and at(j) in _SPACE:
            j += 1
        quote = at(j)
        if quote in "\"'" and j < len(text):
            value, j = _quoted(text, j, refuse)
        else:
            start = j
            while (at(j).isascii() and at(j).isalnum()) or at(j) in ".-":
                j += 1
            if at(j) not in _SPACE and at(j) != ">":
                raise refuse("Unexpected end of name token", start)
            value = text[start:j].lower()
        if j >= len(text):
            raise refuse("Unclosed start tag", begin)
        attrs[attr] = value
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise refuse('Tag "span" must have class "tg-spoiler"', begin)
    if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
        raise refuse("Invalid custom emoji identifier specified")
    return name, j + 1


def _quoted(text: str, j: int, refuse: Callable[..., TelegramHTMLError]) -> tuple[str, int]:
    """Read the quoted attribute value at text[j], decoding references; return it and the index after."""
    quote, j, value = text[j], j + 1, []
    while j < len(text) and text[j] != quote:
        decoded = _entity(text, j) if text[j] == "&" else (text[j], j + 1)
        if decoded is None:  # stricter than TDLib, as in text: an href needs &amp; too
            raise refuse('Unescaped "&" (write &amp;; Telegram would keep it literally)', j)
        value.append(decoded[0])
        j = decoded[1]
    return "".join(value), j + 1


@dataclass(frozen=True, slots=True)
class Sent:
    """A message Telegram accepted (its latest text, if it was edited)."""

    chat_id: str  # as the client gave it: "@alerts" or "-1001234567890"
    text: str  # as sent, with markup
    parse_mode: str | None
    disable_notification: bool
    link_preview_disabled: bool
    message_id: int
    method: str  # sendMessage, or editMessageText once edited
    plain: str  # the text after entity parsing, as users see it
    numeric_chat_id: int  # the chat's id, also for "@name" chats
    at: float  # time.monotonic() on arrival


class Call(NamedTuple):
    """One request as the fake saw it (never with the token); status 0 = connection dropped."""

    method: str
    chat_id: str | None
    status: int
    at: float


@dataclass
class Fault:
    """An injected failure for the next `times` calls of `method` to one chat (or any)."""

    chat_id: str | None
    method: str
    status: int
    description: str
    retry_after: int
    times: int
    drop: bool
    after: int = 0  # matching calls let through before this fault starts
    bogus: bool = False  # answer 200 with a result that is not what the method returns


class FakeTelegram(BackgroundServer):
    """The fake Bot API server on 127.0.0.1; start()/stop() or use as a context manager."""

    def __init__(
        self,
        token: str = "123456:TEST-token-not-real",
        chats: Iterable[str | int] = ("@alerts",),
        forbidden: Iterable[str | int] = (),
        *,
        readers: Iterable[int] = (),
        latency: float = 0.0,
    ) -> None:
        """readers: users whose private chats with the bot exist (they wrote to it before), with no update to
        answer. latency: seconds every answer is held back, as a Bot API that far away would; a message is
        recorded (Sent.at) when its request arrives."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{path:.*}", self._not_found)
        super().__init__(app)
        self.token = token
        self.forbidden = {str(c) for c in forbidden}  # known chats where the bot may not post
        keys = dict.fromkeys([*map(str, chats), *self.forbidden])
        self.chats: dict[str, int] = {
            k: -1009000000000 - n if k.startswith("@") else int(k) for n, k in enumerate(keys)
        }
        self.down = False  # True: every connection is dropped unanswered
        self.log: list[Call] = []
        self._sent: list[Sent] = []
        self._faults: list[Fault] = []
        self._cond = threading.Condition()
        self._next_id = 1
        # The bot's side: updates that users send it (push()), read with getUpdates, and their private chats.
        self.users: dict[int, dict[str, Any]] = {}  # user id -> its User object
        self.blocked: set[int] = set()  # users who blocked the bot: 403 to sendMessage
        self.deactivated: set[int] = set()  # deleted accounts: 403 "user is deactivated"
        self.updates: list[dict[str, Any]] = []  # not yet confirmed by an offset
        self.polls: list[tuple[int | None, float]] = []  # (offset, timeout) of each getUpdates answered
        self._next_update = 1
        self._polling = 0  # getUpdates under way
        self._closing = False
        self.latency = latency
        for user_id in readers:
            self.users[user_id] = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
            self.chats.setdefault(str(user_id), user_id)

    def __enter__(self) -> FakeTelegram:
        self.start()
        return self

    def stop(self) -> None:
        self._closing = True  # long polls under way answer now
        super().stop()

    def push(
        self,
        user_id: int,
        text: str | None,
        *,
        language_code: str | None = "en",
        username: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        edit_of: int | None = None,
    ) -> int:
        """A user writes to the bot (text None: a sticker); return the update's id. chat_id: a group's."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        chat = (
            {"id": user_id, "type": "private", "first_name": user["first_name"]}
            if chat_id is None
            else {"id": chat_id, "type": chat_type, "title": f"Group {chat_id}"}
        )
        with self._cond:
            self.users[user_id] = user
            self.chats.setdefault(str(user_id), user_id)
            update_id, self._next_update = self._next_update, self._next_update + 1
            message: dict[str, Any] = {"message_id": 100000 + update_id, "date": int(time.time()), "chat": chat}
            message["from"] = user
            if text is None:
                message["sticker"] = {
                    "file_id": "s",
                    "file_unique_id": "s",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                }
            else:
                message["text"] = text
            if edit_of is not None:
                message["message_id"], message["edit_date"] = edit_of, int(time.time())
            key = "message" if edit_of is None else "edited_message"
            self.updates.append({"update_id": update_id, key: message})
            self._cond.notify_all()
        return update_id

    def confirmed(self) -> int:
        """The first update not yet confirmed by a getUpdates offset (all pushed: the next id)."""
        with self._cond:
            return self.updates[0]["update_id"] if self.updates else self._next_update

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        """Long polling as Telegram does it: an offset confirms the updates before it; 409 when two overlap."""
        with self._cond:
            if self._polling:
                return self._answer(
                    "getUpdates",
                    None,
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            self._polling += 1
        try:
            offset = params.get("offset")
            timeout = float(params.get("timeout") or 0)
            limit = int(params.get("limit") or 100)
            deadline = time.monotonic() + timeout
            while True:
                with self._cond:
                    if offset is not None:
                        self.updates = [u for u in self.updates if u["update_id"] >= int(offset)]
                    found = self.updates[:limit]
                if found or time.monotonic() >= deadline or self._closing:
                    break
                await asyncio.sleep(0.02)
            with self._cond:
                self.polls.append((None if offset is None else int(offset), timeout))
            return self._answer("getUpdates", None, 200, result=found)
        finally:
            with self._cond:
                self._polling -= 1

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The value for Bot(base_url=...) and api_base_url: PTB appends the token, then /method."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def sent(self) -> list[Sent]:
        """The messages now in the chats, in the order they were sent."""
        with self._cond:
            return list(self._sent)

    def sent_to(self, chat_id: str | int) -> list[Sent]:
        """The messages in one chat, named by "@name" or by its numeric id."""
        number = self.chats.get(self._resolve(str(chat_id)) or "")
        return [s for s in self.sent if s.numeric_chat_id == number]

    @property
    def requests(self) -> int:
        """How many method calls arrived, refused and dropped ones included."""
        with self._cond:
            return len(self.log)

    def fail(
        self,
        chat_id: str | int | None = None,
        *,
        status: int = 429,
        retry_after: int = 3,
        times: int = 1,
        drop: bool = False,
        method: str = "sendMessage",
        after: int = 0,
        bogus: bool = False,
    ) -> None:
        """Answer the next `times` calls of `method` to chat_id (or any chat) with an error, or drop them.

        after: let that many matching calls through first. bogus: answer {"ok": true, "result": {}},
        a 200 that is not a Message (as a broken proxy or a Bot API change might).
        """
        chat = None if chat_id is None else self._resolve(str(chat_id)) or str(chat_id)
        description = HTTPStatus(status).phrase  # Telegram's words for a 5xx, e.g. "Internal Server Error"
        with self._cond:
            self._faults.append(Fault(chat, method, status, description, retry_after, times, drop, after, bogus))

    def wait_for(self, what: int | Callable[[list[Sent]], bool], timeout: float = 10.0) -> list[Sent]:
        """Block until `what` messages arrived (or the predicate holds); AssertionError at the deadline."""
        test = (lambda sent: len(sent) >= what) if isinstance(what, int) else what
        with self._cond:
            if not self._cond.wait_for(lambda: test(list(self._sent)), timeout=timeout):
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what!r}; have {len(self._sent)}: "
                    f"{[(s.chat_id, s.plain[:60]) for s in self._sent]}"
                )
            return list(self._sent)

    async def await_for(self, what: int | Callable[[list[Sent]], bool], timeout: float = 10.0) -> list[Sent]:
        """wait_for, in a worker thread so the caller's event loop keeps running."""
        return await asyncio.to_thread(self.wait_for, what, timeout)

    def _resolve(self, chat: str) -> str | None:
        """Return the known chat that chat_id names ("@name", its numeric id, or a numeric chat)."""
        if chat in self.chats:
            return chat
        return next((key for key, number in self.chats.items() if str(number) == chat), None)

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._answer("?", None, 404, "Not Found")  # like Telegram for paths outside /bot<token>/

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response = await self._reply(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        return response

    async def _reply(self, request: web.Request) -> web.StreamResponse:
        method = METHODS.get(request.match_info["method"].lower(), request.match_info["method"])
        params = await _params(request)
        chat = None if params.get("chat_id") is None else str(params["chat_id"])
        known = self._resolve(chat) if chat else None
        token = request.match_info["token"]
        with self._cond:
            fault = None if token != self.token else self._take_fault(method, known or chat)
        if self.down or (fault and fault.drop):
            self._record(method, chat, 0)
            assert request.transport is not None
            request.transport.abort()  # like a connection that dies under the request
            return web.Response()
        if token != self.token:  # Telegram: 401 for a wrong token, 404 for a malformed one
            return self._answer(
                method, chat, *((401, "Unauthorized") if _TOKEN_SHAPE.fullmatch(token) else (404, "Not Found"))
            )
        if method not in METHODS.values():
            return self._answer(method, chat, 404, "Not Found")
        if fault and fault.bogus:
            return self._answer(method, chat, 200, result={})
        if fault and fault.status == 429:
            return self._answer(
                method,
                chat,
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                parameters={"retry_after": fault.retry_after},
            )
        if fault:
            return self._answer(method, chat, fault.status, fault.description)
        if method == "getMe":
            return self._answer(method, chat, 200, result=BOT)
        if method == "getUpdates":
            return await self._get_updates(params)
        if not known or not chat:
            return self._answer(method, chat, 400, "Bad Request: chat not found")
        if known in self.forbidden:
            return self._answer(method, chat, 403, "Forbidden: bot is not a member of the channel chat")
        if known.isdigit() and int(known) in self.blocked:
            return self._answer(method, chat, 403, "Forbidden: bot was blocked by the user")
        if known.isdigit() and int(known) in self.deactivated:
            return self._answer(method, chat, 403, "Forbidden: user is deactivated")
        return self._message(method, chat, known, params)

    def _message(self, method: str, chat: str, known: str, params: dict[str, Any]) -> web.Response:
        text, parse_mode = str(params.get("text") or ""), params.get("parse_mode")
        try:
            plain = parse_html(text) if str(parse_mode).lower() == "html" else text
        except TelegramHTMLError as exc:
            return self._answer(method, chat, 400, f"Bad Request: can't parse entities: {exc}")
        if not plain.strip():
            return self._answer(method, chat, 400, "Bad Request: message text is empty")
        if len(plain.strip().encode("utf-16-le")) // 2 > MAX_TEXT:
            return self._answer(method, chat, 400, "Bad Request: message is too long")
        preview = params.get("link_preview_options")
        no_preview = (isinstance(preview, dict) and _flag(preview.get("is_disabled"))) or _flag(
            params.get("disable_web_page_preview")
        )
        with self._cond:
            number = self.chats[known]
            if method == "editMessageText":
                message_id = int(params.get("message_id") or 0)
                index = next(
                    (n for n, s in enumerate(self._sent) if s.message_id == message_id and s.numeric_chat_id == number),
                    None,
                )
                if index is None:
                    return self._answer(method, chat, 400, "Bad Request: message to edit not found")
                if (self._sent[index].text, self._sent[index].parse_mode) == (text, parse_mode):
                    return self._answer(
                        method,
                        chat,
                        400,
                        "Bad Request: message is not modified: specified new "
                        "message content and reply markup are exactly the same as a current "
                        "content and reply markup of the message",
                    )
            else:
                message_id, index = self._next_id, None
                self._next_id += 1
            sent = Sent(
                chat,
                text,
                parse_mode,
                _flag(params.get("disable_notification")),
                no_preview,
                message_id,
                method,
                plain,
                number,
                time.monotonic(),
            )
            if index is None:
                self._sent.append(sent)
            else:
                self._sent[index] = sent
            self._cond.notify_all()
        edited = {"edit_date": int(time.time())} if index is not None else {}
        return self._answer(
            method,
            chat,
            200,
            result={
                **self._author(known),
                "message_id": message_id,
                "date": int(time.time()),
                **edited,
                "chat": self._chat(known),
                "text": plain,
            },
        )

    def _chat(self, known: str) -> dict[str, Any]:
        """A Chat: a channel for "@name" chats, a private chat for a user's, a supergroup for other numeric ones."""
        if known.isdigit() and int(known) in self.users:
            return {"id": int(known), "type": "private", "first_name": self.users[int(known)]["first_name"]}
        if known.startswith("@"):
            return {"id": self.chats[known], "type": "channel", "title": known[1:], "username": known[1:]}
        return {"id": self.chats[known], "type": "supergroup", "title": f"Chat {known}"}

    def _author(self, known: str) -> dict[str, Any]:
        """Who a message is from: the channel itself in channels, the bot in groups."""
        return {"sender_chat": self._chat(known)} if known.startswith("@") else {"from": BOT}

    def _take_fault(self, method: str, chat: str | None) -> Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.method == method and fault.chat_id in (None, chat):
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.times -= 1
                return fault
        return None

    def _record(self, method: str, chat: str | None, status: int) -> None:
        with self._cond:
            self.log.append(Call(method, chat, status, time.monotonic()))

    def _answer(
        self,
        method: str,
        chat: str | None,
        status: int,
        description: str = "",
        *,
        result: Any = None,
        parameters: dict[str, Any] | None = None,
    ) -> web.Response:
        self._record(method, chat, status)
        if status == 200:
            return web.json_response({"ok": True, "result": result})
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)


def _flag(value: object) -> bool:
    """A Bot API boolean: true in JSON, "true"/"1" in a form."""
    return value is True or str(value).lower() in ("true", "1")


async def _params(request: web.Request) -> dict[str, Any]:
    """Read Bot API parameters from the query string and a JSON, form-encoded or multipart body."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
    elif request.can_read_body:
        form = await request.post()  # application/x-www-form-urlencoded and multipart/form-data
        params.update((key, value) for key, value in form.items() if isinstance(value, str))
    return {
        key: value if key in _STRINGS or not isinstance(value, str) else _json(value) for key, value in params.items()
    }


def _json(value: str) -> Any:
    """A form value of a non-string parameter, JSON-decoded as Telegram does ("true", "{...}", "5")."""
    try:
        return json.loads(value)
    except ValueError:
        return value
