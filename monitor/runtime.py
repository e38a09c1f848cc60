"""Build the parts of a run from a Config; run them once (`monitor --once`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp

from . import report
from .bot.parts import BotParts, open_bot
from .channels import Channel, make_channel
from .cluster import Cluster, Solo
from .config_types import Config
from .errors import MonitorError
from .health import Health
from .http import new_session
from .memo import PollMemo
from .metrics import Metrics
from .models import PollResult
from .pipeline import Deliverer, poll_once
from .rules import Matcher
from .sources import Source, make_source, pool
from .store import Store, cluster_for, open_store

logger = logging.getLogger(__name__)
POLL_FLUSH = 1.0  # seconds a poll's status may wait in memory before it is written


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
    metrics: Metrics | None = None
    cluster: Cluster = field(default_factory=Solo)
    dry_run: bool = False  # read the state, write nothing, send nothing
    bot: BotParts | None = None  # the readers' bot (config bot:)
    last_polled: dict[str, float] = field(default_factory=dict)
    state_problem: str | None = None  # the state file was deleted or replaced under the running service
    _flush: asyncio.TimerHandle | None = None  # writes the noted polls a second after the first
    _flushing: asyncio.Task[None] | None = None  # the write the timer started
    memo: PollMemo = field(default_factory=PollMemo)  # each source's last recorded lines: quiet polls skip the state

    async def poll(self, source: Source) -> PollResult:
        """Poll one source, tell the admin channel about its health, and wake the deliverers (never raises)."""
        started = time.monotonic()
        readers = None
        if self.bot is not None:
            if self.cluster.shared:
                try:
                    await self.bot.sync()
                except MonitorError as exc:  # the poll goes on with the readers held (its own store call says why)
                    logger.debug("bot.readers_not_synced error=%s", exc)
            readers = self.bot.readers.matching
        result = await poll_once(
            source,
            self.store,
            self.matcher,
            dedup=self.config.dedup,
            dry_run=self.dry_run,
            readers=readers,
            memo=self.memo,
        )
        now = time.time()
        self.last_polled[result.source] = now
        message = self.health.observe(result, now, max_age=source.max_age)
        if self.metrics is not None:
            self.metrics.poll(result, time.monotonic() - started, now)
        if not self.dry_run:
            next_poll = max(now + source.config.interval, self.health.next_due(result.source))
            self.store.note_poll(
                result.source,
                at=now,
                error=result.error,
                new=result.new,
                next_poll=next_poll,
                validators=source.validators,
                health=self.health.snapshot(result.source),
            )
            if self._flush is None:
                self._flush = asyncio.get_running_loop().call_later(POLL_FLUSH, self._flush_soon)
        if message:
            recovered = not self.health.alarmed(result.source)  # good news is not a warning
            logger.log(logging.INFO if recovered else logging.WARNING, "source.health %s", message)
            if self.config.admin_channel and not self.dry_run:
                try:
                    await self.store.queue_message(self.config.admin_channel, message)
                except MonitorError as exc:
                    logger.error("source.health_not_queued error=%s", exc)
        if result.queued or message:
            self.wake()
        return result

    def wake(self) -> None:
        """Alerts were queued (here, or by another instance): every delivery loop looks at its queue now."""
        self.deliverer.wake()
        if self.bot is not None:
            self.bot.delivery.wake()

    async def poll_claimed(self, source: Source) -> PollResult | None:
        """Poll a source if this instance claims its poll (always, alone on a state); None when not ours now."""
        name, now = source.config.name, time.time()
        try:
            claim = await self.cluster.claim(name, source.config.interval, now)
        except MonitorError as exc:  # the poll waits for its next turn
            if self.cluster.problem:  # the state database is unreachable: the heartbeat said so, once
                logger.debug("poll.unclaimed source=%s error=%s", name, exc)
            else:
                logger.error("poll.unclaimed source=%s error=%s", name, exc)
            return None
        if claim is None:  # another instance polls it: to /healthz it is polled
            self.last_polled[name] = now
            return None
        if claim.health is not None:  # another instance may have polled it since we last did
            self.health.states[name] = claim.health
        if claim.validators is not None:
            source.restore(claim.validators)
        return await self.poll(source)

    def _flush_soon(self) -> None:
        """The flush timer fired: write the noted polls in a task (flush_polls logs its faults)."""
        self._flush = None
        self._flushing = asyncio.create_task(self.flush_polls(), name="flush-polls")

    async def flush_polls(self) -> None:
        """Write the noted polls to the state file (a failed write loses only status and ETags; never raises)."""
        try:
            await self.store.flush_polls()
        except MonitorError as exc:
            logger.error("state.write_failed what=polls error=%s", exc)
        except Exception:  # a bug: logged with its traceback, the next poll's timer tries again
            logger.exception("state.write_crashed what=polls")

    def cancel_flush(self) -> None:
        """Stop the pending write of noted polls (closing the store writes them)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None

    async def check_state(self) -> None:
        """Notice a state file deleted or replaced under the running service (logged once, shown by /healthz)."""
        problem = await self.store.check_file()
        if problem and problem != self.state_problem:
            logger.error("state.file_gone %s", problem)
        self.state_problem = problem


@contextlib.asynccontextmanager
async def open_runtime(
    config: Config, *, dry_run: bool = False, metrics: Metrics | None = None
) -> AsyncIterator[Runtime]:
    """Build the session, store, sources and channels; close them all on the way out."""
    async with contextlib.AsyncExitStack() as stack:  # closed in reverse order, whatever fails
        stack.callback(pool.close)  # parser processes: started again on demand
        store = await open_store(config.state, readonly=dry_run)
        stack.push_async_callback(store.close)
        session = new_session(limit=config.defaults.connections, limit_per_host=config.defaults.per_host)
        stack.push_async_callback(session.close)
        channels = {c.name: make_channel(c, session) for c in config.channels}
        for channel in channels.values():
            stack.push_async_callback(channel.close)
        sources = [make_source(s, session) for s in config.sources]
        for source in sources:  # a restart (or the next --once) still asks "changed since?"
            source.restore(await store.validators(source.config.name))
        cluster = Solo() if dry_run else cluster_for(store, config.state)
        rt = Runtime(
            config=config,
            cluster=cluster,
            session=session,
            store=store,
            sources=sources,
            channels=channels,
            matcher=Matcher(config.rules),
            health=Health(config.sources, await store.health_states()),
            metrics=metrics,
            dry_run=dry_run,
            memo=PollMemo.for_state(config.state.retention, config.dedup.edit_window),
            deliverer=Deliverer(
                store, channels, config.delivery, on_result=metrics.delivery if metrics else None, cluster=cluster
            ),
        )
        stack.callback(rt.cancel_flush)  # store.close() writes what the timer would have
        if not dry_run:
            rt.bot = await open_bot(config, store, rt.deliverer, cluster)
            if rt.bot is not None:
                stack.push_async_callback(rt.bot.close)
        yield rt


async def run_once(config: Config, *, dry_run: bool = False) -> int:
    """Poll every source once, deliver, and return the exit code (0 all good, 1 something failed)."""
    async with open_runtime(config, dry_run=dry_run) as rt:
        results = await asyncio.gather(*(rt.poll(s) for s in rt.sources))
        for source, r in zip(rt.sources, results, strict=True):
            report.print_poll(r, source.config, rt.matcher, dry_run=dry_run)
        if dry_run:
            return 1 if any(r.error for r in results) else 0
        try:
            deadline = time.time() + config.delivery.timeout
            await rt.deliverer.run_until_empty(deadline)
            if rt.bot is not None:  # the readers' alerts, after the channels'
                await rt.bot.delivery.run_until_empty(deadline)
        finally:
            await rt.cluster.stop()  # a chat this run took goes back to the running instances at once
        return await _summary(rt, results)


async def _summary(rt: Runtime, results: list[PollResult]) -> int:
    """Print what went wrong with the channels, if anything, and return the exit code."""
    problems = []
    for name in rt.channels:
        try:
            queued = await rt.store.count_queued(name)
        except MonitorError as exc:
            problems.append(f"channel {name}: cannot count its queue: {exc}")
            continue
        problems += report.channel_problems(name, queued, rt.deliverer.tally[name])
    if rt.bot is not None and rt.bot.delivery.oldest is not None:
        problems.append(f"readers: alerts not sent (last error: {rt.bot.delivery.last_error or 'none'})")
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems or any(r.error for r in results) else 0


async def prune(rt: Runtime) -> None:
    """Forget old lines and finished alerts (state.retention); expire alerts of removed channels."""
    now = time.time()
    for status in await rt.store.status():
        # A channel taken out of the config has no delivery loop to expire its queue.
        if not status.queued or status.channel in rt.channels:
            continue
        if expired := await rt.store.expire(status.channel, now - rt.config.delivery.max_age):
            logger.warning("alert.expired channel=%s count=%d reason=channel-removed", status.channel, expired)
    removed = await rt.store.prune(now - rt.config.state.retention)
    if removed:
        logger.info("store.pruned rows=%d", removed)
