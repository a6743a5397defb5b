"""Group commit, the pure half: a loop turn's ``Persist`` actions in, one ``WriteBatch`` out,
and the store's ``CommitResult`` back into the ``Committed`` event the router answers.

The server (``bridge/server.py``) collects the ``Persist`` actions of a loop turn, hands
``write_batch(persists)`` to the store's worker thread (one transaction), and feeds
``committed(persists, result)`` back to the router, which then sends ``accepted`` and
``deliver`` frames (docs/protocol.md §4). Nothing here does I/O; the bridge-core tests
run the same two functions without an event loop.
"""

from __future__ import annotations

from collections.abc import Sequence

from ai_connect.bridge.events import Committed, Persist
from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    BuryOp,
    CommitResult,
    DeliveredOp,
    ForgetOp,
    LeaseDrop,
    LeaseRecord,
    PeerRecord,
    ProposalRecord,
    PruneOp,
    WorkRecord,
    WriteBatch,
)

__all__ = ["committed", "write_batch"]


def write_batch(persists: Sequence[Persist]) -> WriteBatch:
    """The writes of ``persists`` sorted into one batch, each kind in its original order."""
    batch = WriteBatch()
    for p in persists:
        match p.op:
            case AppendOp():  # first: nearly every write of a busy bridge
                batch.appends.append(p.op)
            case PeerRecord():
                batch.peers.append(p.op)
            case AckOp():
                batch.acks.append(p.op)
            case ProposalRecord():
                batch.proposals.append(p.op)
            case ForgetOp():
                batch.forgets.append(p.op)
            case BuryOp():
                batch.buries.append(p.op)
            case PruneOp():
                batch.prunes.append(p.op)
            case DeliveredOp():
                batch.delivered.append(p.op)
            case WorkRecord():
                batch.works.append(p.op)
            case LeaseRecord():
                batch.leases.append(p.op)
            case LeaseDrop():
                batch.lease_drops.append(p.op)
    return batch


def committed(persists: Sequence[Persist], result: CommitResult, now: float = 0.0) -> Committed:
    """The event that tells the router ``write_batch(persists)`` is durable.

    The store returns one ``AppendResult`` per append, in the batch's order; each is
    paired with the ``Persist`` it came from. A count that differs is a store bug and
    raises ``ValueError`` rather than pairing a result with the wrong message.
    """
    appends: list[Persist] = []
    acks: list[Persist] = []
    proposals: list[Persist] = []
    forgets: list[Persist] = []
    upkeep: list[Persist] = []
    leases: list[Persist] = []
    for p in persists:  # one pass, appends first: nearly every write of a busy bridge
        op = p.op
        if isinstance(op, AppendOp):
            appends.append(p)
        elif isinstance(op, AckOp):
            acks.append(p)
        elif isinstance(op, ProposalRecord):
            proposals.append(p)
        elif isinstance(op, ForgetOp):
            forgets.append(p)
        elif isinstance(op, BuryOp | PruneOp):
            upkeep.append(p)
        elif isinstance(op, LeaseRecord | LeaseDrop):
            leases.append(p)
    appended = tuple(zip(appends, result.appends, strict=True))
    return Committed(
        appended,
        tuple(acks),
        tuple(proposals),
        tuple(forgets),
        tuple(upkeep),
        result.pruned,
        now,
        tuple(leases),
        result.proposals,
    )
