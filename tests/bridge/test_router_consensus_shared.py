"""Votes on a database several bridge nodes share (issue 14): another node may have stored
a newer version of a proposal since this node read it. Each change carries its
``rebase``, which the shared store applies to the stored version under its write lock
(``store/rules.rebased``); the router answers from what was stored. Here a MemoryStore
plays that store, and "another node" writes into it directly."""

from __future__ import annotations

import dataclasses
from typing import Any

from ai_connect.bridge.consensus import Choice, Proposal, cast, withdraw
from ai_connect.bridge.consensus_router import BRIDGE_SENDER
from ai_connect.bridge.events import ProposalsStored, RereadProposals
from ai_connect.bridge.store.base import CommitResult, ProposalRecord, WriteBatch
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.bridge.store.rules import rebased
from ai_connect.protocol import ErrorCode, ProposalInfo

from .helpers import Bridge, addr, delivers, errors, one

ALICE, BOB, CAROL = addr("alice"), addr("bob"), addr("carol")


class SharedStore(MemoryStore):
    """A MemoryStore that rebases proposal records as the PostgreSQL store does."""

    def commit(self, batch: WriteBatch) -> CommitResult:
        if batch.proposals:
            stored = {p.id: p.data for p in self.proposals()}
            written = rebased(stored, batch.proposals)
            last = {r.id: r for r in batch.proposals}
            batch.proposals = [ProposalRecord(i, written.get(i, r.data)) for i, r in last.items()]
            return dataclasses.replace(super().commit(batch), proposals=written)
        return super().commit(batch)


def three() -> Bridge:
    bridge = Bridge()
    bridge.store = SharedStore()
    for conn, name in enumerate(["alice", "bob", "carol"], start=1):
        bridge.join(conn, name)
    return bridge


def propose(bridge: Bridge, **fields: Any) -> Proposal:
    bridge.frame(1, type="propose", rid="p", participants=["bob", "carol"], question="q", **fields)
    return Proposal.from_dict(one(ProposalInfo, bridge.settle(), 1).proposal)


def elsewhere(bridge: Bridge, p: Proposal) -> None:
    """Another node stores ``p`` (this node has not heard of it yet)."""
    bridge.store.commit(WriteBatch(proposals=[ProposalRecord(p.id, p.to_dict())]))


def test_a_vote_stored_on_another_node_meanwhile_counts_too_and_the_verdict_follows() -> None:
    """carol's approve was stored through another node; bob's approve here is applied on
    top of it: both ballots stored, the unanimous verdict reaches everyone once."""
    bridge = three()
    p = propose(bridge, rule="unanimous")
    elsewhere(bridge, cast(p, CAROL, Choice.APPROVE, "", bridge.now))
    bridge.frame(2, type="vote", rid="v", proposal=p.id, choice="approve")
    out = bridge.settle()
    info = one(ProposalInfo, out, 2).proposal
    assert sorted(b["voter"] for b in info["ballots"]) == [BOB, CAROL]
    assert (info["status"], info["outcome"]) == ("decided", "approved")
    (stored,) = bridge.store.proposals()
    assert stored.data == info
    for conn in (1, 2, 3):
        verdicts = [d for d in delivers(out, conn) if d.from_ == BRIDGE_SENDER]
        assert len(verdicts) == 1 and "approved [decided]" in verdicts[0].body
    status = bridge.frame(1, type="proposal_status", rid="s", proposal=p.id)
    assert one(ProposalInfo, status, 1).proposal == info  # this node knows it now


def test_a_vote_overtaken_by_a_withdrawal_elsewhere_is_refused() -> None:
    """alice withdrew through another node; bob's vote here finds it closed: he gets
    proposal_closed, and the withdrawal stays as stored."""
    bridge = three()
    p = propose(bridge)
    elsewhere(bridge, withdraw(p, ALICE, "not needed", bridge.now))
    bridge.frame(2, type="vote", rid="v", proposal=p.id, choice="approve")
    out = bridge.settle()
    (error,) = errors(out, 2)
    assert error.code == ErrorCode.PROPOSAL_CLOSED and error.rid == "v"
    assert "another node" in error.message
    (stored,) = bridge.store.proposals()
    assert stored.data["status"] == "withdrawn" and stored.data["ballots"] == []


def test_a_change_whose_verdict_the_stored_ballots_contradict_is_refused_whole() -> None:
    """carol approved (both nodes know); then she changed to reject through another node
    while bob's approve here would decide "approved": the batch is refused (its verdict
    messages would be wrong), bob is told to send it again, nothing of it is stored."""
    bridge = three()
    p = propose(bridge, rule="unanimous")
    bridge.frame(3, type="vote", rid="c", proposal=p.id, choice="approve")
    bridge.settle()
    p = Proposal.from_dict(bridge.store.proposals()[0].data)
    changed = cast(p, CAROL, Choice.REJECT, "", bridge.now)
    elsewhere(bridge, changed)
    bridge.frame(2, type="vote", rid="v", proposal=p.id, choice="approve")
    out = bridge.settle()
    (error,) = errors(out, 2)
    assert error.rid == "v" and "send it again" in (error.message + error.hint).lower()
    assert not [d for c in (1, 2, 3) for d in delivers(out, c) if d.from_ == BRIDGE_SENDER]
    (stored,) = bridge.store.proposals()
    assert stored.data == changed.to_dict()


def test_a_read_set_aside_for_a_vote_being_committed_is_read_again_after_it() -> None:
    """A read of the proposals arrives while bob's vote is being committed: it is set
    aside (the commit carries this node's change) -- but it may be newer than that
    commit (the vote went in first, another node's after it, before this node heard
    back). Once the vote's commit is in, the router asks for the proposals again, and
    that read is taken: this node ends at what the database holds, not at its own
    older commit. A commit that fails asks for the read too."""
    bridge = three()
    p = propose(bridge, rule="unanimous")
    bridge.frame(2, type="vote", rid="v", proposal=p.id, choice="approve")  # not committed
    newer = cast(cast(p, BOB, Choice.APPROVE, "", bridge.now), CAROL, Choice.APPROVE, "", 1.0)
    stored = (ProposalRecord(p.id, newer.to_dict()),)
    assert bridge.handle(ProposalsStored(stored, bridge.now)) == []  # set aside
    out = bridge.commit()  # bob's vote, as this node wrote it (no rebase: it went in first)
    assert [a for a in out if isinstance(a, RereadProposals)] == [RereadProposals()]
    status = bridge.frame(1, type="proposal_status", rid="s", proposal=p.id)
    assert one(ProposalInfo, status, 1).proposal["status"] == "open"  # its own commit's
    bridge.handle(ProposalsStored(stored, bridge.now))  # the read asked for: taken
    status = bridge.frame(1, type="proposal_status", rid="s", proposal=p.id)
    assert one(ProposalInfo, status, 1).proposal == newer.to_dict()

    q = propose(bridge, rule="unanimous")
    bridge.frame(3, type="vote", rid="v2", proposal=q.id, choice="approve")  # not committed
    later = (ProposalRecord(q.id, cast(q, BOB, Choice.APPROVE, "", 1.0).to_dict()),)
    assert bridge.handle(ProposalsStored(later, bridge.now)) == []  # set aside
    failed = bridge.fail_commit()
    assert [a for a in failed if isinstance(a, RereadProposals)] == [RereadProposals()]
    bridge.handle(ProposalsStored(later, bridge.now))  # the read asked for: taken
    status = bridge.frame(1, type="proposal_status", rid="s2", proposal=q.id)
    assert one(ProposalInfo, status, 1).proposal == later[0].data
