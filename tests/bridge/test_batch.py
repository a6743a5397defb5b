"""bridge/batch.py: a loop turn's Persist actions into one WriteBatch, and back."""

from __future__ import annotations

import pytest

from ai_connect.bridge.batch import committed, write_batch
from ai_connect.bridge.events import Origin, Persist
from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    AppendResult,
    CommitResult,
    ProposalRecord,
    StoredMessage,
)
from ai_connect.bridge.store.memory import MemoryStore

from .helpers import addr, peer_record


def message(cid: str, to: str = "Bob (proj)") -> StoredMessage:
    return StoredMessage(
        id=f"m-{cid}",
        sender=addr("Alice"),
        to=to,
        body=f"body {cid}",
        context=None,
        thread=None,
        reply_to=None,
        ts=1_000.0,
        cid=cid,
    )


def append(cid: str) -> Persist:
    return Persist(AppendOp(message(cid), (addr("Bob"),)), Origin(1, f"r-{cid}"))


def mixed() -> list[Persist]:
    """Every kind of write, interleaved as a busy loop turn produces them."""
    return [
        Persist(peer_record("Alice")),
        append("c1"),
        Persist(AckOp(addr("Bob"), 3)),
        Persist(ProposalRecord("p1", {"id": "p1"})),
        append("c2"),
        Persist(peer_record("Bob")),
        Persist(AckOp(addr("Alice"), 1)),
    ]


def test_write_batch_sorts_each_kind_and_keeps_its_order() -> None:
    """Peers, appends, acks and proposals each land in their list, in arrival order."""
    persists = mixed()
    batch = write_batch(persists)
    assert [p.address for p in batch.peers] == [addr("Alice"), addr("Bob")]
    assert [a.message.cid for a in batch.appends] == ["c1", "c2"]
    assert batch.acks == [AckOp(addr("Bob"), 3), AckOp(addr("Alice"), 1)]
    assert [p.id for p in batch.proposals] == ["p1"]


def test_write_batch_of_nothing_is_empty() -> None:
    """No actions make a batch that is falsy: the server skips the store for it."""
    assert not write_batch([])


def test_committed_pairs_each_append_with_its_result_in_order() -> None:
    """The i-th append result belongs to the i-th AppendOp, whatever lies between them."""
    persists = mixed()
    result = MemoryStore().commit(write_batch(persists))
    event = committed(persists, result)
    assert [(p.origin, r.message.cid) for p, r in event.appends] == [
        (Origin(1, "r-c1"), "c1"),
        (Origin(1, "r-c2"), "c2"),
    ]
    assert [p.op for p in event.acks] == [AckOp(addr("Bob"), 3), AckOp(addr("Alice"), 1)]
    assert [p.op for p in event.proposals] == [ProposalRecord("p1", {"id": "p1"})]


def test_committed_refuses_a_result_that_does_not_match_the_appends() -> None:
    """A store returning one result too few is a bug: no result is paired with the wrong message."""
    persists = [append("c1"), append("c2")]
    short = CommitResult([AppendResult(message("c1"), {addr("Bob"): 1}, duplicate=False)])
    with pytest.raises(ValueError):
        committed(persists, short)
