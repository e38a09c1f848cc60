"""State storage: the Store protocol (base.py) and its backend on SQLite (sqlite.py).

Marking items seen and queuing their alerts happen in one transaction, so a crash can never lose
an alert whose item was recorded as seen, nor queue one twice.
"""

from __future__ import annotations

from pathlib import Path

from .base import ChannelStatus, Sent, SourceStatus, Store
from .sqlite import SCHEMA_VERSION, SqliteStore

__all__ = ["SCHEMA_VERSION", "ChannelStatus", "Sent", "SourceStatus", "SqliteStore", "Store", "open_store"]


def open_store(path: Path, *, readonly: bool = False) -> Store:
    """Open the state: for writing (created with its folders), or read-only, never writing anything."""
    return SqliteStore(path, readonly=readonly)
