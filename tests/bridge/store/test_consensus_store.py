"""Proposal records in both stores: one contract (docs/protocol.md §8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_connect.bridge.store.base import (
    AppendOp,
    ProposalRecord,
    Store,
    StoredMessage,
    WriteBatch,
)
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.errors import StoreError


def test_no_proposals_at_first(store: Store) -> None:
    """A new store has no proposals."""
    assert store.proposals() == []


def test_a_proposal_is_upserted_by_id(store: Store) -> None:
    """A later record of the same id replaces the earlier; records come back by id."""
    store.commit(WriteBatch(proposals=[ProposalRecord("p2", {"v": 1})]))
    store.commit(WriteBatch(proposals=[ProposalRecord("p1", {"v": 1, "ü": ["x"]})]))
    store.commit(WriteBatch(proposals=[ProposalRecord("p2", {"v": 2})]))
    assert store.proposals() == [
        ProposalRecord("p1", {"v": 1, "ü": ["x"]}),
        ProposalRecord("p2", {"v": 2}),
    ]


def test_the_last_record_of_an_id_in_one_batch_wins(store: Store) -> None:
    """Two records of one id in a batch: the later is stored."""
    batch = WriteBatch(proposals=[ProposalRecord("p", {"v": 1}), ProposalRecord("p", {"v": 2})])
    assert batch
    store.commit(batch)
    assert store.proposals() == [ProposalRecord("p", {"v": 2})]


def test_a_bad_proposal_stores_nothing_of_its_batch(store: Store) -> None:
    """An unserialisable record fails the whole batch: its messages are not stored either."""
    msg = StoredMessage("m1", "A (p)", "B (p)", "hi", None, None, None, 1.0, "c1")
    batch = WriteBatch(
        appends=[AppendOp(msg, ("B (p)",))],
        proposals=[ProposalRecord("p", {"bad": object()})],
    )
    with pytest.raises(StoreError):
        store.commit(batch)
    assert store.proposals() == []
    assert store.pending("B (p)", 0, 10, 10_000) == []


def test_proposals_survive_reopening(tmp_path: Path) -> None:
    """A proposal committed in SQLite is there after the file is opened again."""
    with SqliteStore(tmp_path / "t.db") as first:
        first.commit(WriteBatch(proposals=[ProposalRecord("p", {"ballots": [1]})]))
    with SqliteStore(tmp_path / "t.db") as second:
        assert second.proposals() == [ProposalRecord("p", {"ballots": [1]})]
