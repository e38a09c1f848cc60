"""The apprise channel against local endpoints: Apprise's json:// pointed at a server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from helpers import free_port, run_monitor, until, write_config
from sites import BackgroundServer, Site, ticker_page

from monitor.config import load
from monitor.errors import ConfigError
from monitor.runtime import Runtime, open_runtime

SECRET = "s3cr3t-webhook-token-123"


class Endpoint:
    """A chat service's endpoint: records the messages it takes; answers the statuses given first."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.messages: list[str] = []
        self.tries = 0
        self.hold = threading.Event()
        self.hold.set()  # clear() to make requests wait
        self.waiting = 0

        async def take(request: web.Request) -> web.Response:
            self.tries += 1
            self.waiting += 1
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait, 30)
            self.waiting -= 1
            if self.statuses:
                return web.Response(status=self.statuses.pop(0), text="{}")
            self.messages.append((await request.json())["message"])
            return web.Response(status=200, text="{}")

        app = web.Application()
        app.router.add_post("/{path:.*}", take)
        self.server = BackgroundServer(app)

    def url(self, path: str = "notify") -> str:
        return f"json://127.0.0.1:{self.server.port}/{path}"

    def __enter__(self) -> Endpoint:
        self.server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.hold.set()
        self.server.stop()


def config(tmp_path: Path, site: Site, urls: list[str], **delivery: Any) -> Path:
    return write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/")}],
        channels=[{"name": "chat", "type": "apprise", "urls": urls, "per_second": 1000, "per_minute": 100000}],
        rules=[{"name": "all", "channels": ["chat"]}],
        delivery={"timeout": 30, "retry_base": 0.05, "retry_max": 0.2, **delivery},
    )


async def queue(rt: Runtime, site: Site, new: list[str]) -> None:
    site.set("/", ticker_page(["Old line"]))
    await rt.poll(rt.sources[0])  # the baseline
    site.set("/", ticker_page([*new, "Old line"]))
    assert (await rt.poll(rt.sources[0])).new == len(new)


async def test_alerts_arrive_once_in_order(tmp_path: Path, site: Site) -> None:
    with Endpoint() as chat:
        async with open_runtime(load(config(tmp_path, site, [chat.url()]))) as rt:
            await queue(rt, site, ["Second line", "First line"])
            await rt.deliverer.run_until_empty(time.time() + 30)
            assert rt.deliverer.tally["chat"].sent == 2
    assert [m.split("\n")[0] for m in chat.messages] == ["First line", "Second line"]


async def test_a_5xx_is_retried_and_a_4xx_fails_with_its_reason(tmp_path: Path, site: Site) -> None:
    with Endpoint([500, 503]) as flaky, Endpoint([400]) as refusing:
        path = write_config(
            tmp_path,
            sources=[{"name": "en", "url": site.url("/")}],
            channels=[
                {"name": "flaky", "type": "apprise", "urls": flaky.url()},
                {"name": "refusing", "type": "apprise", "urls": [refusing.url()]},
            ],
            rules=[{"name": "all", "channels": ["flaky", "refusing"]}],
            delivery={"timeout": 30, "retry_base": 0.05, "retry_max": 0.2},
        )
        async with open_runtime(load(path)) as rt:
            await queue(rt, site, ["A line"])
            await rt.deliverer.run_until_empty(time.time() + 30)
            flaky_tally, refused = rt.deliverer.tally["flaky"], rt.deliverer.tally["refusing"]
    assert (flaky.tries, [m.split("\n")[0] for m in flaky.messages], flaky_tally.sent) == (3, ["A line"], 1)
    assert (refusing.tries, refused.failed) == (1, 1)  # permanent: not tried again
    assert "JSON" in (refused.last_error or "") and "error=400" in (refused.last_error or "")


async def test_a_retry_goes_only_to_the_service_that_failed(tmp_path: Path, site: Site) -> None:
    with Endpoint() as good, Endpoint([502]) as bad:
        async with open_runtime(load(config(tmp_path, site, [good.url(), bad.url()]))) as rt:
            await queue(rt, site, ["One line"])
            await rt.deliverer.run_until_empty(time.time() + 30)
    assert [m.split("\n")[0] for m in good.messages] == ["One line"]  # once, though the alert was sent twice
    assert [m.split("\n")[0] for m in bad.messages] == ["One line"] and bad.tries == 2


async def test_a_slow_service_does_not_hold_the_event_loop(tmp_path: Path, site: Site) -> None:
    with Endpoint() as slow:
        slow.hold.clear()
        async with open_runtime(load(config(tmp_path, site, [slow.url()]))) as rt:
            await queue(rt, site, ["A line"])
            sending = asyncio.create_task(rt.deliverer.run_until_empty(time.time() + 30))
            # The loop runs this wait while the service holds the request: the send is on a thread.
            await until(lambda: slow.waiting == 1, "the service to hold the request")
            assert not sending.done()
            slow.hold.set()
            await sending
    assert [m.split("\n")[0] for m in slow.messages] == ["A line"]


async def test_secrets_in_urls_come_from_the_environment_and_are_never_logged(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CHAT_TOKEN", SECRET)
    with Endpoint([500, 404]) as chat:
        cfg = load(config(tmp_path, site, [chat.url("hooks/${CHAT_TOKEN}")]))
        assert SECRET in cfg.secrets()
        assert SECRET not in repr(cfg)
        from monitor import logs

        logs.setup("debug", "text", cfg.secrets())
        with caplog.at_level(logging.DEBUG):
            async with open_runtime(cfg) as rt:
                await queue(rt, site, ["A line"])
                await rt.deliverer.run_until_empty(time.time() + 30)
                error = rt.deliverer.tally["chat"].last_error or ""
    assert "error=404" in error and SECRET not in error
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("urls", "fault"),
    [
        (["nosuchservice://host/x"], "channels[0].urls[0]: not an Apprise URL (scheme 'nosuchservice')"),
        ([], "channels[0].urls: is required"),
        (["json://127.0.0.1/x", "no-scheme-at-all"], "channels[0].urls[1]: not an Apprise URL (scheme '?')"),
    ],
)
def test_bad_urls_are_config_errors_that_do_not_echo_them(
    tmp_path: Path, site: Site, urls: list[str], fault: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(config(tmp_path, site, urls))
    assert fault in str(info.value)
    assert all(u.split("://")[-1] not in str(info.value) for u in urls if len(u) > 12)


def test_once_names_the_fault_and_keeps_the_secret(tmp_path: Path, site: Site) -> None:
    site.set("/", ticker_page(["A line", "Old line"]))
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "backfill": 1}],
        channels=[
            {"name": "chat", "type": "apprise", "urls": [f"json://127.0.0.1:{free_port()}/hooks/${{CHAT_TOKEN}}"]}
        ],
        rules=[{"name": "all", "channels": ["chat"]}],
        delivery={"timeout": 2, "retry_base": 0.1, "retry_max": 0.2},
    )
    out = run_monitor("--once", "--config", str(path), env={"CHAT_TOKEN": SECRET})
    assert out.returncode == 1
    # The process logs only errors by default: Apprise's own words still reach the summary.
    assert "channel chat: 1 alert still queued (last error: JSON (" in out.stderr
    assert "A Connection error occurred" in out.stderr, out.stderr
    assert SECRET not in out.stdout + out.stderr
