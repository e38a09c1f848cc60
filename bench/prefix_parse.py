"""Prefix parsing against parsing the whole page: the bench's quiet page and the seed-shaped pages.

    python bench/prefix_parse.py [--number 2000]

For each page: its size, the cut learn() finds (characters of the decoded page), and the time of
extract_page (the whole page), of select_prefix at that cut (what a quiet poll runs) and of learn()
(what the poll that learns runs, after its whole parse). The three are called in turn, --number rounds,
and each figure is the median of its calls: the machine's load is the same for all three. Seed pages
are read from ../shared/seeds at run time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import run as bench  # bench/run.py, beside this file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from sites import SEED_LAYOUTS, seed_pages, seed_shaped_page

from monitor.extract import extract_page
from monitor.prefix import learn, select_prefix

BASE = "https://news.example/"


def medians(fns: list[Callable[[], object]], rounds: int) -> list[float]:
    """Call the functions in turn, rounds times; return each one's median time in ms."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, spent in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - t0)
    return [statistics.median(t) * 1000 for t in times]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--number", type=int, default=2000, help="rounds (default 2000)")
    args = ap.parse_args()
    fixture = bench.Fixture.__new__(bench.Fixture)  # its pages, without its server
    fixture._head, fixture._nav, fixture._tail = bench._static_parts()
    fixture._cache = {}
    pages = [("bench quiet page", bench.SELECTOR, fixture.page(3, 12, nonce=12345).decode())]
    for k, (menu, lines, rest) in enumerate(seed_pages()):
        pages += [
            (f"seed {k} {layout}", layout, seed_shaped_page(layout, menu, lines, rest, 7)) for layout in SEED_LAYOUTS
        ]
    print("| page | KB | cut | whole ms | prefix ms | ratio | learn ms |")
    print("|---|---|---|---|---|---|---|")
    for name, selector, html in pages:
        whole = extract_page(html, BASE, selector=selector)
        found = learn(html, whole, selector, BASE)
        if found is None:
            print(f"| {name} | {len(html) / 1000:.1f} | none | - | - | - | - |")
            continue
        cut = found[0]
        assert found[1] == whole
        full, part, teach = medians(
            [
                lambda: extract_page(html, BASE, selector=selector),  # noqa: B023
                lambda: select_prefix(html, cut, selector, BASE),  # noqa: B023
                lambda: learn(html, whole, selector, BASE),  # noqa: B023
            ],
            args.number,
        )
        print(
            f"| {name} | {len(html) / 1000:.1f} | {cut} | {full:.3f} | {part:.3f} | {full / part:.1f}× | {teach:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
