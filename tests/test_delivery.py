"""Never lose or double an alert: Telegram's 429s, 5xx, dropped connections, bursts, kill -9."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fake_telegram import FakeTelegram, parse_html
from helpers import telegram_channel, until, write_config
from sites import Site, ticker_page

from monitor.channels.render import size
from monitor.config import load
from monitor.pipeline import poll_once
from monitor.runtime import Runtime, open_runtime


def lines(n: int, prefix: str = "Line") -> list[str]:
    """n ticker lines, newest first as tickers list them."""
    return [
        f"{prefix} {i}: Al Mayadeen's correspondent: an event of some length happened in town {i}, "
        "officials said, with more details to follow"
        for i in range(n, 0, -1)
    ]


async def queue(rt: Runtime, site: Site, new: list[str]) -> None:
    """Baseline the ticker, then put new lines on it and poll again (queuing their alerts)."""
    site.set("/", ticker_page(["Old line"]))
    for s in rt.sources:
        await poll_once(s, rt.store, rt.matcher, dedup=rt.config.dedup)
    site.set("/", ticker_page([*new, "Old line"]))
    for s in rt.sources:
        assert (await poll_once(s, rt.store, rt.matcher, dedup=rt.config.dedup)).error is None


def config(
    tmp_path: Path, site: Site, tg: FakeTelegram, channels: list[dict[str, Any]], interval: int = 60, **delivery: Any
) -> Path:
    return write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": interval}],
        channels=channels,
        rules=[{"name": "all", "channels": [c["name"] for c in channels]}],
        delivery={"timeout": 30, "retry_base": 0.05, **delivery},
    )


async def _none_queued(rt: Runtime) -> bool:
    return await rt.store.count_queued("alerts") == 0


def firsts(sent: list[Any]) -> list[str]:
    return [m.plain.split("\n")[0] for m in sent]


async def test_429_pauses_only_that_chat(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    channels = [telegram_channel(telegram, "a", "@alerts"), telegram_channel(telegram, "b", "@second")]
    new = lines(3)
    async with open_runtime(load(config(tmp_path, site, telegram, channels))) as rt:
        await queue(rt, site, new)
        telegram.fail("@alerts", status=429, retry_after=1)
        await rt.deliverer.run_until_empty(time.time() + 30)
    expected = list(reversed(new))
    assert firsts(telegram.sent_to("@alerts")) == expected
    assert firsts(telegram.sent_to("@second")) == expected
    refused_at = next(at for method, chat, status, at in telegram.log if status == 429)
    first_a = telegram.sent_to("@alerts")[0].at
    assert first_a - refused_at >= 0.95  # retry_after honoured for @alerts...
    assert telegram.sent_to("@second")[-1].at < first_a  # ...while @second kept flowing


async def test_500s_and_dropped_connections_then_recovery(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    new = lines(4)
    async with open_runtime(load(config(tmp_path, site, telegram, [telegram_channel(telegram)]))) as rt:
        await queue(rt, site, new)
        telegram.fail(status=500, times=2)
        telegram.fail(drop=True, times=2)
        await rt.deliverer.run_until_empty(time.time() + 30)
        assert await rt.store.count_queued("alerts") == 0
    refused = [status for _, _, status, _ in telegram.log if status != 200]
    assert refused == [500, 500, 0, 0]  # 0: connection dropped
    assert firsts(telegram.sent) == list(reversed(new))  # each once, in order


async def test_burst_arrives_as_digests_within_limits(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    # Telegram's real limits for one chat: 1 message a second, 20 a minute.
    channel = telegram_channel(telegram, per_second=1, per_minute=20, digest_after=5)
    new = lines(40)
    async with open_runtime(load(config(tmp_path, site, telegram, [channel]))) as rt:
        await queue(rt, site, new)
        await rt.deliverer.run_until_empty(time.time() + 30)
    sent = telegram.sent
    print(f"burst of 40: {len(sent)} digests, sizes {[size(m.plain) for m in sent]}")
    assert 2 <= len(sent) <= 4, len(sent)
    assert all(m.plain.startswith(f"{m.plain.split()[0]} new lines") for m in sent)
    body = "\n".join(m.plain for m in sent)
    assert all(body.count(line + "\n") == 1 for line in new)  # every line, once
    assert all(size(m.plain) <= 4096 for m in sent)
    gaps = [b.at - a.at for a, b in itertools.pairwise(sent)]
    assert all(gap >= 0.9 for gap in gaps), gaps  # about one message a second, no faster
    order = [line for m in sent for line in m.plain.split("\n") if line.startswith("Line ")]
    assert order == list(reversed(new))


async def test_silent_rule_and_template(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    channel = telegram_channel(
        telegram, template='<b>{source}</b> {time}: {text} <a href="{link}">more</a>', timezone="Asia/Beirut"
    )
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/")}],
        channels=[channel],
        rules=[
            {"name": "quiet", "any": ["Syria"], "silent": True, "channels": ["alerts"]},
            {"name": "loud", "any": ["Lebanon"], "channels": ["alerts"]},
        ],
    )
    async with open_runtime(load(path)) as rt:
        await queue(rt, site, ["Lebanon: loud one", "Syria: quiet one", "Syria & Lebanon: both"])
        await rt.deliverer.run_until_empty(time.time() + 30)
    by_text = {m.plain.split(": ", 1)[1].rsplit(" more", 1)[0]: m for m in telegram.sent}
    assert {k: m.disable_notification for k, m in by_text.items()} == {
        "Lebanon: loud one": False,
        "Syria: quiet one": True,
        "Syria & Lebanon: both": False,
    }
    assert all(m.plain.startswith("en ") for m in telegram.sent)


def test_service_killed_mid_burst_loses_nothing(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/", ticker_page(["Old line"]))
    channel = telegram_channel(telegram, per_second=10, per_minute=100000, digest_after=1000)
    path = config(tmp_path, site, telegram, [channel], interval=1)

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )

    def wait(condition: Any, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)

    new = lines(30)
    proc = start()
    try:
        wait(lambda: site.hits["/"] >= 1, "the baseline poll")
        wait(lambda: _baselined(tmp_path), "the baseline commit")
        site.set("/", ticker_page([*new, "Old line"]))
        telegram.wait_for(8, timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        killed_at = len(telegram.sent)
        proc = start()
        telegram.wait_for(lambda sent: {m.plain.split("\n")[0] for m in sent} >= set(new), timeout=60)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    counts = Counter(firsts(telegram.sent))
    twice = sum(n - 1 for n in counts.values())
    print(f"kill -9 after {killed_at} of 30 messages: {len(telegram.sent)} arrived, {twice} twice")
    assert set(counts) == set(new)
    assert twice <= 1  # only the message in flight at the kill may come twice
    assert 8 <= killed_at < 30


def _baselined(tmp_path: Path) -> bool:
    import sqlite3

    db = sqlite3.connect(tmp_path / "state" / "monitor.db")
    try:
        return db.execute("SELECT COUNT(*) FROM baseline").fetchone()[0] == 1
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


@pytest.mark.parametrize("text", ["word " * 2000, "&<>" * 3000, "x" * 9000, "ايران " * 1500])
def test_long_alert_is_split_between_words_never_inside_entities(text: str) -> None:
    from monitor.channels.render import HTML, Renderer
    from monitor.config_types import ChannelConfig, TelegramSettings
    from monitor.models import Alert

    renderer = Renderer(ChannelConfig("c", TelegramSettings("@chan_c", "1:x")), HTML, 4096)
    messages = renderer.one(Alert(1, "c", "src & co", text, "https://x.example/?a=1&b=2", time.time()))
    assert len(messages) >= 2
    plains = [parse_html(m) for m in messages]  # raises if a split broke an entity or tag
    assert all(size(p) <= 4096 for p in plains)
    joined = "".join(p.split("\n—")[0] for p in plains)
    assert joined.replace(" ", "") == text.replace(" ", "")


class Receiver:
    """A local webhook endpoint that records JSON bodies and can answer with errors first."""

    def __init__(self, statuses: list[int]) -> None:
        from aiohttp import web
        from sites import BackgroundServer

        self.bodies: list[dict[str, Any]] = []
        self.statuses = statuses

        async def hook(request: web.Request) -> web.Response:
            if self.statuses:
                return web.Response(status=self.statuses.pop(0))
            self.bodies.append(await request.json())
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", hook)
        self.server = BackgroundServer(app)

    def __enter__(self) -> Receiver:
        self.server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.stop()


async def test_webhook_channel_retries_5xx_and_fails_4xx_alone(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    with Receiver([503]) as ok, Receiver([404, 404]) as gone:
        channels = [
            {"name": "hook", "type": "webhook", "url": f"http://127.0.0.1:{ok.server.port}/hook"},
            {"name": "gone", "type": "webhook", "url": f"http://127.0.0.1:{gone.server.port}/hook"},
        ]
        async with open_runtime(load(config(tmp_path, site, telegram, channels))) as rt:
            await queue(rt, site, ["Second", "First"])
            await rt.deliverer.run_until_empty(time.time() + 30)
            status = {s.channel: s for s in await rt.store.status()}
    assert [b["alerts"][0]["text"] for b in ok.bodies] == ["First", "Second"]
    assert ok.bodies[0]["text"].startswith("First\n— en")
    assert (status["hook"].delivered, status["hook"].failed) == (2, 0)
    assert (status["gone"].delivered, status["gone"].failed, status["gone"].queued) == (0, 2, 0)
    assert "HTTP 404" in (status["gone"].last_error or "")


async def test_webhook_goes_through_the_environment_proxy(
    tmp_path: Path, site: Site, telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiohttp import web
    from sites import BackgroundServer

    targets: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        targets.append(request.raw_path)  # a forward proxy gets the absolute URL
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/{any:.*}", answer)
    proxy = BackgroundServer(app)
    proxy.start()
    try:
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1")  # the ticker site is reached directly
        channels = [{"name": "hook", "type": "webhook", "url": "http://hooks.invalid/hook"}]
        async with open_runtime(load(config(tmp_path, site, telegram, channels))) as rt:
            await queue(rt, site, ["Second", "First"])
            await rt.deliverer.run_until_empty(time.time() + 30)
            [status] = await rt.store.status()
    finally:
        proxy.stop()
    assert targets == ["http://hooks.invalid/hook"] * 2
    assert (status.delivered, status.failed) == (2, 0)


@pytest.mark.parametrize("quiet_now", [True, False])
async def test_quiet_hours_and_urgent(tmp_path: Path, site: Site, telegram: FakeTelegram, quiet_now: bool) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    start = now - timedelta(hours=1) if quiet_now else now + timedelta(hours=1)
    window = {"from": start.strftime("%H:%M"), "to": (start + timedelta(hours=2)).strftime("%H:%M"), "tz": "UTC"}
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/")}],
        channels=[telegram_channel(telegram, quiet_hours=window)],
        rules=[
            {"name": "urgent", "any": ["ceasefire"], "priority": "urgent", "channels": ["alerts"]},
            {"name": "rest", "any": ["Lebanon"], "channels": ["alerts"]},
        ],
    )
    async with open_runtime(load(path)) as rt:
        await queue(rt, site, ["Lebanon: ceasefire holds", "Lebanon: talks go on"])
        await rt.deliverer.run_until_empty(time.time() + 15)
    rings = {m.plain.split("\n")[0]: not m.disable_notification for m in telegram.sent}
    assert rings == {"🔴 URGENT Lebanon: ceasefire holds": True, "Lebanon: talks go on": not quiet_now}


async def test_queue_of_a_removed_channel_expires(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    from monitor.runtime import prune

    gone = telegram_channel(telegram, "gone", "@nowhere_yet")
    async with open_runtime(load(config(tmp_path, site, telegram, [gone]))) as rt:
        await queue(rt, site, ["Queued for a channel about to be removed"])
        rt.store.db.execute("UPDATE outbox SET created = 0")  # older than max_age
    async with open_runtime(load(config(tmp_path, site, telegram, [telegram_channel(telegram)]))) as rt:
        await prune(rt)
        [status] = [s for s in await rt.store.status() if s.channel == "gone"]
    assert (status.queued, status.failed) == (0, 1)


@pytest.mark.parametrize(("token", "status"), [("999:WRONG-token-revoked", 401), ("not-a-token", 404)])
async def test_refused_token_blocks_the_channel_and_names_it(telegram: FakeTelegram, token: str, status: int) -> None:
    from monitor.channels.telegram import TelegramChannel
    from monitor.config_types import ChannelConfig, TelegramSettings
    from monitor.errors import DeliveryError
    from monitor.models import Alert

    # Telegram answers 401 Unauthorized for a revoked token, 404 Not Found for a malformed one:
    # python-telegram-bot raises InvalidToken for both.
    channel = TelegramChannel(
        ChannelConfig("alerts", TelegramSettings("@alerts", token, api_base_url=telegram.base_url))
    )
    try:
        with pytest.raises(DeliveryError) as refused:
            await channel.send([Alert(1, "alerts", "en", "Line", None, time.time())])
    finally:
        await channel.close()
    assert refused.value.blocked == "token refused" and not refused.value.permanent
    assert str(refused.value).startswith("Telegram refused the bot token for channel 'alerts'")
    assert token not in str(refused.value)
    assert [(c.method, c.status) for c in telegram.log] == [("getMe", status)]


async def test_refused_token_holds_alerts_then_a_recheck_after_retry_max_sends_them(
    tmp_path: Path, site: Site, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    new = lines(2)
    async with open_runtime(load(config(tmp_path, site, telegram, [telegram_channel(telegram)], retry_max=1))) as rt:
        await queue(rt, site, new)
        accepted, telegram.token = telegram.token, "123456:NEW-token-after-revoke"  # BotFather's /revoke
        loop = asyncio.create_task(rt.deliverer.run_forever("alerts"))
        try:
            await until(lambda: rt.deliverer.tally["alerts"].blocked == "token refused", "the refused token")
            [problem] = await rt.deliverer.stalled(time.time(), 600)
            assert problem.startswith("channel alerts: token refused")
            # A new line while blocked is queued, and sends nothing before the recheck.
            site.set("/", ticker_page(["Late line", *new, "Old line"]))
            assert (await poll_once(rt.sources[0], rt.store, rt.matcher, dedup=rt.config.dedup)).queued == 1
            rt.deliverer.wake()
            telegram.token = accepted  # the token works again (a Telegram hiccup): the recheck finds it
            await telegram.await_for(3)
            await until(lambda: _none_queued(rt), "the sends recorded")
            assert rt.deliverer.tally["alerts"].blocked is None and await rt.deliverer.stalled(time.time(), 600) == []
        finally:
            rt.deliverer.stop()
            await loop
    assert firsts(telegram.sent) == [*reversed(new), "Late line"]  # each once, in order
    refusals = [at for _, _, status, at in telegram.log if status == 401]
    gaps = [b - a for a, b in zip(refusals, [*refusals[1:], telegram.sent[0].at], strict=True)]
    assert refusals and min(gaps) >= 0.95  # one try per retry_max (1 s), however many alerts wait
    blocked = [r for r in caplog.records if "refused the bot token" in r.getMessage()]
    assert len(blocked) == 1 and blocked[0].levelname == "ERROR"  # one line, not one per alert or retry
    assert telegram.token not in caplog.text and "NEW-token" not in caplog.text
