"""State storage: the Store protocol (base.py) and its backends on SQLite (sqlite.py) and PostgreSQL (postgres.py).

Marking items seen and queuing their alerts happen in one transaction, so a crash can never lose
an alert whose item was recorded as seen, nor queue one twice.
"""

from __future__ import annotations

from ..cluster import Cluster, Solo
from ..config_types import StateConfig
from .base import ChannelStatus, Reader, Sent, SourceStatus, Store
from .sqlite import SqliteStore
from .sqlite_schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "ChannelStatus",
    "Reader",
    "Sent",
    "SourceStatus",
    "SqliteStore",
    "Store",
    "cluster_for",
    "open_store",
]


async def open_store(state: StateConfig, *, readonly: bool = False) -> Store:
    """Open the state (state.url's database, else state.path's file): for writing, or read-only, never writing."""
    if state.url is not None:
        from .postgres import PostgresStore  # psycopg loads only for a PostgreSQL state

        return await PostgresStore.open(state.url, readonly=readonly)
    return SqliteStore(state.path, readonly=readonly)


def cluster_for(store: Store, state: StateConfig) -> Cluster:
    """How this instance shares the state: alone on a file, or with any others on a PostgreSQL database."""
    if state.url is None:
        return Solo()
    from .pg_cluster import PgCluster  # psycopg loads only for a PostgreSQL state
    from .postgres import PostgresStore

    if isinstance(store, PostgresStore) and not store.readonly:
        return PgCluster(store, takeover=state.takeover)
    return Solo()
