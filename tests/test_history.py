"""`monitor history` / `monitor log`: what went out, through the real command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fake_telegram import FakeTelegram
from helpers import run_monitor, telegram_channel, write_config
from sites import Site, ticker_page


def test_history_lists_sent_and_failed_alerts_with_rule_and_reason(
    tmp_path: Path, site: Site, telegram: FakeTelegram
) -> None:
    site.set("/en", ticker_page(["Old"]))
    site.set("/ar", ticker_page(["قديم"]))
    config = str(
        write_config(
            tmp_path,
            sources=[{"name": "en", "url": site.url("/en")}, {"name": "ar", "url": site.url("/ar")}],
            channels=[telegram_channel(telegram), telegram_channel(telegram, "ghost", "@no_such_chat")],
            rules=[
                {"name": "lebanon", "any": ["Lebanon", "لبنان"], "channels": ["alerts"]},
                {"name": "syria", "any": ["Syria"], "channels": ["alerts", "ghost"]},
            ],
        )
    )
    assert run_monitor("--once", "--config", config).returncode == 0
    empty = run_monitor("history", "--config", config)
    assert empty.returncode == 0 and empty.stdout.startswith("no alerts since")
    site.set("/en", ticker_page(["Syria: a line for both", "Lebanon: a line", "Old"]))
    site.set("/ar", ticker_page(["لبنان: خبر عاجل", "قديم"]))
    assert run_monitor("--once", "--config", config).returncode == 1  # the ghost chat does not exist

    out = run_monitor("history", "--config", config)
    assert out.returncode == 0, out.stderr
    row = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  (\S+)\s+(\S+)  (\S+)  \[(.*?)\]  (.*)$")
    rows = [row.match(line) for line in out.stdout.splitlines() if not line.startswith("    ")]
    assert sorted(r.groups() for r in rows if r) == sorted(
        [
            ("sent", "alerts", "en", "lebanon", "Lebanon: a line"),
            ("sent", "alerts", "en", "syria", "Syria: a line for both"),
            ("FAILED", "ghost", "en", "syria", "Syria: a line for both"),
            ("sent", "alerts", "ar", "lebanon", "لبنان: خبر عاجل"),
        ]
    ), out.stdout
    assert "    error: chat @no_such_chat not found" in out.stdout  # the reason, under its alert

    ghost = run_monitor("log", "--channel", "ghost", "--json", "--config", config)  # `log` is the same command
    [record] = [json.loads(line) for line in ghost.stdout.splitlines()]
    assert (record["status"], record["source"], record["rule"]) == ("failed", "en", "syria")
    assert "not found" in record["error"]
    only_ar = run_monitor("history", "--source", "ar", "--config", config).stdout.splitlines()
    assert len(only_ar) == 1 and only_ar[0].endswith("لبنان: خبر عاجل")
    assert run_monitor("history", "--since", "2099-01-01", "--config", config).stdout.startswith("no alerts")
    bad = run_monitor("history", "--since", "yesterday", "--config", config)
    assert bad.returncode == 2 and "--since: expected a duration" in bad.stderr
