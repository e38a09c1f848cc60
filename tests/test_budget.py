"""The bot's global budget: channel alerts first, then replies, then readers' alerts."""

from __future__ import annotations

import asyncio
import time

from monitor.budget import Budget, Rank


async def test_waiting_channel_sends_go_before_replies_and_readers() -> None:
    budget = Budget(per_second=20)
    done: list[Rank] = []

    async def send(rank: Rank) -> None:
        await budget.take(rank)
        done.append(rank)

    # The readers come first and take the whole bucket; then channel alerts and replies queue behind them.
    first = [asyncio.create_task(send(Rank.READER)) for _ in range(20)]
    await asyncio.gather(*first)
    later = [asyncio.create_task(send(Rank.READER)) for _ in range(10)]
    later += [asyncio.create_task(send(Rank.REPLY)) for _ in range(5)]
    later += [asyncio.create_task(send(Rank.CHANNEL)) for _ in range(10)]
    async with asyncio.timeout(10):
        await asyncio.gather(*later)
    assert done[:20] == [Rank.READER] * 20
    # Everything queued later went in rank order, whatever the order it asked in.
    assert done[20:] == [Rank.CHANNEL] * 10 + [Rank.REPLY] * 5 + [Rank.READER] * 10


async def test_a_send_costs_what_the_cluster_says() -> None:
    instances = 4
    budget = Budget(per_second=8, cost=lambda: instances)  # 8 a second among 4 instances: 2 each
    await budget.take(Rank.READER)
    await budget.take(Rank.READER)
    assert budget.waiting(Rank.READER) == 0
    third = asyncio.create_task(budget.take(Rank.READER))
    await asyncio.sleep(0)  # let it ask: the bucket is full for this instance
    assert not third.done() and budget.waiting(Rank.READER) == 1
    async with asyncio.timeout(5):
        await third


async def test_sends_are_spaced_never_a_burst() -> None:
    """A flood of sends keeps to the rate from the first second: Telegram answers a burst with 429s."""
    budget = Budget(per_second=20)
    times: list[float] = []

    async def send() -> None:
        await budget.take(Rank.CHANNEL)
        times.append(time.monotonic())

    async with asyncio.timeout(10):
        await asyncio.gather(*(send() for _ in range(22)))
    # 22 sends at 20 a second (the second one slot early): a second at least, not 20 at once.
    assert times[-1] - times[0] >= 0.95
