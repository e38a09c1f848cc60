"""Another process holds the state file: does the service stay responsive, and is anything lost?

The red team's case (issue 11): a sqlite3 shell holds `BEGIN EXCLUSIVE` on the state file for 45 s
while the service runs. Here the service (`monitor`, a subprocess) polls two local ticker pages every
second; during the hold both tickers get a new line every 3 s; /healthz is asked every 0.2 s. After
the hold, the bench waits until every line reached the fake Bot API.

    python bench/locked_state.py [--hold 45] [--runs 3]

Prints, per run and as medians: /healthz answer time during the hold (p50, max), polls that failed
on the lock, lines sent / lines that appeared, and the time from the release to the last line.
Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from fake_telegram import FakeTelegram  # noqa: E402
from helpers import free_port  # noqa: E402
from sites import Site, ticker_page  # noqa: E402

TOKEN = "123456:TEST-token-not-real"


def healthz(port: int) -> float:
    """Seconds /healthz took to answer (any status)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        exc.read()
    return time.monotonic() - started


def one_run(hold: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, Site() as site, FakeTelegram(token=TOKEN, chats=["@alerts"]) as tg:
        work = Path(tmp)
        ticker = {name: ["Old line"] for name in "ab"}
        for name, lines in ticker.items():
            site.set(f"/{name}", ticker_page(lines))
        port = free_port()
        config = {
            "state": {"path": str(work / "monitor.db")},
            "http": {"listen": f"127.0.0.1:{port}"},
            "delivery": {"retry_base": 0.1, "retry_max": 1},
            "sources": [{"name": name, "url": site.url(f"/{name}"), "interval": 1} for name in ticker],
            "channels": [
                {
                    "name": "alerts",
                    "type": "telegram",
                    "chat_id": "@alerts",
                    "token": TOKEN,
                    "api_base_url": tg.base_url,
                    "per_second": 1000,
                    "per_minute": 100000,
                    "digest_after": 1000,
                }
            ],  # one message a line, to count them
            "rules": [{"name": "all", "channels": ["alerts"]}],
        }
        (work / "config.yaml").write_text(yaml.safe_dump(config))
        log = open(work / "service.log", "w+")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(work / "config.yaml")],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ},
        )
        try:
            deadline = time.monotonic() + 30
            while site.hits["/a"] < 2 or site.hits["/b"] < 2:
                assert time.monotonic() < deadline, "the service did not start polling"
                time.sleep(0.05)
            shell = sqlite3.connect(work / "monitor.db", timeout=0)
            shell.execute("BEGIN EXCLUSIVE")
            answers, added, started = [], 0, time.monotonic()
            next_line = started
            while time.monotonic() - started < hold:
                if time.monotonic() >= next_line:
                    for name, lines in ticker.items():
                        lines.insert(0, f"{name.upper()} line {added} during the hold")
                        site.set(f"/{name}", ticker_page(lines[:20]))
                    added += 1
                    next_line += 3
                answers.append(healthz(port))
                time.sleep(0.2)
            shell.rollback()
            shell.close()
            released = time.monotonic()
            tg.wait_for(2 * added, timeout=120)
            last = max(m.at for m in tg.sent)
            log.flush()
            failed = Path(log.name).read_text().count("is locked by another process")
            return {
                "healthz_p50_ms": 1000 * statistics.median(answers),
                "healthz_max_ms": 1000 * max(answers),
                "polls_failed": failed,
                "lines_sent": len(tg.sent),
                "lines_added": 2 * added,
                "release_to_last_s": max(0.0, last - released),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hold", type=float, default=45.0, help="seconds the state file is held (default 45)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run(args.hold) for _ in range(args.runs)]
    keys = list(runs[0])
    print(f"state file held {args.hold:g}s by another process; {args.runs} runs on 127.0.0.1\n")
    print("| run | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for i, run in enumerate(runs, 1):
        print(f"| {i} | " + " | ".join(f"{run[k]:.1f}" for k in keys) + " |")
    print("| median | " + " | ".join(f"{statistics.median(r[k] for r in runs):.1f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
