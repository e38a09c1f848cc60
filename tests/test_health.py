"""Edited lines, the same line on two sources, health alarms and backoff, against the fake Bot API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fake_telegram import FakeTelegram
from helpers import telegram_channel, write_config
from sites import Site, ticker_page

from monitor.config import SourceConfig, load
from monitor.config_types import HtmlSettings
from monitor.health import BACKOFF_MAX, Health
from monitor.pipeline import PollResult
from monitor.runtime import Runtime, open_runtime

LINE = "Lebanon: Al Mayadeen's correspondent: Israeli drone strikes a motorcycle in Aitaroun"
EDITED = "Lebanon: Al Mayadeen's correspondent: Israeli drone strikes a motorcycle in Aitaroun, one killed"


async def cycle(rt: Runtime) -> list[PollResult]:
    results = [await rt.poll(s) for s in rt.sources]
    await rt.deliverer.run_until_empty(time.time() + 15)
    return results


def one_source(tmp_path: Path, site: Site, tg: FakeTelegram, **source: Any) -> Path:
    return write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), **source}],
        channels=[telegram_channel(tg), telegram_channel(tg, "admin", "@second")],
        rules=[{"name": "all", "channels": ["alerts"]}],
        admin_channel="admin",
    )


@pytest.mark.parametrize("on_edit", ["ignore", "edit", "send"])
async def test_edited_line(tmp_path: Path, site: Site, telegram: FakeTelegram, on_edit: str) -> None:
    site.set("/", ticker_page(["Old line"]))
    async with open_runtime(load(one_source(tmp_path, site, telegram, on_edit=on_edit))) as rt:
        await cycle(rt)
        site.set("/", ticker_page([LINE, "Old line"]))
        await cycle(rt)
        site.set("/", ticker_page([EDITED, "Old line"]))
        [result] = await cycle(rt)
        assert result.edits == 1
        await cycle(rt)  # the edited line again: nothing more
    sent = telegram.sent_to("@alerts")
    firsts = [(m.method, m.plain.split("\n")[0]) for m in sent]
    if on_edit == "ignore":
        assert firsts == [("sendMessage", LINE)]
    elif on_edit == "edit":
        assert firsts == [("editMessageText", EDITED)]  # the one message, now reading the new text
        assert [r[0] for r in telegram.log if r[0] != "getMe"] == ["sendMessage", "editMessageText"]
    else:
        assert firsts == [("sendMessage", LINE), ("sendMessage", EDITED)]


async def test_same_line_on_two_sources_reaches_channel_once(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    site.set("/a", ticker_page(["Old"]))
    site.set("/b", ticker_page(["Old"]))
    path = write_config(
        tmp_path,
        sources=[{"name": "a", "url": site.url("/a")}, {"name": "b", "url": site.url("/b")}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
    )
    async with open_runtime(load(path)) as rt:
        await cycle(rt)
        site.set("/a", ticker_page([LINE, "Only on a", "Old"]))
        site.set("/b", ticker_page([LINE.replace("'", "’") + ".", "Only on b", "Old"]))  # the same line, retyped
        await cycle(rt)
    texts = sorted(m.plain.split("\n")[0] for m in telegram.sent)
    assert texts == sorted([LINE, "Only on a", "Only on b"])


async def test_broken_markup_alarms_once_then_recovers_once(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    good = ticker_page(["Old"])
    site.set("/", good, etag='"v1"')
    async with open_runtime(load(one_source(tmp_path, site, telegram, alarm_after=2))) as rt:
        await cycle(rt)
        # The site's redesign, behind an ETag: a page that failed to parse must not then come back
        # as "304, nothing changed" and pass for healthy.
        site.set("/", good.replace("BREAKING", "LIVE UPDATES"), etag='"v2"')
        for _ in range(5):
            rt.health.states["en"].skip_until = 0  # poll now, whatever the backoff says
            await cycle(rt)
        admin = [m.plain for m in telegram.sent_to("@second")]
        assert len(admin) == 1
        assert "en: 2 bad polls in a row: heading not found" in admin[0]
        site.set("/", ticker_page(["Fresh", "Old"]), etag='"v3"')
        rt.health.states["en"].skip_until = 0
        await cycle(rt)
        await cycle(rt)
    admin = [m.plain for m in telegram.sent_to("@second")]
    assert len(admin) == 2 and admin[1].startswith("✅ en recovered")
    assert [m.plain.split("\n")[0] for m in telegram.sent_to("@alerts")] == ["Fresh"]


def source(**fields: Any) -> SourceConfig:
    """Source s, with what parse() hands in when the config leaves it out."""
    return SourceConfig(
        **{
            "name": "s",
            "url": "http://x.example/",
            "timeout": 20.0,
            "user_agent": "test",
            "alarm_after": 5,
            "kind": HtmlSettings(),
            **fields,
        }
    )


def test_failing_source_backs_off_and_returns_after_one_success() -> None:
    health = Health([source(interval=60, alarm_after=100)])
    now = 1000.0
    delays = []
    for _ in range(8):
        health.observe(PollResult("s", error="HTTP 500"), now)
        skip = health.states["s"].skip_until
        delays.append(round(skip - now + 30))  # + half an interval: when the next poll may run
        assert not health.due("s", now + 1)
    assert delays == [60, 120, 240, 480, 960, 1800, 1800, 1800]
    assert max(delays) <= BACKOFF_MAX
    health.observe(PollResult("s", found=3), now)
    assert health.due("s", now)


def test_adaptive_polling_follows_the_pace_of_the_ticker() -> None:
    cfg = source(interval=10, interval_max=120)
    health = Health([cfg])

    def wait_after(result: PollResult, at: float, max_age: float | None = None) -> float:
        health.observe(result, at, max_age)
        return round(health.states["s"].skip_until - at + 5)  # + half the interval: the wait

    assert wait_after(PollResult("s", found=10, new=10, baseline=True), 0) == 120  # a baseline is not news
    assert wait_after(PollResult("s", found=10), 120) == 120  # a quiet ticker: every max
    assert wait_after(PollResult("s", unchanged=True), 240) == 120  # a 304 is a quiet poll
    # The wait is √(min / pace), pace = new lines per second over the last PACE_WINDOW (600 s).
    assert wait_after(PollResult("s", found=11, new=1), 360) == 77  # 1 line: √(10 · 600)
    assert wait_after(PollResult("s", found=15, new=5), 360) == 32  # 6 lines: √(10 · 100)
    assert wait_after(PollResult("s", found=15, new=60), 360) == 10  # a burst: every min, not faster
    assert wait_after(PollResult("s", found=15), 370, max_age=60) == 60  # the site's max-age, when longer
    assert wait_after(PollResult("s", found=15), 380, max_age=600) == 120  # ...but never past max
    assert wait_after(PollResult("s", found=15), 380 + 600) == 16  # the pace decays: e⁻¹ of 66 lines
    assert wait_after(PollResult("s", unchanged=True), 380 + 3600) == 120  # quiet again an hour later


def test_fixed_interval_sources_are_not_adapted() -> None:
    health = Health([source(interval=10)])
    health.observe(PollResult("s", found=10), 1000.0, max_age=600)
    assert health.due("s", 1000.0)
