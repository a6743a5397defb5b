"""Every backend under one ``store`` fixture: the contract tests run on each of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_connect.bridge.store.base import Store
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.process import SqliteProcessStore
from tests.pg import PgServer

BACKENDS = ["memory", "sqlite", "sqlite-process", "postgres"]
"""``sqlite-process``: SQLite written by a child process (issue 13, item 5)."""


def open_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A new empty store of ``kind`` (PostgreSQL: a new database on the session's server)."""
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(tmp_path / "t.db")
    if kind == "sqlite-process":
        return SqliteProcessStore(tmp_path / "t.db")
    server: PgServer = request.getfixturevalue("pg_server")
    return PostgresStore(server.new_database())


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    backend = open_backend(request.param, request, tmp_path)
    yield backend
    backend.close()
