"""The long-running service: APScheduler jobs, delivery loops, signals, reload, systemd, HTTP endpoint."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from . import config as config_mod
from . import logs
from . import page as page_mod
from .cluster import Holding
from .config_types import Config
from .errors import ConfigError, MonitorError
from .lock import StateLock
from .metrics import Metrics
from .models import PollResult
from .runtime import Runtime, open_runtime, prune
from .sources import Source
from .store import ChannelStatus, Sent, SourceStatus
from .systemd import Notifier
from .web import WebServer

logger = logging.getLogger(__name__)
STATE_CHECK = 30.0  # seconds between checks that the state file is still the one opened
OVERRUN_EVERY = 3600.0  # seconds: a source slower than its interval is logged at most this often
PAGE_READ = 5.0  # seconds the status page may wait for the state
HEALTH_READ = 3.0  # seconds /healthz may wait for the state
PAGE_ALERTS_SINCE = 30 * 86400.0  # the page's last alerts are looked for this far back


class Running:
    """One Runtime's scheduler jobs and delivery loops, started and stopped as a unit (per config)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        # Jobs run inline, on the loop, and a poll job only starts a poll task: APScheduler holds no
        # task of ours, so a stop has none to cancel (it would log that as an error with a traceback),
        # and a poll that outlasts its interval is ours to report (poll.overrun), not a "maximum
        # number of running instances" warning every interval.
        self.scheduler = AsyncIOScheduler(timezone=UTC, executors={"default": DebugExecutor()})
        self.polls: dict[str, asyncio.Task[PollResult | None]] = {}  # the poll under way of each source
        self.overran: set[str] = set()  # sources whose poll under way missed a turn
        self.overrun_logged: dict[str, float] = {}  # source -> when its overrun was last logged (monotonic)
        self.workers: dict[str, asyncio.Task[None]] = {}
        self.chores: set[asyncio.Task[None]] = set()  # prunes and state checks under way
        self.bot_tasks: list[asyncio.Task[None]] = []  # the readers' bot's listener and deliveries
        self.started = time.time()

    def start(self) -> None:
        """Schedule every source, spread over its interval, and start one delivery loop per channel."""
        now = datetime.now(UTC)
        for n, source in enumerate(self.rt.sources):
            interval = source.config.interval
            # First polls are spread evenly over the interval, not all at second 0: thousands of
            # sources then load the machine and the network evenly. No jitter: APScheduler 3 adds it
            # to the previous (jittered) fire time, so it would stretch every interval by half of it.
            first = now.timestamp() + interval * n / max(len(self.rt.sources), 1)
            self.scheduler.add_job(
                self._poll,
                "interval",
                args=[source],
                id=source.config.name,
                seconds=interval,
                coalesce=True,
                misfire_grace_time=max(1, int(interval)),
                next_run_time=datetime.fromtimestamp(first, UTC),
            )
        self.scheduler.add_job(self._chore, "interval", args=[self._prune], hours=6, next_run_time=now)
        self.scheduler.add_job(self._chore, "interval", args=[self._check_state], seconds=STATE_CHECK)
        for name in self.rt.channels:
            self.workers[name] = asyncio.create_task(self.rt.deliverer.run_forever(name), name=f"deliver:{name}")
        if self.rt.bot is not None:  # the readers' bot: its updates and its direct messages
            self.bot_tasks = [
                asyncio.create_task(self.rt.bot.listener.run(), name="bot:updates"),
                asyncio.create_task(self.rt.bot.delivery.run_forever(), name="bot:readers"),
            ]
        self.scheduler.start()

    def _poll(self, source: Source) -> None:
        """Start a poll of the source, unless its last one is still under way or it is backing off."""
        name = source.config.name
        if name in self.polls:
            self.overran.add(name)  # one poll at a time per source: this turn is skipped
            return
        if not self.rt.cluster.shared and not self.rt.health.due(name, time.time()):
            return  # backing off a failing source (shared: the state says, in the claim)
        task = asyncio.ensure_future(self.rt.poll_claimed(source))  # stop() waits for it, then cancels it
        self.polls[name] = task
        task.add_done_callback(functools.partial(self._polled, source, time.monotonic()))

    def _polled(self, source: Source, started: float, task: asyncio.Task[PollResult | None]) -> None:
        """A poll ended: if it missed a turn of its source, say so (once an hour at most)."""
        name = source.config.name
        del self.polls[name]
        if name not in self.overran:
            return
        self.overran.discard(name)
        now = time.monotonic()
        if task.cancelled() or now - self.overrun_logged.get(name, -OVERRUN_EVERY) < OVERRUN_EVERY:
            return  # a poll cancelled by a stop is no news
        self.overrun_logged[name] = now
        logger.warning("poll.overrun source=%s took=%.1fs interval=%gs", name, now - started, source.config.interval)

    def _chore(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start a housekeeping task (it logs its own faults); stop() waits for it."""
        task = asyncio.create_task(work())
        self.chores.add(task)
        task.add_done_callback(self.chores.discard)

    async def _prune(self) -> None:
        try:
            await prune(self.rt)
        except MonitorError as exc:  # the state cannot be written now: said plainly, tried again in 6 hours
            logger.error("store.prune_failed error=%s", exc)
        except Exception:  # a bug: logged with its traceback; the job runs again at its next time
            logger.exception("store.prune_failed")

    async def _check_state(self) -> None:
        try:
            await self.rt.check_state()
        except MonitorError as exc:
            logger.error("state.check_failed error=%s", exc)
        except Exception:  # a bug: logged with its traceback; the job runs again at its next time
            logger.exception("state.check_failed")

    async def stop(self, timeout: float) -> None:
        """No new polls; running polls and sends finish within timeout, else they are cancelled (and stay queued)."""
        self.scheduler.pause()  # at once: shutdown() takes effect at the loop's next turn, a job could start before
        self.scheduler.shutdown(wait=False)
        self.rt.deliverer.stop()
        if self.rt.bot is not None:
            self.rt.bot.listener.stop()
            self.rt.bot.delivery.stop()
        pending = [*self.polls.values(), *self.workers.values(), *self.chores, *self.bot_tasks]
        if pending:
            _, late = await asyncio.wait(pending, timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                logger.warning("service.stop_timeout cancelled=%d after=%gs", len(late), timeout)
                await asyncio.gather(*late, return_exceptions=True)
        await self.rt.cluster.stop()  # nothing is sent any more: the chats go to another instance now

    def dead(self) -> list[str]:
        """Name the parts that stopped working: the scheduler, a channel's delivery loop."""
        dead = [] if self.scheduler.running else ["scheduler is not running"]
        dead += [f"channel {name}: delivery loop ended" for name, task in self.workers.items() if task.done()]
        dead += [f"{task.get_name()}: loop ended" for task in self.bot_tasks if task.done()]
        return dead + self.rt.cluster.dead()

    async def problems(self, now: float) -> list[str]:
        """Everything /healthz should report: dead parts, stalled channels, sources not polled, the state file."""
        problems = self.dead()
        if self.rt.state_problem:
            problems.append(self.rt.state_problem)
        if self.rt.cluster.problem:  # the state database is unreachable: no use asking it about the queues
            problems.append(self.rt.cluster.problem)
        else:
            try:  # bounded: /healthz answers even while the state cannot (a database just gone)
                async with asyncio.timeout(HEALTH_READ):
                    problems += await self.rt.deliverer.stalled(now, self.rt.config.delivery.stall_after)
            except MonitorError as exc:
                problems.append(f"state: {exc}")
            except TimeoutError:
                problems.append(f"state: no answer within {HEALTH_READ:g}s")
        if self.rt.bot is not None:  # its listener and its readers' alerts, from memory
            problems += self.rt.bot.problems(now, self.rt.config.delivery.stall_after)
        for source in self.rt.sources:
            name = source.config.name
            interval = source.config.interval_max or source.config.interval  # adaptive: its longest wait
            last = self.rt.last_polled.get(name, self.started)
            if now - last > 3 * interval:
                problems.append(f"{name}: not polled for {now - last:.0f}s (interval {interval:g}s)")
        return problems

    async def page(self, now: float) -> str:
        """The status page, from this run's own store and config (a bounded read: the loop goes on)."""
        config, store = self.rt.config, self.rt.store
        problems = await self.problems(now)
        sources: list[SourceStatus] = []
        channels: list[ChannelStatus] = []
        alerts: list[Sent] = []
        instances: list[Holding] | None = None
        error = None
        try:
            async with asyncio.timeout(PAGE_READ):
                sources = await store.source_states()
                channels = await store.status()
                alerts = await store.history(now - PAGE_ALERTS_SINCE, limit=page_mod.ALERTS)
                if config.state.url is not None:
                    instances = await store.instances()
        except (MonitorError, TimeoutError) as exc:
            error = str(exc) or f"no answer within {PAGE_READ:g}s"
        polled = {s.source: s for s in sources}
        counted = {c.channel: c for c in channels}
        data = page_mod.PageData(
            now=now,
            sources=[
                polled.get(s.name) or SourceStatus(s.name, None, None, None, 0, None, None) for s in config.sources
            ],
            channels=[(c.type, counted.get(c.name) or ChannelStatus(c.name, 0, 0, 0, None)) for c in config.channels],
            alerts=alerts,
            problems=problems,
            instances=instances,
            takeover=config.state.takeover,
            error=error,
            secrets=config.secrets(),
        )
        return page_mod.render(data)

    async def summary(self) -> str:
        """One line for `systemctl status`."""
        try:
            queued = sum([await self.rt.store.count_queued(name) for name in self.rt.channels])
        except MonitorError:
            queued = -1
        failing = self.rt.health.failing()
        sent = sum(t.sent for t in self.rt.deliverer.tally.values())
        return (
            f"{len(self.rt.sources)} sources ({failing} failing), {len(self.rt.channels)} channels; "
            f"sent {sent}, queued {'?' if queued < 0 else queued}"
        )


async def run_service(path: str, config: Config) -> int:
    """Run until SIGTERM or SIGINT; SIGHUP reloads the config file. Return the exit code."""
    lock = StateLock(config.state.file)
    lock.acquire()
    notifier, metrics = Notifier(), Metrics()
    stop, reload = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload.set)
    current: list[Running] = []

    async def problems() -> list[str]:
        return await current[0].problems(time.time()) if current else ["starting"]

    async def page() -> str:
        if current:
            return await current[0].page(time.time())
        return page_mod.render(page_mod.PageData(time.time(), (), (), (), problems=["starting"]))

    web = WebServer(metrics, problems, page)
    if config.http.listen:
        await web.start(config.http.listen, config.http.auth)
    watchdog = (
        asyncio.create_task(_watchdog(notifier, lambda: not current or not current[0].dead()))
        if notifier.watchdog_interval
        else None
    )
    previous: Config | None = None  # the config before the last reload, to go back to if the new one fails
    try:
        while True:
            try:
                new_config = await _run(path, config, metrics, stop, reload, notifier, current)
            except Exception:
                if previous is None:
                    raise
                # Validated, yet it failed to start (a channel or the state file): the old one ran.
                logger.exception("service.reload_failed action=back-to-previous-config")
                config, previous = previous, None
                continue
            if new_config is None:
                break
            previous, config = config, new_config
            logger.info("service.reloaded file=%s", path)
    finally:
        if watchdog:
            watchdog.cancel()
        await web.stop()
        lock.release()
    logger.info("service.stopped")
    return 0


async def _run(
    path: str,
    config: Config,
    metrics: Metrics,
    stop: asyncio.Event,
    reload: asyncio.Event,
    notifier: Notifier,
    current: list[Running],
) -> Config | None:
    """Run one config until a signal; return the new config on a valid reload, None on stop."""
    async with open_runtime(config, metrics=metrics) as rt:
        running = Running(rt)
        await rt.cluster.start(rt.wake)
        running.start()
        current[:] = [running]
        notifier.ready(await running.summary())
        logger.info(
            "service.started sources=%d channels=%d rules=%d%s",
            len(rt.sources),
            len(rt.channels),
            len(config.rules),
            f" bot_readers={len(rt.bot.readers.by_id)}" if rt.bot else "",
        )
        new_config = await _wait(stop, reload, path, config, running, notifier)
        if new_config is None:
            notifier.stopping()
            logger.info("service.stopping polls_running=%d", len(running.polls))
        else:
            notifier.reloading()
        await running.stop(config.stop_timeout)
        current.clear()  # /healthz says "starting" until the next one runs; the watchdog waits for it
    return new_config


async def _wait(
    stop: asyncio.Event, reload: asyncio.Event, path: str, config: Config, running: Running, notifier: Notifier
) -> Config | None:
    """Wait for a signal; return the new config on a valid reload, None on stop."""
    while True:
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(reload.wait())}
        await asyncio.wait(waiters, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        if stop.is_set():
            return None
        notifier.status(await running.summary())
        if not reload.is_set():
            continue
        reload.clear()
        try:
            new = await asyncio.to_thread(config_mod.load, path)  # a big config takes seconds to check
            if (new.state.path, new.state.url) != (config.state.path, config.state.url):
                raise MonitorError("state.path or state.url cannot change on reload: restart the service instead")
        except (ConfigError, MonitorError) as exc:
            # The same clear error as check-config; the running config stays.
            logger.error("service.reload_refused error=%s", exc)
            notifier.status(f"reload refused: {exc}")
            continue
        except Exception as exc:  # whatever fails, the running config stays
            logger.exception("service.reload_refused error=%s", f"{type(exc).__name__}: {exc}")
            notifier.status("reload refused: internal error (see the log)")
            continue
        if new.http != config.http:
            logger.warning("service.reload_http_unchanged reason=http.listen and http.auth change on restart only")
        logs.add_secrets(new.secrets())  # a new token is redacted too (the old one stays redacted)
        return new


async def _watchdog(notifier: Notifier, alive: Callable[[], bool]) -> None:
    """Ping systemd from the event loop while the scheduler and delivery loops work.

    If the loop hangs, or a part of the service died, the pings stop and systemd restarts us.
    """
    assert notifier.watchdog_interval
    was_alive = True
    while True:
        if is_alive := alive():
            notifier.watchdog()
        elif was_alive:  # logged once when the pings stop
            logger.error("service.unhealthy watchdog=stopped reason=a part of the service died")
        was_alive = is_alive
        await asyncio.sleep(notifier.watchdog_interval)
