"""Several instances on one PostgreSQL state: shared polling, one sender per chat, takeover, one alarm."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any, cast

import psycopg
import yaml
from fake_telegram import FakeTelegram
from helpers import Service, free_port, run_monitor, scrape, telegram_channel, until, wait, write_config
from postgres import PostgresServer
from sites import Site, ticker_page

from monitor.cluster import Claim
from monitor.config import load
from monitor.models import SourceHealth
from monitor.runtime import open_runtime
from monitor.store.pg_cluster import PgCluster
from monitor.store.postgres import PostgresStore

SOURCES = 12  # each instance owns some with odds 1 - 2^-11: the split is by a hash of the instances' names


def cluster_config(tmp_path: Path, site: Site, tg: FakeTelegram, url: str, **top: Any) -> Path:
    """SOURCES local sources polled every second, one Telegram channel, the state at url (takeover 3 s).

    The channel sends every line on its own (no digests): the tests count messages, and the lines
    queued while a killed instance's chat waits for its takeover would otherwise be one digest.
    """
    path = write_config(
        tmp_path,
        sources=[{"name": f"s{n}", "url": site.url(f"/s{n}"), "interval": 1} for n in range(SOURCES)],
        channels=[telegram_channel(tg, digest_after=1000)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        **top,
    )
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["state"] = {"url": url, "takeover": 3}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def baselined(url: str, count: int) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT COUNT(*) FROM baseline").fetchone()
    return row is not None and row[0] >= count


def holders(url: str) -> dict[str, str | None]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT source, holder FROM source_state").fetchall())


def test_two_instances_share_the_polls_and_send_each_line_once(
    tmp_path: Path, site: Site, telegram: FakeTelegram, pg_url: str, services: list[Service]
) -> None:
    for n in range(SOURCES):
        site.set(f"/s{n}", ticker_page([f"Old line of s{n}"]))
    config = cluster_config(tmp_path, site, telegram, pg_url)
    services += [Service(tmp_path, config), Service(tmp_path, config)]  # at once: the schema is made once
    for service in services:
        service.notified("READY")
    wait(lambda: baselined(pg_url, SOURCES), "every source's baseline")
    # Both instances are up: within a few polls each source has an owner, and both own some.
    wait(lambda: len(set(holders(pg_url).values())) == 2, "both instances to poll", timeout=20)
    before = sum(site.hits.values())
    started = time.monotonic()
    for n in range(SOURCES):
        site.set(f"/s{n}", ticker_page([f"News {n} from the ticker", f"Old line of s{n}"]))
    sent = telegram.wait_for(SOURCES, timeout=20)
    wait(lambda: time.monotonic() - started > 4, "a few more polls")
    assert sorted(m.text.split("\n")[0] for m in telegram.sent) == sorted(
        f"News {n} from the ticker" for n in range(SOURCES)
    ), [m.text for m in sent]
    # Polled once a second each, not once a second per instance (the margin: a claim's slack).
    elapsed = time.monotonic() - started
    polls = sum(site.hits.values()) - before
    assert polls <= SOURCES * (elapsed + 2), (polls, elapsed)
    status = run_monitor("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    names = {f"{os.uname().nodename}:{s.proc.pid}" for s in services}
    lines = status.stdout.splitlines()
    assert lines[0] == "2 monitor instances running on this state", status.stdout
    assert {line.split()[0] for line in lines[3:5]} == names, status.stdout  # the instances' table
    assert any("@alerts" in line for line in lines[3:5]), status.stdout  # one of them sends to the chat
    header = next(line for line in lines if line.startswith("source "))
    column = header.index("polled by")
    polled_by = {line[column:].split()[0] for line in lines if line.split()[:1] in ([f"s{n}"] for n in range(SOURCES))}
    assert polled_by == names, status.stdout
    for service in services:
        assert service.stop() == 0
        assert "Traceback" not in service.log()
    after = run_monitor("status", "--config", str(config))
    assert after.stdout.splitlines()[0] == "0 monitor instances running on this state", after.stdout


def test_a_killed_instance_s_chat_and_sources_are_taken_over(
    tmp_path: Path, site: Site, telegram: FakeTelegram, pg_url: str, services: list[Service]
) -> None:
    for n in range(SOURCES):
        site.set(f"/s{n}", ticker_page([f"Old line of s{n}"]))
    config = cluster_config(tmp_path, site, telegram, pg_url)
    first = Service(tmp_path, config)
    services.append(first)
    first.notified("READY")
    wait(lambda: baselined(pg_url, SOURCES), "every source's baseline")
    site.set("/s0", ticker_page(["First news", "Old line of s0"]))
    telegram.wait_for(1)  # the first instance holds the chat now
    second = Service(tmp_path, config)
    services.append(second)
    second.notified("READY")
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    killed = time.monotonic()
    for n in range(SOURCES):
        site.set(f"/s{n}", ticker_page([f"After the kill {n}", f"Old line of s{n}"]))
    sent = telegram.wait_for(1 + SOURCES, timeout=30)
    took = time.monotonic() - killed
    assert sorted(m.text.split("\n")[0] for m in sent[1:]) == sorted(f"After the kill {n}" for n in range(SOURCES))
    assert took < 3 + 1 + 5, took  # takeover 3 s, an interval, and the test's own slack
    assert set(holders(pg_url).values()) == {f"{os.uname().nodename}:{second.proc.pid}"}


def test_a_failing_source_raises_one_alarm_across_instances(
    tmp_path: Path, site: Site, telegram: FakeTelegram, pg_url: str, services: list[Service]
) -> None:
    for n in range(SOURCES):
        site.set(f"/s{n}", ticker_page([f"Old line of s{n}"]))
    site.set("/s0", "down", status=500)
    admin = telegram_channel(telegram, name="admin", chat_id="@second")
    config = cluster_config(tmp_path, site, telegram, pg_url, admin_channel="admin", alarm_after=2)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["channels"].append(admin)
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    services += [Service(tmp_path, config), Service(tmp_path, config), Service(tmp_path, config)]
    wait(lambda: len(telegram.sent_to("@second")) >= 1, "the alarm", timeout=30)
    # The failing source backs off (1, 2, 4 s...): by 6 polls every instance would have alarmed.
    wait(lambda: site.hits["/s0"] >= 4, "more failed polls", timeout=30)
    site.set("/s0", ticker_page(["Old line of s0"]))
    wait(lambda: len(telegram.sent_to("@second")) >= 2, "the recovery", timeout=40)
    wait(lambda: site.hits["/s0"] >= 12, "more good polls", timeout=30)
    texts = [m.text for m in telegram.sent_to("@second")]
    assert len(texts) == 2, texts
    assert texts[0].startswith("⚠️ s0: 2 bad polls in a row") and texts[1].startswith("✅ s0 recovered"), texts


def test_state_down_for_a_while_is_reported_and_then_delivered(
    tmp_path: Path, site: Site, telegram: FakeTelegram, own_postgres: PostgresServer, services: list[Service]
) -> None:
    for n in range(SOURCES):
        site.set(f"/s{n}", ticker_page([f"Old line of s{n}"]))
    port = free_port()  # the first instance's /healthz; the second has none
    config = cluster_config(tmp_path, site, telegram, own_postgres.url, http={"listen": f"127.0.0.1:{port}"})
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    services.append(Service(tmp_path, config))
    services[0].notified("READY")
    services.append(Service(tmp_path, cluster_config(quiet, site, telegram, own_postgres.url)))
    services[1].notified("READY")
    wait(lambda: baselined(own_postgres.url, SOURCES), "every source's baseline")
    wait(lambda: scrape(port, "/healthz")[0] == 200, "healthy")
    own_postgres.stop()
    wait(lambda: "state: unreachable since" in scrape(port, "/healthz")[1], "/healthz to say so", timeout=20)
    site.set("/s1", ticker_page(["Said while the state was down", "Old line of s1"]))
    own_postgres.start()
    sent = telegram.wait_for(1, timeout=40)
    assert [m.text.split("\n")[0] for m in sent] == ["Said while the state was down"]
    wait(lambda: scrape(port, "/healthz")[0] == 200, "healthy again", timeout=20)
    for service in services:
        assert service.stop() == 0
        log = service.log()
        assert log.count("state.unreachable") <= 1 and "Traceback" not in log, log


async def test_leases_in_process(pg_url: str) -> None:
    """Two instances' views: one holds a chat, the other waits; the budget is halved; a claim returns health."""
    a_store, b_store = await PostgresStore.open(pg_url), await PostgresStore.open(pg_url)
    a, b = PgCluster(a_store, takeover=3, name="a"), PgCluster(b_store, takeover=3, name="b")
    try:
        await a.start(lambda: None)
        await b.start(lambda: None)
        await a._beat()
        assert a.live == ["a", "b"] and a.budget_cost() == 2
        assert await a.may_send("@chat") and a.wait_for("@chat") == 0
        assert not await b.may_send("@chat") and 0 < b.wait_for("@chat") <= b.retry
        await a.stop()  # leaving gives the chat up at once
        assert await b.may_send("@chat") and b.wait_for("@chat") == 0
        # The first claim of a source is the claimant's; a second one within its interval is nobody's.
        claim = await b.claim("src", 60, time.time())
        assert claim is not None and claim.health == SourceHealth()
        assert await b.claim("src", 60, time.time()) is None
        b_store.note_poll(
            "src", at=time.time(), error="HTTP 500", new=0, next_poll=None, health=SourceHealth(streak=2, alarmed=True)
        )
        await b_store.flush_polls()
        # Polled by b last: b's next claim keeps b's own memory; another instance's takes what b wrote.
        claims: list[Claim | None] = []
        c = PgCluster(b_store, takeover=3, name="c")

        async def claimed(by: PgCluster) -> bool:
            claims.append(await by.claim("src", 0.2, time.time()))
            return claims[-1] is not None

        await until(lambda: claimed(b), "b's next claim", timeout=5)
        assert claims[-1] == Claim()
        await until(lambda: claimed(c), "the poll to be claimable by c", timeout=5)
        assert claims[-1] == Claim(SourceHealth(streak=2, alarmed=True), (None, None))
    finally:
        await b.stop()
        await a_store.close()
        await b_store.close()


async def test_two_instances_together_keep_to_the_bots_global_rate(
    tmp_path: Path, telegram: FakeTelegram, pg_url: str
) -> None:
    """Two instances, each holding one chat, send at most delivery.per_second_total messages a second together."""
    budget, each = 4, 12
    path = write_config(
        tmp_path,
        sources=[{"name": "t", "url": "http://127.0.0.1:9/never-polled"}],
        channels=[
            telegram_channel(telegram, name="c0", chat_id="@alerts", digest_after=1000),
            telegram_channel(telegram, name="c1", chat_id="@second", digest_after=1000),
        ],
        rules=[{"name": "all", "channels": ["c0", "c1"]}],
        delivery={"per_second_total": budget, "timeout": 60},
    )
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["state"] = {"url": pg_url, "takeover": 3}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    config = load(path)
    async with open_runtime(config) as a, open_runtime(config) as b:
        for rt, name in ((a, "a"), (b, "b")):  # one process plays two instances: each needs a name of its own
            rt.cluster = rt.deliverer.cluster = PgCluster(cast(PostgresStore, rt.store), takeover=3, name=name)
            await rt.cluster.start(rt.deliverer.wake)
        try:
            await cast(PgCluster, a.cluster)._beat()
            assert len(cast(PgCluster, a.cluster).live) == 2
            keys = [c.chat_key for c in config.channels]
            assert await a.cluster.may_send(keys[0]) and await b.cluster.may_send(keys[1])  # one chat each
            for n in range(each):
                for channel in ("c0", "c1"):
                    await a.store.queue_message(channel, f"Message {n} for {channel}")
            deadline = time.time() + 60
            await asyncio.gather(a.deliverer.run_until_empty(deadline), b.deliverer.run_until_empty(deadline))
        finally:
            await a.cluster.stop()
            await b.cluster.stop()
    sent = telegram.sent
    assert len(sent) == 2 * each and len(telegram.sent_to("@alerts")) == len(telegram.sent_to("@second")) == each
    assert {m.chat_id for m in sent[: each // 2]} == {"@alerts", "@second"}  # both instances sent at once
    # A leaky bucket lets a burst of `budget` through, then `budget` a second: the rest took at least this long.
    span = sent[-1].at - sent[0].at
    assert (len(sent) - 2 * budget) / span <= budget, f"{len(sent)} messages in {span:.2f}s"
