"""The lines each source's last recorded poll found, so that a poll finding them again skips the state.

Many sites send no validators and new bytes on every request (a clock, ads, a nonce) while their
ticker changes every few minutes, so most polls of a real ticker find the lines the last one found.
For those, the whole store step (normalising, fingerprinting, unseen, record, the `last_seen` upsert)
changes nothing but `last_seen`. The memo keeps, per source, a digest of the entries' texts that the
last successful poll recorded; a poll whose entries hash the same is done without the store.

Safety: a line is fingerprinted from its text alone (a link that changes does not make it new), so
equal texts are equal items and all of them were marked seen by that poll. Any difference in the
texts, their order or their number, a failed poll, a restart or a reload takes the full path. A
128-bit digest (length-prefixed texts) stands in for the texts: 5,000 sources cost well under 1 MB.

`last_seen` still advances: a memo older than `refresh` is not trusted, and the full path writes the
lines again. refresh is at most an hour and a tenth of both state.retention and dedup.edit_window,
so a line still on its ticker is never pruned nor drops out of the edit window. The one difference
from writing every poll: a line that has left its ticker keeps a `last_seen` up to `refresh` older,
so it is pruned, and stops counting for edit detection, up to that much sooner.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from .models import Entry

HOUR = 3600.0


def digest(entries: Sequence[Entry]) -> bytes:
    """A 128-bit digest of the entries' texts in order (links left out: they do not make a line new)."""
    h = hashlib.blake2b(digest_size=16)
    for entry in entries:
        text = entry.text.encode("utf-8", "surrogatepass")
        h.update(len(text).to_bytes(4, "little"))
        h.update(text)
    return h.digest()


@dataclass(frozen=True, slots=True)
class _Recorded:
    digest: bytes
    found: int  # the items (distinct fingerprints) that poll found
    at: float  # when it was recorded


class PollMemo:
    """Per source: the digest of the entries its last successful poll recorded, and when."""

    def __init__(self, refresh: float = HOUR) -> None:
        self.refresh = refresh
        self._last: dict[str, _Recorded] = {}

    @classmethod
    def for_state(cls, retention: float, edit_window: float) -> PollMemo:
        """A memo whose `last_seen` lag stays within a tenth of retention and of the edit window, and an hour."""
        return cls(refresh=min(HOUR, retention / 10, edit_window / 10))

    def same(self, source: str, key: bytes, now: float) -> int | None:
        """The number of items when the source's last recorded poll found these entries, fresh enough; else None."""
        last = self._last.get(source)
        if last is None or last.digest != key or not 0 <= now - last.at < self.refresh:
            return None
        return last.found

    def remember(self, source: str, key: bytes, found: int, at: float) -> None:
        """Note that a poll at `at` recorded these entries (all marked seen, `last_seen` = at or later)."""
        self._last[source] = _Recorded(key, found, at)

    def forget(self, source: str) -> None:
        """The source's next poll takes the full path (its last one failed)."""
        self._last.pop(source, None)

    def __len__(self) -> int:
        return len(self._last)
