"""Faults stay where they happen: odd replies, a locked, full, corrupt or deleted state file, split messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_telegram import FakeTelegram
from helpers import Service, free_port, run_monitor, scrape, telegram_channel, until, wait, write_config
from sites import Site, ticker_page

from monitor.config import load
from monitor.pipeline import poll_once
from monitor.runtime import Runtime, open_runtime
from monitor.service import Running
from monitor.store import SqliteStore


def lines(n: int, prefix: str = "Line") -> list[str]:
    """n ticker lines, newest first as tickers list them."""
    return [f"{prefix} {i}: an event happened in town {i}, officials said" for i in range(n, 0, -1)]


def config(
    tmp_path: Path, site: Site, channels: list[dict[str, Any]], *, state: Path | None = None, **delivery: Any
) -> Path:
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 60}],
        channels=channels,
        rules=[{"name": "all", "channels": [c["name"] for c in channels]}],
        delivery={"timeout": 20, "retry_base": 0.05, "retry_max": 0.5, **delivery},
    )
    if state is not None:
        data = yaml.safe_load(path.read_text())
        data["state"]["path"] = str(state)
        path.write_text(yaml.safe_dump(data))
    return path


async def queue(rt: Runtime, site: Site, new: list[str]) -> None:
    """Baseline the ticker, then put new lines on it and poll again (queuing their alerts)."""
    site.set("/", ticker_page(["Old line"]))
    await poll_once(rt.sources[0], rt.store, rt.matcher, dedup=rt.config.dedup)
    site.set("/", ticker_page([*new, "Old line"]))
    assert (await poll_once(rt.sources[0], rt.store, rt.matcher, dedup=rt.config.dedup)).error is None


async def _none_queued(rt: Runtime) -> bool:
    return await rt.store.count_queued("alerts") == 0


async def _any_problem(running: Running, text: str) -> bool:
    return any(text in p for p in await running.problems(time.time()))


async def _no_problems(running: Running) -> bool:
    return not await running.problems(time.time())


def firsts(sent: list[Any]) -> list[str]:
    return [m.plain.split("\n")[0] for m in sent]


async def test_reply_that_is_not_a_message_is_retried_then_failed_and_delivery_goes_on(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    new = lines(3)
    path = config(tmp_path, site, [telegram_channel(telegram, digest_after=100)], max_attempts=3)
    async with open_runtime(load(path)) as rt:
        await queue(rt, site, new)
        telegram.fail("@alerts", bogus=True, times=3)  # python-telegram-bot raises KeyError on these
        loop = asyncio.create_task(rt.deliverer.run_forever("alerts"))
        await telegram.await_for(2)
        assert firsts(telegram.sent) == [new[1], new[0]]  # the first line failed after 3 tries, in order
        site.set("/", ticker_page(["After the fault", *new, "Old line"]))  # the loop still delivers
        await rt.poll(rt.sources[0])
        await telegram.await_for(3)
        rt.deliverer.stop()
        await loop
        [status] = await rt.store.status()
    assert firsts(telegram.sent)[-1] == "After the fault"
    assert (status.delivered, status.failed, status.queued) == (3, 1, 0)
    assert status.last_error is not None and "not understood: KeyError" in status.last_error
    assert [c.status for c in telegram.log if c.method == "sendMessage"][:3] == [200, 200, 200]


async def test_split_message_never_resends_accepted_parts(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    long_line = " ".join(f"word{i}" for i in range(1800))  # about 16,000 characters: 4 messages
    path = config(tmp_path, site, [telegram_channel(telegram)])
    async with open_runtime(load(path)) as rt:
        await queue(rt, site, [long_line])
        telegram.fail("@alerts", status=500, after=1, times=1)  # part 1 accepted, part 2 refused once
        telegram.fail("@alerts", drop=True, after=1, times=1)  # then part 3 lost on the wire once
        await rt.deliverer.run_until_empty(time.time() + 20)
        assert await rt.store.count_queued("alerts") == 0
    parts = [m.plain.split("\n— ")[0] for m in telegram.sent]
    assert len(parts) == 4, [len(p) for p in parts]
    assert " ".join(parts) == long_line  # each part once, in order


async def test_locked_state_fails_the_poll_and_loses_nothing(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    path = config(tmp_path, site, [telegram_channel(telegram)])
    async with open_runtime(load(path)) as rt:
        site.set("/", ticker_page(["Old line"]), etag='"v1"')
        assert (await rt.poll(rt.sources[0])).error is None
        other = sqlite3.connect(rt.config.state.path, timeout=0)  # a sqlite3 shell holding the file
        other.execute("BEGIN EXCLUSIVE")
        site.set("/", ticker_page(["Second", "First", "Old line"]), etag='"v2"')
        locked = await rt.poll(rt.sources[0])
        assert locked.error is not None and "is locked by another process" in locked.error
        assert rt.health.states["en"].streak == 1  # health saw the failed poll
        other.rollback()
        other.close()
        after = await rt.poll(rt.sources[0])  # the page comes whole again, not as a 304
        assert (after.error, after.unchanged, after.new, after.queued) == (None, False, 2, 2)
        await rt.deliverer.run_until_empty(time.time() + 20)
    assert firsts(telegram.sent) == ["First", "Second"]


async def test_many_tiny_items_fit_the_store(tmp_path: Path) -> None:
    from monitor.models import Item
    from monitor.normalize import fingerprint

    store = SqliteStore(tmp_path / "state.db")
    items = [Item("en", f"x{i}", None, fingerprint(f"x{i}")) for i in range(360_000)]
    assert len(await store.unseen("en", items)) == 360_000  # one IN (...) list would have too many SQL variables
    await store.record("en", items[:1000], [])
    assert len(await store.unseen("en", items)) == 359_000
    await store.close()


def fill(disk: Path) -> Path:
    """Take every free byte of a disk; return the file to delete to free them."""
    filler = disk / "filler"
    with open(filler, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    return filler


async def test_disk_full_fails_polls_and_delays_sends_then_everything_arrives_once(
    tmp_path: Path, site: Site, telegram: FakeTelegram, small_disk: Path
) -> None:
    new = lines(12)
    path = config(tmp_path, site, [telegram_channel(telegram, digest_after=100)], state=small_disk / "monitor.db")
    async with open_runtime(load(path)) as rt:
        await queue(rt, site, new)
        filler = fill(small_disk)
        # A poll on a full disk fails (health sees it) and records nothing.
        site.set("/", ticker_page(["Late line", *new, "Old line"]))
        full = await rt.poll(rt.sources[0])
        assert full.error is not None and "disk full" in full.error, full.error
        # Sending goes on only as far as its records can be written; the loop survives the fault.
        loop = asyncio.create_task(rt.deliverer.run_forever("alerts"))
        await until(lambda: "disk full" in (rt.deliverer.tally["alerts"].last_error or ""), "the disk-full error")
        stuck = len(telegram.sent)
        assert stuck < len(new)
        filler.unlink()
        assert (await rt.poll(rt.sources[0])).queued == 1  # the late line, seen again now
        await telegram.await_for(len(new) + 1)
        await until(lambda: _none_queued(rt), "the queue to empty")
        rt.deliverer.stop()
        await loop
    counts = Counter(firsts(telegram.sent))
    assert counts == Counter([*new, "Late line"])  # every line, none twice


async def test_healthz_problems_name_a_stalled_channel_a_dead_loop_and_a_deleted_state_file(
    tmp_path: Path, site: Site, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    path = config(tmp_path, site, [telegram_channel(telegram)], stall_after=0.2)
    async with open_runtime(load(path)) as rt:
        await queue(rt, site, ["One"])
        telegram.down = True
        running = Running(rt)
        running.start()
        try:
            await until(
                lambda: _any_problem(running, "channel alerts: alerts waiting"),
                "the stalled channel in the problems",
            )
            telegram.down = False
            await telegram.await_for(1)
            await until(lambda: _no_problems(running), "the problems to clear")
            running.workers["alerts"].cancel()
            await until(lambda: running.workers["alerts"].done(), "the loop to end")
            assert "channel alerts: delivery loop ended" in await running.problems(time.time())
            rt.config.state.path.unlink()
            with caplog.at_level(logging.ERROR):
                await rt.check_state()
            assert any("was deleted while in use" in p for p in await running.problems(time.time()))
            assert "state.file_gone" in caplog.text
        finally:
            await running.stop(5)


def test_once_reports_an_unexpected_reply_as_a_line_and_other_chats_get_theirs(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    channels = [telegram_channel(telegram, "a", "@alerts"), telegram_channel(telegram, "b", "@second")]
    path = config(tmp_path, site, channels, max_attempts=1)
    site.set("/", ticker_page(["Old line"]))
    assert run_monitor("--once", "--config", str(path)).returncode == 0
    site.set("/", ticker_page(["New line", "Old line"]))
    telegram.fail("@alerts", bogus=True, times=5)
    done = run_monitor("--once", "--config", str(path))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "channel a: 1 alert failed: Telegram's answer was not understood: KeyError" in done.stderr, done.stderr
    assert firsts(telegram.sent_to("@second")) == ["New line"]


def test_corrupt_or_read_only_state_file_is_one_line_and_exit_2(
    tmp_path: Path, site: Site, telegram: FakeTelegram, small_disk: Path
) -> None:
    site.set("/", ticker_page(["Old line"]))
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database, " * 200)
    path = config(tmp_path, site, [telegram_channel(telegram)], state=corrupt)
    for args in (["--once"], ["status"], []):
        done = run_monitor(*args, "--config", str(path))
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"state file {corrupt} is not a valid SQLite database" in done.stderr
        assert "move it aside" in done.stderr
    state = small_disk / "monitor.db"
    path = config(tmp_path, site, [telegram_channel(telegram)], state=state)
    assert run_monitor("--once", "--config", str(path)).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)  # even root cannot write now
    done = run_monitor("--once", "--config", str(path))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{small_disk}" in done.stderr and "Read-only file system" in done.stderr


def test_reload_that_cannot_compile_keeps_the_running_config(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/", ticker_page(["Old line"]))
    port = free_port()
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 1}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        http={"listen": f"127.0.0.1:{port}"},
    )
    service = Service(tmp_path, path)
    services.append(service)
    service.notified("READY")
    good = yaml.safe_load(path.read_text())
    bad = {**good, "rules": [{"name": "all", "any": ["/a{1,99999999999}/"], "channels": ["alerts"]}]}
    path.write_text(yaml.safe_dump(bad))
    service.proc.send_signal(signal.SIGHUP)
    wait(lambda: "reload_refused" in service.log(), "the refusal")
    assert service.proc.poll() is None
    site.set("/", ticker_page(["After the refused reload", "Old line"]))
    telegram.wait_for(1, timeout=20)
    assert scrape(port, "/healthz")[0] == 200
    assert service.stop() == 0


async def test_watchdog_pings_only_while_every_part_works(tmp_path: Path) -> None:
    import socket

    from monitor.service import _watchdog
    from monitor.systemd import Notifier

    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.setblocking(False)
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000"})
        healthy = [True]
        task = asyncio.create_task(_watchdog(notifier, lambda: healthy[0]))

        def pings() -> int:
            count = 0
            with contextlib.suppress(BlockingIOError):
                while True:
                    count += sock.recv(100) == b"WATCHDOG=1"
            return count

        await until(lambda: pings() >= 2, "pings while healthy")
        healthy[0] = False
        pings()  # datagrams already sent are in the socket now; none may follow
        ticks = 0

        def quiet_ticks() -> bool:
            nonlocal ticks
            assert pings() == 0, "pinged while a part was dead"
            ticks += 1
            return ticks >= 10  # ten looks over ~0.2 s: several watchdog intervals of 10 ms

        await until(quiet_ticks, "ten quiet looks")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_service_beside_a_locked_state_file_answers_and_delivers_everything_after(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    for p in ("/a", "/b"):
        site.set(p, ticker_page(["Old line"]))
    port = free_port()
    path = write_config(
        tmp_path,
        sources=[{"name": n, "url": site.url(f"/{n}"), "interval": 1} for n in "ab"],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        http={"listen": f"127.0.0.1:{port}"},
        delivery={"retry_base": 0.05, "retry_max": 0.5},
    )
    service = Service(tmp_path, path)
    services.append(service)
    service.notified("READY")
    wait(lambda: site.hits["/a"] >= 2 and site.hits["/b"] >= 2, "both sources polled twice")
    # A sqlite3 shell holding the file; it waits its turn to take the lock (the service writes every second).
    other = sqlite3.connect(tmp_path / "state" / "monitor.db", timeout=10)
    other.execute("BEGIN EXCLUSIVE")
    try:
        site.set("/a", ticker_page(["A during the lock", "Old line"]))
        site.set("/b", ticker_page(["B during the lock", "Old line"]))
        wait(lambda: service.log().count("is locked by another process") >= 2, "polls failing on the lock")
        status, _ = scrape(port, "/healthz")  # the event loop is free: it answers (urlopen's timeout is 10 s)
        assert status in (200, 503)
        assert not telegram.sent
    finally:
        other.rollback()
        other.close()
    sent = telegram.wait_for(2, timeout=30)
    assert sorted(firsts(sent)) == ["A during the lock", "B during the lock"]
    assert service.stop() == 0
