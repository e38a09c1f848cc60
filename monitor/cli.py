"""The `monitor` command: argument parsing and the commands; nothing else."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from . import __version__, logs
from . import config as config_mod
from .config import DEFAULT_USER_AGENT, Config
from .config_reader import parse_duration
from .errors import ConfigError, MonitorError, StateError


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given before the command must not be reset by the command's parser.
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (default: $MONITOR_CONFIG, then ./config.yaml)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log debug detail (same as --log-level debug)")
    common.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=argparse.SUPPRESS,
                        help="default: info")
    common.add_argument("--log-format", choices=["text", "json"], default=argparse.SUPPRESS,
                        help="json: one object per line, for log shippers")
    parser = argparse.ArgumentParser(
        prog="monitor",
        parents=[common],
        description="Watch breaking-news tickers and send new lines that match rules to Telegram.",
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    parser.add_argument("--once", action="store_true", help="poll every source once, deliver, exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="do everything but send and write state; print the alerts instead")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("check-config", parents=[common], help="validate the config and summarise it")
    sub.add_parser("status", parents=[common], help="outbox counts per channel")
    sub.add_parser("demo", parents=[common],
                   help="replay bundled ticker pages through the pipeline to the console (no network)")
    probe = sub.add_parser("probe", parents=[common], help="fetch a page once and show what each source kind extracts")
    probe.add_argument("url")
    probe.add_argument("--selector", help="CSS selector of the items (html)")
    probe.add_argument("--items", help="dotted path to the list of items (json)")
    probe.add_argument("--text", default="title", help="field of each item holding its text (json)")
    probe.add_argument("--link", help="field of each item holding its link (json)")
    probe.add_argument("--user-agent", default=DEFAULT_USER_AGENT)
    match = sub.add_parser("match", parents=[common], help="show which rules match a line, and the term that fired")
    match.add_argument("line")
    match.add_argument("--source", default="", help="match as an item of this source")
    replay = sub.add_parser("replay", parents=[common],
                            help="run the current rules over stored items; print what would go where")
    replay.add_argument("--since", default="24h", help="how far back, e.g. 6h, 2d (default 24h)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    path = getattr(args, "config", None) or config_mod.default_path()
    verbose = getattr(args, "verbose", False)
    level = "debug" if verbose else getattr(args, "log_level", None)
    fmt = getattr(args, "log_format", "text")
    try:
        if args.command == "demo":
            from .demo import run_demo

            logs.setup(level or "warning", fmt)  # the demo narrates on its own; -v shows the log too
            return asyncio.run(run_demo())
        if args.command == "probe":
            logs.setup(level or "warning", fmt)
            return asyncio.run(run_probe(args))
        config = config_mod.load(path)
        logs.setup(level or "info", fmt, config.secrets())
        if args.command == "check-config":
            print(describe(config, check_state(config)))
            return 0
        if args.command == "status":
            return show_status(config)
        if args.command == "match":
            return show_match(config, args.line, args.source)
        if args.command == "replay":
            return replay(config, args.since)
        from .runtime import run_once
        from .service import run_service

        if args.dry_run:
            return asyncio.run(run_once(config, dry_run=True))
        if args.once:
            return run_locked(config)
        return asyncio.run(run_service(path, config))
    except ConfigError as exc:
        print(f"monitor: config error: {exc}", file=sys.stderr)
        return 2
    except StateError as exc:  # the state file cannot be opened or used: the operator must act
        print(f"monitor: {exc}", file=sys.stderr)
        return 2
    except MonitorError as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `monitor status | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: one line (the traceback goes to the debug log), never a raw dump
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        print(f"monitor: internal error: {type(exc).__name__}: {exc} (run with -v for details)", file=sys.stderr)
        return 1


def check_state(config: Config) -> str:
    """Say whether the state file is usable ("ok") or "will be created"; raise StateError if neither. Writes nothing."""
    from .statepath import check
    from .store import SqliteStore

    if not check(config.state_path):
        return "will be created"
    SqliteStore.verify(config.state_path)
    return "ok"


def describe(config: Config, state: str) -> str:
    """Return the check-config summary; state says whether the state file is usable."""
    lines = [f"{config.file}: OK", f"state: {config.state_path} ({state})", f"sources ({len(config.sources)}):"]
    for s in config.sources:
        how = f"selector {s.selector!r}" if s.selector else "heading " + " | ".join(s.headings)
        lines.append(f"  {s.name}: every {s.interval:g}s, {how}, {s.url}")
    lines.append(f"channels ({len(config.channels)}):")
    for c in config.channels:
        lines.append(f"  {c.name}: {c.type}" + (f" {c.chat_id}" if c.chat_id else ""))
    lines.append(f"rules ({len(config.rules)}):")
    for r in config.rules:
        terms = [f"{k}: {', '.join(v)}" for k, v in (("any", r.any), ("all", r.all), ("none", r.none)) if v]
        only = f" (only {', '.join(r.sources)})" if r.sources else ""
        lines.append(f"  {r.name}: {'; '.join(terms) or 'every item'}{only} -> {', '.join(r.channels)}")
    return "\n".join(lines)


def show_status(config: Config) -> int:
    """Print per-source poll state and per-channel outbox counts from the state file (safe while running)."""
    import time

    from .statepath import check
    from .store import SqliteStore

    if not check(config.state_path, write=False):
        print(f"no state yet at {config.state_path}")
        return 0

    def ago(t: float | None) -> str:
        if t is None:
            return "never"
        seconds = time.time() - t
        return f"in {-seconds:.0f}s" if seconds < 0 else f"{seconds:.0f}s ago"

    store = SqliteStore.open_readonly(config.state_path)
    try:
        sources, channels = store.source_states(), store.status()
    finally:
        store.close()
    print(f"{'source':20} {'last poll':>12} {'last new':>12} {'failures':>8} {'next poll':>12}  last error")
    for s in sources:
        error = s.last_error if s.failures else "-"
        print(f"{s.source:20} {ago(s.last_poll):>12} {ago(s.last_new):>12} {s.failures:>8} "
              f"{ago(s.next_poll):>12}  {error}")
    print(f"\n{'channel':20} {'queued':>7} {'delivered':>10} {'failed':>7}  last error")
    for c in channels:
        print(f"{c.channel:20} {c.queued:>7} {c.delivered:>10} {c.failed:>7}  {c.last_error or '-'}")
    return 0


def run_locked(config: Config) -> int:
    """`monitor --once`, refused while another instance writes the same state."""
    from .lock import StateLock
    from .runtime import run_once

    lock = StateLock(config.state_path)
    lock.acquire()
    try:
        return asyncio.run(run_once(config))
    finally:
        lock.release()


async def run_probe(args: argparse.Namespace) -> int:
    """Fetch a URL once and print what each source kind would extract from it."""
    from .http import new_session
    from .probe import probe

    async with new_session() as session:
        print(await probe(args.url, selector=args.selector, items=args.items, text=args.text, link=args.link,
                          session=session, user_agent=args.user_agent))
    return 0


def show_match(config: Config, line: str, source: str) -> int:
    """Print the rules that match a line, the term that fired, and where it would go; 1 if none."""
    from .rules import Matcher

    matches = Matcher(config.rules).matches(source, line)
    for m in matches:
        fired = f"term {m.term!r}" if m.term else "matches every item"
        flags = "".join(f", {f}" for f, on in (("urgent", m.urgent), ("silent", m.silent)) if on)
        print(f"{m.rule}: {fired} -> {', '.join(m.channels)}{flags}")
    if not matches:
        print("no rule matches")
    return 0 if matches else 1


def replay(config: Config, since: str) -> int:
    """Run the current rules over items stored since a time ago; print what would go where."""
    import time

    from .models import Item
    from .rules import Matcher
    from .statepath import check
    from .store import SqliteStore

    seconds = parse_duration(since)
    if seconds is None:
        print(f"monitor: --since: expected a duration such as 6h or 2d, got {since!r}", file=sys.stderr)
        return 2
    if not check(config.state_path, write=False):
        print(f"no state yet at {config.state_path}")
        return 0
    matcher, store = Matcher(config.rules), SqliteStore.open_readonly(config.state_path)
    try:
        rows = store.seen_since(time.time() - seconds)
    finally:
        store.close()
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


if __name__ == "__main__":
    sys.exit(main())
