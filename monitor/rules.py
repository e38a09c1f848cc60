"""Pure rule matching: every rule compiled into one matcher, built once at start (and reload).

An item is normalised once (match_words: hamza seats unified beyond fold) and all terms of all
rules are found in one pass over its words, through an index of each term's first word; only the
rules those terms belong to are then checked. Arabic words also match with the common proclitics
attached (و ف ب ك ل and ال), so "غزة" matches "وغزة" and "بغزة" but, being whole-word, not
"غزيرة". A term written with the article keeps it: "الرئيس" matches "والرئيس", "بالرئيس" and
"للرئيس" (ل + ال, the alef dropped), but "رئيس" alone is another word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .config_types import RuleConfig
from .models import Item
from .normalize import clean, match_words

# Longest first: "وبال" before "و". Stripping stops at stems shorter than three letters.
PROCLITICS = (
    "وبال",
    "وكال",
    "فبال",
    "فكال",
    "وال",
    "بال",
    "فال",
    "كال",
    "ولل",
    "فلل",
    "لل",
    "ال",
    "و",
    "ف",
    "ب",
    "ك",
    "ل",
)
# Proclitics that end in the article and leave no shorter stem that keeps it: "للرئيس" is ل + "الرئيس"
# with the alef dropped, and "وبالرئيس" is و + ب + "الرئيس" ("وب" alone is no proclitic). After
# these, the stem is also given back with its article, for terms written with it. ("والرئيس" needs
# no help: stripping "و" alone leaves "الرئيس".)
ARTICLE_KEPT = ("وبال", "وكال", "فبال", "فكال", "ولل", "فلل", "لل")
_ARABIC = re.compile(r"[\u0620-\u064a]")
_MIN_STEM = 3


_PROCLITIC_SET = frozenset(PROCLITICS)
_ARTICLE_KEPT = frozenset(ARTICLE_KEPT)
_LONGEST = max(map(len, PROCLITICS))


def stems(word: str) -> list[str]:
    """Return a folded word and, for an Arabic word, the word without each proclitic it starts with.

    After a proclitic that holds the article, the stem comes with the article too ("للرئيس" gives
    "رئيس" and "الرئيس"), so that a term written with its article finds the contracted form.
    """
    out = [word]
    if _ARABIC.match(word):
        for k in range(1, min(_LONGEST, len(word) - _MIN_STEM) + 1):
            if word[:k] in _PROCLITIC_SET:
                out.append(word[k:])
                if word[:k] in _ARTICLE_KEPT:
                    out.append("ال" + word[k:])
    return out


def is_regex(term: str) -> bool:
    """Whether a term is written /like this/."""
    return len(term) > 2 and term.startswith("/") and term.endswith("/")


MAX_REGEX = 1000  # characters; compiling 100,000 takes half a second, and no ticker rule needs so many


def compile_regex(term: str) -> re.Pattern[str]:
    """Compile a /regex/ term as the matcher uses it; raise ValueError saying why it cannot be."""
    body = term[1:-1]
    if len(body) > MAX_REGEX:
        raise ValueError(f"regular expression longer than {MAX_REGEX} characters")
    try:
        return re.compile(body, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"bad regular expression: {exc}") from None
    # re lets out more than re.error: a{1,99999999999} overflows, deep nesting recurses.
    except (OverflowError, RecursionError, MemoryError) as exc:
        raise ValueError(f"bad regular expression: {exc or type(exc).__name__}") from None


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched an item, and the term that fired (None for a catch-all rule)."""

    rule: str
    term: str | None
    channels: tuple[str, ...]
    silent: bool = False
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    """How an item goes to one channel."""

    silent: bool = False
    urgent: bool = False
    rules: tuple[str, ...] = ()  # the rules that send it there, in config order


@dataclass(frozen=True, slots=True)
class _Rule:
    config: RuleConfig
    any: tuple[int, ...]
    all: frozenset[int]
    none: frozenset[int]
    near: tuple[tuple[int, int, int], ...]
    sources: frozenset[str] | None


class Matcher:
    """All rules, compiled once."""

    def __init__(self, rules: Sequence[RuleConfig]) -> None:
        self.raw: list[str] = []  # term id -> the term as written (first spelling seen)
        self._ids: dict[str, int] = {}
        self._phrases: dict[int, tuple[str, ...]] = {}
        self._first: dict[str, list[int]] = {}  # first word of a phrase -> term ids
        self._regexes: list[tuple[int, re.Pattern[str]]] = []
        self.rules: list[_Rule] = []
        self._by_term: dict[int, list[int]] = {}  # term id -> rules that need it present
        self._catch_all: list[int] = []  # rules with no any/all/near term
        for index, r in enumerate(rules):
            rule = _Rule(
                r,
                tuple(map(self._term, r.any)),
                frozenset(map(self._term, r.all)),
                frozenset(map(self._term, r.none)),
                tuple((self._term(a), self._term(b), n) for a, b, n in r.near),
                frozenset(r.sources) if r.sources is not None else None,
            )
            self.rules.append(rule)
            needed = {*rule.any, *rule.all, *(t for a, b, _ in rule.near for t in (a, b))}
            for term in needed:
                self._by_term.setdefault(term, []).append(index)
            if not needed:
                self._catch_all.append(index)

    def _term(self, raw: str) -> int:
        """Return the id of a term, compiling it the first time it is seen."""
        if is_regex(raw):
            key = raw
        else:
            phrase = tuple(match_words(raw))
            key = " ".join(phrase)
        if key in self._ids:
            return self._ids[key]
        term = self._ids[key] = len(self.raw)
        self.raw.append(raw)
        if is_regex(raw):
            self._regexes.append((term, compile_regex(raw)))
        elif phrase:
            self._phrases[term] = phrase
            self._first.setdefault(phrase[0], []).append(term)
        return term

    def hits(self, text: str) -> dict[int, list[int]]:
        """Return, for every term found in a line, the word positions where it starts."""
        found: dict[int, list[int]] = {}
        tokens = match_words(text)
        first = self._first
        for i, token in enumerate(tokens):
            for stem in stems(token) if token[0] >= "\u0620" else (token,):
                for term in first.get(stem, ()):
                    phrase = self._phrases[term]
                    if len(phrase) == 1 or tuple(tokens[i + 1 : i + len(phrase)]) == phrase[1:]:
                        found.setdefault(term, []).append(i)
        if self._regexes:
            display = clean(text)
            for term, regex in self._regexes:
                if regex.search(display):
                    found[term] = [-1]
        return found

    def matches(self, source: str, text: str) -> list[Match]:
        """Return every rule that matches a line of a source, in config order."""
        found = self.hits(text)
        candidates = set(self._catch_all)
        for term in found:
            candidates.update(self._by_term.get(term, ()))
        out = []
        for index in sorted(candidates):
            rule = self.rules[index]
            if (rule.none and not rule.none.isdisjoint(found)) or not self._holds(rule, source, found):
                continue
            fired = next((t for t in rule.any if t in found), None)
            if fired is None:
                fired = next(iter((*sorted(rule.all), *(a for a, _, _ in rule.near))), None)
            cfg = rule.config
            out.append(
                Match(
                    cfg.name,
                    None if fired is None else self.raw[fired],
                    cfg.channels,
                    cfg.silent,
                    cfg.priority == "urgent",
                )
            )
        return out

    def excluded(self, source: str, text: str) -> list[tuple[str, str]]:
        """Return (rule, its none: term) for each rule that a none: term kept from matching a line."""
        found = self.hits(text)
        return [
            (rule.config.name, self.raw[min(rule.none & found.keys())])
            for rule in self.rules
            if not rule.none.isdisjoint(found) and self._holds(rule, source, found)
        ]

    @staticmethod
    def _holds(rule: _Rule, source: str, found: dict[int, list[int]]) -> bool:
        """Whether a line of a source meets a rule's sources, all:, near: and any: (none: aside)."""
        if rule.sources is not None and source not in rule.sources:
            return False
        if rule.all and not rule.all.issubset(found):
            return False
        if rule.near and not all(_near(found.get(a), found.get(b), n) for a, b, n in rule.near):
            return False
        return not rule.any or any(t in found for t in rule.any)

    def channels_for(self, item: Item) -> dict[str, Route]:
        """Return the channels an item goes to, in rule order, each with how to send it.

        An alert is silent only when every rule that sent it to that channel is silent, and
        urgent when any of them is.
        """
        routes: dict[str, Route] = {}
        for match in self.matches(item.source, item.text):
            for channel in match.channels:
                old = routes.get(channel, Route(silent=True))
                routes[channel] = Route(
                    old.silent and match.silent, old.urgent or match.urgent, (*old.rules, match.rule)
                )
        return routes


def _near(a: list[int] | None, b: list[int] | None, n: int) -> bool:
    """Whether some position in a and some in b are at most n words apart."""
    return bool(a and b) and any(abs(x - y) <= n for x in a for y in b)  # type: ignore[union-attr]
