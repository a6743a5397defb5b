"""One bridge per SQLite file (store/sqlite/lock.py): the second lock refuses, naming the first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.lock import DatabaseLock
from ai_connect.errors import StoreError


def test_a_second_lock_on_one_database_names_the_holder(tmp_path: Path) -> None:
    """The holder's pid and URL are in the refusal; after release the lock can be taken."""
    db = tmp_path / "bridge.db"
    with DatabaseLock(db) as first:
        first.announce("ws://127.0.0.1:9999")
        with pytest.raises(StoreError, match=rf"pid {os.getpid()} on .*ws://127.0.0.1:9999"):
            DatabaseLock(db).acquire()
    with DatabaseLock(db):
        pass


def test_the_lock_leaves_other_readers_and_writers_of_the_file_alone(tmp_path: Path) -> None:
    """`ai-connect token` and other tools open the store beside a running bridge."""
    db = tmp_path / "bridge.db"
    with DatabaseLock(db), SqliteStore(db) as bridge_store, SqliteStore(db) as tool:
        assert tool.peers() == bridge_store.peers() == []
