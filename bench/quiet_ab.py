"""The poll memo (or prefix parsing) on and off, in one process: quiet-ticker cycles alternate between the two.

    python bench/quiet_ab.py [--n 500] [--pairs 8] [--prefix]

bench/run.py's fixture serves the quiet ticker (no ETag, new bytes every request, the same lines).
One driver process per N (50 and --n) polls every source once as a baseline, then --pairs pairs of
cycles, one with the memo and one without (its refresh set to 0: every poll takes the full path),
in alternating order (with --prefix: prefix parsing on and off, monitor/prefix.py, the memo on in both). Prints the median cycle CPU (the driver's process_time) of each and the
marginal CPU per check, (X(N) - X(50)) / (N - 50). Alternating in one process keeps the machine's
load, the heap and the connections the same for both, which separate runs on a shared machine do not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run as bench  # bench/run.py, beside this file


def driver(cfg_path: str, pairs: int, what: str) -> None:
    """Child process: baseline, then pairs of quiet cycles with the memo (or prefix parsing) on and off; prints
    their CPU as JSON."""
    from monitor import config as config_mod
    from monitor import logs
    from monitor.runtime import open_runtime

    logs.setup("warning")
    config = config_mod.load(cfg_path)

    async def go() -> None:
        async with open_runtime(config) as rt:

            async def cycle() -> float:
                c0 = time.process_time()
                results = await asyncio.gather(*(rt.poll(s) for s in rt.sources))
                if any(r.error for r in results):
                    raise SystemExit(f"a poll failed: {next(r.error for r in results if r.error)}")
                return time.process_time() - c0

            refresh = rt.memo.refresh
            await cycle()  # the baseline
            await cycle()  # each source learns where its ticker ends
            cpu: dict[str, list[float]] = {"on": [], "off": []}
            for k in range(pairs):
                for mode in ("on", "off") if k % 2 else ("off", "on"):
                    if what == "prefix":
                        for source in rt.sources:
                            source.cut.off = mode == "off"  # type: ignore[attr-defined]
                    else:
                        rt.memo.refresh = refresh if mode == "on" else 0.0
                    cpu[mode].append(await cycle())
            print(json.dumps(cpu), flush=True)

    asyncio.run(go())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=500, help="sources (default 500; 50 is measured too)")
    ap.add_argument("--pairs", type=int, default=8, help="pairs of cycles, memo on and off (default 8)")
    ap.add_argument("--prefix", action="store_true", help="prefix parsing on and off instead of the memo")
    ap.add_argument("--driver", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.driver:
        driver(args.driver[0], int(args.driver[1]), args.driver[2])
        return 0
    what = "prefix" if args.prefix else "memo"
    cpu: dict[int, dict[str, list[float]]] = {}
    with (
        bench.Fixture() as fx,
        bench.FakeTelegram(token=bench.TOKEN, chats=[bench.CHAT]) as tg,
        tempfile.TemporaryDirectory(prefix="quietab-") as tmp,
    ):
        for n in (50, args.n):
            cfg = bench.monitor_config(Path(tmp) / str(n), fx, tg, n, spread=False)
            with fx.noisy_pages():
                out = subprocess.run(
                    [sys.executable, __file__, "--driver", str(cfg), str(args.pairs), what],
                    env=bench.child_env(),
                    capture_output=True,
                    text=True,
                )
            if out.returncode:
                raise SystemExit(out.stderr[-2000:])
            cpu[n] = json.loads(out.stdout)
    print(f"quiet ticker, N=50 and {args.n}, {args.pairs} cycles each way, medians of cycle CPU")
    print(f"| {what} | cycle CPU N=50 s | cycle CPU N={args.n} s | marginal CPU ms/check |")
    print("|---|---|---|---|")
    for mode in ("off", "on"):
        a, b = statistics.median(cpu[50][mode]), statistics.median(cpu[args.n][mode])
        print(f"| {mode} | {a:.3f} | {b:.3f} | {1000 * (b - a) / (args.n - 50):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
