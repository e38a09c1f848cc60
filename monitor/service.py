"""Wiring: build the parts from a Config, then run them once (--once) or as a scheduled service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from .channels import Channel, format_plain, make_channel
from .config import Config
from .http import new_session
from .models import Alert
from .health import Health
from .pipeline import Deliverer, PollResult, poll_once
from .rules import Matcher
from .sources import Source, make_source
from .store import SqliteStore, Store

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a run needs, built from one Config."""

    config: Config
    session: aiohttp.ClientSession
    store: Store
    sources: list[Source]
    channels: dict[str, Channel]
    matcher: Matcher
    deliverer: Deliverer
    health: Health
    wakes: dict[str, asyncio.Event] = field(default_factory=dict)

    async def poll(self, source: Source, *, dry_run: bool = False) -> PollResult:
        """Poll one source, tell the admin channel about its health, and wake the deliverers."""
        result = await poll_once(
            source, self.store, self.matcher, dry_run=dry_run,
            edit_window=self.config.edit_window, same_line_window=self.config.same_line_window,
        )
        message = self.health.observe(result, time.time())
        if message:
            logger.warning("source.health %s", message)
            if self.config.admin_channel and not dry_run:
                self.store.notify(self.config.admin_channel, message)
        if result.queued or message:
            for wake in self.wakes.values():
                wake.set()
        return result


@contextlib.asynccontextmanager
async def open_runtime(config: Config, *, dry_run: bool = False) -> AsyncIterator[Runtime]:
    """Build the session, store, sources and channels; close them all on the way out."""
    store = SqliteStore.open_readonly(config.state_path) if dry_run else SqliteStore(config.state_path)
    session = new_session()
    channels = {c.name: make_channel(c, session) for c in config.channels}
    try:
        yield Runtime(
            config=config,
            session=session,
            store=store,
            sources=[make_source(s, session) for s in config.sources],
            channels=channels,
            matcher=Matcher(config.rules),
            health=Health(config.sources),
            deliverer=Deliverer(
                store, channels, config.max_age, config.per_second_total, config.retry_base, config.retry_max
            ),
        )
    finally:
        for channel in channels.values():
            await channel.close()
        await session.close()
        store.close()


async def run_once(config: Config, *, dry_run: bool = False) -> int:
    """Poll every source once, deliver, and return the exit code (0 all good, 1 something failed)."""
    async with open_runtime(config, dry_run=dry_run) as rt:
        results = await asyncio.gather(
            *(rt.poll(s, dry_run=dry_run) for s in rt.sources)
        )
        for r in results:
            _print_result(r)
        if dry_run:
            for r in results:
                for a in r.alerts:
                    alert = Alert(0, a.channel, a.item.source, a.item.text, a.item.link, time.time(), edit_of=a.edit_of)
                    print(format_plain(alert))
            return 1 if any(r.error for r in results) else 0
        await rt.deliverer.run_until_empty(time.time() + config.delivery_timeout)
        return _summary(rt, results)


def _print_result(r: PollResult) -> None:
    if r.error:
        print(f"{r.source}: FAILED: {r.error}", file=sys.stderr)
    elif r.baseline:
        print(
            f"{r.source}: {r.found} items, first poll: recorded as the baseline, {r.queued} queued"
            " (set backfill: N on the source to send its newest N)",
            file=sys.stderr,
        )
    else:
        print(f"{r.source}: {r.found} items, {r.new} new, {r.queued} alerts queued", file=sys.stderr)


def _summary(rt: Runtime, results: list[PollResult]) -> int:
    """Print what went wrong, if anything, and return the exit code."""
    problems = [f"source {r.source} failed: {r.error}" for r in results if r.error]
    for name in rt.channels:
        tally = rt.deliverer.tally[name]
        queued = rt.store.count_queued(name)
        if tally.failed:
            problems.append(f"channel {name}: {tally.failed} alerts failed: {tally.last_error}")
        if queued:
            problems.append(
                f"channel {name}: {queued} alerts still queued (last error: {tally.last_error});"
                " the next run sends them"
            )
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


async def run_service(config: Config) -> int:
    """Run until SIGTERM or SIGINT: one scheduler job per source, one delivery loop per channel."""
    async with open_runtime(config) as rt:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        polls: set[asyncio.Task[PollResult]] = set()

        async def poll_job(source: Source) -> None:
            # Shielded: the scheduler cancels running jobs on shutdown, but a poll that has
            # started must finish and commit; shutdown waits for it below.
            if not rt.health.due(source.config.name, time.time()):
                return  # backing off a failing source
            task = asyncio.ensure_future(rt.poll(source))
            polls.add(task)
            task.add_done_callback(polls.discard)
            await asyncio.shield(task)

        scheduler = AsyncIOScheduler(timezone=UTC)
        for source in rt.sources:
            interval = source.config.interval
            scheduler.add_job(
                poll_job,
                "interval",
                args=[source],
                id=source.config.name,
                seconds=interval,
                jitter=min(5.0, interval * 0.1),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(interval)),
                next_run_time=datetime.now(UTC),
            )
        scheduler.add_job(
            _prune, "interval", args=[rt], hours=6, next_run_time=datetime.now(UTC)
        )
        workers = []
        for name in rt.channels:
            rt.wakes[name] = asyncio.Event()
            workers.append(asyncio.create_task(rt.deliverer.run_forever(name, rt.wakes[name])))
        scheduler.start()
        logger.info(
            "service.started sources=%d channels=%d rules=%d",
            len(rt.sources), len(rt.channels), len(config.rules),
        )
        await stop.wait()
        logger.info("service.stopping polls_running=%d", len(polls))
        scheduler.shutdown(wait=False)
        await asyncio.gather(*polls, return_exceptions=True)
        rt.deliverer.stopping.set()
        await asyncio.gather(*workers, return_exceptions=True)
        logger.info("service.stopped")
    return 0


async def _prune(rt: Runtime) -> None:
    removed = rt.store.prune(time.time() - rt.config.retention)
    if removed:
        logger.info("store.pruned rows=%d", removed)
