"""State storage: the Store protocol (base.py) and its backends on SQLite (sqlite.py) and PostgreSQL (postgres.py).

Marking items seen and queuing their alerts happen in one transaction, so a crash can never lose
an alert whose item was recorded as seen, nor queue one twice.
"""

from __future__ import annotations

from ..config_types import StateConfig
from .base import ChannelStatus, Sent, SourceStatus, Store
from .sqlite import SCHEMA_VERSION, SqliteStore

__all__ = ["SCHEMA_VERSION", "ChannelStatus", "Sent", "SourceStatus", "SqliteStore", "Store", "open_store"]


async def open_store(state: StateConfig, *, readonly: bool = False) -> Store:
    """Open the state (state.url's database, else state.path's file): for writing, or read-only, never writing."""
    if state.url is not None:
        from .postgres import PostgresStore  # psycopg loads only for a PostgreSQL state

        return await PostgresStore.open(state.url, readonly=readonly)
    return SqliteStore(state.path, readonly=readonly)
