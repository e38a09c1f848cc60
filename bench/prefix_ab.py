"""Prefix parsing on and off, in one process: poll cycles alternate between the two, quiet and changed.

    python bench/prefix_ab.py [--n 200] [--pairs 10]

bench/run.py's fixture (in this process, on its own thread) serves N sources. After a baseline cycle
and a cycle in which each source learns its cut, --pairs pairs of cycles run with prefix parsing on and
off (PrefixCut.off), in alternating order, for two workloads: quiet tickers (new bytes every request,
the same lines) and changed pages (a new line in every ticker every cycle, sent to the fake Telegram).
Prints the median CPU per check (process_time of the cycle / N; it includes the fixture's thread,
the same in both). Alternating keeps the machine's load the same for both.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import run as bench  # bench/run.py, beside this file


async def cycles(n: int, pairs: int, cfg: Path, fx: bench.Fixture) -> dict[str, dict[str, list[float]]]:
    from monitor import config as config_mod
    from monitor.runtime import open_runtime

    cpu: dict[str, dict[str, list[float]]] = {w: {"on": [], "off": []} for w in ("quiet", "changed")}
    async with open_runtime(config_mod.load(cfg)) as rt:

        async def cycle() -> float:
            c0 = time.process_time()
            results = await asyncio.gather(*(rt.poll(s) for s in rt.sources))
            if any(r.error for r in results):
                raise SystemExit(f"a poll failed: {next(r.error for r in results if r.error)}")
            await rt.deliverer.run_until_empty(time.time() + 60)
            return (time.process_time() - c0) / n

        await cycle()  # the baseline
        await cycle()  # each source learns where its ticker ends
        for workload in ("quiet", "changed"):
            for k in range(pairs):
                for mode in ("on", "off") if k % 2 else ("off", "on"):
                    for source in rt.sources:
                        source.cut.off = mode == "off"  # type: ignore[attr-defined]
                    if workload == "changed":
                        fx.bump_all(n)
                        cpu[workload][mode].append(await cycle())
                    else:
                        with fx.noisy_pages():
                            cpu[workload][mode].append(await cycle())
    return cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200, help="sources (default 200)")
    ap.add_argument("--pairs", type=int, default=10, help="pairs of cycles per workload (default 10)")
    args = ap.parse_args()
    env = bench.child_env()  # the bot token; no proxy for 127.0.0.1
    os.environ.clear()
    os.environ.update(env)
    from monitor import logs

    logs.setup("warning")
    with (
        bench.Fixture() as fx,
        bench.FakeTelegram(token=bench.TOKEN, chats=[bench.CHAT]) as tg,
        tempfile.TemporaryDirectory(prefix="prefixab-") as tmp,
    ):
        cfg = bench.monitor_config(Path(tmp), fx, tg, args.n, spread=False)
        cpu = asyncio.run(cycles(args.n, args.pairs, cfg, fx))
    print(f"N={args.n}, {args.pairs} cycles each way, median CPU per check (ms)")
    print("| workload | prefix off | prefix on | on / off |")
    print("|---|---|---|---|")
    for workload, modes in cpu.items():
        off, on = (statistics.median(modes[m]) * 1000 for m in ("off", "on"))
        print(f"| {workload} | {off:.3f} | {on:.3f} | {on / off:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
