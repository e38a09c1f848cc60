"""Chaos: three instances on one PostgreSQL state, killed with SIGKILL and restarted over and over.

A ticker gets a new line every 0.5 s. A random instance is killed (kill -9) and started again every
1-2 s, more than twenty times, and PostgreSQL itself is restarted once. At the fake Bot API, in each of
two chats: no line is lost, a line comes twice at most once per kill (a send not yet recorded when
its sender died), and the lines come in the order the ticker showed them.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import psycopg
import yaml
from fake_telegram import FakeTelegram
from helpers import Service, telegram_channel, wait, write_config
from postgres import PostgresServer
from sites import Site, ticker_page

INSTANCES = 3
KILLS = 21
SHOWN = 80  # lines on the ticker: 40 s of them, longer than any outage here
PLACES = ("Beirut", "Gaza", "Sanaa", "Tehran", "Baghdad", "Damascus", "Amman", "Cairo")


def line(k: int) -> str:
    return f"Update {k}: sirens reported near {PLACES[k % len(PLACES)]}"


class Ticker:
    """The site's ticker, a new line every 0.5 s, newest first, from a thread of its own."""

    def __init__(self, site: Site) -> None:
        self.site, self.count = site, 0
        self.done = threading.Event()
        self.site.set("/t", ticker_page(["Before the test began"]))

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.count += 1
            shown = [line(k) for k in range(self.count, max(0, self.count - SHOWN), -1)]
            self.site.set("/t", ticker_page([*shown, "Before the test began"]))


def numbers(tg: FakeTelegram, chat: str) -> list[int]:
    """The line numbers a chat received, in the order it received them."""
    return [int(m.text.split(":", 1)[0].removeprefix("Update ")) for m in tg.sent_to(chat)]


def test_chaos_kill_nine_and_a_database_restart_lose_nothing(
    tmp_path: Path, site: Site, telegram: FakeTelegram, own_postgres: PostgresServer
) -> None:
    chats = ("@alerts", "@second")
    path = write_config(
        tmp_path,
        sources=[{"name": "t", "url": site.url("/t"), "interval": 1, "on_edit": "send"}],
        channels=[
            telegram_channel(telegram, name=f"c{n}", chat_id=chat, digest_after=10_000) for n, chat in enumerate(chats)
        ],
        rules=[{"name": "all", "channels": ["c0", "c1"]}],
    )
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["state"] = {"url": own_postgres.url, "takeover": 3}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    ticker = Ticker(site)
    instances = [Service(tmp_path, path) for _ in range(INSTANCES)]
    publisher = threading.Thread(target=ticker.run, daemon=True)
    rng = random.Random(15)
    kills = 0
    try:
        for instance in instances:
            instance.notified("READY")

        def baselined() -> bool:
            with psycopg.connect(own_postgres.url) as conn:
                return conn.execute("SELECT 1 FROM baseline WHERE source = 't'").fetchone() is not None

        wait(baselined, "the ticker's baseline")
        publisher.start()
        while kills < KILLS:
            # Let the survivors work a little, then kill one of them (each kill on a schedule, not on luck).
            pause_until = time.monotonic() + rng.uniform(1.0, 2.0)
            wait(lambda: time.monotonic() >= pause_until, "the pause between kills")  # noqa: B023
            victim = rng.randrange(INSTANCES)
            os.kill(instances[victim].proc.pid, signal.SIGKILL)
            instances[victim].proc.wait()
            kills += 1
            instances[victim] = Service(tmp_path, path)
            if kills == KILLS // 2:
                own_postgres.restart()
        ticker.done.set()
        publisher.join()
        published = set(range(1, ticker.count + 1))
        for chat in chats:
            wait(lambda: published <= set(numbers(telegram, chat)), f"every line in {chat}", timeout=60)  # noqa: B023
        report = []
        for chat in chats:
            got = numbers(telegram, chat)
            firsts = list(dict.fromkeys(got))
            duplicates = len(got) - len(firsts)
            report.append(f"{chat}: {len(published)} lines, {len(got)} messages, {duplicates} duplicates")
            assert set(got) == published, f"lost: {sorted(published - set(got))}"  # nothing lost, nothing invented
            # At most one per kill per chat (the database restart counts as one: a send it could not record).
            assert duplicates <= kills + 1, report
            assert firsts == sorted(firsts), f"{chat} out of order: {got}"
        print(f"chaos: {kills} kills, 1 PostgreSQL restart; " + "; ".join(report))
    finally:
        ticker.done.set()
        for instance in instances:
            instance.close()
