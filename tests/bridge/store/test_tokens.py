"""The token part of the store contract (tokens, put_token, revoke_token) on both backends."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from ai_connect.bridge.auth import new_token
from ai_connect.bridge.store.base import Store, TokenRecord
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.schema import MIGRATIONS, checksum
from ai_connect.errors import StoreError


def token(name: str, created: float, *names: str, admin: bool = False) -> TokenRecord:
    """A new token's record, expiring a minute after ``created``."""
    return new_token(name, names, admin=admin, now=created, expires=created + 60)[1]


def test_tokens_come_back_as_stored_oldest_first(store: Store) -> None:
    """put_token then tokens() returns every field unchanged, by creation time."""
    late, early = token("late", 20.0, "a*", "b (p)", admin=True), token("early", 10.0)
    store.put_token(late)
    store.put_token(early)
    assert store.tokens() == [early, late]


def test_a_duplicate_id_or_hash_is_refused(store: Store) -> None:
    """A second token with the same id, or the same hash, raises StoreError; nothing changes."""
    first = token("a", 1.0)
    store.put_token(first)
    same_id = dataclasses.replace(token("b", 2.0), id=first.id)
    with pytest.raises(StoreError):
        store.put_token(same_id)
    other = token("c", 3.0)
    with pytest.raises(StoreError):
        store.put_token(TokenRecord(other.id, "c", first.hash, ("c",), False, 3.0))
    assert store.tokens() == [first]


def test_revoking_marks_the_time_once(store: Store) -> None:
    """revoke_token is True the first time, False after, and False for an unknown id."""
    record = token("a", 1.0)
    store.put_token(record)
    assert store.revoke_token(record.id, 5.0) is True
    assert store.revoke_token(record.id, 6.0) is False
    assert store.revoke_token("nope0000", 6.0) is False
    (stored,) = store.tokens()
    assert stored.revoked == 5.0


def test_tokens_survive_a_reopen(tmp_path: Path) -> None:
    """Tokens and revocations are durable in the SQLite file."""
    record = token("a", 1.0)
    with SqliteStore(tmp_path / "t.db") as store:
        store.put_token(record)
        store.revoke_token(record.id, 2.0)
    with SqliteStore(tmp_path / "t.db") as store:
        assert [t.revoked for t in store.tokens()] == [2.0]


def test_another_connection_sees_a_token_at_once(tmp_path: Path) -> None:
    """A token the CLI writes through a second store on the file is read by the bridge's store."""
    with SqliteStore(tmp_path / "t.db") as bridge, SqliteStore(tmp_path / "t.db") as cli:
        assert bridge.tokens() == []
        record = token("a", 1.0)
        cli.put_token(record)
        assert bridge.tokens() == [record]
        cli.revoke_token(record.id, 2.0)
        assert bridge.tokens()[0].revoked == 2.0


def test_a_version_1_database_gains_the_tokens_table(tmp_path: Path) -> None:
    """Opening a schema-1 database migrates it to the current one and keeps its peers and
    messages; each message stored before gets its checksum (version 3)."""
    path = tmp_path / "t.db"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("INSERT INTO peers VALUES ('Bob (p)', 'Bob', 'p', 1.0, 1.0, 1, 0)")
    db.execute(
        "INSERT INTO messages (n, id, sender, cid, target, body, context, ts)"
        " VALUES (1, 'm1', 'Alice (p)', '1', 'Bob (p)', 'hello', '{\"a\":1}', 5.0)"
    )
    db.execute("INSERT INTO mailbox VALUES ('Bob (p)', 1, 1)")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with SqliteStore(path) as store:
        (entry,) = store.pending("Bob (p)", 0, 10, 10_000)
        assert (entry.message.cid, entry.message.context, entry.damaged) == ("1", {"a": 1}, None)
        store.put_token(token("a", 1.0))
        assert len(store.tokens()) == 1
    db = sqlite3.connect(path)
    assert db.execute("SELECT checksum FROM messages").fetchone() == (
        checksum(b"hello", b'{"a":1}'),
    )
    db.close()


def test_a_closed_store_refuses_token_calls(store: Store) -> None:
    """After close, every token call raises StoreError."""
    store.close()
    for call in (store.tokens, lambda: store.put_token(token("a", 1.0))):
        with pytest.raises(StoreError):
            call()
