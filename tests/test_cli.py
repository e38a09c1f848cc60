"""The command line as operators use it: `monitor --once`, `--dry-run`, the service, the demo."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from fake_telegram import FakeTelegram
from helpers import TOKEN, run_monitor, telegram_channel, write_config
from sites import Site, ticker_page


def two_sources(tmp_path: Path, site: Site, telegram: FakeTelegram, **top: object) -> Path:
    return write_config(
        tmp_path,
        sources=[{"name": "broken", "url": site.url("/broken")}, {"name": "ok", "url": site.url("/ok")}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
        **top,
    )


def test_once_exit_codes_and_failing_source(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/ok", ticker_page(["Old"]))
    site.set("/broken", ticker_page(["Old"]))
    config = str(two_sources(tmp_path, site, telegram))
    first = run_monitor("--once", "--config", config)
    assert first.returncode == 0, first.stderr
    assert "first poll" in first.stderr and telegram.sent == []
    site.set("/ok", ticker_page(["Iran: new line", "Old"]))
    site.set("/broken", "gone", status=403)
    second = run_monitor("--once", "--config", config)
    assert second.returncode == 1
    # One line for the failed source, not a log line, a result line and a summary line.
    assert [line for line in second.stderr.splitlines() if "broken" in line] == [
        "broken: FAILED: HTTP 403 Forbidden (the site may refuse unknown clients: try user_agent)"
    ]
    assert [m.plain.split("\n")[0] for m in telegram.sent] == ["Iran: new line"]


def test_once_with_telegram_down_keeps_alerts_for_next_run(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/ok", ticker_page(["Old"]))
    site.set("/broken", ticker_page(["Old"]))
    config = str(two_sources(tmp_path, site, telegram, delivery={"timeout": 2}))
    assert run_monitor("--once", "--config", config).returncode == 0
    site.set("/ok", ticker_page(["Two", "One", "Old"]))
    telegram.down = True
    down = run_monitor("--once", "-v", "--config", config)
    assert down.returncode == 1
    assert "channel alerts: 2 alerts still queued" in down.stderr
    assert TOKEN not in down.stderr + down.stdout
    telegram.down = False
    again = run_monitor("--once", "--config", config)
    assert again.returncode == 0, again.stderr
    assert [m.plain.split("\n")[0] for m in telegram.sent] == ["One", "Two"]
    assert run_monitor("--once", "--config", config).returncode == 0
    assert len(telegram.sent) == 2
    status = run_monitor("status", "--config", config)
    row = next(line.split() for line in status.stdout.splitlines() if line.startswith("alerts"))
    assert row[:4] == ["alerts", "0", "2", "0"]  # queued, delivered, failed


def test_token_never_printed(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/ok", ticker_page(["Old"]))
    site.set("/broken", ticker_page(["Old"]))
    path = write_config(
        tmp_path,
        sources=[{"name": "ok", "url": site.url("/ok"), "backfill": 1}],
        channels=[telegram_channel(telegram, "ghost", "@no_such_chat"), telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["ghost", "alerts"]}],
    )
    outputs = []
    for args in (["--once", "-v"], ["check-config"], ["status"], ["--once", "--dry-run", "-v"]):
        out = run_monitor(*args, "--config", str(path))
        outputs.append(out.stdout + out.stderr)
    site.set("/ok", ticker_page(["Fresh", "Old"]))
    wrong = run_monitor("--once", "-v", "--config", str(path), env={"TELEGRAM_BOT_TOKEN": "999:WRONG-token"})
    outputs.append(wrong.stdout + wrong.stderr)
    assert "not found" in outputs[0]  # the ghost chat's failure was reported...
    assert all(TOKEN not in o and "999:WRONG-token" not in o for o in outputs)  # ...without the token
    assert "refused the bot token" in outputs[-1]


def test_dry_run_prints_alerts_and_writes_nothing(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/ok", ticker_page(["Lebanon: newest", "Syria: older", "Lebanon: oldest"]))
    path = write_config(
        tmp_path,
        sources=[{"name": "ok", "url": site.url("/ok"), "backfill": 3}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "lb", "any": ["Lebanon"], "channels": ["alerts"]}],
    )
    out = run_monitor("--dry-run", "--config", str(path))
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if "[alerts]" in line]
    assert [line.split("ok: ")[1] for line in lines] == ["Lebanon: oldest", "Lebanon: newest"]
    assert telegram.sent == [] and not (tmp_path / "state").exists()


def test_service_polls_delivers_and_stops_cleanly(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/", ticker_page(["Old"]))
    path = write_config(
        tmp_path,
        sources=[{"name": "en", "url": site.url("/"), "interval": 1}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 20
        while site.hits["/"] < 1 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)  # polling a condition with a deadline
        assert site.hits["/"] >= 1, "the service never polled"
        site.set("/", ticker_page(["Second", "First", "Old"]))
        telegram.wait_for(2, timeout=20)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert [m.plain.split("\n")[0] for m in telegram.sent] == ["First", "Second"]
    assert "service.stopped" in err and "Traceback" not in err and TOKEN not in err


def test_demo_shows_alerts_without_network() -> None:
    out = run_monitor("demo", timeout=60)
    assert out.returncode == 0, out.stderr
    alerts = [line for line in out.stdout.splitlines() if "[console]" in line]
    assert len(alerts) >= 4
    assert any("demo-ar" in a and "العراق" in a for a in alerts)
    assert not any("Football" in a for a in alerts)  # the `none` term kept it out


def test_json_logs(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    import json

    site.set("/ok", ticker_page(["Old"]))
    path = write_config(
        tmp_path,
        sources=[{"name": "ok", "url": site.url("/ok")}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
    )
    out = run_monitor("--once", "--log-format", "json", "--log-level", "debug", "--config", str(path))
    records = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    done = next(r for r in records if r["event"] == "poll.done")
    assert (done["level"], done["source"], done["found"], done["baseline"]) == ("info", "ok", "1", "yes")


def test_once_runs_ask_changed_since_the_last_run(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/ok", ticker_page(["Old"]), etag='"v1"')
    path = write_config(
        tmp_path,
        sources=[{"name": "ok", "url": site.url("/ok")}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
    )
    assert run_monitor("--once", "--config", str(path)).returncode == 0
    second = run_monitor("--once", "--config", str(path))
    assert second.returncode == 0 and "ok: not modified since the last poll (HTTP 304)" in second.stderr
    site.set("/ok", ticker_page(["New", "Old"]), etag='"v2"')
    assert run_monitor("--once", "--config", str(path)).returncode == 0
    answered = [(headers.get("If-None-Match"), status) for _, headers, status in site.requests]
    assert answered == [(None, 200), ('"v1"', 304), ('"v1"', 200)]  # validators kept in the state file
    assert [m.plain.split("\n")[0] for m in telegram.sent] == ["New"]


REVOKED = "123456:REVOKED-token-not-valid"  # the shape of a token: the fake answers 401 Unauthorized


async def test_once_with_a_refused_token_exits_at_once_and_keeps_the_alert(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    from monitor.store import SqliteStore

    site.set("/ok", ticker_page(["Iran: new line", "Old"]))
    path = str(
        write_config(
            tmp_path,
            sources=[{"name": "ok", "url": site.url("/ok"), "backfill": 1}],
            channels=[telegram_channel(telegram)],
            rules=[{"name": "all", "channels": ["alerts"]}],
            delivery={"timeout": 120},
        )
    )
    # Far below delivery.timeout: waiting out the deadline for a token that cannot work times out here.
    refused = run_monitor("--once", "--config", path, timeout=30, env={"TELEGRAM_BOT_TOKEN": REVOKED})
    assert refused.returncode == 1, refused.stderr
    named = [line for line in refused.stderr.splitlines() if "refused the bot token" in line]
    assert len(named) == 1 and "Telegram refused the bot token for channel 'alerts'" in named[0], refused.stderr
    assert "channel alerts: 1 alert still queued (token refused)" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert REVOKED.split(":")[1] not in refused.stdout + refused.stderr
    assert [(c.method, c.status) for c in telegram.log] == [("getMe", 401)]  # one try, no hammering
    store = SqliteStore.open_readonly(tmp_path / "state" / "monitor.db")
    try:
        assert await store.count_queued("alerts") == 1
    finally:
        await store.close()
    fixed = run_monitor("--once", "--config", path)
    assert fixed.returncode == 0, fixed.stderr
    assert [m.plain.split("\n")[0] for m in telegram.sent] == ["Iran: new line"]


def test_status_names_the_channel_whose_token_was_refused(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/ok", ticker_page(["Iran: new line", "Old"]))
    path = str(
        write_config(
            tmp_path,
            sources=[{"name": "ok", "url": site.url("/ok"), "backfill": 1}],
            channels=[
                telegram_channel(telegram, token="${REVOKED_TOKEN}"),
                telegram_channel(telegram, "second", "@second"),
            ],
            rules=[{"name": "all", "channels": ["alerts", "second"]}],
            delivery={"timeout": 120},
        )
    )
    env = {"REVOKED_TOKEN": REVOKED}
    assert run_monitor("--once", "--config", path, timeout=30, env=env).returncode == 1
    assert [m.plain.split("\n")[0] for m in telegram.sent_to("@second")] == ["Iran: new line"]  # the others flow
    status = run_monitor("status", "--config", path, env=env)
    assert status.returncode == 0, status.stderr
    assert re.search(
        r"^alerts\s+1\s+0\s+0\s+Telegram refused the bot token for channel 'alerts'", status.stdout, re.M
    ), status.stdout
    assert re.search(r"^second\s+0\s+1\s+0\s+-$", status.stdout, re.M), status.stdout
    assert REVOKED.split(":")[1] not in status.stdout + status.stderr


def test_log_level_in_any_case(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/ok", ticker_page(["Old"]))
    path = write_config(
        tmp_path,
        sources=[{"name": "ok", "url": site.url("/ok")}],
        channels=[telegram_channel(telegram)],
        rules=[{"name": "all", "channels": ["alerts"]}],
    )
    loud = run_monitor("--once", "--log-level", "INFO", "--config", str(path))
    assert loud.returncode == 0, loud.stderr
    assert "first poll" in loud.stderr
    quiet = run_monitor("--once", "--log-level", "Warning", "--config", str(path))
    assert quiet.returncode == 0, quiet.stderr
    assert "poll.done" in loud.stderr and "poll.done" not in quiet.stderr  # an info record, dropped at warning
    wrong = run_monitor("--once", "--log-level", "LOUD", "--config", str(path))
    assert wrong.returncode == 2 and "invalid choice: 'loud'" in wrong.stderr


COMMANDS = ("check-config", "status", "demo", "probe", "match", "history", "replay")


def test_help_describes_every_command_and_lists_the_exit_codes() -> None:
    top = run_monitor("--help")
    assert top.returncode == 0
    assert "exit codes:\n  0    ok\n  1    a source or channel failed, `match` matched nothing,\n" in top.stdout
    assert "another monitor is already using the state file\n  2    bad config, state file or arguments\n" in top.stdout
    for command in COMMANDS:
        assert command in top.stdout
        out = run_monitor(command, "--help")
        assert out.returncode == 0, out.stderr
        # argparse prints usage, then the description, then the arguments: each a paragraph.
        description = out.stdout.split("\n\n")[1]
        assert not description.startswith(("options:", "positional arguments:")), (command, out.stdout)
        assert len(description.split()) >= 10, (command, description)


def test_match_names_the_arabic_term_that_fired(tmp_path: Path) -> None:
    path = str(
        write_config(
            tmp_path,
            sources=[{"name": "ar", "url": "http://127.0.0.1:9/"}],
            channels=[{"name": "alerts", "type": "telegram", "chat_id": "@alerts", "token": "${TELEGRAM_BOT_TOKEN}"}],
            rules=[
                {"name": "president", "any": ["الرئيس"], "channels": ["alerts"]},
                {"name": "officials", "any": ["مسؤول"], "channels": ["alerts"]},
                {"name": "lebanon", "any": ["لبنان"], "channels": ["alerts"]},
            ],
        )
    )
    hit = run_monitor("match", "وللرئيس اللبناني كلمة مساء اليوم", "--config", path)
    assert hit.returncode == 0, hit.stderr
    assert hit.stdout.splitlines() == ["president: term 'الرئيس' -> alerts"]  # اللبناني is not لبنان
    both = run_monitor("match", "مسئول: للرئيس اللبناني كلمة", "--config", path)
    assert both.stdout.splitlines() == ["president: term 'الرئيس' -> alerts", "officials: term 'مسؤول' -> alerts"]
    miss = run_monitor("match", "الرئاسة اللبنانية تنفي", "--config", path)
    assert (miss.returncode, miss.stdout.strip()) == (1, "no rule matches")
