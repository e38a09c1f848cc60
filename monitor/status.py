"""`monitor status`: per source and per channel, what the state file says (safe while a monitor runs)."""

from __future__ import annotations

import asyncio
import time

from .cluster import Holding
from .config_types import Config, StateConfig
from .lock import holder
from .statepath import check
from .store import ChannelStatus, SourceStatus, open_store


async def _read(state: StateConfig) -> tuple[list[SourceStatus], list[ChannelStatus], list[Holding]]:
    """What the state says of the sources, the channels and the instances sharing it."""
    store = await open_store(state, readonly=True)
    try:
        return await store.source_states(), await store.status(), await store.instances()
    finally:
        await store.close()


def _instances(holdings: list[Holding], takeover: float) -> bool:
    """Print the instances on a PostgreSQL state, who polls and who sends what; True if one runs."""
    now = time.time()
    live = [h for h in holdings if now - h.seen <= takeover * 2 / 3]
    print(f"{len(live)} monitor instance{'' if len(live) == 1 else 's'} running on this state")
    if not holdings:
        return False
    print(f"\n{'instance':28} {'started':>12} {'heartbeat':>10} {'sources':>7}  sends to")
    for h in holdings:
        alive = h in live
        beat = f"{now - h.seen:.0f}s ago" if alive else "gone"
        chats = ", ".join(h.chats) if alive and h.chats else "-"
        print(f"{h.instance:28} {_ago(h.started):>12} {beat:>10} {h.sources:>7}  {chats}")
    return bool(live)


def _ago(t: float | None) -> str:
    if t is None:
        return "never"
    seconds = time.time() - t
    return f"in {-seconds:.0f}s" if seconds < 0 else f"{seconds:.0f}s ago"


def show_status(config: Config) -> int:
    """Print per-source poll state and per-channel outbox counts from the state file (safe while running)."""
    if config.state.file is not None and not check(config.state.file, write=False):
        print(f"no state yet at {config.state.file}")
        return 0

    sources, channels, holdings = asyncio.run(_read(config.state))
    if config.state.file is None:
        running = _instances(holdings, config.state.takeover)
    else:
        pid = holder(config.state.file)
        running = pid is not None
        print(
            f"monitor is running (PID {pid})"
            if pid is not None
            else "no monitor is running on this state (next polls are shown while one runs)"
        )
    source_names, channel_names = [s.name for s in config.sources], [c.name for c in config.channels]
    polled = {s.source: s for s in sources}
    by = config.state.file is None  # several instances: which one polled each source last
    print(
        f"\n{'source':20} {'last poll':>12} {'last new':>12} {'failures':>8} {'next poll':>12}"
        + (f"  {'polled by':28}" if by else "")
        + "  last error"
    )
    for name in source_names + [n for n in polled if n not in source_names]:
        s = polled.get(name) or SourceStatus(name, None, None, None, 0, None, None)
        error = (s.last_error if s.failures else None) or "-"
        if s.alarmed:
            error = f"ALARM after {s.streak} bad polls: {error if s.failures else 'the page yields no items'}"
        if name not in source_names:
            error += " (no longer in the config)"
        next_poll = _ago(s.next_poll) if running else "-"
        polled_by = f"  {s.holder or '-':28}" if by else ""
        print(
            f"{s.source:20} {_ago(s.last_poll):>12} {_ago(s.last_new):>12} {s.failures:>8} {next_poll:>12}"
            f"{polled_by}  {error}"
        )
    counted = {c.channel: c for c in channels if not c.channel.startswith("reader:")}
    readers = [c for c in channels if c.channel.startswith("reader:")]
    if readers:  # the bot's readers: one line for all of them, not one per reader
        counted["readers (bot)"] = ChannelStatus(
            "readers (bot)",
            sum(c.queued for c in readers),
            sum(c.delivered for c in readers),
            sum(c.failed for c in readers),
            None,
        )
    print(f"\n{'channel':20} {'queued':>7} {'delivered':>10} {'failed':>7}  last error")
    for name in channel_names + [n for n in counted if n not in channel_names]:
        c = counted.get(name) or ChannelStatus(name, 0, 0, 0, None)
        print(f"{c.channel:20} {c.queued:>7} {c.delivered:>10} {c.failed:>7}  {c.last_error or '-'}")
    return 0
