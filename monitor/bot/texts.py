"""Pure: the bot's replies in English and Arabic, chosen by the reader's language, the operator's overrides first.

Every value put into a reply is HTML-escaped here (replies go out with parse_mode HTML), and a reply
is cut to fit one Telegram message, so nothing a reader types can break or lengthen a reply.
"""

from __future__ import annotations

import html
import re
import string

LANGUAGES = ("en", "ar")
MAX_REPLY = 4000  # characters; Telegram takes 4096 UTF-16 units, and escaping is done before the cut

EN: dict[str, str] = {
    "welcome": (
        "Hello! I send you a direct message for each new breaking-news line that matches your words.\n"
        "Try: /watch ceasefire\n/help tells you more."
    ),
    "help": (
        "I watch the breaking-news tickers of: {sources}.\n\n"
        "/watch WORDS: a message for each new line with any of them\n"
        '  e.g. /watch ceasefire "air strike" -football in:SOURCE\n'
        "/list your watches · /unwatch N or WORD\n"
        "/pause · /resume · /quiet 23:00-07:00 (or off) · /tz Europe/Beirut\n"
        "/lang en|ar · /sources · /forget (delete all I keep about you)"
    ),
    "watch_added": "Watching #{n}: {watch}\n{latest}",
    "word_or": "OR",  # how a watch is shown back: ceasefire OR "air strike", not football, in en
    "word_not": "not",
    "word_in": "in",
    "word_comma": ", ",
    "latest": "The latest line that would have matched:\n<i>{line}</i> ({source})",
    "latest_none": "No recent line matches yet.",
    "watch_bad": "I could not read that: {error}",
    "watch_limit": "That makes {count} terms; at most {max} in all. /unwatch some first.",
    "watch_usage": 'Tell me what to watch, e.g. /watch ceasefire or /watch "air strike"',
    "unwatched": "Stopped watching #{n}: {watch}",
    "unwatch_unknown": "You have no watch {what}: /list shows yours.",
    "unwatch_usage": "Which one? /unwatch 2 or /unwatch ceasefire (/list shows them)",
    "list": "Your watches:\n{watches}{state}",
    "list_empty": "You watch nothing yet. Try /watch ceasefire",
    "paused_state": "\n(paused: /resume)",
    "paused": "Paused: no alerts until /resume.",
    "resumed": "Alerts are on again.",
    "quiet_set": "Quiet hours {start}-{end} ({tz}): alerts wait until they end.",
    "quiet_off": "No quiet hours: alerts come at once.",
    "quiet_bad": "Write it as /quiet 23:00-07:00, or /quiet off.",
    "tz_set": "Your time zone is {tz}.",
    "tz_bad": "I do not know the time zone {tz}: write it as Europe/Beirut or Asia/Gaza.",
    "sources": "Sources:\n{sources}",
    "forget_ask": "This deletes your watches and everything I keep about you. Send /forget yes to go on.",
    "forgotten": "Done: I keep nothing about you any more. /start to begin again.",
    "lang_set": "I will answer in English.",
    "lang_bad": "Choose /lang en or /lang ar.",
    "unknown": "I do not know that command. /help lists them.",
    "not_text": "I read only text commands. /help lists them.",
    "private_only": "Personal alerts work in a private chat: write to me directly.",
    "not_allowed": "Sorry, this bot is open to some readers only.",
    "full": "Sorry, this bot has all the readers it can take for now.",
    "flood": "Too many commands at once: wait a minute, please.",
    "not_admin": "Only the bot's admins may do that.",
    "muted": "Muted {source} until {until} UTC.",
    "unmuted": "{source} is no longer muted.",
    "mute_usage": "Write it as /mute SOURCE 2h (or /mute SOURCE off).",
    "status": "{sources}\n\nQueued: {queues}\nReaders: {readers} ({watches} watches)",
}

AR: dict[str, str] = {
    "welcome": ("أهلاً! أرسل إليك رسالة خاصة عن كل خبر عاجل جديد فيه كلماتك.\nجرّب: /watch غزة\nو /help للمزيد."),
    "help": (
        "أتابع أشرطة الأخبار العاجلة في: {sources}.\n\n"
        "/watch كلمات: رسالة عن كل خبر جديد فيه إحداها\n"
        '  مثلاً: /watch غزة "وقف إطلاق النار" -كرة in:SOURCE\n'
        "/list متابعاتك · /unwatch رقم أو كلمة\n"
        "/pause إيقاف · /resume استئناف · /quiet 23:00-07:00 (أو off) · /tz Asia/Beirut\n"
        "/lang en|ar · /sources المصادر · /forget (حذف كل ما أحفظه عنك)"
    ),
    "watch_added": "أتابع #{n}: {watch}\n{latest}",
    "word_or": "أو",
    "word_not": "عدا",
    "word_in": "في",
    "word_comma": "، ",  # the Arabic comma
    "latest": "آخر خبر كان سيطابق:\n<i>{line}</i> ({source})",
    "latest_none": "لا خبر حديثاً يطابق بعد.",
    "watch_bad": "لم أفهم ذلك: {error}",
    "watch_limit": "هذا يجعلها {count} كلمة؛ الحد {max}. احذف بعضها بـ /unwatch أولاً.",
    "watch_usage": "قل لي ماذا أتابع، مثلاً: /watch غزة",
    "unwatched": "أوقفت متابعة #{n}: {watch}",
    "unwatch_unknown": "لا متابعة {what} لديك: /list تعرضها.",
    "unwatch_usage": "أيّها؟ /unwatch 2 أو /unwatch غزة (/list تعرضها)",
    "list": "متابعاتك:\n{watches}{state}",
    "list_empty": "لا تتابع شيئاً بعد. جرّب /watch غزة",
    "paused_state": "\n(متوقفة: /resume)",
    "paused": "أوقفت التنبيهات حتى /resume.",
    "resumed": "عادت التنبيهات.",
    "quiet_set": "ساعات الهدوء {start}-{end} ({tz}): تنتظر التنبيهات حتى نهايتها.",
    "quiet_off": "لا ساعات هدوء: تصل التنبيهات فوراً.",
    "quiet_bad": "اكتبها هكذا: /quiet 23:00-07:00 أو /quiet off",
    "tz_set": "منطقتك الزمنية: {tz}.",
    "tz_bad": "لا أعرف المنطقة الزمنية {tz}: اكتبها مثل Asia/Beirut أو Asia/Gaza.",
    "sources": "المصادر:\n{sources}",
    "forget_ask": "سيحذف هذا متابعاتك وكل ما أحفظه عنك. أرسل /forget yes للمتابعة.",
    "forgotten": "تم: لم أعد أحفظ شيئاً عنك. /start للبدء من جديد.",
    "lang_set": "سأجيب بالعربية.",
    "lang_bad": "اختر /lang en أو /lang ar.",
    "unknown": "لا أعرف هذا الأمر. /help تعرض الأوامر.",
    "not_text": "أقرأ الأوامر النصية فقط. /help تعرضها.",
    "private_only": "التنبيهات الشخصية في المحادثة الخاصة: راسلني مباشرة.",
    "not_allowed": "عذراً، هذا البوت مفتوح لبعض القرّاء فقط.",
    "full": "عذراً، بلغ البوت أقصى عدد من القرّاء حالياً.",
    "flood": "أوامر كثيرة دفعة واحدة: انتظر دقيقة من فضلك.",
    "not_admin": "هذا لمشرفي البوت فقط.",
    "muted": "كتمت {source} حتى {until} UTC.",
    "unmuted": "لم يعد {source} مكتوماً.",
    "mute_usage": "اكتبها هكذا: /mute SOURCE 2h (أو /mute SOURCE off)",
    "status": "{sources}\n\nفي الانتظار: {queues}\nالقرّاء: {readers} ({watches} متابعة)",
}

TEXTS: dict[str, dict[str, str]] = {"en": EN, "ar": AR}
KEYS = tuple(EN)


def fields(template: str) -> set[str]:
    """The {placeholders} of a reply text (ValueError for a malformed one)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def check_override(key: str, template: str) -> str | None:
    """What is wrong with an operator's text for a key, or None: it may use that key's placeholders only."""
    if key not in EN:
        return f"unknown text {key!r} (known: {', '.join(KEYS)})"
    try:
        extra = fields(template) - fields(EN[key])
    except ValueError as exc:
        return f"bad placeholder: {exc}"
    if extra:
        return f"unknown placeholder {{{sorted(extra)[0]}}} (this text has: {', '.join(sorted(fields(EN[key])))})"
    return None


def language(code: str | None) -> str:
    """The reply language for a Telegram language_code ("ar-EG" -> ar; anything else -> en)."""
    base = (code or "").split("-")[0].lower()
    return base if base in TEXTS else "en"


class Texts:
    """The replies, with the operator's overrides (config bot.texts) in front of the built-in ones."""

    def __init__(self, overrides: tuple[tuple[str, str, str], ...] = ()) -> None:
        self._own = {(key, lang): text for key, lang, text in overrides}

    def raw(self, lang: str, key: str) -> str:
        """A reply's template (trusted HTML: the operator's or ours)."""
        lang = lang if lang in TEXTS else "en"
        own = self._own.get((key, lang)) or self._own.get((key, ""))
        return own if own is not None else TEXTS[lang].get(key, EN[key])

    def get(self, lang: str, key: str, **values: object) -> str:
        """A reply in HTML: each value escaped (unless it is Html), the whole cut to fit one message."""
        escaped = {k: v if isinstance(v, Html) else escape(str(v)) for k, v in values.items()}
        return cut(self.raw(lang, key).format_map(_Missing(escaped)))


class Html(str):
    """A value that is HTML already (a nested reply), put into a reply as it is."""


class _Missing(dict[str, object]):
    def __missing__(self, key: str) -> str:  # an operator's text may leave a placeholder out, not add one
        return ""


def cut(text: str, limit: int = MAX_REPLY) -> str:
    """Cut an HTML reply to the limit at a line break, never inside a tag or an entity."""
    if len(text) <= limit:
        return text
    # Our templates keep each tag within one line, so a cut at a line break closes every tag it opened.
    head = text[:limit].rsplit("\n", 1)[0] if "\n" in text[:limit] else _TAG.sub("", text)[:limit]
    return _PARTIAL.sub("", head) + "\n…"


_TAG = re.compile(r"</?[a-z]+>")
_PARTIAL = re.compile(r"&[#\w]*$")


def escape(text: str, limit: int = 1000) -> str:
    """HTML-escape text typed by someone else, shortened first to limit characters."""
    return html.escape(text if len(text) <= limit else text[: limit - 1] + "…", quote=False)
