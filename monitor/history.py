"""`monitor history` (also `monitor log`): what went out, to whom, and what did not; `monitor replay`: what
the current rules would send of the lines stored lately. Both read the state file only."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict
from datetime import datetime

from .config_reader import parse_duration
from .config_types import Config, StateConfig
from .models import Item
from .rules import Matcher
from .statepath import check
from .store import Sent, open_store

_STATUS = {"delivered": "sent", "queued": "queued", "failed": "FAILED"}


def parse_since(value: str, now: float) -> float | None:
    """Return the time a --since value means: a duration back from now (6h, 2d) or an ISO date/time."""
    seconds = parse_duration(value)
    if seconds is not None:
        return now - seconds
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def show_history(
    state: StateConfig, since: str, *, channel: str | None, source: str | None, limit: int, as_json: bool
) -> int:
    """Print the alerts queued since a time, oldest first; return the exit code."""
    start = parse_since(since, time.time())
    if start is None:
        print(
            f"monitor: --since: expected a duration such as 6h or 2d, or a date such as 2026-12-01, got {since!r}",
            file=sys.stderr,
        )
        return 2
    rows: list[Sent] = []
    if state.file is None or state.file.exists():
        rows = asyncio.run(_history(state, start, channel=channel, source=source, limit=limit))
    if as_json:
        for row in rows:
            print(json.dumps({**asdict(row), "status": _STATUS[row.status].lower()}, ensure_ascii=False))
        return 0
    if not rows:
        print(
            f"no alerts since {_stamp(start)}"
            + "".join(f" for {what} {name!r}" for what, name in (("channel", channel), ("source", source)) if name)
        )
        return 0
    for row in rows:
        print(format_row(row))
    return 0


async def _history(
    state: StateConfig, since: float, *, channel: str | None, source: str | None, limit: int
) -> list[Sent]:
    store = await open_store(state, readonly=True)
    try:
        return await store.history(since, channel=channel, source=source, limit=limit)
    finally:
        await store.close()


def format_row(row: Sent) -> str:
    """One alert: time queued, status, channel, source, rule, text; a failure's reason on a second line."""
    what = row.rule or ("edit" if row.edit_of else "health" if row.source == "monitor" else "-")
    line = f"{_stamp(row.created)}  {_STATUS[row.status]:6}  {row.channel}  {row.source}  [{what}]  {row.text}"
    if row.error and row.status != "delivered":
        line += f"\n    {'error' if row.status == 'failed' else 'last fault'}: {row.error}"
    return line


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


async def _seen_since(state: StateConfig, since: float) -> list[tuple[str, str, str | None, float]]:
    store = await open_store(state, readonly=True)
    try:
        return await store.seen_since(since)
    finally:
        await store.close()


def replay(config: Config, since: str) -> int:
    """Run the current rules over items stored since a time ago; print what would go where."""
    seconds = parse_duration(since)
    if seconds is None:
        print(f"monitor: --since: expected a duration such as 6h or 2d, got {since!r}", file=sys.stderr)
        return 2
    if config.state.file is not None and not check(config.state.file, write=False):
        print(f"no state yet at {config.state.file}")
        return 0
    matcher, rows = Matcher(config.rules), asyncio.run(_seen_since(config.state, time.time() - seconds))
    counts: dict[str, int] = {}
    for source, text, link, first_seen in rows:
        routes = matcher.channels_for(Item(source, text, link, ""))
        if routes:
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(first_seen))
            print(f"{stamp} {source}: {text}\n    -> {', '.join(routes)}")
        for channel in routes:
            counts[channel] = counts.get(channel, 0) + 1
    summary = ", ".join(f"{c}: {n}" for c, n in counts.items()) or "nothing"
    print(f"{len(rows)} items seen in the last {since}; would send {summary}")
    return 0
