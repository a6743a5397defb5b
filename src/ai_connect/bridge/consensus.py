"""Proposals, ballots and tallies: the Salomo principle as pure data (docs/protocol.md §8).

An author asks participants a question; each participant casts one ballot (``approve``,
``reject``, ``abstain``; ``continue`` = "not finished yet", from a ``[CONTINUE]`` tag),
changeable until the proposal is decided. :func:`tally` counts the ballots under the
proposal's rule and says whether the rule is met, failed or cannot be met (a split);
:func:`settle` turns that into the proposal's next status. A split goes to the judge
(Salomo) when there is one; without a judge the proposal ends as "no consensus".

Statuses (``Status``) and their transitions::

    open ──(rule met)──────────────> decided   (approved | rejected)
      │ ──(split / deadline, judge)─> escalated ──(judge rules)──> decided
      │ ──(split, no judge)────────> decided   (no_consensus)
      │ ──(deadline, no quorum)────> expired   (no_consensus)
      └──(author withdraws)────────> withdrawn

Everything here is deterministic: the same proposal and ballots give the same tally,
after any restart. No clock: ``now`` is always passed in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ai_connect.bridge.refusal import Refusal
from ai_connect.errors import ErrorCode

__all__ = [
    "TAGS",
    "Ballot",
    "Choice",
    "Outcome",
    "Proposal",
    "Rule",
    "Status",
    "Tally",
    "cast",
    "rule_text",
    "settle",
    "tag_choice",
    "tally",
    "withdraw",
]


class Rule(StrEnum):
    MAJORITY = "majority"
    """At least 2/3 of the (non-abstaining) participants' votes."""
    UNANIMOUS = "unanimous"
    """Every participant approves (abstentions allowed, at least one approval)."""
    QUORUM = "quorum"
    """At least ``quorum`` approvals."""


class Choice(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    ABSTAIN = "abstain"
    CONTINUE = "continue"
    """Not finished yet (``[CONTINUE]``): counted as no final vote."""


class Status(StrEnum):
    OPEN = "open"
    ESCALATED = "escalated"
    DECIDED = "decided"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class Outcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    NO_CONSENSUS = "no_consensus"


Refused = Refusal
"""This module's refusal before issue 10; now the router's one :class:`Refusal` (kept so
that ``from ai_connect.bridge.consensus import Refused`` still works, not offered)."""

FINAL = frozenset({Status.DECIDED, Status.EXPIRED, Status.WITHDRAWN})
TAGS = {"[LGTM]": Choice.APPROVE, "[CONTINUE]": Choice.CONTINUE}


@dataclass(frozen=True, slots=True)
class Ballot:
    voter: str
    choice: Choice
    reason: str
    ts: float


@dataclass(frozen=True, slots=True)
class Proposal:
    id: str
    author: str
    question: str
    participants: tuple[str, ...]
    rule: Rule
    created: float
    context: dict[str, Any] | None = None
    quorum: int | None = None
    judge: str | None = None
    deadline: float | None = None
    tags: bool = False
    """``[LGTM]``/``[CONTINUE]`` replies in the proposal's thread count as ballots."""
    cid: str | None = None
    status: Status = Status.OPEN
    outcome: Outcome | None = None
    reason: str = ""
    """Why it ended as it did (or why it was escalated)."""
    decided_at: float | None = None
    ballots: tuple[Ballot, ...] = ()
    """One per voter, in the order of their first vote."""
    ruling: Ballot | None = None
    """The judge's ruling, once escalated and ruled."""

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def ballot_of(self, voter: str) -> Ballot | None:
        return next((b for b in self.ballots if b.voter == voter), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: what is stored and what clients see (with the tally)."""
        data = dataclasses.asdict(self)
        data["participants"] = list(self.participants)
        data["ballots"] = [dataclasses.asdict(b) for b in self.ballots]
        data["tally"] = dataclasses.asdict(tally(self))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proposal:
        def ballot(b: dict[str, Any]) -> Ballot:
            return Ballot(b["voter"], Choice(b["choice"]), b["reason"], b["ts"])

        return cls(
            id=data["id"],
            author=data["author"],
            question=data["question"],
            participants=tuple(data["participants"]),
            rule=Rule(data["rule"]),
            created=data["created"],
            context=data.get("context"),
            quorum=data.get("quorum"),
            judge=data.get("judge"),
            deadline=data.get("deadline"),
            tags=bool(data.get("tags", False)),
            cid=data.get("cid"),
            status=Status(data["status"]),
            outcome=Outcome(data["outcome"]) if data.get("outcome") else None,
            reason=data.get("reason", ""),
            decided_at=data.get("decided_at"),
            ballots=tuple(ballot(b) for b in data.get("ballots", ())),
            ruling=ballot(data["ruling"]) if data.get("ruling") else None,
        )


@dataclass(frozen=True, slots=True)
class Tally:
    approve: int
    reject: int
    abstain: int
    pending: int
    """Participants without a final ballot (none yet, or ``continue``)."""
    needed: int
    """Approvals the rule needs with the ballots as they stand."""
    verdict: Outcome | None
    """``approved``/``rejected`` once the rule is met either way whatever the pending
    ballots say; ``no_consensus`` once the rule cannot be met (a split); else ``None``."""


def _ceil_two_thirds(n: int) -> int:
    return -(-2 * n // 3)


def tally(p: Proposal, *, closing: bool = False) -> Tally:
    """Counts ``p``'s ballots under its rule.

    ``closing``: the deadline passed, so pending ballots will never come; they count as
    absent (majority, quorum) or as not approving (unanimous).
    """
    votes = {b.voter: b.choice for b in p.ballots if b.voter in p.participants}
    a = sum(1 for c in votes.values() if c is Choice.APPROVE)
    r = sum(1 for c in votes.values() if c is Choice.REJECT)
    s = sum(1 for c in votes.values() if c is Choice.ABSTAIN)
    pending = len(p.participants) - a - r - s
    verdict: Outcome | None = None
    if p.rule is Rule.MAJORITY:
        # 2/3 of the votes cast, whatever the pending ones will be (worst case: all
        # against). At the deadline the ballots cast are all there is.
        rest = 0 if closing else pending
        needed = _ceil_two_thirds(a + r + rest)
        if closing and a + r + s < _ceil_two_thirds(len(p.participants)):
            verdict = Outcome.NO_CONSENSUS  # too few took part: no quorum
        elif a + r + rest == 0:
            verdict = Outcome.NO_CONSENSUS if pending == 0 or closing else None
        elif 3 * a >= 2 * (a + r + rest):
            verdict = Outcome.APPROVED
        elif 3 * r >= 2 * (a + r + rest):
            verdict = Outcome.REJECTED
        elif pending == 0 or closing:
            verdict = Outcome.NO_CONSENSUS
    elif p.rule is Rule.UNANIMOUS:
        needed = len(p.participants) - s
        if pending == 0 or closing:
            if r == 0 and pending == 0 and a > 0:
                verdict = Outcome.APPROVED
            elif a == 0 and pending == 0 and r > 0:
                verdict = Outcome.REJECTED
            else:
                verdict = Outcome.NO_CONSENSUS
    else:
        needed = p.quorum or 1
        if a >= needed:
            verdict = Outcome.APPROVED
        elif a + (0 if closing else pending) < needed:
            verdict = Outcome.NO_CONSENSUS
    return Tally(a, r, s, pending, needed, verdict)


def rule_text(p: Proposal) -> str:
    if p.rule is Rule.MAJORITY:
        return "majority (at least 2/3 of the votes)"
    if p.rule is Rule.UNANIMOUS:
        return "unanimous"
    return f"quorum of {p.quorum or 1} approvals"


def _counts(t: Tally) -> str:
    return f"{t.approve} approve, {t.reject} reject, {t.abstain} abstain, {t.pending} pending"


def _end(p: Proposal, status: Status, outcome: Outcome, reason: str, now: float) -> Proposal:
    return dataclasses.replace(p, status=status, outcome=outcome, reason=reason, decided_at=now)


def settle(p: Proposal, now: float) -> Proposal:
    """``p`` after its ballots and the clock have been considered: the next status.

    Only an open proposal moves; an escalated one waits for its judge, or expires at
    its deadline if the judge never rules.
    """
    closing = p.deadline is not None and now >= p.deadline
    if p.status is Status.ESCALATED:
        if closing:
            why = f"the judge {p.judge} did not rule before the deadline"
            return _end(p, Status.EXPIRED, Outcome.NO_CONSENSUS, why, now)
        return p
    if p.status is not Status.OPEN:
        return p
    t = tally(p, closing=closing)
    counts = _counts(t)
    if t.verdict in (Outcome.APPROVED, Outcome.REJECTED):
        return _end(p, Status.DECIDED, t.verdict, f"{rule_text(p)}: {counts}", now)
    if t.verdict is None:
        return p
    if closing and t.approve + t.reject + t.abstain < len(p.participants):
        why = f"deadline passed without quorum ({counts}; rule: {rule_text(p)})"
        if p.judge is not None:
            # A later deadline for the judge would be a new proposal: the judge rules
            # without one.
            return dataclasses.replace(
                p, status=Status.ESCALATED, reason=why, deadline=None, decided_at=None
            )
        return _end(p, Status.EXPIRED, Outcome.NO_CONSENSUS, why, now)
    why = f"split: the rule ({rule_text(p)}) cannot be met ({counts})"
    if p.judge is not None:
        return dataclasses.replace(p, status=Status.ESCALATED, reason=why, deadline=None)
    return _end(p, Status.DECIDED, Outcome.NO_CONSENSUS, why, now)


def cast(p: Proposal, voter: str, choice: Choice, reason: str, now: float) -> Proposal:
    """``p`` with ``voter``'s ballot (replacing an earlier one), settled.

    A participant votes while the proposal is open; its judge rules once it is
    escalated. Anyone else, or a vote on a closed proposal, raises
    :class:`~ai_connect.bridge.refusal.Refusal`.
    """
    if p.final:
        raise Refusal(
            ErrorCode.PROPOSAL_CLOSED,
            f"proposal {p.id} is {p.status.value} ({p.outcome}); votes no longer change it",
            "its status shows the verdict; propose again to reopen the question",
        )
    if p.status is Status.ESCALATED:
        if voter != p.judge:
            raise Refusal(
                ErrorCode.PROPOSAL_CLOSED,
                f"proposal {p.id} is escalated to its judge {p.judge}; only the judge decides",
                "wait for the judge's verdict",
            )
        if choice is Choice.CONTINUE:
            raise Refusal(
                ErrorCode.BAD_FRAME, "a judge rules approve, reject or abstain", "vote again"
            )
        ruling = Ballot(voter, choice, reason, now)
        outcome = {
            Choice.APPROVE: Outcome.APPROVED,
            Choice.REJECT: Outcome.REJECTED,
        }.get(choice, Outcome.NO_CONSENSUS)
        why = f"ruled by the judge {voter}: {reason or choice.value}"
        return dataclasses.replace(_end(p, Status.DECIDED, outcome, why, now), ruling=ruling)
    if voter not in p.participants:
        raise Refusal(
            ErrorCode.NOT_PARTICIPANT,
            f"{voter} is not a participant of proposal {p.id}; "
            f"its participants are {', '.join(p.participants)}",
            "only participants vote; the judge rules only after an escalation",
        )
    ballot = Ballot(voter, choice, reason, now)
    if p.ballot_of(voter) is None:
        ballots = (*p.ballots, ballot)
    else:
        ballots = tuple(ballot if b.voter == voter else b for b in p.ballots)
    return settle(dataclasses.replace(p, ballots=ballots), now)


def withdraw(p: Proposal, who: str, reason: str, now: float) -> Proposal:
    """The author takes back a proposal that is not final yet."""
    if who != p.author:
        raise Refusal(
            ErrorCode.FORBIDDEN,
            f"only the author {p.author} may withdraw proposal {p.id}",
            "vote reject instead",
        )
    if p.final:
        raise Refusal(
            ErrorCode.PROPOSAL_CLOSED,
            f"proposal {p.id} is already {p.status.value}",
            "nothing to do",
        )
    return _end(p, Status.WITHDRAWN, Outcome.NO_CONSENSUS, reason or "withdrawn by its author", now)


def tag_choice(body: str) -> Choice | None:
    """The ballot a ``[LGTM]``/``[CONTINUE]`` tag in ``body`` stands for (the last tag wins)."""
    best: tuple[int, Choice] | None = None
    for tag, choice in TAGS.items():
        at = body.upper().rfind(tag)
        if at >= 0 and (best is None or at > best[0]):
            best = (at, choice)
    return best[1] if best else None
