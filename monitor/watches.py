"""Pure: readers' own keywords (`/watch غزة "air strike" -football in:almayadeen-en`), read and matched.

A watch is what one /watch command asked for: a line matches it when any of its terms is in the line,
none of its excluded terms is, and the line's source is one it names (any source when it names none).
Terms are words or "phrases", found as the config's rules find theirs (rules.py: the same folding, the
same Arabic proclitics, whole words only). Nothing a reader types becomes a regular expression.

Every watch of every reader lives in one WatchIndex: a line is split into words once, and each word
looks up the terms that start with it, so a line costs about the same for ten readers as for ten
thousand. Adding or removing one reader's watch touches only that watch's terms.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from .errors import MonitorError
from .normalize import clean, match_words
from .rules import stems

MAX_TERM_WORDS = 6  # a phrase longer than this is no keyword
MAX_TERM_CHARS = 80
MAX_INPUT = 1000  # characters of a /watch command read at all
_TOKEN = re.compile(r'-?"[^"]*"|-?[«“][^»”]*[»”]|\S+')
_QUOTES = '"«»“”'


class WatchError(MonitorError):
    """A /watch the bot cannot take; the message is fit to show the reader."""


@dataclass(frozen=True, slots=True)
class Watch:
    """One /watch: any of terms, none of exclude, in sources (all sources when empty)."""

    terms: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def describe(self) -> str:
        """How the bot read it, in the syntax the reader typed: `"air strike" OR غزة, not football, in en`."""
        shown = " OR ".join(_quoted(t) for t in self.terms)
        if self.exclude:
            shown += ", not " + ", ".join(_quoted(t) for t in self.exclude)
        if self.sources:
            shown += ", in " + ", ".join(self.sources)
        return shown


def _quoted(term: str) -> str:
    return f'"{term}"' if " " in term else term


def parse_watch(text: str, *, sources: Collection[str], max_terms: int) -> Watch:
    """Read the arguments of /watch; raise WatchError saying what is wrong, in words a reader understands."""
    if len(text) > MAX_INPUT:
        raise WatchError(f"that is too long: at most {MAX_INPUT} characters")
    terms: list[str] = []
    exclude: list[str] = []
    chosen: list[str] = []
    for token in _TOKEN.findall(clean(text)):
        negative = token.startswith("-") and len(token) > 1
        body = token[1:] if negative else token
        if body.lower().startswith("in:"):
            name = body[3:]
            if name not in sources:
                raise WatchError(f"there is no source {name!r}: /sources lists them")
            chosen.append(name)
            continue
        term = " ".join(body.strip(_QUOTES).split())
        words = match_words(term)
        if not words:
            continue  # punctuation alone, or empty quotes
        if len(words) > MAX_TERM_WORDS or len(term) > MAX_TERM_CHARS:
            raise WatchError(f"a term may have at most {MAX_TERM_WORDS} words and {MAX_TERM_CHARS} characters")
        (exclude if negative else terms).append(term)
    if not terms:
        raise WatchError('nothing to watch: give a word or a "phrase", e.g. /watch ceasefire')
    if len(terms) + len(exclude) > max_terms:
        raise WatchError(f"at most {max_terms} terms")
    return Watch(tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(exclude)), tuple(dict.fromkeys(chosen)))


Key = tuple[int, int]  # (reader, watch id)


class WatchIndex:
    """Every reader's watches, matched against a line in one pass."""

    def __init__(self) -> None:
        self._phrases: dict[str, tuple[str, ...]] = {}  # term key -> its words
        self._first: dict[str, set[str]] = {}  # first word -> term keys starting with it
        self._wanting: dict[str, set[Key]] = {}  # term key -> watches that want it
        self._refusing: dict[str, set[Key]] = {}  # term key -> watches that exclude it
        self._watches: dict[Key, Watch] = {}

    def __len__(self) -> int:
        return len(self._watches)

    def add(self, reader: int, watch_id: int, watch: Watch) -> None:
        """Start matching a watch (replacing one of the same id)."""
        key = (reader, watch_id)
        self.remove(reader, watch_id)
        self._watches[key] = watch
        for term in watch.terms:
            self._wanting.setdefault(self._intern(term), set()).add(key)
        for term in watch.exclude:
            self._refusing.setdefault(self._intern(term), set()).add(key)

    def remove(self, reader: int, watch_id: int) -> None:
        """Stop matching a watch (nothing happens if there is none)."""
        key = (reader, watch_id)
        watch = self._watches.pop(key, None)
        if watch is None:
            return
        for terms, postings in ((watch.terms, self._wanting), (watch.exclude, self._refusing)):
            for term in terms:
                tkey = " ".join(match_words(term))
                keys = postings.get(tkey)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del postings[tkey]
                self._release(tkey)

    def remove_reader(self, reader: int) -> None:
        """Stop matching every watch of a reader."""
        for key in [k for k in self._watches if k[0] == reader]:
            self.remove(*key)

    def match(self, source: str, text: str) -> dict[int, list[int]]:
        """Return, for each reader with a watch the line matches, the ids of those watches."""
        tokens = match_words(text)
        found: set[str] = set()
        first = self._first
        for i, token in enumerate(tokens):
            for stem in stems(token) if token[0] >= "\u0620" else (token,):
                for tkey in first.get(stem, ()):
                    phrase = self._phrases[tkey]
                    if len(phrase) == 1 or tuple(tokens[i + 1 : i + len(phrase)]) == phrase[1:]:
                        found.add(tkey)
        wanted: set[Key] = set()
        refused: set[Key] = set()
        for tkey in found:
            wanted |= self._wanting.get(tkey, set())
            refused |= self._refusing.get(tkey, set())
        out: dict[int, list[int]] = {}
        for key in sorted(wanted - refused):
            sources = self._watches[key].sources
            if not sources or source in sources:
                out.setdefault(key[0], []).append(key[1])
        return out

    def _intern(self, term: str) -> str:
        words = tuple(match_words(term))
        tkey = " ".join(words)
        if tkey not in self._phrases:
            self._phrases[tkey] = words
            self._first.setdefault(words[0], set()).add(tkey)
        return tkey

    def _release(self, tkey: str) -> None:
        """Forget a term no watch wants or excludes any more."""
        if tkey in self._wanting or tkey in self._refusing or tkey not in self._phrases:
            return
        words = self._phrases.pop(tkey)
        firsts = self._first[words[0]]
        firsts.discard(tkey)
        if not firsts:
            del self._first[words[0]]
