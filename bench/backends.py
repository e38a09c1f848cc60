"""SQLite state against PostgreSQL state: CPU per check of in-process poll cycles with every page changed.

    python bench/backends.py [--runs 5] [--sizes 50,500]

Everything runs on 127.0.0.1. Each backend gets its own fixture server of ~91 KB news pages (bench/run.py's
Fixture: every source's page gets a new top ticker line before each cycle) and its own long-lived monitor
process (bench/run.py's --driver: one Runtime kept open, as the service polls; it reports each cycle's wall
time and its own CPU, process_time). The PostgreSQL state is a throw-away server started as the tests start
theirs (tests/postgres.py), one new database per N; the SQLite state is a file in a temporary folder
(synchronous=FULL, as the service runs). The server's CPU is read from /proc: user+sys of the postmaster
and of its children (the pool's backends, which live through the cycles; the checkpointer, WAL writer,
autovacuum), plus what the postmaster reaped of children that exited. The two backends' cycles alternate, so drift on a shared
machine hits both alike.

Per check = marginal: (CPU(N=500) - CPU(N=50)) / 450, which removes fixed per-cycle costs. Medians of
--runs cycles, after a baseline cycle (the first poll of a source records its lines and sends nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psycopg
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from fake_telegram import FakeTelegram  # noqa: E402
from postgres import PostgresServer  # noqa: E402
from run import CHAT, TOKEN, Fixture, child_env, monitor_config  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def server_cpu(postmaster: int) -> float:
    """CPU seconds (user+sys) of the postmaster and its children now, with what it reaped of exited ones.

    Each backend calls setsid(), so the server's processes share a parent, not a process group.
    """
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()  # state, ppid, pgrp, ...; utime is the 12th
            pid = int(stat.parent.name)
            if pid == postmaster:
                total += sum(int(f) for f in fields[11:15]) / TICK  # utime, stime, cutime, cstime
            elif int(fields[1]) == postmaster:
                total += (int(fields[11]) + int(fields[12])) / TICK
    return total


class Driver:
    """One monitor process polling every source of its config once per cycle (bench/run.py --driver)."""

    def __init__(self, cfg: Path, log: IO[bytes]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "run.py"), "--driver", str(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=child_env(),
            cwd=cfg.parent,
            text=True,
        )

    def cycle(self) -> dict[str, float]:
        """One poll cycle: wall s, monitor CPU s, failed polls ("rc"), new lines."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("cycle\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the driver died (exit {self.proc.wait()}): see its log")
        result: dict[str, float] = json.loads(line)
        return result

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@contextlib.contextmanager
def drivers(
    work: Path, n: int, server: PostgresServer, fixtures: dict[str, Fixture], tg: FakeTelegram
) -> Iterator[dict[str, Driver]]:
    """A driver per backend on N sources: SQLite in a file under work, PostgreSQL in a new database."""
    database = f"bench{n}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database}")
        conn.execute(f"CREATE DATABASE {database}")
    started: dict[str, Driver] = {}
    try:
        for backend, fx in fixtures.items():
            d = work / f"{backend}-{n}"
            cfg = monitor_config(d, fx, tg, n, spread=False)
            if backend == "postgresql":
                data = yaml.safe_load(cfg.read_text())
                data["state"] = {"url": server.url_for(database)}
                cfg.write_text(yaml.safe_dump(data))
            started[backend] = Driver(cfg, (d / "driver.log").open("ab"))
        yield started
    finally:
        for driver in started.values():
            driver.close()


def measure(
    work: Path, n: int, runs: int, server: PostgresServer, fixtures: dict[str, Fixture], tg: FakeTelegram
) -> dict[str, dict[str, float]]:
    """Medians of `runs` all-changed cycles per backend: wall, monitor CPU, server CPU (0 for SQLite)."""
    assert server.process is not None
    postmaster = server.process.pid
    samples: dict[str, list[dict[str, float]]] = {b: [] for b in fixtures}
    with drivers(work, n, server, fixtures, tg) as running:
        for backend, driver in running.items():
            base = driver.cycle()
            if base["rc"]:
                raise SystemExit(f"{backend}, N={n}: {base['rc']:g} polls failed on the baseline")
        for _ in range(runs):
            for backend, driver in running.items():
                fixtures[backend].bump_all(n)
                before = server_cpu(postmaster)
                result = driver.cycle()
                spent = server_cpu(postmaster) - before if backend == "postgresql" else 0.0
                if result["rc"] or result["new"] != n:
                    raise SystemExit(f"{backend}, N={n}: {result['rc']:g} failed polls, {result['new']:g} new of {n}")
                samples[backend].append(result | {"server": spent})
    return {
        backend: {k: statistics.median(r[k] for r in rows) for k in ("wall", "cpu", "server")}
        for backend, rows in samples.items()
    }


def report(results: dict[int, dict[str, dict[str, float]]], small: int, large: int) -> list[str]:
    """The Markdown table: marginal ms per check (monitor, server, both), and the large cycle's wall time."""
    span = large - small
    lines = [
        f"| state | monitor CPU per check | server CPU per check | together | wall of a {large}-source cycle |",
        "|---|---|---|---|---|",
    ]
    for backend in ("sqlite", "postgresql"):
        lo, hi = results[small][backend], results[large][backend]
        mon = (hi["cpu"] - lo["cpu"]) / span * 1000
        srv = (hi["server"] - lo["server"]) / span * 1000
        server = f"{srv:.2f} ms" if backend == "postgresql" else "–"
        name = "SQLite (file)" if backend == "sqlite" else "PostgreSQL (127.0.0.1)"
        lines.append(f"| {name} | {mon:.2f} ms | {server} | {mon + srv:.2f} ms | {hi['wall']:.2f} s |")
    return lines


@contextlib.contextmanager
def postgres(durable: bool) -> Iterator[PostgresServer]:
    """The tests' throw-away server; durable: with fsync and synchronous commits back on, as in production."""
    server = PostgresServer()
    try:
        if durable:  # later lines of postgresql.conf win over the tests' settings
            with (server.data / "postgresql.conf").open("a") as conf:
                conf.write("fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n")
        server.start()
        yield server
    finally:
        server.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="all-changed cycles per backend and N; medians (default 5)")
    ap.add_argument("--sizes", default="50,500", help="the two source counts of the marginal (default 50,500)")
    ap.add_argument(
        "--durable",
        action="store_true",
        help="PostgreSQL with fsync and synchronous_commit on (the tests turn them off)",
    )
    args = ap.parse_args()
    small, large = (int(s) for s in args.sizes.split(","))
    started = time.monotonic()
    print(f"# SQLite vs PostgreSQL state — {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"machine: {platform.node()}, nproc {os.cpu_count()}, Python {platform.python_version()}")
    results: dict[int, dict[str, dict[str, float]]] = {}
    with (
        postgres(args.durable) as server,
        Fixture() as fx_sqlite,
        Fixture() as fx_pg,
        FakeTelegram(token=TOKEN, chats=[CHAT]) as tg,
        tempfile.TemporaryDirectory(prefix="monbench-backends-") as tmp,
    ):
        durability = "fsync and synchronous_commit on" if args.durable else "fsync off, as the tests run it"
        print(f"PostgreSQL {server.bindir.parent.name}: {server.url} ({durability}); SQLite: synchronous=FULL")
        fixtures = {"sqlite": fx_sqlite, "postgresql": fx_pg}
        for n in (small, large):
            print(f"... N={n}", file=sys.stderr, flush=True)
            results[n] = measure(Path(tmp), n, args.runs, server, fixtures, tg)
            for backend, r in results[n].items():
                print(
                    f"N={n} {backend}: wall {r['wall']:.3f} s, monitor CPU {r['cpu']:.3f} s, server CPU {r['server']:.3f} s"
                )
    print(f"\nmedians of {args.runs} cycles, every page changed; per check = (N={large} - N={small}) / {large - small}")
    print("\n".join(report(results, small, large)))
    print(f"\ntook {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
