"""Adaptive polling against fixed intervals, on replayed days of a busy breaking-news ticker.

No network, no sleeping: a virtual clock. The adaptive policies are driven through the real
`monitor.health.Health` (`due` before each scheduler tick, `observe` after each poll), on the tick
grid the service's APScheduler job produces; the fixed policies poll at phase + k·F.

    python bench/adaptive.py [--seed 1] [--days 1]

The day model (no recorded log of ticker timestamps exists, so one is generated with a seeded
random.Random; all constants are at the top of this file):

* baseline: a Poisson process whose rate depends on the hour of day (UTC of the virtual day):
  one line every 25 min at night (00-06), every 10 min in the morning (06-09), every 6.5 min in
  the daytime (09-20) and every 12 min in the evening (20-24): about 145 lines a day;
* bursts: 6-10 a day, starting uniformly at random over the day, each 5-20 lines with gaps drawn
  uniformly from 15-120 s (a story breaking): about 100 lines a day.

A change's latency is the time from the change to the first poll at or after it (the poll that sees
it). Each poll is instantaneous, and a site answers 304 when nothing changed: PollResult(found=10,
new=<changes since the previous poll>, unchanged=<new == 0>), with no Cache-Control max-age.

With --days N, N different days are replayed (each with a fresh Health and new phases). Requests are
totalled over the N days (requests/hour = total / (24·N)) and latencies are pooled over all changes
of all days; the same-budget fixed interval is N·86400 / total adaptive polls.
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from monitor.config import SourceConfig
from monitor.config_types import HtmlSettings
from monitor.health import Health
from monitor.pipeline import PollResult

DAY = 86_400.0
DEFAULT_SEED = 20240607
NAME = "ticker"
FOUND = 10  # lines on the ticker page

# Baseline: (first hour, mean minutes between lines) — each row holds until the next one's hour.
BASELINE = ((0, 25.0), (6, 10.0), (9, 6.5), (20, 12.0))
BURSTS_PER_DAY = (6, 10)  # inclusive range
BURST_LINES = (5, 20)  # inclusive range
BURST_GAP = (15.0, 120.0)  # seconds between lines of a burst, uniform

ADAPTIVE = ((10.0, 120.0), (5.0, 120.0))  # (min, max) of `interval: {min, max}`
FIXED = (10.0, 120.0)  # reference fixed intervals

Policy = Callable[[Sequence[float], random.Random], tuple[int, list[float]]]  # one day -> (polls, latencies)


@dataclass(frozen=True, slots=True)
class Row:
    """One policy's outcome over all replayed days."""

    policy: str
    requests: int  # polls within the replayed days
    latencies: tuple[float, ...]  # one per change, seconds
    hours: float

    @property
    def per_hour(self) -> float:
        """Requests per hour."""
        return self.requests / self.hours

    @property
    def mean(self) -> float:
        """Mean latency, seconds."""
        return statistics.fmean(self.latencies)

    def quantile(self, q: float) -> float:
        """Latency quantile q (0..1), linear interpolation between order statistics."""
        data = sorted(self.latencies)
        pos = q * (len(data) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(data) - 1)
        return data[lo] + (data[hi] - data[lo]) * (pos - lo)


# ---------------------------------------------------------------- the day


def baseline_gap(hour: float) -> float:
    """Mean seconds between baseline lines at this hour of the day."""
    minutes = BASELINE[0][1]
    for first, gap in BASELINE:
        if hour >= first:
            minutes = gap
    return minutes * 60.0


def baseline_changes(rng: random.Random) -> list[float]:
    """A piecewise-constant-rate Poisson process over one day (memoryless, so restart at each hour)."""
    times: list[float] = []
    for hour in range(24):
        t, end, gap = hour * 3600.0, (hour + 1) * 3600.0, baseline_gap(hour)
        while (t := t + rng.expovariate(1.0 / gap)) < end:
            times.append(t)
    return times


def burst_changes(rng: random.Random) -> list[float]:
    """Several bursts of closely spaced lines, each starting uniformly at random in the day."""
    times: list[float] = []
    for _ in range(rng.randint(*BURSTS_PER_DAY)):
        t = rng.uniform(0.0, DAY)
        for _ in range(rng.randint(*BURST_LINES)):
            if t < DAY:
                times.append(t)
            t += rng.uniform(*BURST_GAP)
    return times


def day_changes(rng: random.Random) -> list[float]:
    """One day of ticker-change times, sorted, in seconds from midnight."""
    return sorted(baseline_changes(rng) + burst_changes(rng))


# ---------------------------------------------------------------- the policies


def latencies(changes: Sequence[float], polls: Sequence[float]) -> list[float]:
    """For each change, the seconds until the first poll at or after it (polls sorted, covering all)."""
    return [polls[bisect.bisect_left(polls, c)] - c for c in changes]


def simulate_adaptive(changes: Sequence[float], lo: float, hi: float, rng: random.Random) -> tuple[int, list[float]]:
    """Replay a day through the real Health: return (polls within the day, latency per change).

    The tick grid mirrors monitor/service.py: the job fires every `interval` (= min) seconds from a
    random phase (the service spreads first polls over the interval; no jitter). Each firing polls
    only if health.due(); the adaptive rule itself is Health's.
    """
    health = Health(
        [
            SourceConfig(
                NAME,
                "http://x.example/",
                interval=lo,
                timeout=20.0,
                user_agent="bench",
                alarm_after=5,
                kind=HtmlSettings(),
                interval_max=hi,
            )
        ]
    )
    t = rng.uniform(0.0, lo)
    polls: list[float] = []
    seen = 0  # changes at or before the last poll
    while t < DAY or seen < len(changes):
        if health.due(NAME, t):
            upto = bisect.bisect_right(changes, t)
            new = upto - seen
            health.observe(PollResult(NAME, found=FOUND, new=new, unchanged=new == 0), t, max_age=None)
            polls.append(t)
            seen = upto
        t += lo
    return sum(1 for p in polls if p < DAY), latencies(changes, polls)


def simulate_fixed(changes: Sequence[float], every: float, rng: random.Random) -> tuple[int, list[float]]:
    """Polls at phase + k·every from a random phase: return (polls within the day, latency per change)."""
    phase = rng.uniform(0.0, every)
    last = max(changes[-1] if changes else 0.0, DAY)
    polls = [phase + k * every for k in range(math.ceil((last - phase) / every) + 1)]
    return sum(1 for p in polls if p < DAY), latencies(changes, polls)


def label(seconds: float) -> str:
    """10 -> '10s', 120 -> '2m', 48.6 -> '48.6s'."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:.3g}s"


# ---------------------------------------------------------------- the report


def simulate(seed: int, days: int) -> tuple[list[Row], int]:
    """Run every policy over `days` replayed days; return the rows and the number of changes."""
    all_days = [day_changes(random.Random(f"{seed}/day{d}/changes")) for d in range(days)]
    hours = 24.0 * days

    def run(name: str, one_day: Policy) -> Row:
        requests, lat = 0, []
        for d, changes in enumerate(all_days):
            n, day_lat = one_day(changes, random.Random(f"{seed}/day{d}/{name}"))
            requests += n
            lat += day_lat
        return Row(name, requests, tuple(lat), hours)

    rows: list[Row] = []
    for lo, hi in ADAPTIVE:
        adaptive = run(
            f"adaptive {{{label(lo)}..{label(hi)}}}", lambda c, r, lo=lo, hi=hi: simulate_adaptive(c, lo, hi, r)
        )
        every = DAY * days / adaptive.requests
        rows += [adaptive, run(f"fixed {label(every)} (same req/h)", lambda c, r, e=every: simulate_fixed(c, e, r))]
    for every in FIXED:
        rows.append(run(f"fixed {label(every)}", lambda c, r, e=every: simulate_fixed(c, e, r)))
    return rows, sum(len(c) for c in all_days)


def summary(adaptive: Row, fixed: Row) -> str:
    """One line: the adaptive policy against fixed polling at the same request budget."""
    ratio = fixed.mean / adaptive.mean
    verdict = f"{ratio:.2f}× lower for adaptive" if ratio >= 1 else f"{1 / ratio:.2f}× HIGHER for adaptive"
    return (
        f"{adaptive.policy}: mean {adaptive.mean:.1f} s at {adaptive.per_hour:.1f} req/h; "
        f"fixed at the same {adaptive.per_hour:.1f} req/h ({fixed.policy.split()[1]}): mean {fixed.mean:.1f} s "
        f"(mean latency {verdict})"
    )


def report(seed: int = DEFAULT_SEED, days: int = 1) -> list[str]:
    """The Markdown table (and summary lines) of the adaptive-polling simulation."""
    rows, changes = simulate(seed, days)
    lines = [
        f"Adaptive polling on {days} replayed day(s) of a simulated ticker: seed {seed}, {changes} changes; "
        "requests totalled, latencies pooled over all changes.",
        "",
        "| policy | requests/hour | mean latency s | p50 s | p95 s | changes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.policy} | {row.per_hour:.1f} | {row.mean:.1f} | {row.quantile(0.5):.1f} | "
            f"{row.quantile(0.95):.1f} | {len(row.latencies)} |"
        )
    lines.append("")
    lines += [summary(rows[i], rows[i + 1]) for i in range(0, 2 * len(ADAPTIVE), 2)]
    return lines


def main() -> int:
    """Command line: print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--days", type=int, default=1, help="number of different days to replay (default 1)")
    args = parser.parse_args()
    if args.days < 1:
        parser.error("--days must be at least 1")
    started = time.perf_counter()
    print("\n".join(report(args.seed, args.days)))
    print(f"\n({time.perf_counter() - started:.2f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
