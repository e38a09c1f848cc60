"""The SQLite state file's schema: its tables, its version, migrations, and errors in plain words."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import StateError

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    text TEXT NOT NULL,
    link TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    edit_of TEXT,  -- fingerprint of the line this one is an edited version of
    PRIMARY KEY (source, fingerprint)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_last ON seen (last_seen);
CREATE TABLE IF NOT EXISTS source_state (
    source TEXT PRIMARY KEY,
    last_poll REAL,
    last_ok REAL,
    last_new REAL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_poll REAL,
    etag TEXT,  -- validators of the last page read, so a restart can still ask "changed since?"
    last_modified TEXT,
    -- health (models.SourceHealth), so alarms and backoff survive restarts and --once runs:
    streak INTEGER NOT NULL DEFAULT 0,
    backoff INTEGER NOT NULL DEFAULT 0,
    alarmed INTEGER NOT NULL DEFAULT 0,
    skip_until REAL NOT NULL DEFAULT 0,
    pace REAL NOT NULL DEFAULT 0,
    paced_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS baseline (
    source TEXT PRIMARY KEY,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    text TEXT NOT NULL,
    link TEXT,
    created REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at REAL,
    message_id TEXT,
    silent INTEGER NOT NULL DEFAULT 0,
    edit_of TEXT,
    urgent INTEGER NOT NULL DEFAULT 0,
    parts_sent INTEGER NOT NULL DEFAULT 0,  -- parts of a split message the channel already accepted
    rule TEXT,  -- the rules that queued it, for `monitor history`
    UNIQUE (channel, source, fingerprint)
);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (channel, status, id);
CREATE INDEX IF NOT EXISTS outbox_fingerprint ON outbox (fingerprint, channel);
CREATE TABLE IF NOT EXISTS readers (  -- the readers' bot: its users (monitor/bot/)
    user_id INTEGER PRIMARY KEY,
    username TEXT,
    language TEXT NOT NULL DEFAULT 'en',
    tz TEXT NOT NULL DEFAULT 'UTC',
    quiet_from INTEGER,
    quiet_to INTEGER,
    paused INTEGER NOT NULL DEFAULT 0,
    blocked INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS watches (
    user_id INTEGER NOT NULL REFERENCES readers ON DELETE CASCADE,
    number INTEGER NOT NULL,  -- the reader's own numbering, as /list shows it
    text TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (user_id, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bot_state (
    bot TEXT PRIMARY KEY,
    update_offset INTEGER NOT NULL  -- the next Telegram update to read
);
CREATE TABLE IF NOT EXISTS muted (  -- sources an admin muted for readers' alerts (/mute), until when
    source TEXT PRIMARY KEY,
    until REAL NOT NULL
);
"""
# 2: outbox.parts_sent; 3: source_state's health columns, outbox.rule; 4: readers, watches, bot_state; 5: muted
SCHEMA_VERSION = 5
_HEALTH_COLUMNS = {
    "streak": "INTEGER NOT NULL DEFAULT 0",
    "backoff": "INTEGER NOT NULL DEFAULT 0",
    "alarmed": "INTEGER NOT NULL DEFAULT 0",
    "skip_until": "REAL NOT NULL DEFAULT 0",
    "pace": "REAL NOT NULL DEFAULT 0",
    "paced_at": "REAL NOT NULL DEFAULT 0",
}


def explain(exc: sqlite3.Error, path: Path | str) -> str:
    """Return one line saying what went wrong with the state file and what to do about it."""
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return f"state file {path} is locked by another process (a sqlite3 shell or a backup?): {text}"
    if "full" in low:
        return f"disk full: cannot write the state file {path}: free some space"
    if "readonly" in low or "read-only" in low:
        return f"state file {path} is read-only: make it and its folder writable by this user"
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return (
            f"state file {path} is not a valid SQLite database ({text}): move it aside to start afresh,"
            " or restore a backup"
        )
    if "unable to open" in low:
        return f"cannot open the state file {path}: check that its folder exists and is writable ({text})"
    if "i/o" in low:
        return f"I/O error on the state file {path}: check the disk ({text})"
    return f"state file {path}: {text}"


def check_ours(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a SQLite database of something else, which monitor would otherwise add its tables to."""
    try:  # a corrupt file fails here
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and not {"seen", "outbox"} <= tables:
            raise StateError(
                f"state file {path} is a SQLite database of something else (it has no seen and"
                " outbox tables): set state.path to another file"
            )
    except BaseException:
        db.close()
        raise


def check_version(db: sqlite3.Connection, path: Path) -> int:
    """Return the file's schema version; refuse one written by a newer monitor, which this one would break."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        db.close()
        raise StateError(
            f"state file {path} was written by a newer version of monitor (schema {version},"
            f" this one knows {SCHEMA_VERSION}): upgrade monitor"
        )
    return int(version)


def migrate(db: sqlite3.Connection) -> None:
    """Bring a state file written by an older version up to this schema."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version >= SCHEMA_VERSION:
        return
    columns = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
    if "parts_sent" not in columns:
        db.execute("ALTER TABLE outbox ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0")
    if "rule" not in columns:
        db.execute("ALTER TABLE outbox ADD COLUMN rule TEXT")
    columns = {row[1] for row in db.execute("PRAGMA table_info(source_state)")}
    for name, kind in _HEALTH_COLUMNS.items():
        if name not in columns:
            db.execute(f"ALTER TABLE source_state ADD COLUMN {name} {kind}")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
