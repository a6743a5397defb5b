"""Consensus requests of :class:`~ai_connect.client.BridgeClient` (docs/protocol.md §8).

A mixin over :class:`~ai_connect.client.pending.Requester` (its ``self`` type), so that
the client's module stays about connections: each method builds one frame and waits for
its reply by ``rid``. Proposals come back as the bridge's JSON view
(``id``, ``status``, ``outcome``, ``reason``, ``ballots``, ``tally``, ...).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any, Literal

from ai_connect.client.pending import Requester
from ai_connect.protocol import (
    ProposalInfo,
    ProposalList,
    Proposals,
    ProposalStatus,
    Propose,
    Vote,
    Withdraw,
)

__all__ = ["ConsensusMixin", "Rule", "StatusFilter", "VoteChoice"]

Rule = Literal["majority", "unanimous", "quorum"]
VoteChoice = Literal["approve", "reject", "abstain"]
StatusFilter = Literal["open", "escalated", "decided", "expired", "withdrawn"]


class ConsensusMixin:
    """``propose``, ``vote``, ``proposal_status``, ``proposals``, ``withdraw``."""

    async def propose(
        self: Requester,
        question: str,
        participants: Sequence[str],
        *,
        rule: Rule = "majority",
        quorum: int | None = None,
        judge: str | None = None,
        deadline_s: float | None = None,
        context: dict[str, Any] | None = None,
        tags: bool = False,
        cid: str | None = None,
    ) -> dict[str, Any]:
        """Asks ``participants`` (addresses, names, or ``*``) to vote; returns the proposal.

        Answered once the proposal is stored and the participants' messages with it.
        """
        frame = Propose(
            rid=self._rid(),
            cid=cid or secrets.token_hex(8),
            question=question,
            participants=list(participants),
            rule=rule,
            quorum=quorum,
            judge=judge,
            deadline_s=deadline_s,
            context=context,
            tags=tags,
        )
        return (await self._request(frame, ProposalInfo)).proposal

    async def vote(
        self: Requester, proposal: str, choice: VoteChoice, reason: str = ""
    ) -> dict[str, Any]:
        """Casts (or changes) this peer's vote, or the judge's ruling; answered once stored."""
        frame = Vote(rid=self._rid(), proposal=proposal, choice=choice, reason=reason)
        return (await self._request(frame, ProposalInfo)).proposal

    async def proposal_status(self: Requester, proposal: str) -> dict[str, Any]:
        frame = ProposalStatus(rid=self._rid(), proposal=proposal)
        return (await self._request(frame, ProposalInfo)).proposal

    async def proposals(
        self: Requester, status: StatusFilter | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Proposals this peer authored, is asked in or judges, newest first."""
        frame = Proposals(rid=self._rid(), status=status, limit=limit)
        return (await self._request(frame, ProposalList)).proposals

    async def withdraw(self: Requester, proposal: str, reason: str = "") -> dict[str, Any]:
        frame = Withdraw(rid=self._rid(), proposal=proposal, reason=reason)
        return (await self._request(frame, ProposalInfo)).proposal
