"""Pure: what the service knows now -> the status page's HTML (one small page, no script, refreshes itself).

Every text from outside (ticker lines from hostile pages, error messages, names) is escaped, and error
texts pass the log's secret filter once more; channels are shown by name and kind, never by URL or chat.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .cluster import Holding
from .logs import redact
from .store.base import ChannelStatus, Sent, SourceStatus

REFRESH = 30  # seconds between the page's own reloads
ALERTS = 50  # the last this many alerts are shown


@dataclass(frozen=True, slots=True)
class PageData:
    """Everything the page shows, read from the service's own store and config."""

    now: float
    sources: Sequence[SourceStatus]  # one per configured source, in config order
    channels: Sequence[tuple[str, ChannelStatus]]  # (kind, counts), one per configured channel
    alerts: Sequence[Sent]  # the newest last, as Store.history returns them
    problems: Sequence[str] = ()  # what /healthz reports
    instances: Sequence[Holding] | None = None  # a PostgreSQL state's instances; None: a state file
    takeover: float = 30.0  # an instance silent for 2/3 of this is gone
    error: str | None = None  # the state could not be read: why
    secrets: Sequence[str] = field(default=(), repr=False)  # redacted from every error text


def health(s: SourceStatus) -> str:
    """ok, failing or ALARM (an alarm went to the admin channel), or "not polled" yet."""
    if s.alarmed:
        return "ALARM"
    if s.streak or s.failures:
        return "failing"
    return "ok" if s.last_poll is not None else "not polled"


def ago(t: float | None, now: float) -> str:
    """ "12s ago", "in 3m", "never": a time relative to now, in its largest whole unit."""
    if t is None:
        return "never"
    seconds = now - t
    amount = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if amount >= size:
            text = f"{amount // size:.0f}{unit}"
            break
    else:
        text = f"{amount:.0f}s"
    return f"in {text}" if seconds < 0 else f"{text} ago"


def render(data: PageData) -> str:
    """The whole page, as one string."""
    parts = [_HEAD.format(refresh=REFRESH, css=_CSS)]
    parts.append(f"<h1>monitor</h1><p class=meta>as of {_clock(data.now)} · refreshes every {REFRESH}s</p>")
    if data.error:
        parts.append(f'<p class="problem">state not readable: {_e(redact(data.error, data.secrets))}</p>')
    states = [health(s) for s in data.sources]
    counts = ", ".join(f"{states.count(h)} {h}" for h in ("ok", "failing", "ALARM", "not polled") if h in states)
    bad = "ALARM" in states or "failing" in states
    parts.append(f'<p class="{"problem" if bad else "good"}">{len(states)} sources: {_e(counts or "none")}</p>')
    if data.problems:
        items = "".join(f"<li>{_e(redact(p, data.secrets))}</li>" for p in data.problems)
        parts.append(f'<section class="problem"><h2>Problems</h2><ul>{items}</ul></section>')
    else:
        parts.append('<p class="good">service: no problems (/healthz is 200)</p>')
    parts.append(_sources(data))
    parts.append(_channels(data))
    parts.append(_alerts(data))
    if data.instances is not None:
        parts.append(_instances(data))
    parts.append("</body></html>\n")
    return "".join(parts)


def _sources(data: PageData) -> str:
    rows = []
    for s in data.sources:
        state = health(s)
        error = (s.last_error if s.failures else None) or ("the page yields no items" if s.streak else "")
        if s.alarmed:
            error = f"after {s.streak} bad polls: {error}"
        rows.append(
            f'<tr class="{_e(state.replace(" ", "-").lower())}">'
            + _td("source", s.source, auto=True)
            + f'<td data-label="health"><b>{_e(state)}</b></td>'
            + _td("last poll", ago(s.last_poll, data.now))
            + _td("last new line", ago(s.last_new, data.now))
            + _td("next poll", "due" if s.next_poll and s.next_poll <= data.now else ago(s.next_poll, data.now))
            + _td("last error", redact(error, data.secrets) or "-", auto=True)
            + "</tr>"
        )
    return _table("Sources", ("source", "health", "last poll", "last new line", "next poll", "last error"), rows)


def _channels(data: PageData) -> str:
    rows = [
        "<tr>"
        + _td("channel", c.channel, auto=True)
        + _td("kind", kind)
        + _td("queued", str(c.queued), num=True)
        + _td("sent", str(c.delivered), num=True)
        + _td("failed", str(c.failed), num=True)
        + _td("last error", redact(c.last_error or "-", data.secrets), auto=True)
        + "</tr>"
        for kind, c in data.channels
    ]
    return _table("Channels", ("channel", "kind", "queued", "sent", "failed", "last error"), rows)


def _alerts(data: PageData) -> str:
    rows = [
        f'<tr class="{_e(a.status)}">'
        + _td("time", _clock(a.created))
        + _td("status", a.status)
        + _td("source", a.source, auto=True)
        + _td("channel", a.channel, auto=True)
        + f'<td data-label="text" class="line" dir="auto">{_e(a.text)}'
        + (f'<div class="err" dir="auto">{_e(redact(a.error, data.secrets))}</div>' if a.error else "")
        + "</td></tr>"
        for a in reversed(data.alerts[-ALERTS:])
    ]
    return _table(f"Last {ALERTS} alerts", ("time", "status", "source", "channel", "text"), rows, empty="no alerts yet")


def _instances(data: PageData) -> str:
    rows = []
    for h in data.instances or ():
        alive = data.now - h.seen <= data.takeover * 2 / 3
        rows.append(
            "<tr>"
            + _td("instance", h.instance)
            + _td("started", ago(h.started, data.now))
            + _td("heartbeat", ago(h.seen, data.now) if alive else "gone")
            + _td("sources", str(h.sources), num=True)
            + _td("sends to", ", ".join(h.chats) if alive and h.chats else "-")
            + "</tr>"
        )
    return _table("Instances", ("instance", "started", "heartbeat", "sources", "sends to"), rows)


def _table(title: str, heads: Sequence[str], rows: Sequence[str], *, empty: str = "none") -> str:
    if not rows:
        return f"<section><h2>{_e(title)}</h2><p class=meta>{_e(empty)}</p></section>"
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return f"<section><h2>{_e(title)}</h2>{table}</section>"


def _td(label: str, text: str, *, auto: bool = False, num: bool = False) -> str:
    """One cell; auto: its text may be Arabic (or any right-to-left script), so the browser decides."""
    attrs = f' data-label="{_e(label)}"' + (' dir="auto"' if auto else "") + (' class="num"' if num else "")
    return f"<td{attrs}>{_e(text)}</td>"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _clock(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{refresh}">
<meta name="referrer" content="no-referrer">
<title>monitor status</title>
<style>{css}</style></head><body>
"""

# Phones: every table row becomes a card of "label: value" lines, so nothing is wider than the screen.
_CSS = """
*{box-sizing:border-box}
body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;padding:12px;max-width:1200px;color:#1a1a1a;background:#fafafa}
h1{font-size:1.4em;margin:0}h2{font-size:1.1em;margin:1.2em 0 .4em}
.meta{color:#666;margin:.2em 0}
.good{color:#176117}.problem{color:#a00}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:start;padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top;overflow-wrap:anywhere}
th{background:#eee;font-weight:600}
tr.ALARM td,tr.alarm td{background:#fde2e2}tr.failing td{background:#fff4d6}tr.failed td{background:#fde2e2}
tr.alarm b{color:#a00}
.err{color:#a00;font-size:.9em}
.line{min-width:12em}
@media (max-width:640px){
 table,thead,tbody,tr,th,td{display:block;width:100%}
 thead{display:none}
 tr{border:1px solid #ddd;margin:0 0 8px;background:#fff}
 td{border:0;padding:2px 8px;text-align:start}
 td::before{content:attr(data-label) ": ";color:#666}
 .line{min-width:0}
}
"""
