"""The whole flow in-process: local site -> poll_once -> SQLite -> Deliverer -> fake Bot API."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fake_telegram import FakeTelegram
from helpers import telegram_channel, write_config
from sites import Site, seed_names, seed_ticker, ticker_page

from monitor.config import load
from monitor.pipeline import poll_once
from monitor.runtime import Runtime, open_runtime

needs_seeds = pytest.mark.skipif(not seed_names(), reason="../shared/seeds not found beside the clone")


async def poll_and_deliver(rt: Runtime) -> list[str]:
    """Poll every source once and deliver; return the errors of failed polls."""
    results = [await poll_once(s, rt.store, rt.matcher, dedup=rt.config.dedup) for s in rt.sources]
    errors = [r.error for r in results if r.error]
    await rt.deliverer.run_until_empty(time.time() + 15)
    return [e for e in errors if e]


def config_for(tmp_path: Path, site: Site, tg: FakeTelegram, **source: object) -> Path:
    return write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), **source}],
        channels=[telegram_channel(tg)],
        rules=[{"name": "all", "channels": ["alerts"]}],
    )


@needs_seeds
async def test_baseline_then_new_items_once_oldest_first(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    old = seed_ticker("001_f1fb555cb6ef5c6e.txt")
    new = seed_ticker("003_d888e989c0147b45.txt")[:3]  # newest first, as tickers list them
    site.set("/", ticker_page(old))
    config = load(config_for(tmp_path, site, telegram))
    async with open_runtime(config) as rt:
        assert await poll_and_deliver(rt) == []
        assert telegram.sent == []  # first poll: baseline only
        site.set("/", ticker_page(new + old[:-3]))
        await poll_and_deliver(rt)
        texts = [m.plain for m in telegram.sent]
        assert [t.split("\n")[0] for t in texts] == list(reversed(new))
        await poll_and_deliver(rt)  # same page again: nothing new
        assert len(telegram.sent) == 3
        # An item that left the ticker and comes back is not sent again.
        site.set("/", ticker_page(old))
        await poll_and_deliver(rt)
        site.set("/", ticker_page(new[1:] + old))
        await poll_and_deliver(rt)
        assert len(telegram.sent) == 3
    # Restart: state is in the SQLite file, so nothing is sent twice.
    async with open_runtime(load(config_for(tmp_path, site, telegram))) as rt:
        site.set("/", ticker_page(["Brand new line after the restart", *new, *old]))
        await poll_and_deliver(rt)
    assert [m.plain.split("\n")[0] for m in telegram.sent[3:]] == ["Brand new line after the restart"]
    first = telegram.sent[0]
    assert first.parse_mode == "HTML" and first.link_preview_disabled
    assert first.chat_id == "@alerts"
    assert site.url("/news/") in first.text  # the item's link, made absolute


async def test_backfill_sends_newest_n_on_first_poll(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/", ticker_page(["Line four newest", "Line three", "Line two", "Line one oldest"]))
    async with open_runtime(load(config_for(tmp_path, site, telegram, backfill=2))) as rt:
        await poll_and_deliver(rt)
    assert [m.plain.split("\n")[0] for m in telegram.sent] == ["Line three", "Line four newest"]


async def test_text_is_escaped_for_telegram_html(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    lines = ['Trump: "A < B" & <b>bold</b> claims', "Q&A: 5 > 3"]
    site.set("/", ticker_page(["x", "y"]))
    async with open_runtime(load(config_for(tmp_path, site, telegram))) as rt:
        await poll_and_deliver(rt)
        site.set("/", ticker_page([*lines, "x", "y"]))
        await poll_and_deliver(rt)
    assert [m.plain.split("\n")[0] for m in telegram.sent] == list(reversed(lines))
    assert rt.deliverer.tally["alerts"].failed == 0


async def test_routing_to_two_channels_with_arabic_terms(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/ar", ticker_page(["خبر قديم"], heading="عاجل"))
    site.set("/en", ticker_page(["Old line"]))
    path = write_config(
        tmp_path,
        sources=[{"name": "ar", "url": site.url("/ar")}, {"name": "en", "url": site.url("/en")}],
        channels=[telegram_channel(telegram, "iran", "@alerts"), telegram_channel(telegram, "gaza", "@second")],
        rules=[
            {"name": "iran", "any": ["ايران", "Iran"], "channels": ["iran"]},
            {"name": "gaza", "any": ["غزة", "Gaza"], "none": ["football"], "channels": ["gaza"]},
        ],
    )
    async with open_runtime(load(path)) as rt:
        await poll_and_deliver(rt)
        site.set(
            "/ar",
            ticker_page(
                ["إِيرَان: التلفزيون الإيراني يعلن إسقاط مسيرة", "قصف مدفعي على غــزة", "خبر قديم"], heading="عاجل"
            ),
        )
        site.set(
            "/en",
            ticker_page(
                ["Iran and Gaza talks resume", "Gaza football team wins", "Iranian delegation lands", "Old line"]
            ),
        )
        await poll_and_deliver(rt)
    iran = [m.plain.split("\n")[0] for m in telegram.sent_to("@alerts")]
    gaza = [m.plain.split("\n")[0] for m in telegram.sent_to("@second")]
    assert sorted(iran) == sorted(["إِيرَان: التلفزيون الإيراني يعلن إسقاط مسيرة", "Iran and Gaza talks resume"])
    assert sorted(gaza) == sorted(["قصف مدفعي على غــزة", "Iran and Gaza talks resume"])


@pytest.mark.parametrize("declared", ["header", "meta"])
async def test_windows_1256_page(tmp_path: Path, site: Site, telegram: FakeTelegram, declared: str) -> None:
    def page(lines: list[str]) -> bytes:
        html = ticker_page(lines, heading="عاجل")
        if declared == "meta":
            html = html.replace(
                '<meta charset="utf-8">', '<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">'
            )
        return html.encode("cp1256")

    ctype = "text/html; charset=windows-1256" if declared == "header" else "text/html"
    site.set("/", page(["لبنان: خبر قديم"]), content_type=ctype)
    path = write_config(
        tmp_path,
        sources=[{"name": "ar", "url": site.url("/")}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "lb", "any": ["لبنان"], "channels": ["alerts"]}],
    )
    async with open_runtime(load(path)) as rt:
        await poll_and_deliver(rt)
        site.set(
            "/",
            page(["لبنان: غارة إسرائيلية على بلدة الخيام", "سوريا: خبر لا يطابق", "لبنان: خبر قديم"]),
            content_type=ctype,
        )
        await poll_and_deliver(rt)
    assert [m.plain.split("\n")[0] for m in telegram.sent] == ["لبنان: غارة إسرائيلية على بلدة الخيام"]


async def test_failing_source_does_not_stop_others(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/ok", ticker_page(["Old"]))
    site.set("/broken", "oops", status=500)
    path = write_config(
        tmp_path,
        sources=[{"name": "broken", "url": site.url("/broken")}, {"name": "ok", "url": site.url("/ok")}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
    )
    async with open_runtime(load(path)) as rt:
        assert await poll_and_deliver(rt) == ["HTTP 500 Internal Server Error"]
        site.set("/ok", ticker_page(["Fresh", "Old"]))
        assert await poll_and_deliver(rt) == ["HTTP 500 Internal Server Error"]
    assert [m.plain.split("\n")[0] for m in telegram.sent] == ["Fresh"]


async def test_unknown_chat_fails_alone(
    tmp_path: Path, site: Site, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    site.set("/", ticker_page(["Old"]))
    telegram.forbidden.add("@second")
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/")}],
        channels=[
            telegram_channel(telegram, "ghost", "@no_such_chat"),
            telegram_channel(telegram, "alerts", "@alerts"),
            telegram_channel(telegram, "noadmin", "@second"),
        ],
        rules=[{"name": "all", "channels": ["ghost", "alerts", "noadmin"]}],
    )
    async with open_runtime(load(path)) as rt:
        await poll_and_deliver(rt)
        site.set("/", ticker_page(["New one", "New two", "Old"]))
        await poll_and_deliver(rt)
        [ghost] = [s for s in await rt.store.status() if s.channel == "ghost"]
    assert [m.plain.split("\n")[0] for m in telegram.sent_to("@alerts")] == ["New two", "New one"]
    assert (ghost.failed, ghost.queued) == (2, 0)
    assert "not found" in (ghost.last_error or "")
    failures = [r.getMessage() for r in caplog.records if "alert.failed" in r.getMessage()]
    assert len(failures) == 2  # logged once per channel, not once per alert
    assert any("bot is not an administrator of @second" in f for f in failures)


@pytest.mark.parametrize("on_edit", ["ignore", "edit"])
async def test_article_fixed_is_an_edit_not_a_new_line(
    tmp_path: Path, site: Site, telegram: FakeTelegram, on_edit: str
) -> None:
    line = "Iraq: Israeli drone carries out a attack on a convoy near al-Qaim crossing"
    fixed = "Iraq - Israeli drone carries out an attack on a convoy near al-Qaim crossing"
    site.set("/", ticker_page(["Old line"]))
    async with open_runtime(load(config_for(tmp_path, site, telegram, on_edit=on_edit))) as rt:
        [source] = rt.sources
        await poll_and_deliver(rt)
        site.set("/", ticker_page([line, "Old line"]))
        await poll_and_deliver(rt)
        [first] = telegram.sent
        site.set("/", ticker_page([fixed, "Old line"]))
        result = await poll_once(source, rt.store, rt.matcher, dedup=rt.config.dedup)
        assert (result.new, result.edits) == (1, 1)
        if on_edit == "ignore":
            assert (result.queued, result.alerts) == (0, ())
        else:
            [alert] = result.alerts
            assert (result.queued, alert.channel, alert.item.text, alert.edit_of) == (
                1,
                "alerts",
                fixed,
                str(first.message_id),
            )
        await rt.deliverer.run_until_empty(time.time() + 15)
    [message] = telegram.sent  # still the one message, edited or not
    assert (message.message_id, message.plain.split("\n")[0]) == (
        first.message_id,
        line if on_edit == "ignore" else fixed,
    )
    assert message.method == ("sendMessage" if on_edit == "ignore" else "editMessageText")
