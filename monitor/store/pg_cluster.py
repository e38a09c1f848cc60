"""Several instances on one PostgreSQL state: claims, leases and wake-ups, with PostgreSQL's own tools.

- **Sources.** Each instance schedules every source; a poll starts only once it is claimed with one
  `INSERT ... ON CONFLICT DO UPDATE ... WHERE` on its source_state row (a row lock decides a race). A
  source is its owner's to poll (rendezvous hashing over the live instances, so ownership moves only
  for the sources of an instance that comes or goes); another instance polls it only when it is
  overdue by a lease. A claim keeps others off until the poll is written, or for a lease if its
  poller died; the claimant's next poll of it need not wait for the write.
- **Chats.** Each chat is sent to by the holder of its lease (a row with an expiry in the server's
  clock), taken by the first instance with something to send. The holder renews it with each
  heartbeat and before a send when a third of it has passed; one killed stops renewing, and after a
  lease another instance takes the chat and sends its queue, oldest first. An alert sent but not yet recorded when
  its sender died is sent again: at most one duplicate per kill per chat.
- **Wake-ups.** A transaction that queues alerts sends NOTIFY monitor_outbox; every instance LISTENs.
- **Budget.** Each of n live instances sends at most 1/n of the bot's global rate.

Leases, not advisory locks: a session lock lives as long as its connection, and the connection of a
machine that lost power lingers on the server until TCP keepalive gives up (two hours by default); a
lease ends at its time. `takeover` (state.takeover) bounds how long a dead instance's chats wait
(a lease is two thirds of it, and the others look every sixth of it); its sources wait that long
plus their interval (they move when it drops out of the live list, and are polled at their next turn).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg

from ..cluster import Claim, instance_name
from ..errors import StateError
from ..models import SourceHealth
from .postgres import CONNECT_TIMEOUT, PostgresStore
from .postgres_sql import CLAIM_POLL, FORGET_GONE, HEARTBEAT, LEASE_CHAT, LEAVE, LIVE

logger = logging.getLogger(__name__)
CHANNEL = "monitor_outbox"  # the NOTIFY channel


def _rank(instance: str, source: str) -> bytes:
    return hashlib.blake2b(f"{instance}\0{source}".encode(), digest_size=8).digest()


class PgCluster:
    """This instance among those sharing one PostgreSQL state."""

    shared = True

    def __init__(self, store: PostgresStore, *, takeover: float, name: str | None = None) -> None:
        self.store = store
        self.name = name or instance_name()
        self.lease = takeover * 2 / 3
        self.retry = takeover / 6
        self.live: list[str] = [self.name]
        self.problem: str | None = None
        self._renew: dict[str, float] = {}  # chat -> when (monotonic) to renew it
        self._refused: dict[str, float] = {}  # chat -> when (monotonic) another instance held it
        self._looked: dict[str, float] = {}  # source of another instance -> when (monotonic) we last tried it
        self._tasks: list[asyncio.Task[None]] = []
        self._down_since: float | None = None

    async def start(self, wake: Callable[[], None]) -> None:
        """Announce this instance, then keep its heartbeat and listen for alerts queued by others."""
        try:
            await self._beat()
        except psycopg.Error as exc:
            raise StateError(self.store.explain(exc)) from None
        self._tasks = [
            asyncio.create_task(self._heartbeats(), name="cluster-heartbeat"),
            asyncio.create_task(self._listen(wake), name="cluster-listen"),
        ]
        logger.info("cluster.joined instance=%s live=%d", self.name, len(self.live))

    async def stop(self) -> None:
        """Give up our chats (another instance sends at once) and leave."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._renew.clear()
        if self.problem:
            return  # the state database is unreachable: our leases lapse on their own
        try:
            async with self.store.pool.connection(timeout=self.retry) as conn, conn.transaction():
                for statement in LEAVE:
                    await conn.execute(statement, {"me": self.name})
                await conn.execute(f"NOTIFY {CHANNEL}")
        except psycopg.Error as exc:  # the leases lapse on their own
            logger.warning("cluster.leave_failed error=%s", self.store.explain(exc))

    async def claim(self, source: str, interval: float, now: float) -> Claim | None:
        """Claim the poll of a source if it is due and ours (or overdue); return what its last poller saved."""
        if self.problem:
            raise StateError(self.problem)  # known down: the heartbeat finds out when it is back
        owner = max(self.live, key=lambda name: _rank(name, source))
        if owner == self.name:
            gap = interval / 2
        else:  # another's: look only now and then, in case it is overdue (its owner stuck, or just gone)
            gap = interval + self.lease
            if time.monotonic() < self._looked.get(source, 0.0) + gap:
                return None
            self._looked[source] = time.monotonic()
        params = {"source": source, "me": self.name, "lease": self.lease, "gap": gap, "now": now}
        row = await self._one(CLAIM_POLL, params)
        if row is None:
            return None
        streak, backoff, alarmed, skip_until, pace, paced_at, etag, last_modified, moved = row
        if not moved:
            return Claim()  # we polled it last: what we know is newer than what may be written yet
        health = SourceHealth(streak, backoff, bool(alarmed), skip_until, pace, paced_at)
        return Claim(health, (etag, last_modified))

    async def may_send(self, chat: str) -> bool:
        """Whether we send to the chat now: our lease is good, or we took or renewed it just now."""
        now = time.monotonic()
        if now < self._renew.get(chat, 0.0):
            return True
        if self.problem:
            return False
        try:
            taken = await self._one(LEASE_CHAT, {"chat": chat, "me": self.name, "lease": self.lease}) is not None
        except StateError:
            taken = False  # the heartbeat says why; nothing is sent without a lease
        if not taken:
            self._refused[chat] = now
            self._renew.pop(chat, None)
        else:
            self._refused.pop(chat, None)
            # The lease runs from the server's clock when it got our request, so at least from `now`
            # on: we renew it after a third, and the two thirds left are in hand for a send under way.
            self._renew[chat] = now + self.lease / 3
        return taken

    def wait_for(self, chat: str) -> float:
        """Seconds until we ask for the chat again, after another instance held it (0: ask at once)."""
        if chat not in self._refused:
            return 0.0
        return max(0.0, self._refused[chat] + self.retry - time.monotonic())

    def budget_cost(self) -> int:
        """Each of n live instances sends at most 1/n of the bot's rate: a send costs n."""
        return max(1, len(self.live))

    def dead(self) -> list[str]:
        """The heartbeat or the listener ended (they are supervised: only a bug ends one)."""
        return [f"cluster: {task.get_name()} ended" for task in self._tasks if task.done()]

    async def _beat(self) -> None:
        async with self.store.pool.connection(timeout=self.retry * 2) as conn:
            await conn.execute(HEARTBEAT, {"me": self.name})
            rows = await (await conn.execute(LIVE, {"lease": self.lease})).fetchall()
        self.live = [name for (name,) in rows] or [self.name]

    async def _heartbeats(self) -> None:
        """Say we live, learn who else does; say once when the state database is unreachable, and when it is back."""
        beats = 0
        while True:
            await asyncio.sleep(self.retry)
            try:
                await self._beat()
                for chat in list(self._renew):  # our chats stay ours while we live, sending or not
                    self._renew[chat] = 0.0
                    await self.may_send(chat)
                if beats % 1000 == 0:
                    async with self.store.pool.connection() as conn:
                        await conn.execute(FORGET_GONE)
                beats += 1
            except psycopg.Error as exc:
                self._down(self.store.explain(exc))
            except Exception:  # a bug: logged, and the heartbeat goes on
                logger.exception("cluster.heartbeat_crashed")
            else:
                self._up()

    def _down(self, error: str) -> None:
        if self._down_since is None:
            self._down_since = time.time()
            logger.error("state.unreachable error=%s; polls wait, queued alerts stay queued", error)
        since = time.strftime("%H:%M:%S", time.localtime(self._down_since))
        self.problem = f"state: unreachable since {since}: {error}"

    def _up(self) -> None:
        if self._down_since is not None:
            logger.warning("state.reachable after=%.0fs", time.time() - self._down_since)
            self._down_since = None
        self.problem = None

    async def _listen(self, wake: Callable[[], None]) -> None:
        """LISTEN on a connection of our own; reconnect after a fault (and look at the queues then)."""
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.store.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, keepalives_idle=10
                )
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    wake()  # whatever was queued while we did not listen
                    while True:
                        async for _ in conn.notifies(timeout=self.retry):
                            wake()
                        await conn.execute("SELECT 1")  # a connection gone quiet is found out here
            except psycopg.Error as exc:
                logger.debug("cluster.listen_failed error=%s", self.store.explain(exc))
            except Exception:  # a bug: logged, and we listen again
                logger.exception("cluster.listen_crashed")
            await asyncio.sleep(self.retry)

    async def _one(self, query: str, params: dict[str, Any]) -> Any:
        try:  # a claim or a lease waited for longer than a lease is of no use: the caller tries again later
            async with self.store.pool.connection(self.lease) as conn:
                return await (await conn.execute(query, params)).fetchone()
        except psycopg.Error as exc:
            raise StateError(self.store.explain(exc)) from None
