"""Pure rule matching: compile the configured rules once, then route each item to channels."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .config import RuleConfig
from .models import Item
from .normalize import clean, words


@dataclass(frozen=True, slots=True)
class Term:
    """One keyword, phrase or /regex/ of a rule."""

    raw: str
    words: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, raw: str) -> Term:
        """Compile a term as written in config.yaml."""
        if len(raw) > 2 and raw.startswith("/") and raw.endswith("/"):
            return cls(raw, regex=re.compile(raw[1:-1], re.IGNORECASE))
        return cls(raw, words=tuple(words(raw)))

    def found_in(self, text: str, line: str) -> bool:
        """Whether the term occurs in a line given as cleaned text and as ' '-joined folded words."""
        if self.regex is not None:
            return self.regex.search(text) is not None
        # Padding with spaces makes the substring test a whole-word (and whole-phrase) test.
        return bool(self.words) and f" {' '.join(self.words)} " in line


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled rule."""

    name: str
    channels: tuple[str, ...]
    silent: bool
    any: tuple[Term, ...]
    all: tuple[Term, ...]
    none: tuple[Term, ...]
    sources: frozenset[str] | None

    def first_hit(self, source: str, text: str, line: str) -> Term | bool | None:
        """Return the term that fired, True for a rule without any/all terms, or None."""
        if self.sources is not None and source not in self.sources:
            return None
        if any(t.found_in(text, line) for t in self.none):
            return None
        if not all(t.found_in(text, line) for t in self.all):
            return None
        if not self.any:
            return self.all[0] if self.all else True
        return next((t for t in self.any if t.found_in(text, line)), None)


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched an item, and the term that fired (None for a catch-all rule)."""

    rule: str
    term: str | None
    channels: tuple[str, ...]
    silent: bool = False


class Matcher:
    """All rules, compiled once at start (and at reload)."""

    def __init__(self, rules: Sequence[RuleConfig]) -> None:
        self.rules = tuple(
            Rule(
                name=r.name,
                channels=r.channels,
                silent=r.silent,
                any=tuple(map(Term.parse, r.any)),
                all=tuple(map(Term.parse, r.all)),
                none=tuple(map(Term.parse, r.none)),
                sources=frozenset(r.sources) if r.sources is not None else None,
            )
            for r in rules
        )

    def matches(self, source: str, text: str) -> list[Match]:
        """Return every rule that matches a line of a source."""
        text = clean(text)
        line = f" {' '.join(words(text))} "
        out = []
        for rule in self.rules:
            hit = rule.first_hit(source, text, line)
            if hit is not None:
                term = hit.raw if isinstance(hit, Term) else None
                out.append(Match(rule.name, term, rule.channels, rule.silent))
        return out

    def channels_for(self, item: Item) -> dict[str, bool]:
        """Return the channels an item goes to, in rule order, each with whether to send silently.

        An alert is silent only when every rule that sent it to that channel is silent.
        """
        channels: dict[str, bool] = {}
        for match in self.matches(item.source, item.text):
            for channel in match.channels:
                channels[channel] = channels.get(channel, True) and match.silent
        return channels
