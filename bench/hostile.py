"""Hostile pages beside a healthy source: does the healthy one stay timely, /healthz quick, SIGTERM prompt?

Issue 11's targets: beside hostile pages (deep nesting under and over 1 MB, 80,000 items, 360,000
tiny items), a healthy source's poll->send latency stays within 2x its baseline, /healthz answers
within 1 s, and SIGTERM exits within stop_timeout.

Per scenario the service (`monitor`, a subprocess) polls, every second, a healthy ticker page and,
except in the baseline, two copies of one hostile page (two sources, so both parse workers are kept
busy). The healthy ticker gets a new line every 1.5-2.5 s for --seconds; /healthz is asked every 0.2 s
(in a thread of its own). Afterwards the bench waits (up to 15 s) for the healthy lines to reach the
fake Bot API, then sends SIGTERM and times the exit.

    python bench/hostile.py [--seconds 20] [--runs 3] [--stop-timeout 5] [--only ul-0.9MB,...] [--logs DIR]

Measures, per run (the table shows medians over runs):
  latency p50 / max  line set on the page -> message arrived at the fake Bot API; includes up to one
                     poll interval (1 s) of waiting for the next poll, so ~0.5 s is the floor
  healthz p50 / max  time /healthz took to answer (any status; 503 is expected while hostile
                     sources fail)
  sent/set           healthy lines delivered / lines set
  sigterm            SIGTERM -> process exit, seconds (target: under stop_timeout)
  hostile polls      requests for the hostile pages; refused / capped: log lines "not parsed" / "extract.capped"

Targets (printed after the table): latency p50 (median over runs) within 2x the baseline's; every
/healthz answer under 1 s; every SIGTERM exit under stop_timeout. Pages come from
tests/test_hostile.py (`nested`, HOSTILE). Everything runs on 127.0.0.1; on a loaded machine the
numbers move, so compare scenarios within one invocation.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from fake_telegram import FakeTelegram, Sent  # noqa: E402
from helpers import free_port  # noqa: E402
from sites import Site, ticker_page  # noqa: E402
from test_hostile import HOSTILE, nested  # noqa: E402

TOKEN = "123456:TEST-token-not-real"
HEALTHZ_TIMEOUT = 30.0  # an answer slower than this counts as this long


def dl_dd(pairs: int) -> str:
    """Unclosed <dl><dd> pairs, as tests/test_hostile.py's "dl-dd" page."""
    return ticker_page(["x"]).replace("</body>", "<dl><dd>" * pairs + "</body>")


def pages() -> dict[str, str | None]:
    """Scenario name -> hostile page (None: the baseline, the healthy source alone)."""
    built: dict[str, str | None] = {"baseline": None}
    for name, page in [
        ("ul", nested("ul", 100_000)),
        ("ul", nested("ul", 200_000)),
        ("section", nested("section", 50_000)),
        ("section", nested("section", 100_000)),
        ("blockquote", nested("blockquote", 38_000)),
        ("blockquote", nested("blockquote", 160_000)),
        ("dl-dd", dl_dd(100_000)),
        ("dl-dd", dl_dd(200_000)),
        ("div-12k-parsed", nested("div", 12_000)),  # under the guard: lexbor really parses it (~0.3 s)
        ("80k-items", HOSTILE["80k-items"][0]),
        ("360k-tiny-items", HOSTILE["360k-tiny-items"][0]),
    ]:
        built[f"{name}-{len(page.encode()) / 1e6:.2f}MB"] = page
    return built


def healthz(port: int) -> float:
    """Seconds /healthz took to answer (any status; no answer within HEALTHZ_TIMEOUT counts as that)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=HEALTHZ_TIMEOUT) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        exc.read()
    except OSError:  # no answer (refused, reset, timed out): counts as HEALTHZ_TIMEOUT
        return HEALTHZ_TIMEOUT
    return time.monotonic() - started


def ask_healthz(port: int, answers: list[float], stop: threading.Event) -> None:
    while not stop.is_set():
        answers.append(healthz(port))
        stop.wait(0.2)


def one_run(
    name: str, page: str | None, seconds: float, stop_timeout: float, logs: Path | None, run: int
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, Site() as site, FakeTelegram(token=TOKEN, chats=["@alerts"]) as tg:
        work = Path(tmp)
        lines = ["Old line"]
        site.set("/ok", ticker_page(lines))
        hostile = [] if page is None else ["/h1", "/h2"]
        for path in hostile:
            site.set(path, page)
        port = free_port()
        sources = [{"name": "ok", "url": site.url("/ok"), "interval": 1}]
        sources += [{"name": p[1:], "url": site.url(p), "interval": 1, "max_bytes": 8 << 20} for p in hostile]
        config = {
            "state": {"path": str(work / "monitor.db")},
            "http": {"listen": f"127.0.0.1:{port}"},
            "stop_timeout": stop_timeout,
            "delivery": {"retry_base": 0.1, "retry_max": 1},
            "sources": sources,
            "channels": [
                {
                    "name": "alerts",
                    "type": "telegram",
                    "chat_id": "@alerts",
                    "token": TOKEN,
                    "api_base_url": tg.base_url,
                    "per_second": 1000,
                    "per_minute": 100000,
                }
            ],
            "rules": [{"name": "all", "channels": ["alerts"]}],
        }
        (work / "config.yaml").write_text(yaml.safe_dump(config))
        log = open(work / "service.log", "w+")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(work / "config.yaml")],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ},
            cwd=ROOT,
        )
        stop_asking = threading.Event()
        asker: threading.Thread | None = None
        exit_s, code = math.inf, -1
        try:
            deadline = time.monotonic() + 60
            while site.hits["/ok"] < 2 or any(site.hits[p] < 1 for p in hostile):
                if time.monotonic() > deadline or proc.poll() is not None:
                    log.flush()
                    raise RuntimeError(f"{name}: the service did not start polling; log:\n{Path(log.name).read_text()}")
                time.sleep(0.05)
            answers: list[float] = []
            asker = threading.Thread(target=ask_healthz, args=(port, answers, stop_asking), daemon=True)
            asker.start()
            set_at: dict[str, float] = {}
            jitter = random.Random(run)  # 1.5-2.5 s apart: the changes fall at every phase of the 1 s polls
            started = time.monotonic()
            next_line = started
            while time.monotonic() - started < seconds:
                if time.monotonic() >= next_line:
                    line = f"Healthy line {len(set_at):04d} beside {name}"
                    lines.insert(0, line)
                    site.set("/ok", ticker_page(lines[:20]))
                    set_at[line] = time.monotonic()
                    next_line += jitter.uniform(1.5, 2.5)
                time.sleep(0.01)

            def delivered(sent: list[Sent]) -> bool:
                text = "\n".join(m.plain for m in sent)
                return all(line in text for line in set_at)

            with contextlib.suppress(AssertionError):  # lines still missing are counted below as not sent
                tg.wait_for(delivered, timeout=15)
            hostile_polls = sum(site.hits[p] for p in hostile)
            latencies = []
            for line, at in set_at.items():
                arrived = [m.at for m in tg.sent if line in m.plain]
                if arrived:
                    latencies.append(min(arrived) - at)
            stop_asking.set()
            asker.join(timeout=HEALTHZ_TIMEOUT + 5)
            began = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=stop_timeout + 60)
                exit_s = time.monotonic() - began
            except subprocess.TimeoutExpired:
                pass
            log.flush()
            text = Path(log.name).read_text()
            if logs is not None:
                logs.mkdir(parents=True, exist_ok=True)
                shutil.copy(log.name, logs / f"{name}-run{run}.log")
            return {
                "latency_p50_s": statistics.median(latencies) if latencies else math.inf,
                "latency_max_s": max(latencies) if latencies else math.inf,
                "healthz_p50_ms": 1000 * statistics.median(answers) if answers else math.inf,
                "healthz_max_ms": 1000 * max(answers) if answers else math.inf,
                "sent": len(latencies),
                "set": len(set_at),
                "sigterm_s": exit_s,
                "exit_code": code,
                "hostile_polls": hostile_polls,
                "refused": text.count("not parsed"),
                "capped": text.count("extract.capped"),
                "crashed": text.count("poll.crashed"),
                "tracebacks": text.count("Traceback"),
            }
        finally:
            stop_asking.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()


COLUMNS = [  # key, header, format
    ("latency_p50_s", "latency p50 s", "{:.2f}"),
    ("latency_max_s", "latency max s", "{:.2f}"),
    ("healthz_p50_ms", "healthz p50 ms", "{:.1f}"),
    ("healthz_max_ms", "healthz max ms", "{:.1f}"),
    ("sent", "sent", "{:.0f}"),
    ("set", "set", "{:.0f}"),
    ("sigterm_s", "sigterm s", "{:.2f}"),
    ("hostile_polls", "hostile polls", "{:.0f}"),
    ("refused", "refused", "{:.0f}"),
    ("capped", "capped", "{:.0f}"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds each scenario runs (default 20)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stop-timeout", type=float, default=5.0, help="the service's stop_timeout (default 5)")
    parser.add_argument("--only", help="comma-separated scenario names (or prefixes); the baseline always runs")
    parser.add_argument("--logs", type=Path, help="copy each run's service log into this directory")
    args = parser.parse_args()
    scenarios = pages()
    if args.only:
        wanted = args.only.split(",")
        scenarios = {k: v for k, v in scenarios.items() if k == "baseline" or any(k.startswith(w) for w in wanted)}
    results: dict[str, list[dict[str, float]]] = {}
    for name, page in scenarios.items():
        results[name] = [
            one_run(name, page, args.seconds, args.stop_timeout, args.logs, i) for i in range(1, args.runs + 1)
        ]
        print(f"  {name}: done", file=sys.stderr, flush=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    print(
        f"healthy source beside two hostile sources, all polled every 1 s; new healthy line every 1.5-2.5 s for "
        f"{args.seconds:g} s; stop_timeout {args.stop_timeout:g} s; medians of {args.runs} runs on 127.0.0.1\n"
    )
    print("| scenario | " + " | ".join(h for _, h, _ in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name in results:
        print(f"| {name} | " + " | ".join(f.format(med(name, k)) for k, _, f in COLUMNS) + " |")

    limit = 2 * med("baseline", "latency_p50_s")
    slow = [f"{n} ({med(n, 'latency_p50_s'):.2f} s)" for n in results if med(n, "latency_p50_s") > limit]
    late = [
        f"{n} ({max(r['healthz_max_ms'] for r in results[n]):.0f} ms)"
        for n in results
        if max(r["healthz_max_ms"] for r in results[n]) >= 1000
    ]
    stuck = [
        f"{n} ({max(r['sigterm_s'] for r in results[n]):.2f} s)"
        for n in results
        if max(r["sigterm_s"] for r in results[n]) >= args.stop_timeout
    ]
    lost = [
        f"{n} ({sum(r['sent'] for r in results[n]):.0f}/{sum(r['set'] for r in results[n]):.0f})"
        for n in results
        if any(r["sent"] < r["set"] for r in results[n])
    ]
    bad_exit = [n for n in results if any(r["exit_code"] != 0 or r["crashed"] for r in results[n])]
    traced = [
        f"{n} ({sum(r['tracebacks'] for r in results[n]):.0f})"
        for n in results
        if any(r["tracebacks"] for r in results[n])
    ]
    print()
    print(
        f"- latency p50 within 2x baseline ({limit:.2f} s), median over runs: "
        + ("met" if not slow else "NOT met: " + ", ".join(slow))
    )
    print("- /healthz under 1 s, every answer of every run: " + ("met" if not late else "NOT met: " + ", ".join(late)))
    print(
        f"- SIGTERM exit under stop_timeout ({args.stop_timeout:g} s), every run: "
        + ("met" if not stuck else "NOT met: " + ", ".join(stuck))
    )
    print("- every healthy line sent: " + ("yes" if not lost else "no: " + ", ".join(lost)))
    print("- exit code 0 and no poll.crashed in the log: " + ("yes" if not bad_exit else "no: " + ", ".join(bad_exit)))
    print("- no Traceback in the service log: " + ("yes" if not traced else "no, tracebacks in: " + ", ".join(traced)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
