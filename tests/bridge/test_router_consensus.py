"""The router's consensus frames: propose, vote, status, list, withdraw, tags, deadlines."""

from __future__ import annotations

from typing import Any

from ai_connect.bridge.consensus_router import BRIDGE_SENDER
from ai_connect.protocol import Deliver, ErrorCode, ProposalInfo, ProposalList

from .helpers import Bridge, addr, delivers, errors, frames, one

ALICE, BOB, CAROL, SAL = addr("alice"), addr("bob"), addr("carol"), addr("sal")


def four() -> Bridge:
    """Alice (1), Bob (2), Carol (3) and Sal (4) online."""
    bridge = Bridge()
    for conn, name in enumerate(["alice", "bob", "carol", "sal"], start=1):
        bridge.join(conn, name)
    return bridge


def propose(bridge: Bridge, **fields: Any) -> dict[str, Any]:
    fields.setdefault("participants", ["bob", "carol"])
    fields.setdefault("question", "merge the refactor?")
    bridge.frame(1, type="propose", rid="p", **fields)
    out = bridge.settle()
    return one(ProposalInfo, out, 1).proposal


def vote(bridge: Bridge, conn: int, pid: str, choice: str, reason: str = "") -> list[Any]:
    bridge.frame(conn, type="vote", rid=f"v{conn}", proposal=pid, choice=choice, reason=reason)
    return bridge.settle()


def test_participants_get_the_proposal_as_a_message_in_its_thread() -> None:
    """A proposal reaches each participant as a deliver with thread = id and the record."""
    bridge = four()
    sent = bridge.frame(1, type="propose", rid="p", participants=["bob", "carol"], question="q")
    assert not frames(sent)  # nothing before the commit
    out = bridge.settle()
    info = one(ProposalInfo, out, 1)
    pid = info.proposal["id"]
    assert info.proposal["status"] == "open"
    assert info.proposal["participants"] == [BOB, CAROL]
    for conn in (2, 3):
        (deliver,) = delivers(out, conn)
        assert (deliver.thread, deliver.from_) == (pid, ALICE)
        assert deliver.context is not None and deliver.context["proposal"]["id"] == pid
    assert not delivers(out, 4)


def test_a_vote_is_confirmed_only_after_its_commit() -> None:
    """The proposal_info answering a vote comes with the commit that stores it."""
    bridge = four()
    pid = propose(bridge)["id"]
    sent = bridge.frame(2, type="vote", rid="v", proposal=pid, choice="approve", reason="ok")
    assert not frames(sent, 2)
    info = one(ProposalInfo, bridge.settle(), 2)
    assert info.proposal["ballots"][0]["voter"] == BOB
    assert bridge.store.proposals()[0].data["ballots"][0]["reason"] == "ok"


def test_a_non_participant_vote_is_refused() -> None:
    """Sal, not asked, gets not_participant and nothing is stored."""
    bridge = four()
    pid = propose(bridge)["id"]
    out = bridge.frame(4, type="vote", rid="x", proposal=pid, choice="approve")
    (error,) = errors(out, 4)
    assert error.code == ErrorCode.NOT_PARTICIPANT and error.rid == "x"
    assert bridge.store.proposals()[0].data["ballots"] == []


def test_an_unknown_proposal_is_an_error() -> None:
    """Asking about an id nobody proposed gets unknown_proposal."""
    bridge = four()
    (error,) = errors(bridge.frame(2, type="proposal_status", rid="s", proposal="nope"), 2)
    assert error.code == ErrorCode.UNKNOWN_PROPOSAL


def test_the_verdict_reaches_author_and_participants_with_the_tally() -> None:
    """Once decided, author and participants get a verdict message in the thread."""
    bridge = four()
    pid = propose(bridge)["id"]
    vote(bridge, 2, pid, "approve")
    out = vote(bridge, 3, pid, "approve")
    assert one(ProposalInfo, out, 3).proposal["outcome"] == "approved"
    for conn in (1, 2, 3):
        verdicts = [d for d in delivers(out, conn) if d.from_ == BRIDGE_SENDER]
        assert len(verdicts) == 1 and verdicts[0].thread == pid
        assert "approved" in verdicts[0].body
        assert verdicts[0].context is not None
        assert verdicts[0].context["proposal"]["tally"]["approve"] == 2
    late = bridge.frame(2, type="vote", rid="late", proposal=pid, choice="reject")
    assert errors(late, 2)[0].code == ErrorCode.PROPOSAL_CLOSED


def test_a_split_goes_to_the_judge_with_the_whole_record() -> None:
    """A split escalates: the judge gets every vote and reason, and its ruling decides."""
    bridge = four()
    pid = propose(bridge, judge="sal", rule="unanimous")["id"]
    vote(bridge, 2, pid, "approve", "clean code")
    out = vote(bridge, 3, pid, "reject", "breaks the API")
    assert one(ProposalInfo, out, 3).proposal["status"] == "escalated"
    (asked,) = delivers(out, 4)
    assert "clean code" in asked.body and "breaks the API" in asked.body
    out = vote(bridge, 4, pid, "reject", "API stability first")
    info = one(ProposalInfo, out, 4).proposal
    assert (info["status"], info["outcome"]) == ("decided", "rejected")
    assert info["ruling"]["reason"] == "API stability first"
    assert {d.from_ for c in (1, 2, 3, 4) for d in delivers(out, c)} == {BRIDGE_SENDER}


def test_tagged_replies_in_the_thread_count_when_asked_for() -> None:
    """With tags on, [LGTM]/[CONTINUE] replies in the thread are ballots; without, not."""
    bridge = four()
    pid = propose(bridge, tags=True)["id"]
    bridge.send(2, "alice", "needs tests [CONTINUE]", thread=pid)
    bridge.settle()
    assert bridge.store.proposals()[0].data["ballots"][0]["choice"] == "continue"
    bridge.send(2, "alice", "now fine [LGTM]", thread=pid)
    bridge.send(3, "alice", "[LGTM]", thread=pid)
    bridge.settle()
    assert bridge.store.proposals()[0].data["outcome"] == "approved"
    untagged = propose(bridge, cid="second")["id"]
    bridge.send(2, "alice", "[LGTM]", thread=untagged)
    bridge.settle()
    (record,) = [r for r in bridge.store.proposals() if r.id == untagged]
    assert record.data["ballots"] == []


def test_the_deadline_arrives_with_a_tick() -> None:
    """A Tick past the deadline expires a proposal without quorum and says so to all."""
    bridge = four()
    pid = propose(bridge, deadline_s=30)["id"]
    vote(bridge, 2, pid, "approve")
    assert not bridge.tick(bridge.now + 29)
    bridge.tick(bridge.now + 2)
    out = bridge.settle()
    (record,) = bridge.store.proposals()
    assert record.data["status"] == "expired"
    assert any(isinstance(f, Deliver) and "expired" in f.body for f in frames(out, 1))


def test_votes_survive_a_restart_and_count_once() -> None:
    """After a crash the stored votes are there; a repeated vote does not count twice."""
    bridge = four()
    pid = propose(bridge, participants=["bob", "carol", "sal"])["id"]
    vote(bridge, 2, pid, "approve")
    bridge.frame(3, type="vote", rid="lost", proposal=pid, choice="approve")  # never committed
    bridge.restart()
    for conn, name in enumerate(["alice", "bob", "carol", "sal"], start=1):
        bridge.join(conn + 10, name)
    out = bridge.frame(12, type="proposal_status", rid="s", proposal=pid)
    tally = one(ProposalInfo, out, 12).proposal["tally"]
    assert (tally["approve"], tally["pending"]) == (1, 2)
    vote(bridge, 12, pid, "approve")
    out = vote(bridge, 13, pid, "approve")
    info = one(ProposalInfo, out, 13).proposal
    assert info["outcome"] == "approved" and info["tally"]["approve"] == 2


def test_list_shows_only_my_proposals_newest_first() -> None:
    """proposals lists what the asker authored, is asked in, or judges, filtered by status."""
    bridge = four()
    first = propose(bridge)["id"]
    bridge.now += 1
    second = propose(bridge, participants=["sal"], cid="2")["id"]
    out = bridge.frame(1, type="proposals", rid="l")
    assert [p["id"] for p in one(ProposalList, out, 1).proposals] == [second, first]
    out = bridge.frame(2, type="proposals", rid="l")
    assert [p["id"] for p in one(ProposalList, out, 2).proposals] == [first]
    out = bridge.frame(1, type="proposals", rid="l", status="decided")
    assert one(ProposalList, out, 1).proposals == []


def test_a_resent_propose_with_the_same_cid_makes_one_proposal() -> None:
    """Proposing again with the same cid answers the same proposal; nobody is asked twice."""
    bridge = four()
    first = propose(bridge, cid="c1")
    bridge.frame(1, type="propose", rid="p2", participants=["bob"], question="x", cid="c1")
    out = bridge.settle()
    assert one(ProposalInfo, out, 1).proposal["id"] == first["id"]
    assert not delivers(out, 2) and len(bridge.store.proposals()) == 1


def test_the_author_withdraws_and_everyone_is_told() -> None:
    """withdraw by its author ends it; anyone else gets forbidden."""
    bridge = four()
    pid = propose(bridge)["id"]
    (error,) = errors(bridge.frame(2, type="withdraw", rid="w", proposal=pid), 2)
    assert error.code == ErrorCode.FORBIDDEN
    bridge.frame(1, type="withdraw", rid="w", proposal=pid, reason="obsolete")
    out = bridge.settle()
    assert one(ProposalInfo, out, 1).proposal["status"] == "withdrawn"
    assert any("obsolete" in d.body for d in delivers(out, 2))


def test_star_asks_everyone_online_but_the_author() -> None:
    """participants ['*'] means every peer online at proposal time except the author."""
    bridge = four()
    info = propose(bridge, participants=["*"])
    assert info["participants"] == [BOB, CAROL, SAL]


def test_bad_quorum_and_unknown_participants_are_refused() -> None:
    """A quorum above the participants, or an unknown participant, is refused."""
    bridge = four()
    out = bridge.frame(1, type="propose", rid="q", question="q", participants=["bob"],
                       rule="quorum", quorum=2)  # fmt: skip
    assert errors(out, 1)[0].code == ErrorCode.BAD_FRAME
    out = bridge.frame(1, type="propose", rid="u", question="q", participants=["zed"])
    assert errors(out, 1)[0].code == ErrorCode.UNKNOWN_PEER


def test_a_vote_whose_commit_fails_is_not_counted() -> None:
    """A rolled-back vote gets internal and leaves the tally as stored; a retry counts."""
    bridge = four()
    pid = propose(bridge)["id"]
    bridge.frame(2, type="vote", rid="v", proposal=pid, choice="approve")
    (error,) = errors(bridge.fail_commit(), 2)
    assert error.code == ErrorCode.INTERNAL and error.rid == "v"
    out = bridge.frame(3, type="proposal_status", rid="s", proposal=pid)
    assert one(ProposalInfo, out, 3).proposal["ballots"] == []
    out = vote(bridge, 2, pid, "approve")
    assert one(ProposalInfo, out, 2).proposal["tally"]["approve"] == 1


def test_a_proposal_whose_commit_fails_is_forgotten() -> None:
    """A rolled-back proposal is unknown afterwards, and its cid may be used again."""
    bridge = four()
    bridge.frame(1, type="propose", rid="p", question="q", participants=["bob"], cid="c")
    bridge.fail_commit()
    out = bridge.frame(1, type="proposals", rid="l")
    assert one(ProposalList, out, 1).proposals == []
    assert propose(bridge, cid="c")["participants"] == [BOB, CAROL]
