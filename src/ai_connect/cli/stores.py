"""The store a command's settings name: an SQLite file, or a PostgreSQL database by URL
(``--db postgresql://...``, docs/deploy.md). The stores load only when a command opens
one: hooks start through the same CLI and need neither sqlite3 nor psycopg."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ai_connect.config import BridgeSettings, redacted

if TYPE_CHECKING:
    from ai_connect.bridge.store.postgres import PostgresStore
    from ai_connect.bridge.store.sqlite import SqliteStore
    from ai_connect.bridge.store.sqlite.process import SqliteProcessStore

__all__ = ["database_name", "open_bridge_store", "open_store"]


def open_store(settings: BridgeSettings) -> SqliteStore | PostgresStore:
    """Opens (and migrates) the database ``settings`` name."""
    if settings.db_url is not None:
        from ai_connect.bridge.store.postgres import PostgresStore

        return PostgresStore(settings.db_url, synchronous=settings.synchronous)
    from ai_connect.bridge.store.sqlite import SqliteStore

    return SqliteStore(settings.db, synchronous=settings.synchronous)


def open_bridge_store(
    settings: BridgeSettings, *, process: bool
) -> SqliteStore | SqliteProcessStore | PostgresStore:
    """The bridge's store: as :func:`open_store`, but with ``process`` an SQLite file is
    written by a child process (store/sqlite/process.py: the bridge's second core).
    PostgreSQL stays in the bridge: its server is already another process."""
    if process and settings.db_url is None:
        from ai_connect.bridge.store.sqlite.process import SqliteProcessStore

        return SqliteProcessStore(settings.db, synchronous=settings.synchronous)
    return open_store(settings)


def database_name(settings: BridgeSettings) -> str:
    """The database as a person reads it: the file, or the URL without its password."""
    if settings.db_url is None:
        return str(settings.db)
    return redacted(settings.db_url)
