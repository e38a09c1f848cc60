"""What instances sharing one state agree on: who polls a source now, who sends to a chat, the bot's budget.

A state file (SQLite) has one writer, so its instance does everything (Solo). A PostgreSQL state may be
shared by any number of instances (store/pg_cluster.py): each poll of a source is claimed, each chat is
leased to one sender at a time, and the bot's global rate is shared among the live instances.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .models import SourceHealth


def instance_name() -> str:
    """This process's name among the instances: host and PID ("web1:4242")."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Claim:
    """A poll of a source is ours. What another instance may have learned of the source since we last polled it."""

    health: SourceHealth | None = None  # the source's saved health (None: ours is current)
    validators: tuple[str | None, str | None] | None = None  # its saved ETag and Last-Modified


@dataclass(frozen=True, slots=True)
class Holding:
    """One row of `monitor status`'s instances: who holds what."""

    instance: str
    started: float
    seen: float  # its last heartbeat
    sources: int  # sources it polled last
    chats: tuple[str, ...]  # chats it sends to now


class Cluster(Protocol):
    """The instances on one state, as one instance sees them."""

    name: str
    shared: bool  # other instances may share the state (then it, not this process's memory, says when a source is due)
    problem: str | None  # why the instance cannot cooperate right now (the state database unreachable)

    async def start(self, wake: Callable[[], None]) -> None:
        """Join: announce this instance; wake() is called when another instance queued alerts."""

    async def stop(self) -> None:
        """Leave: give up the chats held, so another instance sends at once."""

    async def claim(self, source: str, interval: float, now: float) -> Claim | None:
        """Claim the poll of a source due now; None when it is not ours to poll."""

    async def may_send(self, chat: str) -> bool:
        """Whether this instance sends to the chat now (taking or renewing its lease when needed)."""

    def wait_for(self, chat: str) -> float:
        """Seconds until it is worth asking for the chat again: 0, unless another instance held it just now."""

    def budget_cost(self) -> int:
        """How many of the bot's per-second sends one send of this instance uses up (its share of the budget)."""

    def dead(self) -> list[str]:
        """Name the parts of the cooperation that stopped working (for /healthz and the watchdog)."""


class Solo:
    """One instance on its own state: every source and chat is its own."""

    name = instance_name()
    shared = False
    problem: str | None = None

    async def start(self, wake: Callable[[], None]) -> None:
        """Nothing to join."""

    async def stop(self) -> None:
        """Nothing to leave."""

    async def claim(self, source: str, interval: float, now: float) -> Claim | None:
        """Every poll is ours."""
        return Claim()

    async def may_send(self, chat: str) -> bool:
        """Every chat is ours."""
        return True

    def wait_for(self, chat: str) -> float:
        """Every chat is ours."""
        return 0.0

    def budget_cost(self) -> int:
        """The whole budget is ours."""
        return 1

    def dead(self) -> list[str]:
        """Nothing runs."""
        return []
