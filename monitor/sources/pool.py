"""Parsing that can be abandoned: worker processes, killed when a parse outlives its deadline.

A thread cannot be stopped while lexbor or feedparser runs in it; a process can. Workers come from
a 'forkserver' (the service runs threads: forking it is unsafe), are started on first use, reused,
and replaced after one is killed. A poll cancelled on SIGTERM (after stop_timeout) kills its
worker, so a stop never waits longer than stop_timeout on a parse; close() ends them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from ..errors import ExtractError

logger = logging.getLogger(__name__)
T = TypeVar("T")

PARSE_DEADLINE = 5.0  # seconds; a 5 MB page of normal markup parses in under 0.2 s
WORKERS = min(2, os.cpu_count() or 1)
_CONTEXT = multiprocessing.get_context("forkserver")
# Imported once in the forkserver, so that a new worker starts in milliseconds, not 0.1 s.
_CONTEXT.set_forkserver_preload(["monitor.extract", "monitor.sources.feed", "monitor.sources.json"])


class _Worker:
    """One parser process and the parent's end of its pipe."""

    def __init__(self) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.process: BaseProcess = _CONTEXT.Process(target=_serve, args=(child,), daemon=True, name="monitor-parse")
        self.process.start()
        child.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()
        with contextlib.suppress(ValueError):  # closed already
            self.process.close()


class _Pool:
    """At most WORKERS parses at a time, each in a process of its own."""

    def __init__(self) -> None:
        self.idle: list[_Worker] = []
        self.busy: set[_Worker] = set()
        self.waiters: list[asyncio.Future[None]] = []  # parses waiting for a worker, first come first

    async def run(self, deadline: float, fn: Callable[..., T], *args: Any) -> T:
        """Return fn(*args) computed in a worker; ExtractError if it takes longer than deadline seconds."""
        worker = await self._take()
        try:
            return await _call(worker, deadline, fn, args)
        except BaseException:
            worker.kill()  # it may still be parsing: it cannot be asked to stop, nor reused
            self.busy.discard(worker)
            raise
        finally:
            if worker in self.busy:
                self.busy.discard(worker)
                self.idle.append(worker)
            self._wake()

    async def _take(self) -> _Worker:
        while len(self.busy) >= WORKERS:
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)
        worker = self.idle.pop() if self.idle else _Worker()
        self.busy.add(worker)
        return worker

    def _wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.set_result(None)
                return

    def close(self) -> None:
        """Kill every worker, idle or busy (a busy one's parse then fails)."""
        for worker in [*self.idle, *self.busy]:
            worker.kill()
        self.idle.clear()
        self.busy.clear()


async def _call(worker: _Worker, deadline: float, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = worker.conn.fileno()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        # The worker is idle, blocked reading: the send is a copy into the pipe, not a wait on it.
        try:
            worker.conn.send((fn, args))
        except OSError:
            raise ExtractError("the parser process died (out of memory?); not parsed") from None
        try:
            await asyncio.wait_for(ready, deadline)
        except TimeoutError:
            raise ExtractError(f"page took longer than {deadline:g}s to parse; not parsed") from None
        try:
            ok, value = worker.conn.recv()
        except (EOFError, OSError):
            raise ExtractError("the parser process died (out of memory?); not parsed") from None
    finally:
        loop.remove_reader(fd)
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def _serve(conn: Connection) -> None:
    """A worker's life: take (fn, args), send back (True, result) or (False, exception); until EOF."""
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            reply: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:
            reply = (False, exc)
        try:
            conn.send(reply)
        except Exception as exc:  # an exception or result that does not pickle
            conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


_POOL = _Pool()


async def parse_in_worker(fn: Callable[..., T], *args: Any) -> T:
    """Return fn(*args) computed in a worker process, killed if it takes longer than PARSE_DEADLINE."""
    return await _POOL.run(PARSE_DEADLINE, fn, *args)


def close() -> None:
    """Kill the parser processes (they are started again on demand)."""
    _POOL.close()
