"""A line that matches 5,000 readers beside channel alerts: the readers' DMs at the bot's limit, channels first.

    python bench/fanout.py [--readers 5000] [--others 5000] [--runs 3] [--latencies 0,100] [--rate 30]
                           [--apart] [--ceiling 0]

Everything runs on 127.0.0.1: a ticker site (tests/sites.py) with two sources, `wire` and `flash`, polled
every 1 s; the fake Bot API of the tests (tests/fake_telegram.py), which knows every reader's private chat
without an update for the bot to answer and holds each answer back by --latencies ms; and the real
service (`python -m monitor.cli`) as a subprocess on a SQLite state in a temp folder. Two channels,
@alerts and @urgent, at Telegram's per-chat limits (1 a second, 20 a minute), each with a rule. The
state holds --readers readers whose watches all match the big line (gaza, غزة, "gaza city", rafah,
ceasefire, some with an exclusion or in:wire, a fifth with a second matching watch) and --others
readers whose watches (1-2 of other cities) match nothing. The state is built once and copied per run.

One run: the service starts and takes its baseline; three channel-only lines appear on `flash` 5 s
apart (channel latency without the burst); then one line on `wire` matches every reader and both
channels, and for the next minute a channel-only line appears on `flash` every 5 s. The run ends when
every reader's DM reached the fake (or at a deadline). Measured, from the fake's record of every
message (the time its request arrived) and from the state's outbox:

- the readers' DM rate: over the whole burst, and in steady state (from the 10th to the 90th percentile
  DM), against delivery.per_second_total (--rate); the line's time on the page to the first and the last
  DM; the most messages the bot sent in any 1 s (all chats: what Telegram's limit counts);
- every channel alert's latency, line on the page -> at the Bot API, and queued (outbox.created) -> at the
  Bot API, before and during the burst; the readers' DMs that reached the Bot API while a channel alert
  was queued (a DM taken from the budget while a channel alert waited for it would be one);
- each matching reader got exactly one DM (none twice, none lost) and no other reader got any; the
  service's peak RSS (VmHWM) and CPU; the load average, since the machine is shared.

The latencies of one run go side by side by default (one service and one fake each, the same site and
timeline): a 5,000-reader burst takes 5,000/30 = 167 s at Telegram's rate, so three runs of two
latencies one at a time would take 17 minutes. --apart runs them one at a time. --ceiling RATE adds a
run alone per latency at that per_second_total, to show where the machine's own limit is (--runs 0
--ceiling 1000: those runs only).

Medians of --runs runs. The defaults take about 10 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from fake_telegram import FakeTelegram, Sent  # noqa: E402
from helpers import Service, telegram_channel, write_config  # noqa: E402
from run import PLACES, TOKEN, WORDS, fmt, pct, proc_cpu, vmhwm  # noqa: E402
from sites import Site, ticker_page  # noqa: E402

from monitor.store import Reader, SqliteStore  # noqa: E402

FIRST_READER = 1_000_001  # reader ids: the matching ones first, then the others
CHANNELS = ("@alerts", "@urgent")
BURST = "Gaza City: ceasefire agreed, strikes stop in Rafah — وقف إطلاق النار في غزة"
# Every one matches BURST; none matches a flash line.
MATCHING = ("gaza", "غزة", '"gaza city"', "rafah -football", "ceasefire", "in:wire gaza", "ceasefire -sport")
WATCHED = {"gaza", "city", "rafah", "ceasefire", "football", "sport"}
ELSEWHERE = [p for p in PLACES if p.lower() not in ("gaza", "beirut")]  # the other readers' watches
FLASH_WORDS = [w for w in WORDS if w not in WATCHED and w.title() not in ELSEWHERE]
EVERY = 5.0  # seconds between two flash lines
CONTROL = 3  # flash lines before the burst
MINUTE = 60.0  # flash lines go on this long after the burst
PHASES = ("before", "line", "during")  # channel alerts: flash lines before the burst, the big line, flash lines after


def _max(values: list[float]) -> float:
    return max(values, default=float("nan"))


STATS = (("p50", lambda v: pct(v, 50)), ("max", _max))


@dataclass(frozen=True, slots=True)
class Condition:
    """One service's settings: the bot's global rate and the fake Bot API's latency."""

    rate: float
    latency_ms: float

    @property
    def label(self) -> str:
        return f"{self.latency_ms:g} ms, {self.rate:g}/s"


def flash_line(k: int) -> str:
    """The k-th channel-only line: matches both channels' rules (Beirut), no reader's watch."""
    rng = random.Random(k)
    words = " ".join(rng.choice(FLASH_WORDS) for _ in range(9))
    return f"Beirut: {words} (flash {k})"


def line_key(text: str) -> str:
    """Which bench line a message or an outbox row carries: "burst", "flash <k>", or ""."""
    if "ceasefire agreed" in text:
        return "burst"
    start = text.find("(flash ")
    return text[start + 1 : text.index(")", start)] if start >= 0 else ""


async def build_state(path: Path, readers: int, others: int) -> None:
    """The readers and their watches, stored as /watch would store them."""
    rng = random.Random(5)
    store = SqliteStore(path)
    store.db.execute("PRAGMA synchronous=OFF")  # setup only: 20,000 commits would each wait for the disk
    for n in range(readers + others):
        uid = FIRST_READER + n
        await store.save_reader(Reader(uid, language=rng.choice(("en", "ar")), created=time.time()))
        if n < readers:
            await store.add_watch(uid, MATCHING[n % len(MATCHING)])
            if n % 5 == 0:  # a second watch that matches too: still one DM
                await store.add_watch(uid, "ceasefire")
        else:
            for _ in range(rng.randint(1, 2)):
                await store.add_watch(uid, " ".join(rng.sample(ELSEWHERE, rng.randint(1, 3))))
    await store.close()


class Instance:
    """One service under one condition: its fake Bot API, state and config."""

    def __init__(self, work: Path, site: Site, template: Path, cond: Condition, readers: int, others: int) -> None:
        self.cond, self.readers = cond, readers
        self.dir = Path(tempfile.mkdtemp(prefix=f"{cond.rate:g}-{cond.latency_ms:g}-", dir=work))
        ids = range(FIRST_READER, FIRST_READER + readers + others)
        self.tg = FakeTelegram(token=TOKEN, chats=CHANNELS, readers=ids, latency=cond.latency_ms / 1000)
        self.tg.start()
        self.db = self.dir / "state" / "monitor.db"
        self.db.parent.mkdir()
        shutil.copy(template, self.db)
        limits = {"per_second": 1, "per_minute": 20}  # Telegram's per chat: the channels are budgeted
        self.cfg = write_config(
            self.dir,
            sources=[{"name": "wire", "url": site.url("/wire")}, {"name": "flash", "url": site.url("/flash")}],
            channels=[
                telegram_channel(self.tg, "alerts", "@alerts", **limits),
                telegram_channel(self.tg, "urgent", "@urgent", **limits),
            ],
            rules=[
                {"name": "gaza", "any": ["gaza", "beirut"], "channels": ["alerts"]},
                {"name": "ceasefire", "any": ["ceasefire", "beirut"], "channels": ["urgent"]},
            ],
            defaults={"interval": 1},
            delivery={"per_second_total": cond.rate, "timeout": 60},
            bot={"poll_timeout": 5, "max_users": readers + others},
        )
        self.service: Service | None = None
        self.cpu0 = 0.0  # the service's CPU seconds when the big line appeared
        self.busy: tuple[float, float] | None = None  # CPU and wall seconds from then until its DMs were out

    def start(self) -> None:
        self.service = Service(self.dir, self.cfg, TELEGRAM_BOT_TOKEN=TOKEN)
        self.service.notified("READY", timeout=60)

    def baselined(self) -> bool:
        return bool(self.query("SELECT COUNT(*) FROM baseline")[0][0] == 2)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10) as db:
            return db.execute(sql).fetchall()

    def dms(self) -> list[Sent]:
        return [s for s in self.tg.sent if s.numeric_chat_id >= FIRST_READER]

    def look(self, burst: float) -> None:
        """Note the CPU the service spent since the burst, once every DM is out."""
        assert self.service is not None
        if self.busy is None and len(self.dms()) >= self.readers:
            self.busy = (proc_cpu(self.service.proc.pid) - self.cpu0, time.monotonic() - burst)

    def stop(self) -> dict[str, float]:
        """Stop the service; its peak RSS, CPU % of a core from the burst until its DMs were out, exit code."""
        assert self.service is not None
        pid = self.service.proc.pid
        rss, (cpu, wall) = vmhwm(pid), self.busy or (float("nan"), 1.0)
        rc = self.service.stop()
        self.service.close()
        self.tg.stop()
        return {"rss": rss, "cpu_pct": 100 * cpu / wall, "rc": rc}


def one_run(work: Path, site: Site, template: Path, conds: list[Condition], readers: int, others: int) -> list[dict]:
    """Conditions side by side on one timeline; one result per condition."""
    site.set("/wire", ticker_page(["Markets: oil prices steady in early trade"]))
    site.set("/flash", ticker_page(["Weather: clear skies expected over the weekend"]))
    instances = [Instance(work, site, template, c, readers, others) for c in conds]
    try:
        for inst in instances:
            inst.start()
        deadline = time.monotonic() + 30
        while not all(inst.baselined() for inst in instances):
            if time.monotonic() > deadline:
                raise SystemExit(f"no baseline within 30 s, see {instances[0].dir}")
            time.sleep(0.1)
        offset = time.time() - time.monotonic()  # wall - monotonic: outbox times on the fake's clock
        shown: dict[str, float] = {}  # line key -> when it appeared on its page
        flash: list[str] = ["Weather: clear skies expected over the weekend"]

        def add_flash(k: int) -> None:
            flash.insert(0, flash_line(k))
            site.set("/flash", ticker_page(flash[:10]))
            shown[f"flash {k}"] = time.monotonic()

        t0 = time.monotonic()
        for k in range(CONTROL):
            time.sleep(max(0.0, t0 + k * EVERY - time.monotonic()))
            add_flash(k)
        time.sleep(max(0.0, t0 + CONTROL * EVERY - time.monotonic()))
        load_before = os.getloadavg()[0]
        for inst in instances:
            assert inst.service is not None
            inst.cpu0 = proc_cpu(inst.service.proc.pid)
        site.set("/wire", ticker_page([BURST, "Markets: oil prices steady in early trade"]))
        burst = shown["burst"] = time.monotonic()
        k = CONTROL
        slowest = max(readers / min(c.rate, 30) for c in conds)  # above 30/s the machine may be the limit
        deadline, looked = burst + 1.5 * slowest + 60, burst
        while time.monotonic() < deadline:
            due = burst + (k - CONTROL + 1) * EVERY  # in step with the lines before: the same wait for a poll
            if due <= burst + MINUTE and time.monotonic() >= due:
                add_flash(k)
                k += 1
            if time.monotonic() >= looked + 0.5:  # counting DMs is not free: twice a second
                looked = time.monotonic()
                for inst in instances:
                    inst.look(burst)
                if looked >= burst + MINUTE and all(inst.busy for inst in instances):
                    break
            time.sleep(0.05)
        time.sleep(1.0)  # a duplicate would come now
        load_after = os.getloadavg()[0]
        return [
            measure(inst, shown, burst, offset, load_before, load_after)
            for inst in instances  # each stopped once measured
        ]
    finally:
        for inst in instances:
            if inst.service is not None and inst.service.proc.poll() is None:
                inst.stop()


def measure(inst: Instance, shown: dict[str, float], burst: float, offset: float, load0: float, load1: float) -> dict:
    """One condition's numbers of one run."""
    sent = inst.tg.sent
    proc = inst.stop()
    dms = sorted(s.at for s in sent if s.numeric_chat_id >= FIRST_READER)
    got = Counter(s.numeric_chat_id for s in sent if s.numeric_chat_id >= FIRST_READER)
    wanted = set(range(FIRST_READER, FIRST_READER + inst.readers))
    arrived = {(s.chat_id, line_key(s.plain)): s.at for s in sent if s.chat_id in CHANNELS}
    queued = {
        (f"@{name}", line_key(text)): created - offset
        for name, text, created in inst.query(
            "SELECT channel, text, created FROM outbox WHERE channel NOT LIKE 'reader:%'"
        )
    }
    phases: dict[str, dict[str, list[float]]] = {p: {"page": [], "queue": [], "dms": []} for p in PHASES}
    for (chat, key), at in arrived.items():
        if key not in shown:
            continue
        phase = phases["line" if key == "burst" else "before" if shown[key] < burst else "during"]
        phase["page"].append(at - shown[key])
        if (chat, key) in queued:
            phase["queue"].append(1000 * (at - queued[(chat, key)]))
            # Readers' DMs that reached the Bot API while this alert was queued (for the line: before it).
            since = burst if key == "burst" else queued[(chat, key)]
            phase["dms"].append(bisect.bisect_left(dms, at) - bisect.bisect_right(dms, since))
    every = sorted(s.at for s in sent)
    peaks = [bisect.bisect_left(every, t + 1.0) - i for i, t in enumerate(every)]
    settled = bisect.bisect_left(every, dms[0] + 2.0) if dms else len(every)  # 2 s into the burst
    n = len(dms)
    lo, hi = n // 10, max(n * 9 // 10 - 1, 0)
    statuses = Counter(status for (status,) in inst.query("SELECT status FROM outbox WHERE channel LIKE 'reader:%'"))
    expected_channel = 2 * len(shown)
    return {
        "dms": float(sum(1 for uid in got if uid in wanted)),
        "twice": float(sum(c - 1 for c in got.values())),
        "lost": float(len(wanted - got.keys())),
        "stray": float(sum(1 for uid in got if uid not in wanted)),
        "queued_left": float(statuses["queued"]),
        "first": dms[0] - burst if dms else float("nan"),
        "all": dms[-1] - burst if dms else float("nan"),
        "rate": (n - 1) / (dms[-1] - dms[0]) if n > 1 else float("nan"),
        "steady": (hi - lo) / (dms[hi] - dms[lo]) if hi > lo else float("nan"),
        "peak": float(max(peaks, default=0)),
        "peak_later": float(max(peaks[settled:], default=0)),
        **{f"{p}_{what}_{q}": f(phases[p][what]) for p in PHASES for what in ("page", "queue") for q, f in STATS},
        **{f"{p}_dms_{q}": f(phases[p]["dms"]) for p in ("line", "during") for q, f in (("sum", sum), ("max", _max))},
        "channel_sent": float(len([k for k in arrived if k[1] in shown])),
        "channel_expected": float(expected_channel),
        "rss": proc["rss"],
        "cpu_pct": proc["cpu_pct"],
        "rc": float(proc["rc"]),
        "load0": load0,
        "load1": load1,
    }


def medians(rows: list[dict]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--readers", type=int, default=5000, help="readers whose watches match the line (default 5000)")
    ap.add_argument("--others", type=int, default=5000, help="readers whose watches match nothing (default 5000)")
    ap.add_argument("--runs", type=int, default=3, help="runs; medians are reported (default 3)")
    ap.add_argument("--latencies", default="0,100", help="the fake Bot API's latency per request, ms (default 0,100)")
    ap.add_argument("--rate", type=float, default=30, help="delivery.per_second_total (default 30, Telegram's)")
    ap.add_argument("--apart", action="store_true", help="run the latencies one at a time, not side by side")
    ap.add_argument(
        "--ceiling", type=float, default=0, help="also one run alone per latency at this per_second_total (0: none)"
    )
    args = ap.parse_args()
    started = time.monotonic()
    conds = [Condition(args.rate, float(ms)) for ms in args.latencies.split(",")]
    print(f"# a line to {args.readers:,} readers beside channel alerts — {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"machine: {platform.node()}, nproc {os.cpu_count()}, Python {platform.python_version()}")
    print("command: " + " ".join(["python", *sys.argv]))
    results: dict[Condition, list[dict]] = {c: [] for c in conds} if args.runs else {}
    with Site() as site, tempfile.TemporaryDirectory(prefix="monbench-fanout-") as tmp:
        work = Path(tmp)
        template = work / "template.db"
        t = time.monotonic()
        asyncio.run(build_state(template, args.readers, args.others))
        print(f"... state: {args.readers + args.others:,} readers in {time.monotonic() - t:.1f} s", file=sys.stderr)
        groups = [[c] for c in conds] if args.apart else [conds]
        for run in range(args.runs):
            for group in groups:
                for cond, row in zip(
                    group, one_run(work, site, template, group, args.readers, args.others), strict=True
                ):
                    results[cond].append(row)
                    print(f"... run {run + 1}, {cond.label}: {row}", file=sys.stderr, flush=True)
        for cond in [Condition(args.ceiling, c.latency_ms) for c in conds] if args.ceiling else []:
            (row,) = one_run(work, site, template, [cond], args.readers, args.others)  # alone: the machine's limit
            results[cond] = [row]
            print(f"... ceiling, {cond.label}: {row}", file=sys.stderr, flush=True)
    report(results, args.readers)
    print(f"\ntotal bench time {time.monotonic() - started:.0f} s")
    return 0


def report(results: dict[Condition, list[dict]], readers: int) -> None:
    table(
        results,
        f"## readers' DMs: one line matching {readers:,} readers (medians of runs)",
        [
            "DMs out (once each) / twice / lost / to others",
            "line → first DM / all out, s",
            "DM rate whole / steady (10–90%), msg/s",
            "most sends in 1 s (all chats): any / from 2 s on",
            "service CPU % / peak RSS MB",
            "load avg 1 min, burst start / end",
        ],
        lambda m: [
            f"{m['dms']:,.0f} / {m['twice']:.0f} / {m['lost']:.0f} / {m['stray']:.0f}",
            f"{fmt(m['first'])} / {fmt(m['all'], 1)}",
            f"{fmt(m['rate'], 1)} / {fmt(m['steady'], 1)}",
            f"{m['peak']:.0f} / {m['peak_later']:.0f}",
            f"{fmt(m['cpu_pct'], 0)} / {fmt(m['rss'], 0)}",
            f"{fmt(m['load0'])} / {fmt(m['load1'])}",
        ],
    )
    table(
        results,
        "## channel alerts, both channels: 3 lines before the burst, the big line itself, 12 lines in its minute",
        [
            "sent / expected",
            "before: line on page → Bot API p50 / max s; queued → Bot API p50 / max ms",
            "the big line: on page → Bot API max s; queued → Bot API max ms; DMs out before it",
            "its minute: on page → Bot API p50 / max s; queued → Bot API p50 / max ms",
            "DMs at the Bot API while one of these was queued: all / most for one",
        ],
        lambda m: [
            f"{m['channel_sent']:.0f} / {m['channel_expected']:.0f}",
            f"{fmt(m['before_page_p50'])} / {fmt(m['before_page_max'])}; "
            f"{fmt(m['before_queue_p50'], 0)} / {fmt(m['before_queue_max'], 0)}",
            f"{fmt(m['line_page_max'])}; {fmt(m['line_queue_max'], 0)}; {m['line_dms_max']:.0f}",
            f"{fmt(m['during_page_p50'])} / {fmt(m['during_page_max'])}; "
            f"{fmt(m['during_queue_p50'], 0)} / {fmt(m['during_queue_max'], 0)}",
            f"{m['during_dms_sum']:.0f} / {m['during_dms_max']:.0f}",
        ],
    )
    bad = {c.label: [r["rc"] for r in rows] for c, rows in results.items() if any(r["rc"] for r in rows)}
    if bad:
        print(f"\nservice exit codes not 0: {bad}")


def table(
    results: dict[Condition, list[dict]], title: str, columns: list[str], cells: Callable[[dict], list[str]]
) -> None:
    """A Markdown table, a row per condition of the medians of its runs."""
    print(f"\n{title}\n")
    print("| " + " | ".join(["Bot API latency", "per_second_total", "runs", *columns]) + " |")
    print("|---" * (len(columns) + 3) + "|")
    for cond, rows in results.items():
        first = [f"{cond.latency_ms:g} ms", f"{cond.rate:g}/s", str(len(rows))]
        print("| " + " | ".join(first + cells(medians(rows))) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
