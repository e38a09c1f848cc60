"""Health across processes: `monitor --once` from cron, and service restarts, keep alarms and backoff."""

from __future__ import annotations

from pathlib import Path

from fake_telegram import FakeTelegram
from helpers import Service, run_monitor, telegram_channel, wait, write_config
from sites import Site, ticker_page


def admin_config(tmp_path: Path, site: Site, telegram: FakeTelegram, interval: float = 60) -> Path:
    return write_config(
        tmp_path,
        sources=[
            {"name": "down", "url": site.url("/down"), "alarm_after": 3, "interval": interval},
            {"name": "ok", "url": site.url("/ok"), "interval": interval},
        ],
        channels=[telegram_channel(telegram), telegram_channel(telegram, "admin", "@second")],
        rules=[{"name": "all", "channels": ["alerts"]}],
        admin_channel="admin",
    )


def admin_messages(telegram: FakeTelegram) -> list[str]:
    return [m.plain for m in telegram.sent_to("@second")]


def once(config: Path) -> int:
    return run_monitor("--once", "--config", str(config)).returncode


def test_cron_once_runs_raise_one_alarm_and_one_recovery(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/down", ticker_page(["Old"]))
    site.set("/ok", ticker_page(["Old"]))
    config = admin_config(tmp_path, site, telegram)
    assert once(config) == 0
    site.set("/down", "server error", status=500)
    for run in range(1, 6):  # five bad runs, each its own process
        assert once(config) == 1
        expected = 0 if run < 3 else 1  # the third bad run in a row raises the alarm, once
        assert len(admin_messages(telegram)) == expected, (run, admin_messages(telegram))
    assert admin_messages(telegram)[0].startswith("⚠️ down: 3 bad polls in a row: HTTP 500")
    status = run_monitor("status", "--config", str(config)).stdout
    assert "ALARM after 5 bad polls: HTTP 500" in next(line for line in status.splitlines() if line.startswith("down"))
    site.set("/down", ticker_page(["Old"]))
    for _ in range(2):
        assert once(config) == 0
    messages = admin_messages(telegram)
    assert len(messages) == 2 and messages[1].startswith("✅ down recovered: 1 item on its ticker again")


def test_a_restarted_service_keeps_an_open_alarm_and_the_backoff(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/down", "server error", status=500)
    site.set("/ok", ticker_page(["Old"]))
    # interval 3 s: after 3 failures the source waits 3 · 2² − 1.5 = 10.5 s before it is polled again.
    config = admin_config(tmp_path, site, telegram, interval=3)
    for _ in range(3):
        assert once(config) == 1
    assert len(admin_messages(telegram)) == 1  # the alarm is open
    hits = site.hits["/down"]
    site.set("/ok", ticker_page(["Fresh", "Old"]))
    services.append(service := Service(tmp_path, config))
    wait(lambda: [m.plain.split("\n")[0] for m in telegram.sent_to("@alerts")] == ["Fresh"], "the ok source's line")
    # The ok source was polled at start; the failing one still backs off, as the last run left it.
    assert site.hits["/down"] == hits, service.log()
    site.set("/down", ticker_page(["Old"]))
    wait(lambda: len(admin_messages(telegram)) == 2, "the recovery message", timeout=40)
    assert admin_messages(telegram)[1].startswith("✅ down recovered"), admin_messages(telegram)
    assert service.stop() == 0
    assert once(config) == 0  # a later run: no alarm and no recovery again
    assert len(admin_messages(telegram)) == 2
