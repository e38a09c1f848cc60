"""Plain data passed between the steps of the flow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    """One ticker line as extracted from a page: visible text and absolute link, if any."""

    text: str
    link: str | None = None


# Real tickers show 5-50 lines. A page with more is cut to its first MAX_ITEMS (in page order), so
# that one page of 360,000 tiny items costs what a normal page does past the parse.
MAX_ITEMS = 1_000


@dataclass(frozen=True, slots=True)
class Parsed:
    """A page's entries in page order, at most a cap of them, and how many it offered."""

    entries: list[Entry]
    found: int  # items the page offered; more than len(entries) when the cap cut them

    @property
    def capped(self) -> bool:
        """Whether the cap left items out."""
        return self.found > len(self.entries)


@dataclass(frozen=True, slots=True)
class Item:
    """A normalised ticker line of one source, with the fingerprint the seen-store keys it by."""

    source: str
    text: str
    link: str | None
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Alert:
    """An item queued for one channel in the outbox."""

    id: int
    channel: str
    source: str
    text: str
    link: str | None
    created: float
    attempts: int = 0
    silent: bool = False
    edit_of: str | None = None  # the message to edit instead of sending a new one
    urgent: bool = False
    parts_sent: int = 0  # parts of a split message already accepted by the channel


@dataclass(slots=True)
class SourceHealth:
    """What health watching knows of one source; kept in the state store, so it survives restarts."""

    streak: int = 0  # bad polls in a row: failed, or no items
    failures: int = 0  # failed polls in a row, for backoff
    alarmed: bool = False  # an alarm was sent and no recovery yet
    skip_until: float = 0.0  # not polled before this time (backoff, adaptive polling)
    pace: float = 0.0  # adaptive polling: new lines per second lately (decayed over health.PACE_WINDOW)
    paced_at: float = 0.0  # when pace was last updated


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An alert a poll wants queued: an item for a channel, or an edit of a message already sent."""

    channel: str
    item: Item
    silent: bool = False
    edit_of: str | None = None
    urgent: bool = False
    rule: str | None = None  # the rules that sent it, for `monitor history` ("a, b")


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll of one source found and did."""

    source: str
    found: int = 0
    new: int = 0
    queued: int = 0
    baseline: bool = False
    error: str | None = None
    unchanged: bool = False  # the server said 304 Not Modified
    edits: int = 0
    alerts: tuple[Outgoing, ...] = ()
    lines: tuple[Item, ...] = ()  # the new lines, in page order
    state_fault: bool = False  # the error was the state store's, not the site's: no reason to back off
