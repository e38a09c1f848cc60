"""The status page's rendering: data in, HTML out, a table of cases (hostile text, health, Arabic, secrets)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from monitor.cluster import Holding
from monitor.page import ALERTS, PageData, ago, health, render
from monitor.store.base import ChannelStatus, Sent, SourceStatus

NOW = 1_800_000_000.0
TOKEN = "123456:TEST-token-not-real"
ARABIC = "عاجل: غارة على بلدة عيتا الشعب في جنوب لبنان"


def source(name: str = "en", **kw: object) -> SourceStatus:
    fields: dict[str, object] = {
        "source": name,
        "last_poll": NOW - 12,
        "last_ok": NOW - 12,
        "last_new": NOW - 300,
        "failures": 0,
        "last_error": None,
        "next_poll": NOW + 48,
    }
    return SourceStatus(**{**fields, **kw})  # type: ignore[arg-type]


def sent(n: int, text: str = "a line", **kw: object) -> Sent:
    fields: dict[str, object] = {
        "id": n,
        "created": NOW - 1000 + n,
        "done_at": NOW - 999 + n,
        "source": "en",
        "rule": "all",
        "channel": "alerts",
        "status": "delivered",
        "error": None,
        "text": text,
        "edit_of": None,
    }
    return Sent(**{**fields, **kw})  # type: ignore[arg-type]


BASE = PageData(
    now=NOW,
    sources=[source()],
    channels=[("telegram", ChannelStatus("alerts", 1, 20, 2, None))],
    alerts=[sent(1)],
    secrets=[TOKEN],
)


def cells(page: str, label: str) -> list[str]:
    """The text of every cell with this label (the inner HTML, tags and all)."""
    return re.findall(rf'<td data-label="{re.escape(label)}"[^>]*>(.*?)</td>', page, re.S)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (source(), "ok"),
        (source(last_poll=None, last_ok=None, next_poll=None), "not polled"),
        (source(failures=2, streak=2, last_error="HTTP 503"), "failing"),
        (source(streak=1), "failing"),  # an empty page: a bad poll that is no fetch failure
        (source(failures=6, streak=6, alarmed=True, last_error="HTTP 503"), "ALARM"),
    ],
)
def test_health(status: SourceStatus, expected: str) -> None:
    assert health(status) == expected
    assert f"<b>{expected}</b>" in render(replace(BASE, sources=[status]))


@pytest.mark.parametrize(
    ("t", "expected"),
    [(None, "never"), (NOW - 12, "12s ago"), (NOW - 300, "5m ago"), (NOW + 48, "in 48s"), (NOW - 7200, "2h ago")],
)
def test_ago(t: float | None, expected: str) -> None:
    assert ago(t, NOW) == expected


# (what the data says, what the page must hold, what it must never hold)
CASES = [
    pytest.param(
        replace(BASE, alerts=[sent(1, '<script>alert("x")</script><img src=x onerror=alert(1)>')]),
        ["&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"],
        ["<script", "<img"],
        id="hostile line escaped",
    ),
    pytest.param(
        replace(BASE, sources=[source('"><b>x</b>', failures=1, streak=1, last_error="<i>bad</i>")]),
        ["&quot;&gt;&lt;b&gt;x&lt;/b&gt;", "&lt;i&gt;bad&lt;/i&gt;"],
        ["<b>x</b>", "<i>bad"],
        id="hostile source name and error escaped",
    ),
    pytest.param(
        replace(BASE, alerts=[sent(1, ARABIC)]),
        [f'<td data-label="text" class="line" dir="auto">{ARABIC}'],
        [],
        id="arabic line decides its own direction",
    ),
    pytest.param(
        replace(
            BASE,
            channels=[("telegram", ChannelStatus("alerts", 3, 0, 1, f"https://api.telegram.org/bot{TOKEN}/send"))],
            sources=[source(failures=1, streak=1, last_error=f"token {TOKEN.lower()} refused")],
            problems=[f"channel alerts: {TOKEN}"],
            alerts=[sent(1, status="failed", error=f"refused {TOKEN}")],
        ),
        ["&lt;token&gt;"],
        [TOKEN, TOKEN.lower(), "TEST-token"],
        id="secrets redacted everywhere",
    ),
    pytest.param(
        BASE,
        ["1 sources: 1 ok", "service: no problems", '<meta http-equiv="refresh" content="30">'],
        ["<script", "Instances"],
        id="a healthy service",
    ),
    pytest.param(
        replace(BASE, sources=[source(), source("ar", alarmed=True, streak=5, failures=5), source("x", next_poll=NOW)]),
        ['<p class="problem">3 sources: 2 ok, 1 ALARM</p>', '<td data-label="next poll">due</td>'],
        [],
        id="sources counted by health",
    ),
    pytest.param(
        replace(BASE, problems=["en: not polled for 200s (interval 60s)"]),
        ["<h2>Problems</h2>", "en: not polled for 200s"],
        ["service: no problems"],
        id="problems listed",
    ),
    pytest.param(
        replace(BASE, instances=[Holding("web1:42", NOW - 600, NOW - 3, 2, ("telegram:@alerts",))]),
        ["<h2>Instances</h2>", "web1:42", "telegram:@alerts", "3s ago"],
        [],
        id="instances on a postgresql state",
    ),
    pytest.param(
        replace(BASE, instances=[Holding("web2:7", NOW - 600, NOW - 300, 0, ("telegram:@alerts",))]),
        ["web2:7", "gone"],
        ["telegram:@alerts"],
        id="a gone instance sends nowhere",
    ),
    pytest.param(replace(BASE, alerts=[]), ["no alerts yet"], ['<td data-label="text"'], id="no alerts"),
    pytest.param(
        replace(BASE, error="state database unreachable"), ["state not readable: state database unreachable"], []
    ),
]


@pytest.mark.parametrize(("data", "present", "absent"), CASES)
def test_render(data: PageData, present: list[str], absent: list[str]) -> None:
    page = render(data)
    for text in present:
        assert text in page
    for text in absent:
        assert text not in page


def test_the_newest_alerts_first_and_at_most_fifty() -> None:
    page = render(replace(BASE, alerts=[sent(n, f"line {n}") for n in range(1, 71)]))
    texts = [re.sub(r"<.*", "", t, flags=re.S) for t in cells(page, "text")]
    assert texts == [f"line {n}" for n in range(70, 70 - ALERTS, -1)]


def test_channel_rows_show_name_kind_and_counts_only() -> None:
    page = render(BASE)
    assert cells(page, "channel")[0] == "alerts"
    assert cells(page, "kind") == ["telegram"]
    assert (cells(page, "queued"), cells(page, "sent"), cells(page, "failed")) == (["1"], ["20"], ["2"])


def test_a_typical_page_is_a_few_kilobytes() -> None:
    sources = [source(f"source-{n}") for n in range(10)]
    alerts = [sent(n, "Lebanon: Israeli drone strikes a motorcycle in Aitaroun, one killed") for n in range(50)]
    size = len(render(replace(BASE, sources=sources, alerts=alerts)).encode())
    assert size < 40_000
    assert len(render(BASE).encode()) < 6_000
