"""Several monitor instances on one PostgreSQL state: a shared 5,000-source cycle, and takeover after kill -9.

    python bench/cluster.py [--runs 3] [--sources 5000] [--services 20] [--takeovers 30,10]

Everything runs on 127.0.0.1, with a throw-away PostgreSQL server started as the tests start theirs
(tests/postgres.py, fsync off) and bench/run.py's fixture server of ~91 KB news pages in this process.

A. 1 vs 2 instances polling --sources sources with every page changed. Each instance is a driver process
   (--driver, modelled on bench/run.py's): one Runtime on the PostgreSQL state, joined to the cluster, and
   per stdin line one asyncio.gather of Runtime.poll_claimed over all sources (None: another instance's),
   then the poll statuses written. Sources every 1 s, state.takeover the default 30 s. With 2 drivers the
   baseline cycle waits until each sees the other live. Per cycle every page gets a new ticker line and the
   line goes to every driver at once; wall = the slowest driver's; CPU = each driver's process_time, the
   PostgreSQL server's from /proc (bench/backends.py), and this process's (the fixture server's threads).
B. Takeover: two services (`python -m monitor.cli`) on --services sources (every 5 s, a match-all rule,
   the fake Telegram Bot API). One alert makes an instance hold the chat; kill -9 it, give every page a new
   line at once, and time from the kill until every new line is in `seen` and until every alert reached
   the Bot API. The killed one is started again between runs.

Medians of --runs. About 7 minutes on a 2-core machine (a 5,000-source cycle takes 20-35 s there).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from backends import server_cpu  # noqa: E402
from fake_telegram import FakeTelegram  # noqa: E402
from postgres import PostgresServer  # noqa: E402
from run import CHAT, TOKEN, Fixture, child_env, monitor_config, vmhwm  # noqa: E402

REF = re.compile(r"ref(\d+)x(\d+)", re.IGNORECASE)


def refs(text: str) -> set[tuple[int, int]]:
    """The (source, generation) of each fixture ticker line in a text (bench/run.py's ticker_line)."""
    return {(int(m.group(1)), int(m.group(2))) for m in REF.finditer(text)}


def pg_config(
    d: Path, fx: Fixture, tg: FakeTelegram, n: int, url: str, *, interval: float, match_all: bool, **state: Any
) -> Path:
    """bench/run.py's config of n sources, with the state at url (and state.takeover etc. if given)."""
    cfg = monitor_config(d, fx, tg, n, spread=False, interval=interval, match_all=match_all)
    data = yaml.safe_load(cfg.read_text())
    data["state"] = {"url": url, **state}
    cfg.write_text(yaml.safe_dump(data))
    return cfg


def new_database(server: PostgresServer, name: str) -> str:
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return server.url_for(name)


# ---------------------------------------------------------------- A: a shared cycle


class Unclaimed(logging.Filter):
    """Counts, and keeps out of the log, the claims that failed (runtime's poll.unclaimed: a state error)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.error = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.msg.startswith("poll.unclaimed"):
            return True
        self.count += 1
        self.error = self.error or str(record.args[-1])  # type: ignore[index]
        return False


def driver(cfg_path: str) -> int:
    """Child process (--driver): one Runtime in the cluster; per stdin line "live" or a claimed poll cycle.

    A poll_claimed of None is another instance's source, or a claim that failed: those are counted apart.
    """
    import asyncio

    from monitor import config as config_mod
    from monitor import logs
    from monitor.runtime import open_runtime

    logs.setup("warning")
    unclaimed = Unclaimed()
    logging.getLogger("monitor.runtime").setLevel(logging.DEBUG)
    logging.getLogger("monitor.runtime").addFilter(unclaimed)
    config = config_mod.load(cfg_path)

    async def go() -> None:
        async with open_runtime(config) as rt:
            await rt.cluster.start(rt.deliverer.wake)
            try:
                loop = asyncio.get_running_loop()
                while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
                    live = len(getattr(rt.cluster, "live", [rt.cluster.name]))
                    if line == "live":
                        print(json.dumps({"live": live}), flush=True)
                        continue
                    c0, t0, failed = time.process_time(), time.perf_counter(), unclaimed.count
                    results = await asyncio.gather(*(rt.poll_claimed(s) for s in rt.sources))
                    await rt.flush_polls()  # the cycle's statuses written: part of its cost
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    polled = [r for r in results if r is not None]
                    out = {"wall": wall, "cpu": cpu, "rss": vmhwm(), "live": live, "polled": len(polled)}
                    out |= {"errors": sum(1 for r in polled if r.error), "new": sum(r.new for r in polled)}
                    out |= {"unclaimed": unclaimed.count - failed, "claim_error": unclaimed.error}
                    out["poll_error"] = next((r.error for r in polled if r.error), "")
                    print(json.dumps(out), flush=True)
            finally:
                await rt.cluster.stop()

    asyncio.run(go())
    return 0


class Driver:
    """A --driver child: send() a line, then read() its answer (so several drivers start a cycle at once)."""

    def __init__(self, cfg: Path) -> None:
        self.log = cfg.parent / f"driver-{len(list(cfg.parent.glob('driver-*.log')))}.log"
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, __file__, "--driver", str(cfg)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=child_env(),
                cwd=cfg.parent,
                text=True,
            )

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, float]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"a driver died (exit {self.proc.wait()}), see {self.log}")
        result: dict[str, float] = json.loads(line)
        return result

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def shared_cycles(
    server: PostgresServer, fx: Fixture, tg: FakeTelegram, work: Path, instances: int, n: int, runs: int
) -> dict[str, Any]:
    """Medians of `runs` all-changed cycles of n sources shared by `instances` drivers, after a baseline."""
    assert server.process is not None
    url = new_database(server, f"shared{instances}")
    d = work / f"shared-{instances}"
    cfg = pg_config(d, fx, tg, n, url, interval=1, match_all=False)
    drivers = [Driver(cfg) for _ in range(instances)]
    try:
        deadline = time.monotonic() + 60
        while True:  # heartbeats every takeover/6 = 5 s: each must have seen the others
            for dr in drivers:
                dr.send("live")
            if all(r["live"] == instances for r in [dr.read() for dr in drivers]):  # read every answer
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the {instances} drivers did not see each other within 60 s")
            time.sleep(0.5)
        rows, ended, errors_seen = [], 0.0, []
        for k in range(runs + 1):  # k = 0: the baseline (records every line, sends nothing)
            # Sources are polled every 1 s: a cycle faster than that would find them not yet due.
            time.sleep(max(0.0, ended + 1.0 - time.monotonic()))
            fx.bump_all(n)
            fx.status.clear()
            pg0, me0 = server_cpu(server.process.pid), time.process_time()
            for dr in drivers:
                dr.send("cycle")
            got = [dr.read() for dr in drivers]
            errors_seen += [str(g["claim_error"]) for g in got] + [str(g["poll_error"]) for g in got]
            pg, me = server_cpu(server.process.pid) - pg0, time.process_time() - me0
            ended = time.monotonic()
            row = {
                "wall": max(g["wall"] for g in got),
                "cpu": sum(g["cpu"] for g in got),
                "server": pg,
                "fixture": me,
                "polled": [int(g["polled"]) for g in got],
                "rss": [g["rss"] for g in got],
                "errors": sum(g["errors"] for g in got),
                "unclaimed": sum(g["unclaimed"] for g in got),
                "new": sum(g["new"] for g in got),
                "fetched": fx.status[200],
            }
            label = "baseline" if k == 0 else f"cycle {k}"
            print(f"  {instances} instance(s), {label}: {json.dumps(row)}", file=sys.stderr, flush=True)
            if k:
                rows.append(row)
    finally:
        for dr in drivers:
            dr.close()
    med = {key: statistics.median(r[key] for r in rows) for key in ("wall", "cpu", "server", "fixture")}
    return med | {
        "polled": [r["polled"] for r in rows],
        "exact": sum(sum(r["polled"]) == n for r in rows),
        "rss": [max(r["rss"][i] for r in rows) for i in range(instances)],
        "errors": sum(r["errors"] for r in rows),
        "unclaimed": [r["unclaimed"] for r in rows],
        "first_error": next((g for g in errors_seen if g), ""),
        "new": [r["new"] for r in rows],
        "fetched": [r["fetched"] for r in rows],
        "runs": len(rows),
    }


# ---------------------------------------------------------------- B: takeover after kill -9


class Services:
    """Two `monitor` services on one config; kill -9 one, start it again."""

    def __init__(self, cfg: Path) -> None:
        self.cfg = cfg
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started = 0.0

    def start(self) -> subprocess.Popen[bytes]:
        log = self.cfg.parent / f"service-{len(self.procs)}.log"
        with log.open("wb") as out:
            p = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "--config", str(self.cfg)],
                stdout=out,
                stderr=out,
                env=child_env(),
                cwd=self.cfg.parent,
            )
        self.procs.append(p)
        deadline = time.monotonic() + 30
        while b"service.started" not in log.read_bytes():
            if p.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"a service did not start, see {log}")
            time.sleep(0.05)
        self.started = time.monotonic()
        return p

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def close(self) -> None:
        for p in self.alive():
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def wait_until(what: str, check: Any, timeout: float, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)


def takeover_runs(
    server: PostgresServer, fx: Fixture, tg: FakeTelegram, work: Path, takeover: float, n: int, runs: int
) -> dict[str, Any]:
    """`runs` kills of the chat's holder: seconds from the kill until all new lines are seen, and all sent."""
    url = new_database(server, f"takeover{int(takeover)}")
    d = work / f"takeover-{takeover:g}"
    cfg = pg_config(d, fx, tg, n, url, interval=5, match_all=True, takeover=f"{takeover:g}s")
    services = Services(cfg)
    seen_s: list[float] = []
    sent_s: list[float] = []
    first_s: list[float] = []

    def query(sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(url) as conn:
            return conn.execute(sql, params).fetchall()

    def sent_refs(since: float) -> set[tuple[int, int]]:
        return {r for s in tg.sent if s.at >= since for r in refs(s.plain)}

    try:
        services.start()
        services.start()
        wait_until("every source's baseline", lambda: query("SELECT count(*) FROM baseline")[0][0] >= n, 60, 0.5)
        for run in range(runs):
            # Each instance must have heard the other's heartbeat (every takeover/6) since the last start.
            time.sleep(max(0.0, services.started + takeover / 6 + 1 - time.monotonic()))
            g0, t_alert = fx.bump(0), time.monotonic()
            wait_until("the first alert", lambda g0=g0, t=t_alert: (0, g0) in sent_refs(t), 3 * takeover + 30)
            (holder,) = query("SELECT holder FROM chat_lease")[0]  # one chat
            victim = next(p for p in services.alive() if holder.endswith(f":{p.pid}"))
            victim.kill()
            t_kill, wall_kill = time.monotonic(), time.time()
            want = {(i, fx.bump(i)) for i in range(n)}
            victim.wait()
            seen_at = sent_at = None
            deadline = t_kill + 4 * takeover + 60
            while (seen_at is None or sent_at is None) and time.monotonic() < deadline:
                now = time.monotonic()
                if seen_at is None:
                    rows = query("SELECT text FROM seen WHERE first_seen >= %s", wall_kill - 1)
                    got = {r for (text,) in rows for r in refs(text)}
                    if want <= got:
                        seen_at = now - t_kill
                if sent_at is None and want <= sent_refs(t_kill):
                    sent_at = now - t_kill
                time.sleep(0.1)
            if seen_at is None or sent_at is None:
                raise SystemExit(
                    f"takeover {takeover:g} s, run {run + 1}: not done 4 takeovers after the kill, see {d}"
                )
            # The first of the new lines at the Bot API: the chat taken over (the sender's own sources are polled first).
            first = min(s.at for s in tg.sent if s.at >= t_kill and want & refs(s.plain)) - t_kill
            print(
                f"  takeover {takeover:g} s, run {run + 1}: killed {holder} (held the chat); "
                f"all lines seen after {seen_at:.1f} s, first alert after {first:.1f} s, all sent after {sent_at:.1f} s",
                file=sys.stderr,
                flush=True,
            )
            seen_s.append(seen_at)
            first_s.append(first)
            sent_s.append(sent_at)
            services.start()  # the killed one comes back
    finally:
        services.close()
    return {"seen": seen_s, "sent": sent_s, "first": first_s}


# ---------------------------------------------------------------- the report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="cycles and kills per measurement; medians (default 3)")
    ap.add_argument("--sources", type=int, default=5000, help="sources of the shared cycle (default 5000)")
    ap.add_argument("--services", type=int, default=20, help="sources of the takeover services (default 20)")
    ap.add_argument("--takeovers", default="30,10", help="state.takeover values in s (default 30,10; empty: skip B)")
    ap.add_argument("--driver", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.driver:
        return driver(args.driver)
    started = time.monotonic()
    n = args.sources
    print(f"# several instances on one PostgreSQL state — {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"machine: {platform.node()}, nproc {os.cpu_count()}, Python {platform.python_version()}")
    server = PostgresServer.started()
    try:
        with (
            Fixture() as fx,
            FakeTelegram(token=TOKEN, chats=[CHAT]) as tg,
            tempfile.TemporaryDirectory(prefix="monbench-cluster-") as tmp,
        ):
            work = Path(tmp)
            print(f"PostgreSQL {server.bindir.parent.name} on 127.0.0.1 (fsync off, as the tests run it)")
            shared = {}
            for k in (1, 2):
                print(f"... A: {k} instance(s), {n} sources", file=sys.stderr, flush=True)
                shared[k] = shared_cycles(server, fx, tg, work, k, n, args.runs)
            took = {}
            for t in (float(x) for x in args.takeovers.split(",") if x):
                print(f"... B: takeover {t:g} s", file=sys.stderr, flush=True)
                took[t] = takeover_runs(server, fx, tg, work, t, args.services, args.runs)
    finally:
        server.close()

    print()
    print(f"## A. a {n:,}-source cycle, every page changed (medians of {args.runs} cycles after a baseline)")
    print()
    print(
        "| instances | cycle wall s | monitor CPU s | PostgreSQL CPU s | fixture CPU s | polled per instance "
        "(each cycle) | cycles with every source polled once | peak RSS MB per instance |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for k, r in shared.items():
        polled = "; ".join(" + ".join(f"{p:,}" for p in cyc) + f" = {sum(cyc):,}" for cyc in r["polled"])
        rss = " / ".join(f"{x:.0f}" for x in r["rss"])
        print(
            f"| {k} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['server']:.2f} | {r['fixture']:.2f} | {polled} | "
            f"{r['exact']} of {r['runs']} | {rss} |"
        )
    for k, r in shared.items():
        print(
            f"{k} instance(s): new lines per cycle {r['new']}, pages fetched {r['fetched']}, failed polls "
            f"{r['errors']}, failed claims per cycle {r['unclaimed']}"
            + (f"; first error: {r['first_error']}" if r["first_error"] else "")
        )
    if took:
        print()
        print(f"## B. takeover after kill -9 of the chat's holder ({args.services} sources every 5 s, 2 services)")
        print()
        print(
            "| state.takeover | lease / retry | all new lines seen: median / max s | "
            "first alert at the Bot API: median / max s | all alerts at the Bot API: median / max s | runs |"
        )
        print("|---|---|---|---|---|---|")
        for t, r in took.items():
            print(
                f"| {t:g} s | {t * 2 / 3:.3g} s / {t / 6:.3g} s | {statistics.median(r['seen']):.1f} / {max(r['seen']):.1f} | "
                f"{statistics.median(r['first']):.1f} / {max(r['first']):.1f} | "
                f"{statistics.median(r['sent']):.1f} / {max(r['sent']):.1f} | {len(r['seen'])} |"
            )
    print(f"\ntook {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
