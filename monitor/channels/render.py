"""Turning alerts into message text: the channel's template, digests, and splitting at a size limit.

Channels differ only in their markup (Telegram HTML, plain text), so each hands in a Markup.
Field values are escaped before they go into the template, and long text is split between words
before escaping, so a split never falls inside an HTML entity or tag.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..config_types import TEMPLATE_FIELDS, AnyChannel, ChannelConfig, ConsoleSettings
from ..models import Alert

_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class Markup:
    """How a channel writes escaped text, links and bold text."""

    escape: Callable[[str], str]
    link: Callable[[str, str], str]  # (url, label) -> markup
    bold: Callable[[str], str]
    visible: Callable[[str], str]  # the text a reader sees: what Telegram's 4096 limit counts


HTML = Markup(
    escape=lambda text: html.escape(text, quote=False),
    link=lambda url, label: f'<a href="{html.escape(url)}">{html.escape(label, quote=False)}</a>',
    bold=lambda text: f"<b>{html.escape(text, quote=False)}</b>",
    visible=lambda text: html.unescape(_TAG.sub("", text)),
)
PLAIN = Markup(
    escape=lambda text: text,
    link=lambda url, label: f"{label} {url}",
    bold=lambda text: text,
    visible=lambda text: text,
)


URGENT = "🔴 URGENT"


def quiet(config: AnyChannel, at: float) -> bool:
    """Whether a time falls in the channel's quiet hours (a window may wrap past midnight)."""
    if config.quiet_hours is None:
        return False
    start, end, tz = config.quiet_hours
    local = datetime.fromtimestamp(at, ZoneInfo(tz))
    minute = local.hour * 60 + local.minute
    return start <= minute < end if start <= end else minute >= start or minute < end


def rings(config: AnyChannel, alerts: Sequence[Alert], at: float) -> bool:
    """Whether a message should ring: urgent always; otherwise not silent and not in quiet hours."""
    if any(a.urgent for a in alerts):
        return True
    return not (config.silent or all(a.silent for a in alerts) or quiet(config, at))


def size(text: str) -> int:
    """Telegram's measure of a message: UTF-16 code units (an upper bound before entity parsing)."""
    return len(text.encode("utf-16-le")) // 2


class Renderer:
    """Renders one channel's alerts, one by one or as digests, each message at most `limit` long."""

    def __init__(self, config: AnyChannel, markup: Markup, limit: int) -> None:
        self.template, self.markup, self.limit = config.template, markup, limit
        self.tz = ZoneInfo(config.timezone)

    def one(self, alert: Alert) -> list[str]:
        """Return the messages for one alert: one, unless its text alone is over the limit."""
        message = self._fill(alert, alert.text)
        if self._size(message) <= self.limit:
            return [message]
        budget = self.limit - self._size(self._fill(alert, ""))
        return [self._fill(alert, piece) for piece in _split(alert.text, budget)]

    def digest(self, alerts: Sequence[Alert]) -> str:
        """Return one message holding several alerts, oldest first."""
        header = self.markup.bold(f"{len(alerts)} new lines")
        return "\n\n".join([header, *(self._fill(a, a.text) for a in alerts)])

    def pack(self, alerts: Sequence[Alert]) -> list[list[Alert]]:
        """Group alerts, in order, into digests that each fit in one message."""
        groups: list[list[Alert]] = []
        for alert in alerts:
            if groups and self._size(self.digest([*groups[-1], alert])) <= self.limit:
                groups[-1].append(alert)
            else:
                groups.append([alert])
        return groups

    def _size(self, message: str) -> int:
        return size(self.markup.visible(message))

    def _fill(self, alert: Alert, text: str) -> str:
        esc = self.markup.escape
        source_link = self.markup.link(alert.link, alert.source) if alert.link else esc(alert.source)
        when = datetime.fromtimestamp(alert.created, self.tz).strftime("%H:%M")
        mark = self.markup.bold(URGENT) + " " if alert.urgent else ""
        return mark + self.template.format(
            text=esc(text),
            source=esc(alert.source),
            link=esc(alert.link or ""),
            time=when,
            source_link=source_link,
        )


MAX_TEMPLATE = 1000  # characters: a message template, not a document
MAX_FIELDS = 10  # each {text} copies the whole line into the message
_SAMPLES = (
    Alert(1, "check", "a source", "A line & <b>more</b>", "https://example.org/a?b=1&c=2", 0.0),
    Alert(2, "check", "another", "عاجل: خبر", None, 1e9, urgent=True, silent=True),
)


def check_template(template: str) -> None:
    """Render a template against sample alerts in every markup; raise ValueError saying what is wrong.

    Every field value is a string, so a template that renders these renders any alert: a format
    spec or conversion that fails (`{text!z}`, `{time:%Q}`) fails here, at load, not at send time.
    """
    if len(template) > MAX_TEMPLATE:
        raise ValueError(f"longer than {MAX_TEMPLATE} characters")
    try:
        fields = [(name, spec) for _, name, spec, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    known = f"(fields: {', '.join(TEMPLATE_FIELDS)})"
    for name, spec in fields:
        if name not in TEMPLATE_FIELDS:
            raise ValueError(f"unknown field {{{name}}} {known}")
        if "{" in (spec or ""):  # a field inside a format spec: the spec would depend on the alert
            raise ValueError(f"a field inside the format spec of {{{name}}}")
        if re.search(r"\d{5}", spec or ""):  # {text:>999999999} would allocate a gigabyte per message
            raise ValueError(f"a width over 9999 in {{{name}:{spec}}}")
    if len(fields) > MAX_FIELDS:
        raise ValueError(f"more than {MAX_FIELDS} fields")
    if "text" not in {name for name, _ in fields}:
        raise ValueError(f"it must contain {{text}} {known}")
    config = ChannelConfig(name="check", kind=ConsoleSettings(), template=template)
    for markup in (HTML, PLAIN):
        renderer = Renderer(config, markup, limit=4096)
        try:
            for alert in _SAMPLES:
                renderer.one(alert)
            renderer.digest(_SAMPLES)
        except Exception as exc:  # ValueError, KeyError, IndexError...: whatever str.format raises
            raise ValueError(f"{{{_culprit(template)}}} cannot be rendered: {exc}") from None


def _culprit(template: str) -> str:
    """The first replacement field that fails alone, as written, for the error message."""
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        field = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        try:
            ("{" + field + "}").format(**dict.fromkeys(TEMPLATE_FIELDS, "x"))
        except Exception:
            return field
    return "template"


def _split(text: str, budget: int) -> list[str]:
    """Split raw text between words into pieces of at most budget (escaping happens after)."""
    budget = max(budget, 16)
    pieces: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if size(candidate) <= budget:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while size(word) > budget:  # a "word" longer than a message: cut it
            cut = budget
            while size(word[:cut]) > budget:  # astral characters count twice
                cut -= 1
            pieces.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        pieces.append(current)
    return pieces
