"""Benchmark readers' watches: 10,000 readers x 20 terms in one WatchIndex, against ticker-like lines.

Terms come from a vocabulary of a few thousand English and Arabic words and two-word phrases with
Zipf-like popularity (weight 1/(rank + 10): the most popular term is in about a quarter of the
readers' watches). Lines are made of the same vocabulary, with Arabic proclitics, among filler
words; the real ticker lines of ../shared/seeds are added when present (read at run time). Prints a
Markdown table of medians of --runs runs (CPU time of the process), and checks every line against the rule matcher
(rules.Matcher with one rule per watch), which must find the same watches.

    python bench/watches.py [--readers 10000] [--terms 20] [--lines 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import re
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from monitor.config_types import RuleConfig
from monitor.rules import Matcher
from monitor.watches import Watch, WatchIndex, parse_watch

# CPU time of this process: the machine is shared, and wall time counts the turns other work takes.
clock = time.process_time
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
SOURCES = ("almayadeen-en", "almayadeen-ar", "aljazeera-ar", "reuters")
FILLER = (
    "the of in on at to and a for with from by says said after over near new two officials sources report "
    "killed wounded strike attack drone missile army minister president talks border town city north south"
).split()
AR_FILLER = "في على من إلى عن مع بعد قبل غارة قصف مسيرة وزير رئيس مصدر مصادر الجنوب الشمال بلدة مدينة".split()
AR_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
# Words no reader watches (the seed pages are full of them).
STOP = (
    set(
        "that with from have been were this they their there will would about after into over also which when than "
        "what while under more said says such other some only most very just like then them these those being here "
        "could should where because before between during against without through news live home".split()
    )
    | set(FILLER)
    | set(AR_FILLER)
)
LATIN = re.compile(r"[A-Za-z]{4,}")
ARABIC = re.compile(r"[\u0621-\u064a]{3,}")


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """Words of the seed pages (when present) topped up with made-up names, Latin and Arabic, shuffled."""
    words: dict[str, None] = {}
    phrases: dict[str, None] = {}
    if SEEDS.is_dir():
        for page in sorted(SEEDS.glob("*.txt")):
            for line in page.read_text(encoding="utf-8").splitlines():
                found = [w for w in LATIN.findall(line) + ARABIC.findall(line) if w.lower() not in STOP]
                words.update(dict.fromkeys(w.lower() for w in found))
                phrases.update(dict.fromkeys(f"{a.lower()} {b.lower()}" for a, b in itertools.pairwise(found)))
    while len(words) < size * 9 // 10:
        if rng.random() < 0.5:
            w = rng.choice("bcdfghklmnprstvz") + "".join(
                rng.choice("aeiou" if i % 2 else "bcdfghklmnprstvz") for i in range(rng.randint(3, 7))
            )
        else:
            w = "".join(rng.choice(AR_LETTERS) for _ in range(rng.randint(3, 6)))
        words[w] = None
    vocab = rng.sample(sorted(words), size * 9 // 10)
    vocab += rng.sample(sorted(phrases), min(len(phrases), size - len(vocab)))
    rng.shuffle(vocab)
    return vocab


def zipf(rng: random.Random, vocab: list[str]) -> Callable[[], str]:
    weights = [1 / (rank + 10) for rank in range(1, len(vocab) + 1)]
    cum = [0.0]
    for w in weights:
        cum.append(cum[-1] + w)
    cum.pop(0)

    def draw() -> str:
        return rng.choices(vocab, cum_weights=cum)[0]

    return draw


def make_commands(rng: random.Random, draw: Callable[[], str], readers: int, terms: int) -> list[tuple[int, int, str]]:
    """(reader, watch id, /watch text): each reader's terms spread over 1-4 watches, some with -excludes and in:."""
    out = []
    for reader in range(readers):
        chosen: dict[str, None] = {}
        while len(chosen) < terms:
            chosen[draw()] = None
        words = list(chosen)
        n = rng.randint(1, 4)
        for wid in range(n):
            part = words[wid::n]
            shown = [f'"{t}"' if " " in t else t for t in part]
            if rng.random() < 0.2 and len(part) > 1:
                shown[-1] = "-" + shown[-1]
            if rng.random() < 0.3:
                shown.append("in:" + rng.choice(SOURCES))
            out.append((reader, wid, " ".join(shown)))
    return out


def make_lines(rng: random.Random, draw: Callable[[], str], n: int, seeds: bool = True) -> list[str]:
    lines = []
    for _ in range(n):
        arabic = rng.random() < 0.5
        parts = rng.sample(AR_FILLER if arabic else FILLER, 10)
        for _ in range(3):
            term = draw()
            if term[0] >= "\u0620":
                term = rng.choice(("", "", "و", "ب", "ال")) + term
            parts.append(term.title() if rng.random() < 0.3 else term)
        rng.shuffle(parts)
        lines.append(" ".join(parts))
    if seeds and SEEDS.is_dir():
        for page in sorted(SEEDS.glob("*.txt")):
            text = page.read_text(encoding="utf-8").splitlines()
            if "BREAKING" in text:
                start = text.index("BREAKING") + 1
                lines += text[start : text.index("", start)]
    return lines


def build(watches: list[tuple[int, int, Watch]]) -> WatchIndex:
    index = WatchIndex()
    for reader, wid, watch in watches:
        index.add(reader, wid, watch)
    return index


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--terms", type=int, default=20)
    parser.add_argument("--vocab", type=int, default=4_000)
    parser.add_argument("--lines", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(42)
    vocab = vocabulary(rng, args.vocab)
    draw = zipf(rng, vocab)
    commands = make_commands(rng, draw, args.readers, args.terms)
    lines = make_lines(rng, draw, args.lines)
    # Quiet lines: their terms drawn evenly from the less popular half of the vocabulary.
    quiet = make_lines(rng, lambda: rng.choice(vocab[len(vocab) // 2 :]), args.lines, seeds=False)
    t0 = clock()
    watches = [(r, w, parse_watch(text, sources=SOURCES, max_terms=args.terms)) for r, w, text in commands]
    parse_s = clock() - t0

    gc.collect()
    tracemalloc.start()
    index = build(watches)
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del index
    gc.collect()
    build_s = median_time(lambda: build(watches), args.runs)
    index = build(watches)

    matched: list[int] = []

    def match_all(batch: list[str]) -> None:
        matched.clear()
        for i, line in enumerate(batch):
            matched.append(len(index.match(SOURCES[i % len(SOURCES)], line)))

    match_s = median_time(lambda: match_all(lines), args.runs)
    popular_matched = list(matched)
    quiet_s = median_time(lambda: match_all(quiet), args.runs)
    quiet_matched = list(matched)

    # One more reader's watch of `terms` terms added and removed, many times: the bot's /watch and /unwatch.
    extra = [
        parse_watch(
            " ".join(draw() for _ in range(args.terms)).replace("-", ""), sources=SOURCES, max_terms=10 * args.terms
        )
        for _ in range(200)
    ]

    def add_remove(op: str) -> float:
        times = []
        for k, watch in enumerate(extra):
            t0 = clock()
            index.add(args.readers + k, 0, watch)
            t1 = clock()
            (index.remove(args.readers + k, 0) if op == "remove" else index.remove_reader(args.readers + k))
            times.append((t1 - t0) if op == "add" else clock() - t1)
        return statistics.median(times)

    add_us = statistics.median(add_remove("add") for _ in range(args.runs)) * 1e6
    remove_us = statistics.median(add_remove("remove") for _ in range(args.runs)) * 1e6
    reader_us = statistics.median(add_remove("remove_reader") for _ in range(args.runs)) * 1e6

    # A line that 5,000 readers' watches match: one more watch for each of 5,000 readers.
    hot = parse_watch("zzhotword", sources=SOURCES, max_terms=1)
    for reader in range(5_000):
        index.add(reader, 99, hot)
    hot_line = "Breaking: zzhotword " + lines[0]
    hot_readers = len(index.match("reuters", hot_line))

    def match_hot() -> None:
        for _ in range(20):
            index.match("reuters", hot_line)  # results dropped, as match_all drops them

    hot_ms = median_time(match_hot, args.runs) / 20 * 1e3
    # Thousands of fresh lists per line reach the old generation and start full collections, which
    # walk the whole index: most of that cost. Frozen objects are not walked.
    gc.freeze()
    frozen_ms = median_time(match_hot, args.runs) / 20 * 1e3
    frozen_s = median_time(lambda: match_all(lines), args.runs)
    gc.unfreeze()
    for reader in range(5_000):
        index.remove(reader, 99)

    # The oracle: rules.py's Matcher with one rule per watch.
    rules = [
        RuleConfig(f"{r}:{w}", ("c",), any=watch.terms, none=watch.exclude, sources=watch.sources or None)
        for r, w, watch in watches
    ]
    oracle = Matcher(rules)
    disagree = 0
    for i, line in enumerate(lines):
        source = SOURCES[i % len(SOURCES)]
        got = {f"{r}:{w}" for r, ids in index.match(source, line).items() for w in ids}
        disagree += got != {m.rule for m in oracle.matches(source, line)}

    terms = sum(len(w.terms) + len(w.exclude) for _, _, w in watches)
    print(
        f"readers {args.readers:,}, watches {len(watches):,}, term uses {terms:,}, lines {len(lines):,}, runs {args.runs}"
    )
    for name, counts in (("popular", popular_matched), ("quiet", quiet_matched)):
        print(f"readers matched per {name} line: median {statistics.median(counts):,.0f}, max {max(counts):,}")
    print()
    print("| measure | result |")
    print("|---|---|")
    print(f"| parse {len(watches):,} /watch commands (once) | {parse_s:.2f} s |")
    print(f"| build the index (add every watch) | {build_s:.2f} s |")
    print(f"| index memory (tracemalloc, Watch objects included) | {memory / 1e6:.1f} MB |")
    per_reader = match_s / sum(popular_matched) * 1e6
    print(
        f"| popular lines matched per second (mean {statistics.mean(popular_matched):,.0f} readers each) | {len(lines) / match_s:,.0f} ({per_reader:.2f} µs per reader matched) |"
    )
    print(
        f"| quiet lines matched per second (mean {statistics.mean(quiet_matched):,.1f} readers each) | {len(quiet) / quiet_s:,.0f} |"
    )
    print(f"| one add (a watch of {args.terms} terms) | {add_us:.1f} µs |")
    print(f"| one remove | {remove_us:.1f} µs |")
    print(f"| one remove_reader | {reader_us:.1f} µs |")
    print(f"| one line that matches {hot_readers:,} readers | {hot_ms:.2f} ms |")
    print(f"| the same line, after gc.freeze() | {frozen_ms:.2f} ms |")
    print(f"| popular lines matched per second, after gc.freeze() | {len(lines) / frozen_s:,.0f} |")
    print(f"| lines where rules.Matcher (one rule per watch) disagrees | {disagree} of {len(lines):,} |")


if __name__ == "__main__":
    main()
