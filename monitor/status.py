"""`monitor status`: per source and per channel, what the state file says (safe while a monitor runs)."""

from __future__ import annotations

import asyncio
import time

from .config_types import Config, StateConfig
from .lock import holder
from .statepath import check
from .store import ChannelStatus, SourceStatus, open_store


async def _read(state: StateConfig) -> tuple[list[SourceStatus], list[ChannelStatus]]:
    """What the state says of the sources and the channels."""
    store = await open_store(state, readonly=True)
    try:
        return await store.source_states(), await store.status()
    finally:
        await store.close()


def show_status(config: Config) -> int:
    """Print per-source poll state and per-channel outbox counts from the state file (safe while running)."""
    if config.state.file is not None and not check(config.state.file, write=False):
        print(f"no state yet at {config.state.file}")
        return 0

    def ago(t: float | None) -> str:
        if t is None:
            return "never"
        seconds = time.time() - t
        return f"in {-seconds:.0f}s" if seconds < 0 else f"{seconds:.0f}s ago"

    sources, channels = asyncio.run(_read(config.state))
    pid = None if config.state.file is None else holder(config.state.file)
    print(
        f"monitor is running (PID {pid})"
        if pid is not None
        else "no monitor is running on this state (next polls are shown while one runs)"
    )
    source_names, channel_names = [s.name for s in config.sources], [c.name for c in config.channels]
    polled = {s.source: s for s in sources}
    print(f"\n{'source':20} {'last poll':>12} {'last new':>12} {'failures':>8} {'next poll':>12}  last error")
    for name in source_names + [n for n in polled if n not in source_names]:
        s = polled.get(name) or SourceStatus(name, None, None, None, 0, None, None)
        error = (s.last_error if s.failures else None) or "-"
        if s.alarmed:
            error = f"ALARM after {s.streak} bad polls: {error if s.failures else 'the page yields no items'}"
        if name not in source_names:
            error += " (no longer in the config)"
        next_poll = ago(s.next_poll) if pid is not None else "-"
        print(f"{s.source:20} {ago(s.last_poll):>12} {ago(s.last_new):>12} {s.failures:>8} {next_poll:>12}  {error}")
    counted = {c.channel: c for c in channels}
    print(f"\n{'channel':20} {'queued':>7} {'delivered':>10} {'failed':>7}  last error")
    for name in channel_names + [n for n in counted if n not in channel_names]:
        c = counted.get(name) or ChannelStatus(name, 0, 0, 0, None)
        print(f"{c.channel:20} {c.queued:>7} {c.delivered:>10} {c.failed:>7}  {c.last_error or '-'}")
    return 0
