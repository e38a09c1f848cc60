"""Scheduling at scale: first polls spread over the interval; one hung host cannot hold up the others."""

from __future__ import annotations

import asyncio
import itertools
import logging
from pathlib import Path

import pytest
from fake_telegram import FakeTelegram
from helpers import telegram_channel, write_config
from sites import Site, ticker_page

from monitor.config import load
from monitor.runtime import open_runtime
from monitor.service import Running


async def test_first_polls_are_spread_over_the_interval(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/", ticker_page(["A line"]))
    sources = [{"name": f"s{i}", "url": site.url("/"), "interval": 60} for i in range(10)]
    cfg = load(
        write_config(
            tmp_path,
            sources=sources,
            channels=[telegram_channel(telegram)],
            rules=[{"name": "all", "channels": ["alerts"]}],
        )
    )
    async with open_runtime(cfg) as rt:
        running = Running(rt)
        running.start()
        try:
            jobs = {job.id: job for job in running.scheduler.get_jobs()}
            first = [jobs[f"s{i}"].next_run_time.timestamp() for i in range(10)]
            gaps = [round(b - a, 3) for a, b in itertools.pairwise(first)]
            assert gaps == [6.0] * 9  # 60 s / 10 sources, not all at second 0
            assert all(jobs[f"s{i}"].trigger.jitter is None for i in range(10))  # intervals stay exact
        finally:
            await running.stop(10)


async def test_a_hung_host_does_not_hold_up_the_others(tmp_path: Path, telegram: FakeTelegram) -> None:
    with Site() as hung, Site() as fine:  # two ports: two hosts to aiohttp's per-host limit
        for i in range(4):
            hung.set(f"/{i}", ticker_page([f"Hung {i}"]))
            hung.hold(f"/{i}")
            fine.set(f"/{i}", ticker_page([f"Fine {i}"]))
        sources = [{"name": f"hung{i}", "url": hung.url(f"/{i}")} for i in range(4)]
        sources += [{"name": f"fine{i}", "url": fine.url(f"/{i}")} for i in range(4)]
        cfg = load(
            write_config(
                tmp_path,
                sources=sources,
                channels=[telegram_channel(telegram)],
                rules=[{"name": "all", "channels": ["alerts"]}],
                defaults={"connections": 4, "per_host": 2, "timeout": "60s"},
            )
        )
        async with open_runtime(cfg) as rt:
            polls = {s.config.name: asyncio.ensure_future(rt.poll(s)) for s in rt.sources}  # the hung ones first
            fine_polls = [polls[f"fine{i}"] for i in range(4)]
            done, _ = await asyncio.wait(fine_polls, timeout=30)
            assert len(done) == 4 and all(p.result().error is None and p.result().found == 1 for p in fine_polls)
            assert not any(polls[f"hung{i}"].done() for i in range(4))
            assert hung.hits.total() == 2  # the hung host holds its 2 connections, no more
            for i in range(4):
                hung.release(f"/{i}")
            results = await asyncio.wait_for(asyncio.gather(*polls.values()), timeout=30)
        assert [r.error for r in results] == [None] * 8


async def test_a_stop_as_the_first_jobs_come_due_is_quiet(
    tmp_path: Path, site: Site, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    site.set("/", ticker_page(["A line"]))
    cfg = load(
        write_config(
            tmp_path,
            sources=[{"name": "en", "url": site.url("/"), "interval": 60}],
            channels=[telegram_channel(telegram)],
            rules=[{"name": "all", "channels": ["alerts"]}],
        )
    )
    with caplog.at_level(logging.WARNING):
        async with open_runtime(cfg) as rt:
            running = Running(rt)
            running.start()  # the first poll and the prune are due now: the scheduler runs them next turn
            await running.stop(5)  # SIGTERM at once, in this same turn of the loop
        for _ in range(10):  # turns of the loop for what the scheduler had queued
            await asyncio.sleep(0)
    # No job cancelled before it began (APScheduler logs that as an error, with a traceback), and no
    # poll started after the stop on a closed session or store.
    assert caplog.records == [], caplog.text
    assert site.hits.total() == 0
