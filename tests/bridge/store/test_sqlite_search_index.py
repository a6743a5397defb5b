"""The SQLite search index kept behind the commits (store/sqlite/search_index.py): what a
commit leaves out of the index, search still finds, once; the writer's idle work
(``upkeep``) indexes it when due; deletes, numbers given out again, reopening, failures
and the upgrade from version 6 keep the index whole."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    PeerRecord,
    PruneOp,
    StoredMessage,
    WriteBatch,
)
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.bridge.store.sqlite import SqliteStore, search_index
from ai_connect.bridge.store.sqlite.search_index import INDEX_DELAY_S, RETRY_S, SearchIndex

ALICE = "Alice (alpha)"
BOB = "Bob (alpha)"
CAROL = "Carol (alpha)"
_CHECK = "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"
"""Raises unless the index holds every stored message once (so: only once none waits)."""


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def message(cid: str, body: str, sender: str = ALICE, ts: float = 1.0) -> StoredMessage:
    return StoredMessage(f"m-{sender[0]}-{cid}", sender, BOB, body, None, None, None, ts, cid)


def send(store: SqliteStore | MemoryStore, *messages: tuple[str, str, str]) -> None:
    """Commits (cid, body, recipient) messages from Alice in one batch."""
    ops = [AppendOp(message(cid, body), (to,)) for cid, body, to in messages]
    store.commit(WriteBatch(appends=ops))


def in_index(store: SqliteStore, word: str) -> list[int]:
    """The message numbers the FTS5 index itself holds for ``word`` (search aside)."""
    sql = "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid"
    return [n for (n,) in store._db.execute(sql, (f'"{word}"',))]


def upto(store: SqliteStore) -> int:
    ((value,),) = store._db.execute(search_index.UPTO).fetchall()
    return int(value)


def found(store: SqliteStore | MemoryStore, viewer: str, query: str) -> list[str]:
    return [m.cid for m in store.search(viewer, query, 100)[0]]


def test_a_commit_leaves_its_messages_out_of_the_index_and_search_finds_them_once(
    tmp_path: Path,
) -> None:
    clock = Clock()
    with SqliteStore(tmp_path / "t.db", clock=clock) as store:
        send(store, ("1", "deploy the bridge", BOB), ("2", "deploy again", BOB))
        assert in_index(store, "deploy") == []  # the commit did not index them
        assert found(store, BOB, "deploy") == ["2", "1"]
        assert store.upkeep() == pytest.approx(INDEX_DELAY_S)  # not due yet: nothing done
        assert in_index(store, "deploy") == []
        clock.now += INDEX_DELAY_S
        assert store.upkeep() is None  # indexed: nothing waits
        assert in_index(store, "deploy") == [1, 2]
        assert upto(store) == 2
        assert found(store, BOB, "deploy") == ["2", "1"]  # once each, from the index
        send(store, ("3", "deploy a third time", BOB))
        assert found(store, BOB, "deploy") == ["3", "2", "1"]  # the tail, then the index


def test_enough_waiting_messages_are_indexed_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "INDEX_BATCH", 3)
    with SqliteStore(tmp_path / "t.db", clock=Clock()) as store:
        send(store, ("1", "alpha", BOB), ("2", "alpha", BOB))
        assert store.upkeep() == pytest.approx(INDEX_DELAY_S)
        send(store, ("3", "alpha", BOB))
        assert store.upkeep() is None
        assert in_index(store, "alpha") == [1, 2, 3]


def test_a_commit_indexes_what_waits_when_too_much_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that is never idle still keeps the unindexed tail short."""
    monkeypatch.setattr(search_index, "INDEX_MOST", 4)
    with SqliteStore(tmp_path / "t.db", clock=Clock()) as store:
        send(store, *[(str(i), "busy", BOB) for i in range(1, 4)])
        assert in_index(store, "busy") == []
        send(store, *[(str(i), "busy", BOB) for i in range(4, 6)])  # 5 waiting: over 4
        assert in_index(store, "busy") == [1, 2, 3, 4, 5]
        assert upto(store) == 5
        assert store.upkeep() is None
        store._db.execute(_CHECK)


def test_a_large_commit_indexes_its_messages_and_what_waited_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the index's cost per transaction is spread already (a large commit), no
    transaction more: the commit indexes its messages, with those that waited."""
    monkeypatch.setattr(search_index, "INDEX_IN_COMMIT", 3)
    with SqliteStore(tmp_path / "t.db", clock=Clock()) as store:
        send(store, *[(str(i), "bulk", BOB) for i in range(1, 3)])  # 2: they wait
        assert in_index(store, "bulk") == []
        send(store, *[(str(i), "bulk", BOB) for i in range(3, 6)])  # 3: indexed, all
        assert in_index(store, "bulk") == [1, 2, 3, 4, 5]
        assert upto(store) == 5 and store.upkeep() is None
        store._db.execute(_CHECK)


@pytest.mark.parametrize("indexed_first", [0, 4, 9])
def test_search_pages_across_the_index_and_the_waiting_messages_as_memory_does(
    tmp_path: Path, indexed_first: int
) -> None:
    """Every page by count and by bytes, cursor after cursor, is MemoryStore's, however
    many of the messages are indexed; a message to someone else is never found."""
    clock = Clock()
    rows = [
        (str(i), f"plan {'step ' * (i % 4)}number{i}", CAROL if i % 5 == 0 else BOB)
        for i in range(1, 13)
    ]
    with SqliteStore(tmp_path / "t.db", clock=clock) as sqlite:
        memory = MemoryStore()
        for store in (sqlite, memory):
            send(store, *rows[:indexed_first])
        clock.now += INDEX_DELAY_S
        assert sqlite.upkeep() is None
        for store in (sqlite, memory):
            send(store, *rows[indexed_first:])
        assert upto(sqlite) == indexed_first
        for query in ("plan", "step", "plan step", "number7", "nothing"):
            for limit, max_bytes in ((1, None), (2, None), (5, None), (100, 40), (3, 90)):
                pages = {}
                for name, store in (("sqlite", sqlite), ("memory", memory)):
                    before, walk = None, []
                    while True:
                        page, before = store.search(BOB, query, limit, before, max_bytes)
                        walk.append([m.cid for m in page])
                        if before is None:
                            break
                    pages[name] = walk
                assert pages["sqlite"] == pages["memory"], (query, limit, max_bytes)
        assert "5" not in found(sqlite, BOB, "plan")  # to Carol


def test_deleting_waiting_and_indexed_messages_keeps_the_index_whole(tmp_path: Path) -> None:
    """Retention deletes messages on both sides of ``upto``: the delete trigger takes out
    of the index only those it holds (FTS5 told to delete a row it does not hold corrupts
    the index), and what is indexed later is only what is left."""
    clock = Clock()
    with SqliteStore(tmp_path / "t.db", clock=clock) as store:
        store.commit(WriteBatch(peers=[PeerRecord(BOB, "Bob", "alpha", 1.0, 1e9)]))
        ops = [AppendOp(message(str(i), f"keep word{i}", ts=float(i)), (BOB,)) for i in range(1, 7)]
        store.commit(WriteBatch(appends=ops[:3]))
        clock.now += INDEX_DELAY_S
        assert store.upkeep() is None  # 1-3 indexed
        store.commit(WriteBatch(appends=ops[3:], acks=[AckOp(BOB, 6)]))  # 4-6 wait
        # Prune 2 (indexed) and 4, 5 (waiting): everything older than 5.5, but message 1.
        store._db.execute("UPDATE messages SET ts = 100 WHERE n = 1")
        assert store.commit(WriteBatch(prunes=[PruneOp(5.5)])).pruned == 4
        assert found(store, BOB, "keep") == ["6", "1"]
        clock.now += INDEX_DELAY_S
        assert store.upkeep() is None
        assert in_index(store, "keep") == [1, 6]
        store._db.execute(_CHECK)
        assert found(store, BOB, "keep") == ["6", "1"]


def test_a_number_given_out_again_after_the_newest_were_deleted_is_indexed(
    tmp_path: Path,
) -> None:
    """Numbers are max(n) + 1: once every message is pruned, the next one is number 1
    again, below ``upto``: the commit lowers ``upto`` so that it is found and indexed."""
    clock = Clock()
    with SqliteStore(tmp_path / "t.db", clock=clock) as store:
        store.commit(WriteBatch(peers=[PeerRecord(BOB, "Bob", "alpha", 1.0, 1e9)]))
        send(store, ("1", "old one", BOB), ("2", "old two", BOB))
        clock.now += INDEX_DELAY_S
        assert store.upkeep() is None
        store.commit(WriteBatch(acks=[AckOp(BOB, 2)]))
        assert store.commit(WriteBatch(prunes=[PruneOp(100.0)])).pruned == 2
        store.commit(WriteBatch(appends=[AppendOp(message("3", "fresh one", ts=200.0), (BOB,))]))
        assert store._db.execute("SELECT n FROM messages").fetchall() == [(1,)]
        assert upto(store) == 0
        assert found(store, BOB, "fresh") == ["3"]
        clock.now += INDEX_DELAY_S
        assert store.upkeep() is None
        assert in_index(store, "fresh") == [1]
        assert found(store, BOB, "one") == ["3"]
        store._db.execute(_CHECK)


def test_a_reopened_store_indexes_what_the_last_one_left(tmp_path: Path) -> None:
    """Stopped (or killed) before its idle work, a bridge leaves messages unindexed: the
    next one finds them at once and indexes them when due."""
    path = tmp_path / "t.db"
    with SqliteStore(path) as store:
        send(store, ("1", "left behind", BOB))
    clock = Clock()
    with SqliteStore(path, clock=clock) as store:
        assert found(store, BOB, "behind") == ["1"]
        assert store.upkeep() == pytest.approx(INDEX_DELAY_S)
        clock.now += INDEX_DELAY_S
        assert store.upkeep() is None
        assert in_index(store, "behind") == [1]
        store._db.execute(_CHECK)


def test_a_failed_indexing_is_tried_again_later_and_search_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    failures = [sqlite3.OperationalError("database or disk is full")]

    def step(self: SearchIndex, db: sqlite3.Connection) -> int:
        if failures:
            raise failures.pop()
        return real_step(self, db)

    real_step = SearchIndex.step
    monkeypatch.setattr(SearchIndex, "step", step)
    with SqliteStore(tmp_path / "t.db", clock=clock) as store:
        send(store, ("1", "disk trouble", BOB))
        clock.now += INDEX_DELAY_S
        with caplog.at_level(logging.WARNING, logger="ai_connect.bridge.store"):
            assert store.upkeep() == pytest.approx(RETRY_S)
        assert "could not index messages for search" in caplog.text
        assert "disk is full" in caplog.text and "tried again in 5 s" in caplog.text
        assert upto(store) == 0 and in_index(store, "trouble") == []
        assert found(store, BOB, "trouble") == ["1"]
        send(store, ("2", "more trouble", BOB))  # commits go on meanwhile
        clock.now += RETRY_S
        assert store.upkeep() is None
        assert in_index(store, "trouble") == [1, 2]
        store._db.execute(_CHECK)


def test_upkeep_of_a_closed_store_does_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    send(store, *[(str(i), "late", BOB) for i in range(300)])  # due at once
    store.close()
    assert store.upkeep() is None


def test_a_version_6_database_is_upgraded_with_its_index_whole(tmp_path: Path) -> None:
    """Until version 7 every commit indexed its messages: the upgrade counts them all as
    indexed, and its delete trigger skips what is not indexed yet."""
    path = tmp_path / "t.db"
    clock = Clock()
    with SqliteStore(path, clock=clock) as store:
        store.commit(WriteBatch(peers=[PeerRecord(BOB, "Bob", "alpha", 1.0, 1e9)]))
        send(store, ("1", "before upgrade", BOB), ("2", "before too", BOB))
        clock.now += INDEX_DELAY_S
        assert store.upkeep() is None
    db = sqlite3.connect(path, isolation_level=None)  # back to version 6 as it was
    db.execute("DROP TABLE search_index")
    db.execute("DROP TRIGGER messages_fts_delete")
    db.execute(
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN INSERT INTO "
        "messages_fts (messages_fts, rowid, body) VALUES ('delete', old.n, old.body); END"
    )
    db.execute("PRAGMA user_version = 6")
    db.close()
    with SqliteStore(path, clock=clock) as store:
        assert upto(store) == 2
        assert store.upkeep() is None  # nothing waits
        assert found(store, BOB, "before") == ["2", "1"]
        sql = "SELECT sql FROM sqlite_master WHERE name = 'messages_fts_delete'"
        assert (
            "WHEN old.n <= (SELECT upto FROM search_index)" in store._db.execute(sql).fetchone()[0]
        )
        send(store, ("3", "after upgrade", BOB))
        store.commit(WriteBatch(acks=[AckOp(BOB, 3)]))
        store._db.execute("UPDATE messages SET ts = 0")
        assert store.commit(WriteBatch(prunes=[PruneOp(0.5)])).pruned == 3
        store._db.execute(_CHECK)


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_indexing_commits_without_a_sync_and_commits_keep_theirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synchronous: str
) -> None:
    """A power cut may take an indexing transaction back whole (its cursor with it): it
    does not wait for the disk; the commits of messages keep their setting, also after a
    failed indexing."""
    seen: list[int] = []
    failures = [sqlite3.OperationalError("disk I/O error")]

    def step(self: SearchIndex, db: sqlite3.Connection) -> int:
        seen.append(db.execute("PRAGMA synchronous").fetchone()[0])
        if failures:
            raise failures.pop()
        return real_step(self, db)

    real_step = SearchIndex.step
    monkeypatch.setattr(SearchIndex, "step", step)
    clock = Clock()
    setting = {"FULL": 2, "NORMAL": 1}[synchronous]
    with SqliteStore(tmp_path / "t.db", synchronous=synchronous, clock=clock) as store:
        send(store, ("1", "sync", BOB))
        clock.now += INDEX_DELAY_S
        assert store.upkeep() == pytest.approx(RETRY_S)  # failed
        assert store._db.execute("PRAGMA synchronous").fetchone() == (setting,)
        clock.now += RETRY_S
        assert store.upkeep() is None
        assert store._db.execute("PRAGMA synchronous").fetchone() == (setting,)
    assert seen == [1, 1]  # NORMAL
