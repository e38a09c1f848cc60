"""What each command tells a newcomer, through the real command line: dry runs, summaries, match, status."""

from __future__ import annotations

from pathlib import Path

from fake_telegram import FakeTelegram
from helpers import Service, run_monitor, telegram_channel, wait, write_config
from sites import Site, ticker_page


def lebanon_config(tmp_path: Path, site: Site, telegram: FakeTelegram, **source: object) -> str:
    return str(
        write_config(
            tmp_path,
            sources=[{"name": "en", "url": site.url("/en"), **source}],
            channels=[
                telegram_channel(telegram),
                telegram_channel(telegram, "quiet", "@second", quiet_hours={"from": "23:00", "to": "07:00"}),
            ],
            rules=[
                {"name": "lebanon", "any": ["Lebanon"], "none": ["weather"], "channels": ["alerts"]},
                {"name": "flash", "any": ["killed"], "channels": ["quiet"], "priority": "urgent"},
            ],
        )
    )


def test_dry_run_on_a_fresh_state_shows_the_baseline_and_where_each_line_would_go(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    site.set("/en", ticker_page(["Lebanon: two killed in a strike", "Syria: talks resume"]))
    config = lebanon_config(tmp_path, site, telegram)
    out = run_monitor("--once", "--dry-run", "--config", config)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "en: 2 items, first poll: a real first run records them as the baseline and sends none"
        " (set backfill: N on the source to send its newest N)",
        "  baseline: Lebanon: two killed in a strike",
        "      lebanon -> alerts; flash -> quiet",
        "  baseline: Syria: talks resume",
        "      no rule matches",
    ]
    assert "recorded" not in out.stdout + out.stderr  # it recorded nothing, and does not say so
    assert not (tmp_path / "state").exists() and telegram.sent == []


def test_once_summary_counts_edits_and_speaks_plainly(tmp_path: Path, site: Site, telegram: FakeTelegram) -> None:
    site.set("/en", ticker_page(["Old"]))
    config = lebanon_config(tmp_path, site, telegram, backfill=1)
    first = run_monitor("--once", "--config", config)
    assert first.stderr.splitlines() == [
        "en: 1 item, first poll: recorded as the baseline and sends the newest 1 (backfill)"
    ]
    line = "Lebanon: Israeli drone strikes a motorcycle in Aitaroun"
    site.set("/en", ticker_page([line, "Old"]))
    assert run_monitor("--once", "--config", config).stderr.splitlines() == ["en: 2 items, 1 new, 1 alert queued"]
    site.set("/en", ticker_page([line + ", one killed", "Old"]))
    edited = run_monitor("--once", "--config", config)
    # on_edit: ignore: the corrected line is not sent again, though it now names a rule's term
    assert edited.stderr.splitlines() == ["en: 2 items, 1 new, 1 edit, 0 alerts queued"]


def test_match_explains_exclusions_and_refuses_an_unknown_source(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    config = lebanon_config(tmp_path, site, telegram)
    out = run_monitor("match", "Lebanon: weather warning for the coast", "--config", config)
    assert out.returncode == 1
    assert out.stdout.splitlines() == ["lebanon: excluded by its none: term 'weather'", "no rule matches"]
    both = run_monitor("match", "Lebanon: two killed", "--source", "en", "--config", config)
    assert both.stdout.splitlines() == ["lebanon: term 'Lebanon' -> alerts", "flash: term 'killed' -> quiet, urgent"]
    unknown = run_monitor("match", "Lebanon", "--source", "nope", "--config", config)
    assert unknown.returncode == 2
    assert "no source 'nope' in the config (it has: en)" in unknown.stderr


def test_check_config_shows_adaptive_intervals_priority_and_quiet_hours(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    config = lebanon_config(tmp_path, site, telegram, interval={"min": "10s", "max": "2m"})
    out = run_monitor("check-config", "--config", config).stdout
    assert "en: every 10s to 120s (adaptive: more often while the ticker is busy)" in out
    assert "quiet: telegram @second, quiet 23:00-07:00 UTC (silent then)" in out
    assert "flash: any: killed -> quiet, urgent: rings even in quiet hours" in out


def test_status_lists_every_channel_and_next_polls_only_while_running(
    tmp_path: Path, site: Site, telegram: FakeTelegram, services: list[Service]
) -> None:
    site.set("/en", ticker_page(["Old"]))
    config = lebanon_config(tmp_path, site, telegram)
    assert run_monitor("--once", "--config", config).returncode == 0
    stopped = run_monitor("status", "--config", config).stdout.splitlines()
    assert stopped[0].startswith("no monitor is running")
    assert [line.split()[:5] for line in stopped if line.startswith(("alerts", "quiet"))] == [
        ["alerts", "0", "0", "0", "-"],
        ["quiet", "0", "0", "0", "-"],
    ]  # no alert yet, listed all the same
    en = next(line for line in stopped if line.startswith("en "))
    assert en.split()[-2:] == ["-", "-"]  # next poll: no one will poll it
    services.append(service := Service(tmp_path, Path(config)))
    service.notified("READY")

    def running() -> list[str]:
        return run_monitor("status", "--config", config).stdout.splitlines()

    wait(lambda: running()[0] == f"monitor is running (PID {service.proc.pid})", "status to see the service")
    wait(lambda: " in " in next(line for line in running() if line.startswith("en ")), "a next poll time")


def test_console_marks_urgent_alerts_as_telegram_does(tmp_path: Path, site: Site) -> None:
    site.set("/en", ticker_page(["Old"]))
    config = str(
        write_config(
            tmp_path,
            sources=[{"name": "en", "url": site.url("/en")}],
            channels=[{"name": "screen", "type": "console"}],
            rules=[
                {"name": "flash", "any": ["killed"], "channels": ["screen"], "priority": "urgent"},
                {"name": "rest", "channels": ["screen"]},
            ],
        )
    )
    assert run_monitor("--once", "--config", config).returncode == 0
    site.set("/en", ticker_page(["Two killed in a strike", "Talks resume", "Old"]))
    out = run_monitor("--once", "--config", config)
    printed = [line.split(" ", 1)[1] for line in out.stdout.splitlines() if not line.startswith("    ")]
    assert printed == ["[screen] en: Talks resume", "[screen] 🔴 URGENT en: Two killed in a strike"]
