"""The `monitor` command: argument parsing and the commands; nothing else."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from . import __version__, logs
from . import config as config_mod
from .config_reader import field_defaults
from .config_types import DEFAULT_USER_AGENT, Config, FeedSettings, JsonSettings, SourceSettings, TelegramSettings
from .errors import ConfigError, MonitorError, StateError

EXIT_CODES = """exit codes:
  0    ok
  1    a source or channel failed, `match` matched nothing,
       `probe` found nothing, or another monitor is already using the state file
  2    bad config, state file or arguments
  130  interrupted (Ctrl-C)"""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given before the command must not be reset by the command's parser.
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $MONITOR_CONFIG, then ./config.yaml)",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log debug detail (same as --log-level debug)",
    )
    common.add_argument(
        "--log-level",
        type=str.lower,
        choices=["debug", "info", "warning", "error"],
        default=argparse.SUPPRESS,
        help="default: info (any case: INFO works too)",
    )
    common.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=argparse.SUPPRESS,
        help="json: one object per line, for log shippers",
    )
    parser = argparse.ArgumentParser(
        prog="monitor",
        parents=[common],
        description="Watch breaking-news tickers and send new lines that match rules to Telegram.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    parser.add_argument("--once", action="store_true", help="poll every source once, deliver, exit")
    parser.add_argument(
        "--dry-run", action="store_true", help="do everything but send and write state; print the alerts instead"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "check-config",
        parents=[common],
        help="validate the config and summarise it",
        description="Validate the config file and print a summary of its sources, channels and rules; "
        "on a fault, name the file, the key and what is wrong, and exit 2.",
    )
    sub.add_parser(
        "status",
        parents=[common],
        help="outbox counts per channel",
        description="Show each source's last poll, failures and alarms, and each channel's queued, "
        "delivered and failed counts, from the state file (safe while the service runs).",
    )
    sub.add_parser(
        "demo",
        parents=[common],
        help="replay bundled ticker pages through the pipeline to the console (no network)",
        description="Replay bundled ticker pages through the whole pipeline to the console: no config, "
        "no network, nothing sent. A first look at what monitor does.",
    )
    probe = sub.add_parser(
        "probe",
        parents=[common],
        help="fetch a page once and show what each source kind extracts, or candidate tickers",
        description="Fetch a page once and show what each source kind (html, feed, json) would "
        "extract from it, to choose a source's type and selector; for a ticker "
        "without a heading, candidate selectors with their first lines. Ends in a "
        "source entry (--add NAME appends it to the config); exit 1 when the fetch "
        "fails or nothing is found.",
    )
    probe.add_argument("url")
    probe.add_argument("--selector", help="CSS selector of the items (html)")
    probe.add_argument("--items", help="dotted path to the list of items (json)")
    probe.add_argument(
        "--text", default=field_defaults(JsonSettings).text_field, help="field of each item holding its text (json)"
    )
    probe.add_argument("--link", help="field of each item holding its link (json)")
    probe.add_argument("--user-agent", default=DEFAULT_USER_AGENT)
    probe.add_argument("--add", metavar="NAME", help="append the suggested entry, named NAME, to the config's sources")
    match = sub.add_parser(
        "match",
        parents=[common],
        help="show which rules match a line, and the term that fired",
        description="Show which rules match a line, the term that fired and the channels it "
        "would go to; exit 1 when no rule matches.",
    )
    match.add_argument("line")
    match.add_argument("--source", default="", help="match as an item of this source")
    history = sub.add_parser(
        "history",
        aliases=["log"],
        parents=[common],
        help="list recent alerts: when, where, which rule, sent / queued / failed and why",
        description="List the alerts queued since --since, oldest first: the time, sent / "
        "queued / FAILED, the channel, the source, the rules that sent it and "
        "the text; under a failed alert, its error. Read-only.",
    )
    history.add_argument("--since", default="24h", help="how far back: 30m, 6h, 2d, or a date (default 24h)")
    history.add_argument("--channel", help="only this channel")
    history.add_argument("--source", help="only this source ('monitor' for health alarms)")
    history.add_argument("--limit", type=int, default=100, help="at most this many, the newest (default 100)")
    history.add_argument("--json", action="store_true", help="one JSON object per line")
    replay = sub.add_parser(
        "replay",
        parents=[common],
        help="run the current rules over stored items; print what would go where",
        description="Run the current rules over the items stored in the last --since; print "
        "what would go where. Nothing is sent.",
    )
    replay.add_argument("--since", default="24h", help="how far back, e.g. 6h, 2d (default 24h)")
    sub.add_parser(
        "hash-password",
        parents=[common],
        help="read a password, print its salted hash for http.auth.password_hash",
        description="Read a password (asked twice on a terminal, else the first line of stdin) and print "
        "its salted scrypt hash, for http.auth.password_hash in the config. The password itself is "
        "stored nowhere.",
    )
    state = sub.add_parser(
        "state",
        parents=[common],
        help="move the state: `state copy --to postgresql://...`",
        description="Move the state from one backend to another.",
    )
    state_sub = state.add_subparsers(dest="state_command", metavar="COMMAND", required=True)
    copy = state_sub.add_parser(
        "copy",
        parents=[common],
        help="copy a SQLite state into an empty PostgreSQL database",
        description="Copy a SQLite state (seen lines, baselines, sources' state, the outbox) into an "
        "empty PostgreSQL database, so that monitor goes on there sending nothing again: queued alerts "
        "stay queued, sent ones stay sent. Stop the service first; exit 2 when the database already "
        "holds a state.",
    )
    copy.add_argument("--to", required=True, metavar="URL", help="the database: postgresql://user@host/db")
    copy.add_argument("--from", dest="source", metavar="PATH", help="the SQLite file (default: config's state.path)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    # python-telegram-bot 22.2+ warns on every 429 unless told to give retry_after as a timedelta (its
    # next major's form); the process's environment is the entry point's to set. Both forms are handled.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    args = _parser().parse_args(argv)
    path, origin = _config_path(args)
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
            return asyncio.run(run_probe(args, path))
        if args.command == "hash-password":
            return run_hash_password()
        if args.command == "state":
            return run_state_copy(args, path, origin, level or "warning", fmt)
        config = _load(path, origin)
        # --once and --dry-run print a line per source and what failed: the log (-v, --log-level info)
        # would say it all twice. The service logs from info up.
        quiet = args.command is None and (args.once or args.dry_run)
        logs.setup(level or ("error" if quiet else "info"), fmt, config.secrets())
        if args.command == "check-config":
            print(describe(config, check_state(config)))
            return 0
        if args.command == "status":
            from .status import show_status

            return show_status(config)
        if args.command == "match":
            return show_match(config, args.line, args.source)
        if args.command in ("history", "log"):
            from .history import show_history

            return show_history(
                config.state,
                args.since,
                channel=args.channel,
                source=args.source,
                limit=args.limit,
                as_json=args.json,
            )
        if args.command == "replay":
            from .history import replay

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
    """Say whether the state file is usable ("ok") or "will be created"; raise StateError if neither. Writes nothing.

    A PostgreSQL state is "not checked": check-config makes no connection (a server down is no config error).
    """
    from .statepath import check
    from .store import SqliteStore

    if config.state.url is not None:
        return "not checked"
    if not check(config.state.path):
        return "will be created"
    SqliteStore.verify(config.state.path)
    return "ok"


def _config_path(args: argparse.Namespace) -> tuple[str, str]:
    """The config file to read (--config, then $MONITOR_CONFIG, then ./config.yaml), and which of them it is."""
    if getattr(args, "config", None):
        return args.config, "given with --config"
    if os.environ.get("MONITOR_CONFIG"):
        return config_mod.default_path(), "from $MONITOR_CONFIG"
    return config_mod.default_path(), "the default: no --config given and $MONITOR_CONFIG not set"


def _load(path: str, origin: str) -> Config:
    """Load the config; a missing file says how to name another and how to start without one."""
    if not os.path.exists(path):
        raise ConfigError(
            path,
            "",
            f"file not found ({origin}); name the config file with --config PATH or "
            "$MONITOR_CONFIG, or to start: run `monitor demo`, or copy config.yaml from "
            "the repository and edit it",
        )
    return config_mod.load(path)


def describe(config: Config, state: str) -> str:
    """Return the check-config summary; state says whether the state file is usable."""
    lines = [f"{config.file}: OK", f"state: {config.state.where()} ({state})", f"sources ({len(config.sources)}):"]
    for s in config.sources:
        how = _finds(s.kind) + (", no items is normal (empty_ok)" if s.empty_ok else "")
        every = (
            f"every {s.interval:g}s to {s.interval_max:g}s (adaptive: more often while the ticker is busy)"
            if s.interval_max
            else f"every {s.interval:g}s"
        )
        lines.append(f"  {s.name}: {every}, {how}, {s.url}")
    lines.append(f"channels ({len(config.channels)}):")
    for c in config.channels:
        quiet = ""
        if c.quiet_hours:
            start, end, zone = c.quiet_hours
            quiet = f", quiet {start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d} {zone} (silent then)"
        chat = f" {c.kind.chat_id}" if isinstance(c.kind, TelegramSettings) else ""
        lines.append(f"  {c.name}: {c.type}{chat}{quiet}")
    lines.append(f"rules ({len(config.rules)}):")
    for r in config.rules:
        terms = [f"{k}: {', '.join(v)}" for k, v in (("any", r.any), ("all", r.all), ("none", r.none)) if v]
        terms += [f"near: {a} and {b} within {n} words" for a, b, n in r.near]
        only = f" (only {', '.join(r.sources)})" if r.sources else ""
        flags = "".join(
            f", {f}"
            for f, on in (("urgent: rings even in quiet hours", r.priority == "urgent"), ("silent", r.silent))
            if on
        )
        lines.append(f"  {r.name}: {'; '.join(terms) or 'every item'}{only} -> {', '.join(r.channels)}{flags}")
    return "\n".join(lines)


def _finds(kind: SourceSettings) -> str:
    """How a source finds its items, for check-config."""
    if isinstance(kind, JsonSettings):
        return f"json items {kind.items!r}"
    if isinstance(kind, FeedSettings):
        return "feed"
    how = f"selector {kind.selector!r}" if kind.selector else "heading " + " | ".join(kind.headings)
    return how + (f", split at {kind.split!r}" if kind.split else "")


def run_locked(config: Config) -> int:
    """`monitor --once`, refused while another instance writes the same state."""
    from .lock import StateLock
    from .runtime import run_once

    lock = StateLock(config.state.file)
    lock.acquire()
    try:
        return asyncio.run(run_once(config))
    finally:
        lock.release()


def run_state_copy(args: argparse.Namespace, path: str, origin: str, level: str, fmt: str) -> int:
    """`monitor state copy`: the SQLite state (--from, else the config's state.path) into PostgreSQL."""
    from .state_copy import copy_state

    to = args.to
    logs.setup(level, fmt, [to, *([urlsplit(to).password] if urlsplit(to).password else [])])
    if not to.startswith(("postgresql://", "postgres://")):
        print("monitor: state copy --to: expected a PostgreSQL url, postgresql://user@host/db", file=sys.stderr)
        return 2
    if args.source:
        source = Path(args.source)
    else:
        config = _load(path, origin)
        if config.state.file is None:
            raise StateError(
                f"the config's state is already in PostgreSQL ({config.state.where()}): name the SQLite file"
                " to copy with --from PATH"
            )
        source = config.state.file
    copied = asyncio.run(copy_state(source, to))
    print(copied.summary())
    print("next: in the config, state.url (the database) instead of state.path; then start monitor there")
    return 0


def run_hash_password() -> int:
    """`monitor hash-password`: a password from the terminal (twice) or stdin's first line -> its hash."""
    import getpass

    from .passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("monitor: hash-password: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("monitor: hash-password: empty password", file=sys.stderr)
        return 2
    if len(password) < 8:
        print("monitor: hash-password: the password is shorter than 8 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


async def run_probe(args: argparse.Namespace, path: str) -> int:
    """Fetch a URL once and print what each source kind would extract from it; 1 if nothing.

    With --add, append the suggested entry to the config file (ConfigError if it cannot be added).
    """
    from .config_edit import add_source, check_addable
    from .http import new_session
    from .probe import probe

    if args.add:
        check_addable(path, args.add, args.url)  # before the fetch: a taken name is refused at once
    async with new_session() as session:
        report = await probe(
            args.url,
            selector=args.selector,
            items=args.items,
            text=args.text,
            link=args.link,
            session=session,
            user_agent=args.user_agent,
            name=args.add,
        )
    print(report.text)
    if report.entry is None:
        return 1
    if args.add:
        line = add_source(path, report.entry)
        print(
            f"\nAdded source {args.add!r} to {path} at line {line}. Next: monitor check-config, "
            "then monitor --once --dry-run"
        )
    return 0


def show_match(config: Config, line: str, source: str) -> int:
    """Print the rules that match a line, the term that fired, and where it would go; 1 if none."""
    from .rules import Matcher

    names = [s.name for s in config.sources]
    if source and source not in names:
        print(f"monitor: --source: no source {source!r} in the config (it has: {', '.join(names)})", file=sys.stderr)
        return 2
    matcher = Matcher(config.rules)
    matches = matcher.matches(source, line)
    for m in matches:
        fired = f"term {m.term!r}" if m.term else "matches every item"
        flags = "".join(f", {f}" for f, on in (("urgent", m.urgent), ("silent", m.silent)) if on)
        print(f"{m.rule}: {fired} -> {', '.join(m.channels)}{flags}")
    for rule, term in matcher.excluded(source, line):
        print(f"{rule}: excluded by its none: term {term!r}")
    if not matches:
        print("no rule matches")
    return 0 if matches else 1


if __name__ == "__main__":
    sys.exit(main())
