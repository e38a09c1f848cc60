"""Benchmark the compiled rule matcher: 10,000 rules of 3-5 terms against ticker-style lines.

Prints build time and items per second (median of several runs, one core), and checks on a
sample that the compiled matcher finds the same rules as a naive rule-by-rule check.

    python bench/rules_bench.py [--rules 10000] [--lines 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from pathlib import Path

from monitor.config import RuleConfig
from monitor.normalize import match_words
from monitor.rules import ARTICLE_KEPT, PROCLITICS, Matcher

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
COMMON = (
    "the of in on at to and a an for with from by says said after over near new two three officials sources "
    "report reports killed wounded strike strikes attack drone missile army minister president talks ceasefire "
    "border town city north south east west"
).split()
AR_COMMON = "في على من إلى عن مع بعد قبل غارة قصف مسيرة وزير رئيس مصدر مصادر الجنوب الشمال بلدة مدينة".split()
AR_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def vocabulary(rng: random.Random, n: int) -> list[str]:
    """Synthetic place and person names, Latin and Arabic, like the terms operators write."""
    latin = [
        rng.choice("BCDFGHKLMNPRSTVZ")
        + "".join(rng.choice("aeiou" if i % 2 else "bcdfghklmnprstvz") for i in range(rng.randint(4, 8)))
        for _ in range(n // 2)
    ]
    arabic = ["".join(rng.choice(AR_LETTERS) for _ in range(rng.randint(3, 6))) for _ in range(n - n // 2)]
    return latin + arabic


def make_rules(rng: random.Random, vocab: list[str], n: int) -> list[RuleConfig]:
    rules = []
    for i in range(n):
        terms = [
            rng.choice(vocab) if rng.random() < 0.8 else f"{rng.choice(vocab)} {rng.choice(vocab)}"
            for _ in range(rng.randint(3, 5))
        ]
        none = (terms.pop(),) if rng.random() < 0.3 else ()
        rules.append(RuleConfig(f"r{i}", ("c",), any=tuple(terms), none=none))
    return rules


def make_lines(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    lines = []
    for _ in range(n):
        if rng.random() < 0.5:
            parts = rng.sample(COMMON, 10) + [rng.choice(vocab) for _ in range(3)]
        else:
            parts = rng.sample(AR_COMMON, 8) + [
                rng.choice(("", "و", "ب", "ال")) + rng.choice(vocab[len(vocab) // 2 :]) for _ in range(3)
            ]
        rng.shuffle(parts)
        lines.append(" ".join(parts))
    if SEEDS.is_dir():  # the real ticker lines, read at run time
        for page in SEEDS.glob("*.txt"):
            text = page.read_text(encoding="utf-8").splitlines()
            if "BREAKING" in text:
                start = text.index("BREAKING") + 1
                lines += text[start : text.index("", start)]
    return lines


_PREFIX = "(?:" + "|".join(PROCLITICS) + ")?"
_ARTICLE = "(?:" + "|".join(ARTICLE_KEPT) + ")"


def naive(rules: list[RuleConfig], line: str) -> set[str]:
    joined = " ".join(match_words(line))

    def found(term: str) -> bool:
        phrase = " ".join(match_words(term))
        arabic = bool(re.match("[\u0620-\u064a]", phrase))
        pattern = "(?:^| )" + (_PREFIX if arabic else "") + re.escape(phrase) + "(?= |$)"
        if arabic and phrase.startswith("ال"):  # the article kept after لل, وبال ...
            pattern += "|(?:^| )" + _ARTICLE + re.escape(phrase[2:]) + "(?= |$)"
        return re.search(pattern, joined) is not None

    return {r.name for r in rules if any(map(found, r.any)) and not any(map(found, r.none))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check", type=int, default=100, help="lines checked against the naive matcher")
    args = parser.parse_args()
    rng = random.Random(42)
    vocab = vocabulary(rng, 20_000)
    rules = make_rules(rng, vocab, args.rules)
    lines = make_lines(rng, vocab, args.lines)

    builds, rates, hits = [], [], 0
    for _ in range(args.runs):
        t0 = time.perf_counter()
        matcher = Matcher(rules)
        builds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hits = sum(len(matcher.matches("s", line)) for line in lines)
        rates.append(len(lines) / (time.perf_counter() - t0))

    sample = lines[: args.check]
    disagree = sum({m.rule for m in matcher.matches("s", line)} != naive(rules, line) for line in sample)
    print(
        f"{'rules':>8} {'terms':>7} {'lines':>6} {'build s (median)':>17} {'items/s (median)':>17} "
        f"{'min..max items/s':>20} {'matches':>8} {'naive disagrees':>16}"
    )
    print(
        f"{len(rules):>8} {len(matcher.raw):>7} {len(lines):>6} {statistics.median(builds):>17.3f} "
        f"{statistics.median(rates):>17,.0f} {min(rates):>9,.0f}..{max(rates):<9,.0f} {hits:>8} "
        f"{disagree:>7} of {len(sample)}"
    )


if __name__ == "__main__":
    main()
