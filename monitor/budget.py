"""The bot's global send rate (Telegram's ~30 messages a second per bot), shared in order of rank.

Channel alerts go first, then replies to readers' commands, then readers' alerts: the sends that
wait form one queue ordered by rank, then by arrival, and only its head may go. So a line that
matches 5,000 readers never delays a channel alert queued in the same minute. When n instances
share a state, each takes 1/n of the rate (a send costs n, see Cluster.budget_cost).

Sends are spaced 1/rate apart (a send may go one slot early, to make up for a late wake-up), never
in a burst: a bucket that held a second's worth let 60 through in the first second of a flood, and
Telegram answers that with 429s. aiolimiter (the chats' own limits) has no ranks, hence this.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from enum import IntEnum


class Rank(IntEnum):
    """Who goes first for the budget: the lower, the sooner."""

    CHANNEL = 0
    REPLY = 1
    READER = 2


class Budget:
    """Sends per second for one bot, taken one at a time in order of rank, then of arrival."""

    def __init__(self, per_second: float, cost: Callable[[], int] = lambda: 1) -> None:
        self.per_second = per_second
        self._cost = cost
        self._free_at = 0.0  # monotonic time from which the next send may go
        self._queue: list[tuple[int, int]] = []  # the waiting sends' (rank, arrival): a heap, its head goes next
        self._arrivals = itertools.count()
        self._turn = asyncio.Condition()

    async def take(self, rank: Rank) -> None:
        """Wait until it is this send's turn and its slot has come, and take it."""
        ticket = (int(rank), next(self._arrivals))
        async with self._turn:
            heapq.heappush(self._queue, ticket)
            try:
                while self._queue[0] != ticket or time.monotonic() < self._free_at:
                    wait = self._free_at - time.monotonic() if self._queue[0] == ticket else None
                    try:
                        async with asyncio.timeout(wait):
                            await self._turn.wait()  # the head changed (a send went, or a higher rank came)
                    except TimeoutError:
                        pass
                slot = max(1, self._cost()) / self.per_second
                self._free_at = max(self._free_at, time.monotonic() - slot) + slot
            finally:
                self._queue.remove(ticket)
                heapq.heapify(self._queue)
                self._turn.notify_all()

    def waiting(self, rank: Rank) -> int:
        """How many sends of a rank wait for the budget now."""
        return sum(1 for r, _ in self._queue if r == rank)
