"""The bot's global send rate (Telegram's ~30 messages a second per bot), shared in order of rank.

Channel alerts go first, then replies to readers' commands, then readers' alerts: a send of a lower
rank waits while any send of a higher rank waits for the budget, so a line that matches 5,000
readers never delays a channel alert queued in the same minute. When n instances share a state,
each takes 1/n of the rate (a send costs n, see Cluster.budget_cost).

The bucket holds one send: sends are spaced evenly (1/30 s apart), never a burst. A bucket that
held a second's worth let 60 through in the first second of a flood, and Telegram answers that
with 429s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import IntEnum

from aiolimiter import AsyncLimiter


class Rank(IntEnum):
    """Who goes first for the budget: the lower, the sooner."""

    CHANNEL = 0
    REPLY = 1
    READER = 2


class Budget:
    """A leaky bucket of sends per second, taken in order of rank."""

    def __init__(self, per_second: float, cost: Callable[[], int] = lambda: 1) -> None:
        self.per_second = per_second
        self._cost = cost
        self._limiter = AsyncLimiter(1, 1 / per_second)
        self._waiting = [0] * len(Rank)  # sends waiting for the budget, by rank

    async def take(self, rank: Rank) -> None:
        """Wait until a send of this rank may go, and take it from the budget."""
        limiter = self._bucket()
        self._waiting[rank] += 1
        try:
            if rank == Rank.CHANNEL:  # the first rank waits only for the budget itself
                await limiter.acquire(limiter.max_rate)
                return
            while any(self._waiting[:rank]) or not limiter.has_capacity(limiter.max_rate):
                await asyncio.sleep(1 / self.per_second)
            await limiter.acquire(limiter.max_rate)  # has capacity: returns at once
        finally:
            self._waiting[rank] -= 1

    def _bucket(self) -> AsyncLimiter:
        """The bucket for one send of this instance: n instances each send once per n/rate seconds."""
        cost = max(1, self._cost())
        if self._limiter.max_rate != cost:  # an instance joined or left (the bucket starts empty)
            self._limiter = AsyncLimiter(cost, cost / self.per_second)
        return self._limiter

    def waiting(self, rank: Rank) -> int:
        """How many sends of a rank wait for the budget now."""
        return self._waiting[rank]
