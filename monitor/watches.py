"""Pure: readers' own keywords (`/watch غزة "air strike" -football in:almayadeen-en`), read and matched.

A watch is what one /watch command asked for: a line matches it when any of its terms is in the line,
none of its excluded terms is, and the line's source is one it names (any source when it names none).
Terms are words or "phrases", found as the config's rules find theirs (rules.py: the same folding, the
same Arabic proclitics, whole words only). Nothing a reader types becomes a regular expression.

Every watch of every reader lives in one WatchIndex: a line is split into words once, each word looks
up the terms it is or starts, and a line then costs one step per watch it matches, however many
other watches there are. Adding or removing one reader's watch touches only that watch's terms.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Collection
from dataclasses import dataclass
from typing import TypeVar

from .errors import MonitorError
from .normalize import clean, match_words
from .rules import stems


@functools.lru_cache(maxsize=1 << 16)
def _stems(word: str) -> tuple[str, ...]:
    """rules.stems, kept for the words tickers repeat all day."""
    return tuple(stems(word))


MAX_TERM_WORDS = 6  # a phrase longer than this is no keyword
MAX_TERM_CHARS = 80
MAX_INPUT = 1000  # characters of a /watch command read at all
MAX_SHOWN = 40  # characters of an unknown source name said back to the reader
# A quote left open runs to the end of the command: `/watch "air strike` means the phrase.
_TOKEN = re.compile(r'-?"[^"]*(?:"|$)|-?[«“][^»”]*(?:[»”]|$)|\S+')
_QUOTES = str.maketrans(dict.fromkeys('"«»“”', " "))
_ARABIC_MARK = re.compile("[\u061c\u180e]")  # invisible, yet not dropped by clean: it would split a word


_Keys = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # a watch's term keys, excluded keys, sources
K = TypeVar("K")
V = TypeVar("V")


class WatchError(MonitorError):
    """A /watch the bot cannot take; the message is fit to show the reader."""


@dataclass(frozen=True, slots=True)
class Watch:
    """One /watch: any of terms, none of exclude, in sources (all sources when empty)."""

    terms: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def describe(self, or_: str = "OR", not_: str = "not", in_: str = "in", comma: str = ", ") -> str:
        """How the bot read it: `"air strike" OR غزة, not football, in en`, joined with the reader's words."""
        shown = f" {or_} ".join(_quoted(t) for t in self.terms)
        if self.exclude:
            shown += f"{comma}{not_} " + comma.join(_quoted(t) for t in self.exclude)
        if self.sources:
            shown += f"{comma}{in_} " + comma.join(self.sources)
        return shown


def _quoted(term: str) -> str:
    return f'"{term}"' if " " in term else term


def parse_watch(text: str, *, sources: Collection[str], max_terms: int) -> Watch:
    """Read the arguments of /watch; raise WatchError saying what is wrong, in words a reader understands."""
    if len(text) > MAX_INPUT:
        raise WatchError(f"that is too long: at most {MAX_INPUT} characters")
    terms: dict[str, str] = {}  # match key -> the term as first written
    exclude: dict[str, str] = {}
    chosen: list[str] = []
    by_lower = {name.lower(): name for name in sources}
    for token in _TOKEN.findall(_ARABIC_MARK.sub("", clean(text))):
        negative = token.startswith("-") and len(token) > 1
        body = token[1:] if negative else token
        if body.lower().startswith("in:"):
            chosen.append(_source(body[3:], sources, by_lower, negative))
            continue
        term = " ".join(body.translate(_QUOTES).split())  # quotes are no part of a term, as in matching
        words = match_words(term)
        if not words:
            continue  # punctuation alone, or empty quotes
        if len(words) > MAX_TERM_WORDS or len(term) > MAX_TERM_CHARS:
            raise WatchError(f"a term may have at most {MAX_TERM_WORDS} words and {MAX_TERM_CHARS} characters")
        (exclude if negative else terms).setdefault(" ".join(words), term)
    if not terms:
        if exclude:
            raise WatchError(
                'only exclusions: give a word or a "phrase" to watch as well, e.g. /watch ceasefire -football'
            )
        raise WatchError('nothing to watch: give a word or a "phrase", e.g. /watch ceasefire')
    both = terms.keys() & exclude.keys()
    if both:
        raise WatchError(f"{_quoted(exclude[min(both)])} is both watched and excluded: nothing would match")
    if len(terms) + len(exclude) > max_terms:
        raise WatchError(f"at most {max_terms} terms")
    return Watch(tuple(terms.values()), tuple(exclude.values()), tuple(dict.fromkeys(chosen)))


def _source(name: str, sources: Collection[str], by_lower: dict[str, str], negative: bool) -> str:
    """The source an in: names, as the config spells it."""
    if negative:
        raise WatchError("a source cannot be excluded: name the ones to watch with in:SOURCE")
    if not name:
        raise WatchError("in: needs a source name, e.g. in:almayadeen-en (/sources lists them)")
    if name in sources:
        return name
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    shown = name if len(name) <= MAX_SHOWN else name[:MAX_SHOWN] + "…"
    raise WatchError(f"there is no source {shown!r}: /sources lists them")


class WatchIndex:
    """Every reader's watches, matched against a line in one pass.

    Each watch gets a slot, a small int that postings hold: a set union of ints runs in C and an
    int hashes faster than a (reader, id) pair, which is what keeps a line that thousands of readers
    watch cheap. Postings of watches limited to sources are kept per source, so a line only meets
    the watches of its source. A freed slot is taken by the next watch and a term no watch names is
    forgotten: the index stays the size of what is watched now, after any number of /unwatch.
    """

    def __init__(self) -> None:
        self._phrases: dict[str, tuple[str, ...]] = {}  # term key of a phrase -> its words
        self._first: dict[str, set[str]] = {}  # first word -> term keys of the phrases starting with it
        self._uses: dict[str, int] = {}  # term key -> how many watches name it
        self._wanting: dict[str, set[int]] = {}  # term key -> slots of the watches (any source) that want it
        self._wanting_in: dict[tuple[str, str], set[int]] = {}  # (term key, source) -> the same, per source
        self._refusing: dict[str, set[int]] = {}  # term key -> slots of the watches that exclude it
        self._watches: dict[tuple[int, int], int] = {}  # (reader, watch id) -> slot
        self._readers: dict[int, tuple[int, ...]] = {}  # reader -> watch ids
        # Per slot, plain tuples of ints and strings: the collector stops walking those after one
        # look, and a full collection walking 50,000 objects of an index costs milliseconds.
        self._owner: list[tuple[int, int] | None] = []  # slot -> (reader, watch id); None: free
        self._keys: list[_Keys | None] = []  # slot -> its watch's term keys, excluded keys, sources
        self._free: list[int] = []

    def __len__(self) -> int:
        return len(self._watches)

    def add(self, reader: int, watch_id: int, watch: Watch) -> None:
        """Start matching a watch (replacing one of the same id)."""
        self.remove(reader, watch_id)
        terms = tuple(map(self._intern, watch.terms))
        exclude = tuple(map(self._intern, watch.exclude))
        keys = (terms, exclude, tuple(watch.sources))
        if self._free:
            slot = self._free.pop()
            self._owner[slot] = (reader, watch_id)
            self._keys[slot] = keys
        else:
            slot = len(self._owner)
            self._owner.append((reader, watch_id))
            self._keys.append(keys)
        self._watches[reader, watch_id] = slot
        self._readers[reader] = (*self._readers.get(reader, ()), watch_id)
        for tkey in terms:
            if not watch.sources:
                self._wanting.setdefault(tkey, set()).add(slot)
            for source in watch.sources:
                self._wanting_in.setdefault((tkey, source), set()).add(slot)
        for tkey in exclude:
            self._refusing.setdefault(tkey, set()).add(slot)

    def remove(self, reader: int, watch_id: int) -> None:
        """Stop matching a watch (nothing happens if there is none)."""
        slot = self._watches.pop((reader, watch_id), None)
        if slot is None:
            return
        keys = self._keys[slot]
        assert keys is not None  # a held slot has its keys
        terms, exclude, sources = keys
        ids = tuple(i for i in self._readers.pop(reader) if i != watch_id)
        if ids:
            self._readers[reader] = ids
        for tkey in terms:
            if not sources:
                _discard(self._wanting, tkey, slot)
            for source in sources:
                _discard(self._wanting_in, (tkey, source), slot)
            self._release(tkey)
        for tkey in exclude:
            _discard(self._refusing, tkey, slot)
            self._release(tkey)
        if self._watches:
            self._owner[slot] = self._keys[slot] = None
            self._free.append(slot)
        else:  # the last one: give back the slot tables too
            self._owner.clear()
            self._keys.clear()
            self._free.clear()

    def remove_reader(self, reader: int) -> None:
        """Stop matching every watch of a reader."""
        for watch_id in self._readers.get(reader, ()):
            self.remove(reader, watch_id)

    def match(self, source: str, text: str) -> dict[int, list[int]]:
        """Return, for each reader with a watch the line matches, the ids of those watches (ascending)."""
        found = self._found(match_words(text))
        if not found:
            return {}
        wanting, wanting_in = self._wanting, self._wanting_in
        hits = [wanting[t] for t in found if t in wanting]
        if wanting_in:
            hits += [wanting_in[t, source] for t in found if (t, source) in wanting_in]
        if not hits:
            return {}
        wanted = hits[0].union(*hits[1:])  # one pass in C, however large the postings
        refusing = self._refusing
        refused = [refusing[t] for t in found if t in refusing]
        if refused:
            wanted.difference_update(*refused)
        out: dict[int, list[int]] = {}
        several = []
        owner = self._owner
        for slot in wanted:
            reader, watch_id = owner[slot]  # type: ignore[misc]  # a slot in a posting is held
            ids = out.get(reader)
            if ids is None:
                out[reader] = [watch_id]
            else:
                ids.append(watch_id)
                several.append(ids)
        for ids in several:
            ids.sort()
        return out

    def _found(self, tokens: list[str]) -> set[str]:
        """The term keys of every term in a line's words."""
        found: set[str] = set()
        uses, first, phrases = self._uses, self._first, self._phrases
        for i, token in enumerate(tokens):
            for stem in _stems(token) if token[0] >= "\u0620" else (token,):
                if stem in uses:  # a one-word term (a word has no space, so no phrase's key is one)
                    found.add(stem)
                for tkey in first.get(stem, ()):
                    if tuple(tokens[i + 1 : i + len(phrases[tkey])]) == phrases[tkey][1:]:
                        found.add(tkey)
        return found

    def _intern(self, term: str) -> str:
        """Return a term's key, counting one more watch that names it."""
        words = tuple(match_words(term))
        tkey = sys.intern(" ".join(words))  # one string however many watches name it
        uses = self._uses.get(tkey, 0)
        self._uses[tkey] = uses + 1
        if not uses and len(words) > 1:  # one word is its own key, found in _uses
            self._phrases[tkey] = words
            self._first.setdefault(words[0], set()).add(tkey)
        return tkey

    def _release(self, tkey: str) -> None:
        """Count one watch less that names a term; forget the term when none does."""
        uses = self._uses[tkey] - 1
        if uses:
            self._uses[tkey] = uses
            return
        del self._uses[tkey]
        words = self._phrases.pop(tkey, None)
        if words:
            _discard(self._first, words[0], tkey)


def _discard(index: dict[K, set[V]], key: K, value: V) -> None:
    """Take a value out of a set in a dict, and the set out of the dict once empty."""
    values = index.get(key)
    if values is not None:
        values.discard(value)
        if not values:
            del index[key]
