"""What `monitor --once` (and `--dry-run`) tells the person who ran it: a line per source, then what failed."""

from __future__ import annotations

import sys
import time

from .channels import format_plain
from .config_types import AnySource
from .models import Alert, PollResult
from .pipeline import ChannelTally
from .rules import Matcher


def plural(n: int, word: str, many: str | None = None) -> str:
    """Return '1 item', '2 items' (or the given plural form)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def source_line(r: PollResult, cfg: AnySource, *, dry_run: bool = False) -> str:
    """One line saying what a poll of a source found and did."""
    if r.error:
        return f"{r.source}: FAILED: {r.error}"
    if r.unchanged:
        return f"{r.source}: not modified since the last poll (HTTP 304)"
    found = plural(r.found, "item")
    if r.baseline:
        action = "a real first run records them as the baseline" if dry_run else "recorded as the baseline"
        if cfg.backfill:
            return f"{r.source}: {found}, first poll: {action} and sends the newest {cfg.backfill} (backfill)"
        return (
            f"{r.source}: {found}, first poll: {action} and sends none"
            " (set backfill: N on the source to send its newest N)"
        )
    queued = plural(r.queued, "alert") + (" would be queued" if dry_run else " queued")
    edits = f", {plural(r.edits, 'edit')}" if r.edits else ""
    return f"{r.source}: {found}, {r.new} new{edits}, {queued}"


def print_poll(r: PollResult, cfg: AnySource, matcher: Matcher, *, dry_run: bool) -> None:
    """Print a poll's line; a dry run also shows the alerts, and a first poll where each line would go."""
    if not dry_run:  # stderr: what cron mails; the alerts themselves may go to the console channel's stdout
        print(source_line(r, cfg), file=sys.stderr)
        return
    print(source_line(r, cfg, dry_run=True))
    if r.baseline:
        for item in r.lines:
            routes = [f"{m.rule} -> {', '.join(m.channels)}" for m in matcher.matches(item.source, item.text)]
            print(f"  baseline: {item.text}\n      {'; '.join(routes) or 'no rule matches'}")
    now = time.time()
    for a in r.alerts:
        print(
            format_plain(
                Alert(0, a.channel, a.item.source, a.item.text, a.item.link, now, edit_of=a.edit_of, urgent=a.urgent)
            )
        )


def channel_problems(name: str, queued: int, tally: ChannelTally) -> list[str]:
    """The lines that make `--once` exit 1 for a channel: alerts failed, or alerts it could not send."""
    out = []
    if tally.failed:
        out.append(f"channel {name}: {plural(tally.failed, 'alert')} failed: {tally.last_error}")
    if queued and tally.blocked:  # its one clear line was logged when it was refused
        out.append(
            f"channel {name}: {plural(queued, 'alert')} still queued ({tally.blocked}); a run after the fix sends them"
        )
    elif queued:
        out.append(
            f"channel {name}: {plural(queued, 'alert')} still queued (last error: {tally.last_error});"
            " the next run sends them"
        )
    return out
