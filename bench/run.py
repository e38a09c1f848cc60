"""End-to-end benchmark of monitor: polling cost per source, service latency, RSS, and urlwatch for scale.

Everything runs on 127.0.0.1: one aiohttp fixture server with N sources of ~100 KB news pages
(/s/0 ... /s/N-1, a 10-line BREAKING ticker, ETag/304), and the fake Telegram Bot API from tests/.

    python bench/run.py [--sizes 50,500,5000] [--runs 3] [--soak 60] [--ports 50] [--no-urlwatch]

1. Poll cycles of N sources, after a baseline: (a) every page changed, (b) none changed, (c) quiet
   tickers (no ETag, new bytes on every request, the same ticker lines; Fixture.noisy_pages): wall, CPU
   (user+sys, os.wait4 or process_time), peak RSS (VmHWM). Two modes: `monitor --once` processes
   (N <= --once-max; the ETags they keep in the state file make "none changed" 304s), and
   cycles inside one long-lived process that polls like the service (ETags kept: 304s). Sources
   name the ticker with the css selector urlwatch gets (div.breaking li); the same cycles with the
   ticker found by its heading instead (no selector) are measured at N=50 and 500. At the
   largest N, also with the sources spread over --ports ports of 127.0.0.1 (each port is a separate
   "host" for aiohttp's per-host connection limit); the main rows use one host:port.
2. Marginal cost per check: (X(N=500) - X(N=50)) / 450, which removes start-up and import costs.
3. The service at a 1 s interval on N=50 for --soak seconds: change -> Telegram latency p50/p99, the
   poll.done -> Telegram part, RSS over time. The issue's soak is 10 minutes: --soak 600.
4. urlwatch 2.29 (pip-installed into a throw-away venv) on the same fixture, N=50 and 500.
5. Adaptive polling replayed over 7 simulated days of ticker changes (bench/adaptive.py).

Medians of --runs runs. The defaults take about 10 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from fake_telegram import FakeTelegram  # noqa: E402
from sites import BackgroundServer  # noqa: E402

TOKEN = "123456:TEST-token-not-real"
CHAT = "@alerts"
URLWATCH = "urlwatch==2.29"
SELECTOR = "div.breaking li"  # the ticker items; urlwatch gets the same css filter
# The workloads: every ticker has a new line; nothing changed (304); the quiet ticker of a site that
# sends no validators and new bytes every time while its ticker stays (most checks of a real ticker).
CASES = ("changed", "304", "quiet")
RATIO_TARGETS = {"changed": 5.0, "304": 15.0, "quiet": 20.0}  # urlwatch's marginal CPU / monitor's

# ---------------------------------------------------------------- the fixture pages

WORDS = (
    "the of in on at to and a for with from by says said after over near new two three officials sources report "
    "reports killed wounded strike strikes attack drone missile army minister president talks ceasefire border "
    "town city north south east west government parliament vote market oil prices security council meeting "
    "agreement statement spokesman military forces region villages residents hospital ministry health aid convoy "
    "crossing negotiations delegation capital"
).split()
PLACES = (
    "Gaza Beirut Tehran Kyiv Moscow Washington Sanaa Damascus Baghdad Cairo Amman Riyadh Doha Ankara Paris Berlin "
    "London Beijing Tokyo Khartoum Tripoli Tunis Rabat Houla Blida Tyre Sidon Nabatieh"
).split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _static_parts() -> tuple[bytes, bytes, bytes]:
    """Shared head+nav (before the title is filled in), nav rest, and article+sidebar+footer: ~100 KB."""
    rng = random.Random(7)
    head = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        + "".join(f'<link rel="stylesheet" href="/static/css/part{k}.css">' for k in range(8))
        + "".join(f'<script src="/static/js/chunk{k}.js" defer></script>' for k in range(12))
        + "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
        + "var cfg="
        + json.dumps({f"k{k}": _sentence(rng, 6) for k in range(40)})
        + ";</script>"
        + "<title>"
    )
    nav = ['</title></head><body><header><div class="logo"><a href="/">News</a></div><nav class="menu"><ul>']
    for k in range(320):
        nav.append(
            f'<li class="menu-item"><a href="/section/{k}/{rng.choice(WORDS)}">{rng.choice(PLACES)} '
            f"{rng.choice(WORDS)}</a></li>"
        )
    nav.append("</ul></nav></header>")
    body = [
        '<main><article class="story"><h1>' + _sentence(rng, 10) + "</h1>"
        '<div class="byline">By <a href="/authors/1">Staff</a> · <time>12:00</time></div>'
    ]
    for _ in range(72):
        body.append("<p>" + " ".join(_sentence(rng, rng.randint(12, 24)) for _ in range(6)) + "</p>")
    body.append('</article><aside class="most-read"><h2>Most read</h2><ol>')
    for k in range(40):
        body.append(f'<li><a href="/news/{100000 + k}">{_sentence(rng, 9)}</a></li>')
    body.append("</ol></aside></main><footer><ul>")
    for k in range(220):
        body.append(f'<li><a href="/page/{k}">{rng.choice(WORDS).title()} {k}</a></li>')
    body.append("</ul><p>© News Corp. All rights reserved.</p></footer></body></html>")
    return head.encode(), "".join(nav).encode(), "".join(body).encode()


def ticker_line(i: int, g: int) -> str:
    """Line g of source i: distinct across sources and generations; ref{i}x{g} identifies it."""
    rng = random.Random(i * 1_000_003 + g)
    return f"{rng.choice(PLACES)}: {_sentence(rng, rng.randint(8, 14))[:-1]} {rng.choice(PLACES)} ref{i}x{g}"


class Fixture(BackgroundServer):
    """N sources of ~100 KB pages; bump() gives a source a new top ticker line (and a new ETag).

    While `noisy` is set the pages behave like many real news sites: no validators (no ETag, never a
    304), and bytes that differ on every request (a CSP nonce in the head, a clock and an ad slot after
    the ticker) while the ticker itself stays: the "quiet ticker" workload.
    """

    def __init__(self, ports: int = 1) -> None:
        app = web.Application()
        app.router.add_get("/s/{i}", self._handle)
        super().__init__(app)
        self.n_ports = ports
        self.ports: list[int] = []
        self.gen: dict[int, int] = {}
        self.status: Counter[int] = Counter()
        self.noisy = False
        self._requests = 0
        self._cache: dict[int, tuple[int, bytes]] = {}  # the ticker only: 5,000 whole pages would be 450 MB
        self._head, self._nav, self._tail = _static_parts()
        self._lock = threading.Lock()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        for _ in range(self.n_ports):
            await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.ports = [a[1] for a in self._runner.addresses]
        self.port = self.ports[0]

    def __enter__(self) -> Fixture:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def url(self, i: int, spread: bool) -> str:
        port = self.ports[i % len(self.ports)] if spread else self.ports[0]
        return f"http://127.0.0.1:{port}/s/{i}"

    @contextlib.contextmanager
    def noisy_pages(self) -> Iterator[None]:
        """Serve the quiet-ticker pages meanwhile (no ETag, new bytes each request, the same ticker)."""
        self.noisy = True
        try:
            yield
        finally:
            self.noisy = False

    def bump(self, i: int) -> int:
        with self._lock:
            self.gen[i] = self.gen.get(i, 10) + 1
            return self.gen[i]

    def bump_all(self, n: int) -> None:
        for i in range(n):
            self.bump(i)

    def page(self, i: int, g: int, nonce: int | None = None) -> bytes:
        cached = self._cache.get(i)
        if cached and cached[0] == g:
            ticker = cached[1]
        else:
            items = "".join(
                f'<li><a href="/news/{i}-{k}">{html.escape(ticker_line(i, k))}</a></li>' for k in range(g, g - 10, -1)
            )
            ticker = f'<div class="breaking"><h3>BREAKING</h3><ul>{items}</ul></div>'.encode()
            self._cache[i] = (g, ticker)
        if nonce is None:
            return b"".join([self._head, f"Source {i} - News".encode(), self._nav, ticker, self._tail])
        head = self._head.replace(b"<script>window.", f'<script nonce="n{nonce:x}">window.'.encode(), 1)
        noise = (
            f'<div class="clock"><time>{time.strftime("%H:%M:%S")}.{nonce % 1000:03d}</time></div>'
            f'<div class="ad" data-slot="{nonce * 2654435761 % 2**32:08x}"></div>'
        ).encode()
        return b"".join([head, f"Source {i} - News".encode(), self._nav, ticker, noise, self._tail])

    async def _handle(self, request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        with self._lock:
            g = self.gen.get(i, 10)
            self._requests += 1
            nonce = self._requests
        if self.noisy:  # no validators, new bytes every time, the same ticker
            self.status[200] += 1
            return web.Response(body=self.page(i, g, nonce), headers={"Content-Type": "text/html; charset=utf-8"})
        etag = f'"{i}-{g}"'
        if request.headers.get("If-None-Match") == etag:
            self.status[304] += 1
            return web.Response(status=304, headers={"ETag": etag})
        self.status[200] += 1
        return web.Response(body=self.page(i, g), headers={"Content-Type": "text/html; charset=utf-8", "ETag": etag})


# ---------------------------------------------------------------- running and measuring


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN, PTB_TIMEDELTA="1", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost"
    )
    return env


def vmhwm(pid: int | str = "self") -> float:
    """Peak RSS (VmHWM) of a process in MB, nan if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def measured(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run cmd to completion: wall s, CPU s (user+sys, from os.wait4), peak RSS MB, rc.

    Peak RSS is the child's VmHWM sampled every 20 ms until it exits, not wait4's ru_maxrss: Linux
    carries the parent's high-water mark into ru_maxrss of a child started by (v)fork+exec.
    """
    with open(log, "ab") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=out, env=env or child_env(), cwd=log.parent)
        peak = 0.0
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            hwm = vmhwm(p.pid)
            peak = max(peak, hwm) if hwm == hwm else peak
            time.sleep(0.02)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss": peak, "rc": p.returncode}


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = [k for k in ("wall", "cpu", "rss", "rss_now", "s200", "s304") if k in runs[0]]
    return {k: statistics.median(r[k] for r in runs) for k in keys} | {"rc": max(r["rc"] for r in runs), "n": len(runs)}


def monitor_config(
    path: Path,
    fx: Fixture,
    tg: FakeTelegram,
    n: int,
    *,
    spread: bool,
    interval: float = 60,
    match_all: bool = False,
    selector: str | None = SELECTOR,
) -> Path:
    channel = {
        "name": "alerts",
        "type": "telegram",
        "chat_id": CHAT,
        "token": "${TELEGRAM_BOT_TOKEN}",
        "api_base_url": tg.base_url,
        "per_second": 1000,
        "per_minute": 100000,
    }
    rule = (
        {"name": "all", "channels": ["alerts"]}
        if match_all
        else {"name": "nothing", "any": ["zzqxnomatchterm"], "channels": ["alerts"]}
    )
    data = {
        "state": {"path": str(path / "state" / "monitor.db")},
        "defaults": {"timeout": "600s", "interval": interval},
        "delivery": {"timeout": 60, "per_second_total": 1000},
        "sources": [
            {"name": f"s{i}", "url": fx.url(i, spread)} | ({"selector": selector} if selector else {}) for i in range(n)
        ],
        "channels": [channel],
        "rules": [rule],
    }
    path.mkdir(parents=True, exist_ok=True)
    cfg = path / "config.yaml"
    cfg.write_text(yaml.safe_dump(data), encoding="utf-8")
    return cfg


def monitor_cycles(fx: Fixture, tg: FakeTelegram, work: Path, n: int, runs: int, spread: bool) -> dict[str, dict]:
    """`monitor --once`: baseline once, then `runs` x (all changed, none changed, quiet) cycles, one process each."""
    d = work / f"once-{n}-{'spread' if spread else 'onehost'}"
    cfg = monitor_config(d, fx, tg, n, spread=spread)
    cmd = [sys.executable, "-m", "monitor.cli", "--config", str(cfg), "--log-level", "warning", "--once"]
    log = d / "once.log"
    base = measured(cmd, log)
    if base["rc"] != 0:
        raise SystemExit(f"baseline run failed (rc {base['rc']}), see {log}")
    changed, same, quiet = [], [], []
    for _ in range(runs):
        fx.bump_all(n)
        fx.status.clear()
        changed.append(measured(cmd, log) | {"s200": fx.status[200], "s304": fx.status[304]})
        fx.status.clear()
        same.append(measured(cmd, log) | {"s200": fx.status[200], "s304": fx.status[304]})
        fx.status.clear()
        with fx.noisy_pages():
            quiet.append(measured(cmd, log) | {"s200": fx.status[200], "s304": fx.status[304]})
    return {"baseline": base, "changed": median(changed), "304": median(same), "quiet": median(quiet)}


def driver(cfg_path: str) -> int:
    """Child process (--driver): one monitor Runtime kept open, one poll cycle of all sources per stdin line.

    This is how the service polls: the fetchers keep their ETags between cycles, so unchanged pages are
    304s. Prints one JSON line per cycle: wall, CPU (process_time: all threads), current and peak RSS.
    """
    import asyncio

    from monitor import config as config_mod
    from monitor import logs
    from monitor.runtime import open_runtime

    logs.setup("warning")
    config = config_mod.load(cfg_path)

    async def go() -> None:
        async with open_runtime(config) as rt:
            loop = asyncio.get_running_loop()
            while (await loop.run_in_executor(None, sys.stdin.readline)).strip():
                c0, t0 = time.process_time(), time.perf_counter()
                results = await asyncio.gather(*(rt.poll(s) for s in rt.sources))
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                print(
                    json.dumps(
                        {
                            "wall": wall,
                            "cpu": cpu,
                            "rss": vmhwm(),
                            "rss_now": vmrss(os.getpid()),
                            "rc": sum(1 for r in results if r.error),
                            "new": sum(r.new for r in results),
                        }
                    ),
                    flush=True,
                )

    asyncio.run(go())
    return 0


def inprocess_cycles(
    fx: Fixture,
    tg: FakeTelegram,
    work: Path,
    n: int,
    runs: int,
    spread: bool,
    changed_runs: int,
    selector: str | None = SELECTOR,
) -> dict[str, dict]:
    """Poll cycles inside one long-lived process (as the service does): changed pages, 304s, quiet tickers."""
    d = work / f"inproc-{n}-{'spread' if spread else 'onehost'}-{'css' if selector else 'heading'}"
    cfg = monitor_config(d, fx, tg, n, spread=spread, selector=selector)
    with open(d / "driver.log", "wb") as err:
        p = subprocess.Popen(
            [sys.executable, __file__, "--driver", str(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=child_env(),
            cwd=d,
            text=True,
        )
    assert p.stdin is not None and p.stdout is not None

    def cycle() -> dict[str, float]:
        fx.status.clear()
        p.stdin.write("cycle\n")
        p.stdin.flush()
        line = p.stdout.readline()
        if not line:
            raise SystemExit(f"driver died, see {d / 'driver.log'}")
        return json.loads(line) | {"s200": fx.status[200], "s304": fx.status[304]}

    try:
        cycle()  # baseline
        cycle()  # the first 304s
        changed, same, quiet = [], [], []
        for k in range(max(runs, changed_runs)):
            if k < changed_runs:
                fx.bump_all(n)
                changed.append(cycle())
            if k < runs:
                same.append(cycle())
            if k < changed_runs:  # after a changed cycle, as a real ticker's quiet polls follow its last line
                with fx.noisy_pages():
                    quiet.append(cycle())
    finally:
        p.stdin.close()
        p.wait(timeout=60)
    return {"304": median(same)} | ({"changed": median(changed), "quiet": median(quiet)} if changed else {})


def vmrss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def soak(
    fx: Fixture, tg: FakeTelegram, work: Path, seconds: float, n: int = 50, every: float = 0.5, label: str = "soak"
) -> dict:
    """The service at a 1 s interval: change -> sendMessage latency and RSS over `seconds`."""
    d = work / label
    cfg = monitor_config(d, fx, tg, n, spread=False, interval=1, match_all=True)
    log = d / "service.log"
    offset = time.time() - time.monotonic()  # wall - monotonic, to place log times on Sent.at's clock
    with open(log, "wb") as out:
        p = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(cfg), "--log-format", "json"],
            stdout=out,
            stderr=out,
            env=child_env(),
            cwd=d,
        )
    try:
        deadline = time.monotonic() + 30
        while b"service.started" not in log.read_bytes():
            if p.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"service did not start, see {log}")
            time.sleep(0.1)
        time.sleep(4)  # every source polled at least once: the baseline
        rng = random.Random(1)
        changes: dict[tuple[int, int], float] = {}
        rss: list[tuple[float, float]] = []
        cpu0, t0 = proc_cpu(p.pid), time.monotonic()
        sent_before = len(tg.sent)
        while (now := time.monotonic()) < t0 + seconds:
            i = rng.randrange(n)
            g = fx.bump(i)
            changes[(i, g)] = time.monotonic()
            rss.append((now - t0, vmrss(p.pid)))
            time.sleep(max(0.0, t0 + len(changes) * every - time.monotonic()))
        with contextlib.suppress(AssertionError):  # counted below, whatever arrived
            tg.wait_for(lambda s: len(s) - sent_before >= len(changes), timeout=10)
        cpu = proc_cpu(p.pid) - cpu0
        elapsed = time.monotonic() - t0
        rss.append((elapsed, vmrss(p.pid)))
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
    arrived: dict[tuple[int, int], float] = {}
    for s in tg.sent:
        for m in re.finditer(r"ref(\d+)x(\d+)", s.plain):
            arrived.setdefault((int(m.group(1)), int(m.group(2))), s.at)
    latency = [arrived[k] - t for k, t in changes.items() if k in arrived]
    # poll.done lines (JSON log): the poll that found the change -> the message's arrival
    polls: dict[int, list[float]] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "poll.done" and rec.get("new", "0") != "0":
            polls.setdefault(int(rec["source"][1:]), []).append(rec["time"] - offset)
    after_poll = []
    for (i, g), t in changes.items():
        done = next((x for x in polls.get(i, []) if x >= t - 0.002), None)
        if done is not None and (i, g) in arrived:
            after_poll.append(arrived[(i, g)] - done)
    mark = 60.0 if seconds >= 120 else 10.0  # "at 1 min" needs a longer soak; else after 10 s of warm-up
    first = next((r for t, r in rss if t >= mark), rss[0][1])
    mid = next((r for t, r in rss if t >= seconds / 2), rss[-1][1])
    every_30s = [next(r for t, r in rss if t >= k) for k in range(0, int(rss[-1][0]) + 1, 30)]
    return {
        "changes": len(changes),
        "delivered": len(latency),
        "p50": pct(latency, 50),
        "p99": pct(latency, 99),
        "max": max(latency, default=float("nan")),
        "poll_p50": pct(after_poll, 50),
        "poll_p99": pct(after_poll, 99),
        "rss_mark": mark,
        "rss_first": first,
        "rss_mid": mid,
        "rss_end": rss[-1][1],
        "rss_30s": every_30s,
        "rss_max": max(r for _, r in rss),
        "cpu_pct": 100 * cpu / elapsed,
        "rc": rc,
        "seconds": seconds,
    }


def urlwatch_cycles(fx: Fixture, sizes: list[int], runs: int) -> tuple[str, dict[int, dict]]:
    """pip install urlwatch into a temporary venv; per N: baseline, then runs x (changed, unchanged)."""
    results: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="uwbench-") as tmp:
        t = Path(tmp)
        subprocess.run([sys.executable, "-m", "venv", str(t / "venv")], check=True)
        pip = [str(t / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        version = URLWATCH
        if subprocess.run([*pip, URLWATCH], capture_output=True).returncode != 0:
            version = "urlwatch<3 (2.29 not installable)"
            subprocess.run([*pip, "urlwatch<3"], check=True, capture_output=True)
        exe = str(t / "venv" / "bin" / "urlwatch")
        version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip() or version
        for n in sizes:
            d = t / f"uw-{n}"
            d.mkdir()
            jobs = [{"name": f"s{i}", "url": fx.url(i, False), "filter": [{"css": SELECTOR}]} for i in range(n)]
            (d / "urls.yaml").write_text(yaml.safe_dump_all(jobs), encoding="utf-8")
            reporters = (
                "stdout email pushover pushbullet telegram slack mattermost discord gotify matrix mailgun ifttt "
                "xmpp prowl shell"
            ).split()
            conf = {
                "display": {"new": False, "error": True, "unchanged": False, "empty-diff": False},
                "report": {r: {"enabled": False} for r in reporters},
            }
            (d / "urlwatch.yaml").write_text(yaml.safe_dump(conf), encoding="utf-8")
            cmd = [
                exe,
                "--urls",
                str(d / "urls.yaml"),
                "--config",
                str(d / "urlwatch.yaml"),
                "--hooks",
                str(d / "hooks.py"),
                "--cache",
                str(d / "cache.db"),
            ]
            log = d / "urlwatch.log"
            env = child_env() | {"HOME": str(d), "XDG_CONFIG_HOME": str(d), "XDG_CACHE_HOME": str(d)}
            base = measured(cmd, log, env)
            if base["rc"] != 0:
                raise SystemExit(f"urlwatch baseline failed: {log.read_text()[-2000:]}")
            changed, same, quiet = [], [], []
            for _ in range(runs):
                fx.bump_all(n)
                fx.status.clear()
                changed.append(measured(cmd, log, env) | {"s200": fx.status[200], "s304": fx.status[304]})
                ok200 = fx.status[200]
                fx.status.clear()
                same.append(measured(cmd, log, env) | {"s200": fx.status[200], "s304": fx.status[304]})
                s304 = fx.status[304]
                fx.status.clear()
                with fx.noisy_pages():
                    quiet.append(measured(cmd, log, env) | {"s200": fx.status[200], "s304": fx.status[304]})
                if ok200 != n or s304 != n:
                    print(
                        f"note: urlwatch N={n}: {ok200} pages fetched with 200, {s304} with 304",
                        file=sys.stderr,
                    )
            results[n] = {"changed": median(changed), "304": median(same), "quiet": median(quiet)}
    return version, results


# ---------------------------------------------------------------- the report


def fmt(x: float, digits: int = 2) -> str:
    return "n/a" if x != x else f"{x:,.{digits}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="50,500,5000", help="source counts (default 50,500,5000)")
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement; medians are reported")
    ap.add_argument("--soak", type=float, default=60, help="service soak seconds (the issue's is 600); 0 skips")
    ap.add_argument(
        "--ports",
        type=int,
        default=50,
        help="also measure with sources spread over this many ports (0 or 1: one host only)",
    )
    ap.add_argument(
        "--flood",
        type=float,
        default=360,
        help="seconds of the service at 20 changes/s, to show RSS levels off once warm; 0 skips",
    )
    ap.add_argument("--no-urlwatch", action="store_true", help="skip the urlwatch comparison")
    ap.add_argument(
        "--once-max",
        type=int,
        default=500,
        help="measure `monitor --once` processes only up to this N (default 500; in-process cycles always)",
    )
    ap.add_argument(
        "--big-runs",
        type=int,
        default=1,
        help="runs of changed-page cycles for N > 500 (default 1: each takes minutes at 5,000)",
    )
    ap.add_argument(
        "--no-adaptive", dest="adaptive", action="store_false", help="skip the adaptive-polling replay (section 5)"
    )
    ap.add_argument("--driver", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.driver:
        return driver(args.driver)
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.monotonic()
    header = [
        f"# monitor benchmark — {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"machine: {platform.node()} {platform.machine()}, nproc {os.cpu_count()}, "
        f"Python {platform.python_version()} ({sys.executable})",
        "command: " + " ".join(["python", *sys.argv]),
        f"pages: {len(b''.join(_static_parts())) / 1024:.0f} KB each + a 10-line ticker; "
        f"medians of {args.runs} runs ({args.big_runs} for changed pages at N > 500); CPU = user+sys of the child process (os.wait4), "
        "peak RSS = the child's VmHWM",
    ]
    print("\n".join(header), flush=True)
    layouts = [False] + ([True] if args.ports > 1 else [])
    modes = ("once", "inproc", "heading")
    cycles: dict[tuple[str, int, bool], dict] = {}
    with (
        Fixture(ports=max(1, args.ports)) as fx,
        FakeTelegram(token=TOKEN, chats=[CHAT]) as tg,
        tempfile.TemporaryDirectory(prefix="monbench-") as tmp,
    ):
        work = Path(tmp)
        for n in sizes:
            changed_runs = args.runs if n <= 500 else args.big_runs
            if n <= args.once_max:
                print(f"... N={n}, one host: monitor --once", file=sys.stderr, flush=True)
                cycles[("once", n, False)] = monitor_cycles(fx, tg, work, n, args.runs, False)
            print(f"... N={n}, one host: in-process cycles", file=sys.stderr, flush=True)
            cycles[("inproc", n, False)] = inprocess_cycles(fx, tg, work, n, args.runs, False, changed_runs)
            if n <= 500:
                print(f"... N={n}, one host: in-process cycles, ticker found by heading", file=sys.stderr, flush=True)
                cycles[("heading", n, False)] = inprocess_cycles(
                    fx, tg, work, n, args.runs, False, changed_runs, selector=None
                )
        if len(layouts) > 1:  # spreading hosts changes wall time, not CPU: measured at the largest N only
            n = max(sizes)
            print(f"... N={n}, {args.ports} ports: in-process cycles", file=sys.stderr, flush=True)
            cycles[("inproc", n, True)] = inprocess_cycles(
                fx, tg, work, n, args.runs, True, args.runs if n <= 500 else 0
            )
        soaked = None
        if args.soak > 0:
            print(f"... service soak {args.soak:g}s", file=sys.stderr, flush=True)
            soaked = soak(fx, tg, work, args.soak)
        flooded = None
        if args.flood > 0:
            print(f"... service flood {args.flood:g}s (20 changes/s)", file=sys.stderr, flush=True)
            flooded = soak(fx, tg, work, args.flood, every=0.05, label="flood")
        uw_version, uw = "", {}
        if not args.no_urlwatch:
            uw_sizes = [n for n in (50, 500) if n in sizes] or sizes[:2]
            print("... urlwatch (pip install into a temp venv)", file=sys.stderr, flush=True)
            uw_version, uw = urlwatch_cycles(fx, uw_sizes, args.runs)

    out: list[str] = []
    w = out.append
    port_label = {False: "1 host:port", True: f"{args.ports} ports"}
    mode_label = {
        "once": "`monitor --once` process",
        "inproc": "in-process cycle",
        "heading": "in-process cycle, ticker found by heading",
    }
    w("")
    w("## 1. poll cycles of N sources")
    w("`monitor --once` process: one whole run after a baseline run (start-up, imports, cycle, delivery wait, exit).")
    w("in-process cycle: one asyncio.gather of Runtime.poll over all sources in a process that stays up, as the")
    w("service polls (ETags kept between cycles); RSS is the process's peak so far. Rule matches nothing.")
    w("")
    w("| N | mode | sources on | pages | HTTP 200/304 | wall s | CPU s | CPU ms/check | peak RSS MB | errors/exit |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for mode in modes:
            for spread in layouts:
                for case, label in (
                    ("changed", "all changed"),
                    ("304", "none changed"),
                    ("quiet", "quiet ticker (new bytes, same lines)"),
                ):
                    r = cycles.get((mode, n, spread), {}).get(case)
                    if r is None:
                        continue
                    w(
                        f"| {n:,} | {mode_label[mode]} | {port_label[spread]} | {label} | {int(r['s200'])}/{int(r['s304'])} | "
                        f"{fmt(r['wall'])} | {fmt(r['cpu'])} | {fmt(1000 * r['cpu'] / n, 3)} | {fmt(r['rss'], 1)} | "
                        f"{int(r['rc'])} |"
                    )
    marg: dict[tuple[str, bool | str, str], float] = {}
    if 50 in sizes and 500 in sizes:
        w("")
        w("## 2. marginal cost per check = (X(N=500) - X(N=50)) / 450")
        w(
            "| mode | sources on | pages | marginal CPU ms/check | marginal wall ms/check | marginal peak RSS KB/source |"
        )
        w("|---|---|---|---|---|---|")
        for mode in modes:
            for spread in layouts:
                for case in CASES:
                    a = cycles.get((mode, 50, spread), {}).get(case)
                    b = cycles.get((mode, 500, spread), {}).get(case)
                    if a is None or b is None:
                        continue
                    marg[(mode, spread, case)] = 1000 * (b["cpu"] - a["cpu"]) / 450
                    w(
                        f"| {mode_label[mode]} | {port_label[spread]} | {case} | {fmt(marg[(mode, spread, case)], 3)} | "
                        f"{fmt(1000 * (b['wall'] - a['wall']) / 450, 3)} | {fmt(1024 * (b['rss'] - a['rss']) / 450, 1)} |"
                    )
    if soaked:
        s = soaked
        w("")
        w(
            f"## 3. service (`python -m monitor.cli`), N=50, interval 1 s, one change every 0.5 s, {s['seconds']:g} s soak"
        )
        w(
            "| changes | delivered | change→Telegram p50 / p99 / max s | poll.done→Telegram p50 / p99 s | "
            f"RSS MB at {s['rss_mark']:g} s / {s['seconds'] / 2:g} s / end / max | service CPU % of a core | exit |"
        )
        w("|---|---|---|---|---|---|---|")
        w(
            f"| {s['changes']} | {s['delivered']} | {fmt(s['p50'], 3)} / {fmt(s['p99'], 3)} / {fmt(s['max'], 3)} | "
            f"{fmt(s['poll_p50'], 3)} / {fmt(s['poll_p99'], 3)} | {fmt(s['rss_first'], 1)} / {fmt(s['rss_mid'], 1)} / "
            f"{fmt(s['rss_end'], 1)} / "
            f"{fmt(s['rss_max'], 1)} | {fmt(s['cpu_pct'], 1)} | {s['rc']} |"
        )
    if flooded:
        f = flooded
        w("")
        w(f"## 3b. the same service at 20 changes/s for {f['seconds']:g} s: does RSS level off once warm?")
        w("The state file grows by every line and alert, and SQLite's page cache (2 MB) and the typo-pair cache")
        w("(4,096 pairs) fill as it does, so a soak at 2 changes/s can still be warming up after 10 minutes.")
        w(
            f"| changes | delivered | RSS MB at {f['rss_mark']:g} s / {f['seconds'] / 2:g} s / end / max | "
            "poll.done→Telegram p99 s | exit |"
        )
        w("|---|---|---|---|---|")
        w(
            f"| {f['changes']} | {f['delivered']} | {fmt(f['rss_first'], 1)} / {fmt(f['rss_mid'], 1)} / "
            f"{fmt(f['rss_end'], 1)} / {fmt(f['rss_max'], 1)} | {fmt(f['poll_p99'], 3)} | {f['rc']} |"
        )
        w("RSS MB every 30 s: " + ", ".join(fmt(r, 1) for r in f["rss_30s"]))
    if uw:
        w("")
        w(f"## 4. {uw_version} on the same fixture (css: div.breaking li, no reporters), one process per run")
        w(
            "ratios: monitor --once process (1 host:port; the in-process cycle where N > --once-max) / urlwatch "
            "process, same N and pages"
        )
        w(
            "| N | pages | urlwatch HTTP 200/304 | urlwatch wall s | CPU s | peak RSS MB | monitor/urlwatch wall | CPU | RSS |"
        )
        w("|---|---|---|---|---|---|---|---|---|")
        for n, r in uw.items():
            for case in CASES:
                u, m = r[case], cycles.get(("once", n, False), cycles[("inproc", n, False)]).get(case)
                w(
                    f"| {n:,} | {case} | {int(u['s200'])}/{int(u['s304'])} | {fmt(u['wall'])} | {fmt(u['cpu'])} | "
                    f"{fmt(u['rss'], 1)} | {fmt(m['wall'] / u['wall']) if m else 'n/a'} | {fmt(m['cpu'] / u['cpu']) if m else 'n/a'} | "
                    f"{fmt(m['rss'] / u['rss']) if m else 'n/a'} |"
                )
        if 50 in uw and 500 in uw:
            w("")
            w(
                "| marginal CPU ms/check | urlwatch | monitor --once | monitor in-process | urlwatch / monitor --once | "
                "urlwatch / monitor in-process |"
            )
            w("|---|---|---|---|---|---|")
            for case in CASES:
                um = 1000 * (uw[500][case]["cpu"] - uw[50][case]["cpu"]) / 450
                marg[("urlwatch", "", case)] = um
                mo, mi = marg.get(("once", False, case), float("nan")), marg.get(("inproc", False, case), float("nan"))
                w(
                    f"| {case} | {fmt(um, 3)} | {fmt(mo, 3)} | {fmt(mi, 3)} | {fmt(um / mo if mo > 0 else float('nan'), 1)}x | "
                    f"{fmt(um / mi if mi > 0 else float('nan'), 1)}x |"
                )

    w("")
    w("## targets (per-check CPU: marginal, in-process cycles = the service's steady state)")
    w("| target | measured | met |")
    w("|---|---|---|")

    def target(name: str, value: float, ok: bool, unit: str = "") -> None:
        w(f"| {name} | {fmt(value, 3)}{unit} | {'yes' if ok else 'NO'} |")

    for spread in layouts:
        if ("inproc", spread, "changed") in marg:
            v = marg[("inproc", spread, "changed")]
            target(f"≤ 1 ms CPU per check of a changed ~100 KB page ({port_label[spread]})", v, v <= 1.0, " ms")
            v = marg[("inproc", spread, "304")]
            target(f"≤ 0.3 ms CPU per 304 check ({port_label[spread]})", v, v <= 0.3, " ms")
    big = max(sizes)
    for mode in modes:
        for spread in layouts:
            for case in CASES:
                r = cycles.get((mode, big, spread), {}).get(case)
                if r is not None:
                    target(
                        f"{big:,}-source cycle < 10 s wall ({mode_label[mode]}, {port_label[spread]}, {case})",
                        r["wall"],
                        r["wall"] < 10,
                        " s",
                    )
    for mode in modes:
        for spread in layouts:
            rs = [r["rss"] for r in cycles.get((mode, big, spread), {}).values() if "rss" in r]
            if rs:
                target(
                    f"peak RSS ≤ 150 MB at {big:,} sources ({mode_label[mode]}, {port_label[spread]})",
                    max(rs),
                    max(rs) <= 150,
                    " MB",
                )
    if soaked:
        growth = soaked["rss_end"] - soaked["rss_first"]
        target(
            f"no RSS growth over the soak (end − at {soaked['rss_mark']:g} s, {soaked['seconds']:g} s soak; "
            "≤ 2 MB counts as none)",
            growth,
            growth <= 2.0,
            " MB",
        )
    if flooded:
        growth = flooded["rss_end"] - flooded["rss_mid"]
        target(
            f"no RSS growth once warm (flood: end − at {flooded['seconds'] / 2:g} s, "
            f"{flooded['changes']} changes; ≤ 2 MB counts as none)",
            growth,
            growth <= 2.0,
            " MB",
        )
    for case in CASES:
        for mode in ("inproc", "once"):
            if ("urlwatch", "", case) in marg and (mode, False, case) in marg:
                mi = marg[(mode, False, case)]
                ratio = marg[("urlwatch", "", case)] / mi if mi > 0 else float("inf")
                goal = RATIO_TARGETS[case]
                target(
                    f"≥ {goal:g}x less marginal CPU per check than urlwatch ({case}, {mode_label[mode]})",
                    ratio,
                    ratio >= goal,
                    "x",
                )
    if soaked:
        p99 = soaked["poll_p99"]
        target(
            "alert out ≤ 100 ms after the poll that saw the line (poll.done → sendMessage, p99)",
            1000 * p99,
            1000 * p99 <= 100,
            " ms",
        )
    if args.adaptive:
        w("")
        w("## 5. adaptive polling on 7 replayed days of ticker changes (bench/adaptive.py)")
        w("")
        import adaptive  # bench/adaptive.py, beside this file

        out.extend(adaptive.report(days=7))
    w("")
    w(f"total bench time {time.monotonic() - started:.0f} s. The issue's soak is 10 minutes: --soak 600.")
    print("\n".join(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
