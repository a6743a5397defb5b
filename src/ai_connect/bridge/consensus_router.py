"""The router's consensus book: proposal frames in, actions out (docs/protocol.md §8).

A part of :class:`~ai_connect.bridge.core.Router`, pure like it: no I/O, no clock. It
reads the :class:`~ai_connect.bridge.state.Registry` to resolve participants and to find
who is online, and raises :class:`~ai_connect.bridge.refusal.Refusal` for a request it will
not carry out (the rules in :mod:`.consensus` raise it too). Each change to a proposal is one
``Persist`` of its whole record, committed in the same batch as the messages that tell
people about it; the asker's ``proposal_info`` reply follows that commit, so a vote is
durable before it is confirmed. On a database several nodes share, each record also
carries its change as a function (``rebase``), which the store applies to the version
stored by then (another node's vote a moment before counts too). The tally itself
lives in :mod:`.consensus`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ai_connect import identity
from ai_connect.bridge.consensus import (
    Choice,
    Proposal,
    Rule,
    Status,
    cast,
    rule_text,
    settle,
    tag_choice,
    tally,
    withdraw,
)
from ai_connect.bridge.events import Action, Origin, Persist, RereadProposals, Send
from ai_connect.bridge.feed import Feed
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.state import Registry
from ai_connect.bridge.store.base import AppendOp, ProposalRecord, StoredMessage
from ai_connect.errors import StoreError
from ai_connect.protocol import (
    ErrorCode,
    ProposalInfo,
    ProposalList,
    Proposals,
    ProposalStatus,
    Propose,
    Vote,
    Withdraw,
)

__all__ = ["BRIDGE_SENDER", "ConsensusBook", "ConsensusFrame"]

BRIDGE_SENDER = "consensus* (ai-connect)"
"""The sender of verdicts. ``*`` is not allowed in peer names, so nobody can hold it."""

ConsensusFrame = Propose | Vote | ProposalStatus | Proposals | Withdraw
Change = Callable[[Proposal], Proposal]
"""A change to a proposal (a vote, a withdrawal, a deadline), applicable to any version."""
Rebase = Callable[[dict[str, Any]], dict[str, Any]]


class ConsensusBook:
    """Every proposal the bridge knows, by id."""

    def __init__(
        self,
        records: Iterable[ProposalRecord],
        ids: Iterator[str],
        registry: Registry,
        feed: Feed | None = None,
    ) -> None:
        self._ids = ids
        self._registry = registry
        self._feed = feed if feed is not None else Feed(registry)
        self._proposals: dict[str, Proposal] = {}
        self._by_cid: dict[tuple[str, str], str] = {}
        self._durable: dict[str, Proposal] = {}
        """The last committed version of each proposal (to undo a failed commit)."""
        self._set_aside: set[str] = set()
        """Proposals whose stored version, as read, was set aside for a change of this
        node's being committed (``on_stored``): read again once that commit is in."""
        for record in records:
            p = Proposal.from_dict(record.data)
            self._remember(p)
            self._durable[p.id] = p

    def committed(
        self,
        persists: Iterable[Persist],
        now: float = 0.0,
        written: Mapping[str, dict[str, Any]] | None = None,
    ) -> list[Action]:
        """These proposal records are stored: they are what a failed later commit returns
        to, and each asker gets its ``proposal_info`` now (§8: replies follow the commit);
        the observers hear of each change (§9).

        ``written``: the data a store shared by several nodes stored instead of a
        record's (``ProposalRecord.rebase``: another node's change came first). The asker
        sees it; an asker whose change no longer applied (the proposal was decided
        meanwhile) gets the refusal a vote on a decided proposal gets; a verdict or an
        escalation that only the merged ballots reach is announced now (its messages
        have fixed cids: stored once, whichever node sends them)."""
        written = written or {}
        out: list[Action] = []
        last: dict[str, Proposal] = {}
        persists = tuple(persists)
        ids = {p.op.id for p in persists if isinstance(p.op, ProposalRecord)}
        if ids & self._set_aside:
            self._set_aside -= ids
            out.append(RereadProposals())
        for persist in persists:
            record = persist.op
            assert isinstance(record, ProposalRecord)
            data = written.get(record.id, record.data)
            before = self._durable.get(record.id)
            if self._feed and (before is None or before.to_dict() != data):
                out += self._feed.proposal(
                    before.to_dict() if before is not None else None, data, now
                )
            stored = self._durable[record.id] = Proposal.from_dict(data)
            last[record.id] = Proposal.from_dict(record.data)
            asker = persist.origin
            if asker is None or asker.conn not in self._registry.conns:
                continue
            conn = self._registry.conns[asker.conn]
            who = conn.address or ""
            if data is record.data or _part(stored, who) == _part(last[record.id], who):
                out.append(Send(asker.conn, ProposalInfo(rid=asker.rid, proposal=data)))
            else:
                out.append(Send(asker.conn, _overtaken(stored).error(asker.rid)))
        for pid, meant in last.items():
            if pid not in written:
                continue
            stored = self._durable[pid]
            if self._proposals.get(pid) == meant:  # no newer change here: the store's
                self._remember(stored)
            out += self._announce(meant, stored, now)
        return out

    def on_stored(self, records: Iterable[ProposalRecord], now: float) -> list[Action]:
        """The proposals as stored, after another node committed a change to one: a
        proposal made there can be voted on here, a vote cast there counts here, and the
        observers here hear of it. A proposal changed here but not yet committed keeps
        its change (this node's commit follows, and applies it to the stored version:
        ``ProposalRecord.rebase``, so both nodes' votes count; docs/deploy.md)."""
        out: list[Action] = []
        for record in records:
            before = self._durable.get(record.id)
            if before is not None and before.to_dict() == record.data:
                continue
            pending = self._proposals.get(record.id)
            if pending is not None and (before is None or pending.to_dict() != before.to_dict()):
                # Changed here since: our commit carries it. The read may be newer than
                # that commit (it went in first, and another node's change after it,
                # before this node heard back): read again once it is in.
                self._set_aside.add(record.id)
                continue
            after = Proposal.from_dict(record.data)
            if self._feed:
                out += self._feed.proposal(
                    before.to_dict() if before is not None else None, record.data, now
                )
            self._durable[record.id] = after
            self._remember(after)
        return out

    def failed(self, records: Iterable[ProposalRecord]) -> list[Action]:
        """These records were rolled back: forget the changes they carried (and read the
        proposals again if a read was set aside for them)."""
        records = tuple(records)
        ids = {r.id for r in records}
        out: list[Action] = [RereadProposals()] if ids & self._set_aside else []
        self._set_aside -= ids
        for record in records:
            before = self._durable.get(record.id)
            if before is not None:
                self._proposals[record.id] = before
                continue
            lost = self._proposals.pop(record.id, None)
            if lost is not None and lost.cid is not None:
                self._by_cid.pop((lost.author, lost.cid), None)
        return out

    def get(self, proposal_id: str) -> Proposal | None:
        return self._proposals.get(proposal_id)

    def open_views(self) -> list[dict[str, Any]]:
        """The proposals still waiting for votes or a ruling, oldest first (§9.1)."""
        waiting = [p for p in self._proposals.values() if not p.final]
        waiting.sort(key=lambda p: (p.created, p.id))
        return [p.to_dict() for p in waiting]

    def _remember(self, p: Proposal) -> None:
        self._proposals[p.id] = p
        if p.cid is not None:
            self._by_cid[p.author, p.cid] = p.id

    # --- frames -----------------------------------------------------------------------

    def on_request(
        self, frame: ConsensusFrame, asker: str, origin: Origin, now: float
    ) -> list[Action]:
        """The actions for one consensus request; raises :class:`Refusal` if refused."""
        match frame:
            case Propose():
                return self._propose(frame, asker, origin, now)
            case Vote():
                p = self._find(frame.proposal)
                choice, reason = Choice(frame.choice), frame.reason

                def vote(q: Proposal) -> Proposal:
                    return cast(q, asker, choice, reason, now)

                return self._changed(p, vote(p), now, origin, vote)
            case Withdraw():
                p = self._find(frame.proposal)

                def take_back(q: Proposal) -> Proposal:
                    return withdraw(q, asker, frame.reason, now)

                return self._changed(p, take_back(p), now, origin, take_back)
            case ProposalStatus():
                p = self._find(frame.proposal)
                return [Send(origin.conn, ProposalInfo(rid=origin.rid, proposal=p.to_dict()))]
            case Proposals():
                return [Send(origin.conn, self._list(frame, asker, origin))]

    def _find(self, proposal_id: str) -> Proposal:
        p = self._proposals.get(proposal_id)
        if p is None:
            raise Refusal(
                ErrorCode.UNKNOWN_PROPOSAL,
                f"no proposal has the id {proposal_id!r}",
                "list your proposals (the 'proposals' request) to find its id",
            )
        return p

    def _propose(self, frame: Propose, asker: str, origin: Origin, now: float) -> list[Action]:
        if frame.cid is not None and (asker, frame.cid) in self._by_cid:
            # A resend: the same proposal again, answered once its record is durable.
            p = self._proposals[self._by_cid[asker, frame.cid]]
            return [Persist(ProposalRecord(p.id, p.to_dict(), _as_stored), origin)]
        participants: list[str] = []
        for target in frame.participants:
            if target == identity.BROADCAST:
                participants += sorted(a for a in self._registry.online() if a != asker)
            else:
                participants.append(self._registry.resolve(target))
        participants = list(dict.fromkeys(participants))
        if not participants:
            raise Refusal(
                ErrorCode.UNKNOWN_PEER,
                "nobody else is online, so '*' names no participant",
                "name the participants, or propose once others are connected",
            )
        rule = Rule(frame.rule)
        quorum = frame.quorum if rule is Rule.QUORUM else None
        if rule is Rule.QUORUM and (quorum is None or quorum > len(participants)):
            raise Refusal(
                ErrorCode.BAD_FRAME,
                f"rule 'quorum' needs a quorum between 1 and {len(participants)} "
                "(the number of participants)",
                "give a quorum, or use rule 'majority' or 'unanimous'",
            )
        judge = self._registry.resolve(frame.judge) if frame.judge else None
        p = Proposal(
            id=f"prop-{next(self._ids)}",
            author=asker,
            question=frame.question,
            participants=tuple(participants),
            rule=rule,
            created=now,
            context=frame.context,
            quorum=quorum,
            judge=judge,
            deadline=now + frame.deadline_s if frame.deadline_s is not None else None,
            tags=frame.tags,
            cid=frame.cid,
        )
        self._remember(p)
        view = p.to_dict()
        out: list[Action] = [Persist(ProposalRecord(p.id, view, _as_stored), origin)]
        # How to vote is each surface's to say, in its words (text/terminal.py: the
        # ai-connect command; text/agent.py: the MCP tool), from the proposal in context.
        body = (
            f"Proposal {p.id} from {p.author}: {p.question}\n"
            f"Rule: {rule_text(p)}. Participants: {', '.join(p.participants)}."
            + (f" Judge: {p.judge}." if p.judge else "")
            + (
                "\nReplies in this thread with [LGTM] or [CONTINUE] count as votes."
                if p.tags
                else ""
            )
        )
        for who in p.participants:
            out.append(self._message(p, p.author, who, f"ask:{who}", body, now))
        return out

    def _changed(
        self,
        before: Proposal,
        after: Proposal,
        now: float,
        origin: Origin | None,
        change: Change,
    ) -> list[Action]:
        """Stores ``after`` (``change`` applied to ``before``) and tells whoever must hear
        about the change."""
        self._remember(after)
        record = ProposalRecord(after.id, after.to_dict(), _rebase(before, after, change))
        return [Persist(record, origin), *self._announce(before, after, now)]

    def _announce(self, before: Proposal, after: Proposal, now: float) -> list[Action]:
        """The messages that tell the judge of an escalation and everyone of a verdict."""
        out: list[Action] = []
        if after.status is Status.ESCALATED and before.status is not Status.ESCALATED:
            assert after.judge is not None
            out.append(
                self._message(after, after.author, after.judge, "escalate", _record(after), now)
            )
        if after.final and not before.final:
            body = _verdict(after)
            people = [after.author, *after.participants]
            if after.judge is not None:
                people.append(after.judge)
            for who in dict.fromkeys(people):
                out.append(self._message(after, BRIDGE_SENDER, who, f"verdict:{who}", body, now))
        return out

    def _message(
        self, p: Proposal, sender: str, to: str, key: str, body: str, now: float
    ) -> Persist:
        message = StoredMessage(
            id=next(self._ids),
            sender=sender,
            to=to,
            body=body,
            context={"proposal": p.to_dict()},
            thread=p.id,
            reply_to=None,
            ts=now,
            cid=f"consensus:{p.id}:{key}",
        )
        return Persist(AppendOp(message, (to,)))

    def _list(self, frame: Proposals, asker: str, origin: Origin) -> ProposalList:
        mine = [
            p
            for p in self._proposals.values()
            if asker in (p.author, p.judge) or asker in p.participants
        ]
        if frame.status is not None:
            mine = [p for p in mine if p.status.value == frame.status]
        mine.sort(key=lambda p: (-p.created, p.id))
        return ProposalList(rid=origin.rid, proposals=[p.to_dict() for p in mine[: frame.limit]])

    # --- messages and time ------------------------------------------------------------

    def on_message(self, sender: str, thread: str | None, body: str, now: float) -> list[Action]:
        """A ``[LGTM]``/``[CONTINUE]`` reply in a proposal's thread is a ballot (§8.2)."""
        p = self._proposals.get(thread) if thread else None
        if p is None or not p.tags or p.status is not Status.OPEN:
            return []
        if sender not in p.participants:
            return []
        choice = tag_choice(body)
        if choice is None:
            return []

        def vote(q: Proposal) -> Proposal:
            return cast(q, sender, choice, body, now)

        return self._changed(p, vote(p), now, None, vote)

    def tick(self, now: float) -> list[Action]:
        """Deadlines: open proposals past theirs are closed or escalated."""
        out: list[Action] = []
        for p in sorted(self._proposals.values(), key=lambda p: p.id):
            if p.deadline is not None and now >= p.deadline and not p.final:
                after = settle(p, now)
                if after != p:
                    out += self._changed(p, after, now, None, lambda q: settle(q, now))
        return out


def _as_stored(stored: dict[str, Any]) -> dict[str, Any]:
    """The rebase of a new proposal's record (or its resend): what is stored stays."""
    return stored


def _told(before: Proposal, after: Proposal) -> tuple[bool, tuple[Status, Any] | None]:
    """What the messages of a change announce: an escalation; a verdict (its status and
    outcome)."""
    escalated = after.status is Status.ESCALATED and before.status is not Status.ESCALATED
    verdict = (after.status, after.outcome) if after.final and not before.final else None
    return escalated, verdict


def _rebase(before: Proposal, after: Proposal, change: Change) -> Rebase:
    """``change`` applied to the version of the proposal a store shared by several nodes
    holds (another node's vote may have come first: both count). Raises ``StoreError``
    (the batch is refused: "send it again") when the messages this change already put in
    the batch would announce what the stored ballots no longer say."""
    escalated, verdict = _told(before, after)

    def rebase(data: dict[str, Any]) -> dict[str, Any]:
        stored = Proposal.from_dict(data)
        try:
            merged = change(stored)
        except Refusal:
            merged = stored  # it no longer applies (decided meanwhile): committed() says so
        wrong = (escalated and merged.status is not Status.ESCALATED) or (
            verdict is not None and (not merged.final or (merged.status, merged.outcome) != verdict)
        )
        if wrong:
            raise StoreError(
                f"Proposal {after.id} changed on another node of the bridge at the same "
                "moment, so this change would announce an outcome its ballots no longer "
                "give; nothing of this batch was stored. Send it again: it applies to the "
                "proposal as it stands now."
            )
        return merged.to_dict()

    return rebase


def _part(p: Proposal, who: str) -> tuple[Any, ...]:
    """What ``who`` changed in ``p``: a ballot, a ruling, a withdrawal."""
    ruling = p.ruling if p.ruling is not None and p.ruling.voter == who else None
    withdrawn = p.status is Status.WITHDRAWN and p.author == who
    return p.ballot_of(who), ruling, withdrawn


def _overtaken(p: Proposal) -> Refusal:
    """The refusal of a change that another node's change overtook."""
    return Refusal(
        ErrorCode.PROPOSAL_CLOSED,
        f"proposal {p.id} became {p.status.value} ({p.outcome}) on another node of the "
        "bridge before your change was stored; it no longer changes it",
        "its status shows the verdict; propose again to reopen the question",
    )


def _record(p: Proposal) -> str:
    """The whole record, for the judge."""
    t = tally(p)
    lines = [
        f"Proposal {p.id} needs your ruling as judge: {p.reason}.",
        f"Question from {p.author}: {p.question}",
        f"Rule: {rule_text(p)}. Tally: {t.approve} approve, {t.reject} reject, "
        f"{t.abstain} abstain, {t.pending} pending.",
        "Votes:",
    ]
    lines += [f"- {b.voter}: {b.choice.value}: {b.reason}" for b in p.ballots] or ["- none"]
    return "\n".join(lines)  # how to rule: each surface says it (see _propose)


def _verdict(p: Proposal) -> str:
    t = tally(p)
    outcome = p.outcome.value if p.outcome else "none"
    return (
        f"Verdict on proposal {p.id} ({p.question}): {outcome} [{p.status.value}]. "
        f"{p.reason}. Tally: {t.approve} approve, {t.reject} reject, {t.abstain} abstain, "
        f"{t.pending} pending."
    )
