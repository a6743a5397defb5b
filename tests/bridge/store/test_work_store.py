"""Work status records in every store (the ``store`` fixture of conftest.py: memory,
SQLite, PostgreSQL): one contract (docs/protocol.md §11)."""

from __future__ import annotations

from pathlib import Path

from ai_connect.bridge.store.base import (
    ForgetOp,
    PeerRecord,
    PruneOp,
    Store,
    WorkRecord,
    WriteBatch,
)
from ai_connect.bridge.store.sqlite import SqliteStore

ALICE, BOB = "Alice (alpha)", "Bob (alpha)"


def peers(*addresses: str, seen: float = 100.0) -> list[PeerRecord]:
    return [PeerRecord(a, a.split()[0], "alpha", seen, seen) for a in addresses]


def test_a_work_status_is_upserted_by_address(store: Store) -> None:
    """A later status of an address replaces the earlier (also within one batch)."""
    assert store.works() == []
    store.commit(WriteBatch(peers=peers(ALICE, BOB), works=[WorkRecord(BOB, {"branch": "x"}, 1.0)]))
    store.commit(
        WriteBatch(
            works=[
                WorkRecord(ALICE, {"files": ["ü.py"], "activity": "idle"}, 2.0),
                WorkRecord(BOB, {"branch": "y"}, 3.0),
                WorkRecord(BOB, {"branch": "z"}, 4.0),
            ]
        )
    )
    assert store.works() == [
        WorkRecord(ALICE, {"files": ["ü.py"], "activity": "idle"}, 2.0),
        WorkRecord(BOB, {"branch": "z"}, 4.0),
    ]


def test_forgetting_or_pruning_an_address_removes_its_status(store: Store) -> None:
    """ForgetOp and retention's forgotten peers take their work status with them."""
    store.commit(WriteBatch(peers=peers(ALICE, BOB, seen=10.0)))
    works = [WorkRecord(ALICE, {"dirty": 1}, 11.0), WorkRecord(BOB, {"dirty": 2}, 12.0)]
    store.commit(WriteBatch(works=works))
    store.commit(WriteBatch(forgets=[ForgetOp(ALICE)]))
    assert [w.address for w in store.works()] == [BOB]
    store.commit(WriteBatch(prunes=[PruneOp(horizon=50.0, peers=(BOB,))]))
    assert store.works() == []


def test_a_status_of_a_later_batch_survives_reopening(tmp_path: Path) -> None:
    """SQLite: committed status is durable (read back by a new store on the file)."""
    with SqliteStore(tmp_path / "w.db") as first:
        first.commit(WriteBatch(peers=peers(ALICE), works=[WorkRecord(ALICE, {"head": "ab"}, 5.0)]))
    with SqliteStore(tmp_path / "w.db") as second:
        assert second.works() == [WorkRecord(ALICE, {"head": "ab"}, 5.0)]
