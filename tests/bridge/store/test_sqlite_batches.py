"""SqliteStore's set-based commits: each table written in a few multi-row statements.

The contract itself is in test_contract.py (run on both stores); these tests cover what
the set-based path could get wrong: rows split over several statements, padding rows,
merged duplicates, exact values, and the search index filled once per commit.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    DeliveredOp,
    PeerRecord,
    StoredMessage,
    WriteBatch,
)
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.search_index import INDEX_DELAY_S
from ai_connect.errors import StoreError

ALICE = "Alice (alpha)"
BOB = "Bob (alpha)"


def message(cid: str, body: str = "hello", sender: str = ALICE, **extra: Any) -> StoredMessage:
    fields: dict[str, Any] = {"context": None, "thread": None, "reply_to": None, "ts": 1.5}
    fields.update(extra)
    fields.setdefault("id", f"{sender}/{cid}")
    return StoredMessage(sender=sender, to=BOB, body=body, cid=cid, **fields)


def appends(count: int, start: int = 0, to: tuple[str, ...] = (BOB,)) -> list[AppendOp]:
    return [AppendOp(message(str(i), f"body {i}"), to) for i in range(start, start + count)]


def small_parameter_limit(store: SqliteStore, limit: int = 40) -> None:
    """Makes the store chunk as an old SQLite (999 parameters) would, only sooner."""
    store._db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
    store._writer._max_params = limit


def test_batch_larger_than_one_statement_keeps_order_and_seqs(tmp_path: Path) -> None:
    """A batch split over several statements numbers and stores every message, in order."""
    with SqliteStore(tmp_path / "t.db") as store:
        small_parameter_limit(store)  # 4 messages, 13 mailbox rows per statement
        results = store.commit(WriteBatch(appends=appends(50))).appends
        assert [r.seqs for r in results] == [{BOB: i} for i in range(1, 51)]
        entries = store.pending(BOB, 0, 100, 10**6)
        assert [e.message.body for e in entries] == [f"body {i}" for i in range(50)]
        again = store.commit(WriteBatch(appends=appends(50))).appends
        assert all(r.duplicate for r in again)
        assert [r.seqs for r in again] == [r.seqs for r in results]


def test_broadcast_to_more_recipients_than_one_statement_holds(tmp_path: Path) -> None:
    """A broadcast to 1,500 recipients (beyond one statement) numbers each mailbox once."""
    crowd = tuple(f"Peer{i} (crowd)" for i in range(1500))
    with SqliteStore(tmp_path / "t.db") as store:
        store.commit(WriteBatch(appends=[AppendOp(message("warm"), crowd[:10])]))
        (result,) = store.commit(WriteBatch(appends=[AppendOp(message("b"), crowd)])).appends
        assert result.seqs == {r: 2 if i < 10 else 1 for i, r in enumerate(crowd)}
        tips = {p.address: p.tip for p in store.peers()}
        assert tips == result.seqs
        store.commit(WriteBatch(acks=[AckOp(r, 5) for r in crowd]))
        assert {p.address: p.acked for p in store.peers()} == tips


def test_every_batch_size_round_trips(tmp_path: Path) -> None:
    """Batches of 1 to 70 messages (every padded size up to 96) store exactly what was sent."""
    with SqliteStore(tmp_path / "t.db") as store:
        memory = MemoryStore()
        start = 0
        for size in range(1, 71):
            batch = WriteBatch(appends=appends(size, start), acks=[AckOp(BOB, start // 2)])
            assert store.commit(batch) == memory.commit(batch)
            start += size
        assert store.pending(BOB, 0, 10_000, 10**9) == memory.pending(BOB, 0, 10_000, 10**9)
        assert store.peers() == memory.peers()


def test_texts_and_timestamps_are_stored_exactly(tmp_path: Path) -> None:
    """NUL and other control characters, non-BMP text and any float ts come back unchanged."""
    rng = random.Random(7)
    odd = ["a\x00b", "\x00", "tab\tnl\n", "é😀\u2028", '"quoted" \\ back', "\\u0000"]
    ops = [
        AppendOp(
            message(
                f"c{i}\x00",
                body=text,
                context={"k\x00": text, "n": i},
                thread=text,
                reply_to=text,
                ts=rng.uniform(-1e12, 1e12) if i % 2 else rng.random() * 1e-300,
            ),
            (BOB,),
        )
        for i, text in enumerate(odd * 3)
    ]
    with SqliteStore(tmp_path / "t.db") as store:
        sent = [r.message for r in store.commit(WriteBatch(appends=ops)).appends]
        assert sent == [op.message for op in ops]
        assert [e.message for e in store.pending(BOB, 0, 100, 10**6)] == sent
        again = store.commit(WriteBatch(appends=ops[:3])).appends
        assert [r.duplicate for r in again] == [True] * 3
        assert [r.message for r in again] == sent[:3]


def test_duplicates_in_one_batch_and_against_the_store(tmp_path: Path) -> None:
    """In one batch: a new cid twice and an already stored cid both come back as duplicates."""
    with SqliteStore(tmp_path / "t.db") as store:
        (stored,) = store.commit(WriteBatch(appends=[AppendOp(message("old"), (BOB,))])).appends
        ops = [AppendOp(message(cid, f"new {cid}"), (BOB,)) for cid in ("x", "old", "x", "y")]
        results = store.commit(WriteBatch(appends=ops)).appends
        assert [r.duplicate for r in results] == [False, True, True, False]
        assert results[1].message == stored.message and results[1].seqs == {BOB: 1}
        assert results[2].message == results[0].message and results[2].seqs == {BOB: 2}
        assert [e.message.cid for e in store.pending(BOB, 0, 10, 10**6)] == ["old", "x", "y"]


def test_same_peer_twice_in_one_batch_keeps_first_seen_and_last_values(tmp_path: Path) -> None:
    """Two upserts of one peer in a batch: first_seen of the first, the rest of the last."""
    with SqliteStore(tmp_path / "t.db") as store:
        first = PeerRecord(BOB, "Bob", "alpha", 1.0, 1.0)
        later = PeerRecord(BOB, "Bobby", "alpha", 5.0, 5.0)
        store.commit(WriteBatch(peers=[first, later]))
        assert store.peers() == [PeerRecord(BOB, "Bobby", "alpha", 1.0, 5.0)]
        store.commit(WriteBatch(peers=[PeerRecord(BOB, "Bob", "alpha", 9.0, 9.0), first]))
        assert store.peers() == [PeerRecord(BOB, "Bob", "alpha", 1.0, 1.0)]


def test_several_acks_of_one_peer_in_a_batch_keep_the_highest(tmp_path: Path) -> None:
    """Acks of one recipient in one batch leave the highest, capped at the tip, never lower."""
    with SqliteStore(tmp_path / "t.db") as store:
        store.commit(WriteBatch(appends=appends(5)))
        store.commit(WriteBatch(acks=[AckOp(BOB, 3), AckOp(BOB, 1), AckOp(BOB, 2)]))
        assert [(p.tip, p.acked) for p in store.peers()] == [(5, 3)]
        store.commit(WriteBatch(acks=[AckOp(BOB, 2), AckOp(BOB, 99), AckOp("Nobody (x)", 4)]))
        assert [(p.address, p.tip, p.acked) for p in store.peers()] == [(BOB, 5, 5)]


def test_search_finds_every_message_of_a_batch_and_after_reopen(tmp_path: Path) -> None:
    """The index gets each message once (after the commits: search_index.py): found by any
    word before and after, also after reopening."""
    path = tmp_path / "t.db"
    ops = [AppendOp(message(str(i), f"shared word{i}"), (BOB,)) for i in range(300)]
    with SqliteStore(path) as store:
        store.commit(WriteBatch(appends=ops[:120]))
        store.commit(WriteBatch(appends=ops[120:] + ops[:5]))  # resent ones are not re-indexed
        assert len(store.search(BOB, "shared", 1000)[0]) == 300
        assert [m.cid for m in store.search(ALICE, "word7", 10)[0]] == ["7"]
    now = [0.0]
    with SqliteStore(path, clock=lambda: now[0]) as store:
        assert len(store.search(BOB, "SHARED", 1000)[0]) == 300
        store.commit(WriteBatch(appends=[AppendOp(message("late", "shared late"), (BOB,))]))
        assert [m.cid for m in store.search(BOB, "late shared", 10)[0]] == ["late"]
        now[0] += INDEX_DELAY_S
        assert store.upkeep() is None  # all 301 indexed: nothing waits after
        assert len(store.search(BOB, "SHARED", 1000)[0]) == 301
        assert [m.cid for m in store.search(BOB, "late shared", 10)[0]] == ["late"]
        # Raises if the index and the messages disagree (an entry missing or twice).
        check = "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"
        store._db.execute(check)


def test_failed_batch_leaves_nothing_in_the_index(tmp_path: Path) -> None:
    """A batch rolled back after its messages were indexed leaves no trace in search."""
    with SqliteStore(tmp_path / "t.db") as store:
        store.commit(WriteBatch(appends=[AppendOp(message("1", "kept"), (BOB,))]))
        clash = AppendOp(message("2", "ghost", id=f"{ALICE}/1"), (BOB,))
        batch = WriteBatch(appends=[AppendOp(message("3", "ghost"), (BOB,)), clash])
        with pytest.raises(StoreError):
            store.commit(batch)
        assert store.search(BOB, "ghost", 10)[0] == []
        assert [m.body for m in store.search(BOB, "kept", 10)[0]] == ["kept"]


def _drain_batch(acks: int, start: int = 0) -> WriteBatch:
    """One commit of a backlog's drain: ``acks`` acks of 100 entries each from ``start``,
    each with the delivery mark of the 100 entries the window then let out."""
    batch = WriteBatch()
    for i in range(1, acks + 1):
        batch.delivered.append(DeliveredOp(BOB, start + 200 + 100 * i, float(i)))
        batch.acks.append(AckOp(BOB, start + 100 * i, "tool", 100.0 + i))
    return batch


def _steps(store: SqliteStore, batch: WriteBatch) -> int:
    """SQLite virtual-machine steps (in hundreds) the commit of ``batch`` takes."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    store._db.set_progress_handler(count, 100)
    try:
        store.commit(batch)
    finally:
        store._db.set_progress_handler(None, 100)
    return steps[0]


def test_receipt_marks_of_a_drain_visit_each_entry_once(tmp_path: Path) -> None:
    """A commit carrying many acks and delivery marks of one mailbox (a backlog's drain)
    costs in proportion to the entries it marks: each mark starts where the one before
    it stopped instead of rescanning from the acked cursor (issue 13); the marks are
    exactly the in-memory store's."""
    with SqliteStore(tmp_path / "t.db") as store:
        memory = MemoryStore()
        for start in range(0, 6000, 500):
            batch = WriteBatch(appends=appends(500, start))
            store.commit(batch)
            memory.commit(batch)
        one = _steps(store, _drain_batch(1))
        memory.commit(_drain_batch(1))
        many = _steps(store, _drain_batch(40, 100))
        memory.commit(_drain_batch(40, 100))
        # 40 times the entries: at most ~40 times the work (before: ~40 * 40 / 2).
        assert many <= 60 * max(one, 1), (one, many)
        for i in range(0, 6000, 97):
            mid = f"{ALICE}/{i}"
            assert store.receipts(mid) == memory.receipts(mid), i
