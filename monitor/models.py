"""Plain data passed between the steps of the flow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    """One ticker line as extracted from a page: visible text and absolute link, if any."""

    text: str
    link: str | None = None


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


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An alert a poll wants queued: an item for a channel, or an edit of a message already sent."""

    channel: str
    item: Item
    silent: bool = False
    edit_of: str | None = None
    urgent: bool = False
