"""The consensus MCP tools (the Salomo principle, docs/protocol.md §8), thin over the client.

``consensus_propose`` asks participants to vote, ``consensus_vote`` casts a vote (or the
judge's ruling), ``consensus_withdraw`` takes back the author's open proposal,
``consensus_status`` shows one proposal with its tally, and
``consensus_list`` lists this agent's proposals. Each validates its arguments (pydantic
models below), makes one client call, and returns a short text plus the proposal as
structured data. :data:`ai_connect.mcp.server.ALL_TOOLS` is every tool the server offers.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field

from ai_connect.code_context import read_context
from ai_connect.mcp.models import ToolArgs, ToolOut
from ai_connect.mcp.tools import Call, Output, Tool
from ai_connect.text.agent import proposal_text

__all__ = [
    "CONSENSUS_TOOLS",
    "ConsensusListArgs",
    "ConsensusListOut",
    "ConsensusProposeArgs",
    "ConsensusStatusArgs",
    "ConsensusVoteArgs",
    "ConsensusWithdrawArgs",
    "ProposalOut",
]

_ID = Field(min_length=1, max_length=128, description="The proposal id ('prop-...').")


class ConsensusProposeArgs(ToolArgs):
    question: str = Field(min_length=1, max_length=8000, description="What to decide.")
    participants: list[str] = Field(
        min_length=1,
        max_length=100,
        description="Who votes: addresses 'Name (Project)', bare names, or ['*'] for every "
        "peer online now.",
    )
    rule: Literal["majority", "unanimous", "quorum"] = Field(
        default="majority",
        description="majority: at least 2/3 of the votes; unanimous: for critical changes; "
        "quorum: at least `quorum` approvals.",
    )
    quorum: int | None = Field(default=None, ge=1, le=100)
    judge: str | None = Field(
        default=None, description="Who decides a split (the Salomo role); none: no consensus."
    )
    deadline_s: float | None = Field(default=None, gt=0, description="Seconds to vote.")
    context: str | None = Field(default=None, max_length=200_000, description="Text to attach.")
    file: str | None = Field(default=None, description="A file to attach (shared code context).")
    lines: str | None = Field(default=None, max_length=40, description="Line range of `file`.")
    tags: bool = Field(
        default=False,
        description="Count [LGTM] / [CONTINUE] replies in the proposal's thread as votes.",
    )


class ConsensusVoteArgs(ToolArgs):
    proposal: str = _ID
    choice: Literal["approve", "reject", "abstain"]
    reason: str = Field(default="", max_length=8000, description="Why: shown to everyone.")


class ConsensusWithdrawArgs(ToolArgs):
    proposal: str = _ID
    reason: str = Field(default="", max_length=8000, description="Why: shown to everyone asked.")


class ConsensusStatusArgs(ToolArgs):
    proposal: str = _ID


class ConsensusListArgs(ToolArgs):
    status: Literal["open", "escalated", "decided", "expired", "withdrawn"] | None = None
    limit: int = Field(default=20, ge=1, le=500)


class ProposalOut(ToolOut):
    """A proposal as the bridge keeps it, with its ballots and tally."""

    id: str
    author: str
    question: str
    participants: list[str]
    rule: str
    quorum: int | None = None
    judge: str | None = None
    deadline: float | None = None
    status: Literal["open", "escalated", "decided", "expired", "withdrawn"]
    outcome: Literal["approved", "rejected", "no_consensus"] | None = None
    reason: str
    ballots: list[dict[str, Any]]
    ruling: dict[str, Any] | None = None
    tally: dict[str, Any]
    context: dict[str, Any] | None = None


class ConsensusListOut(ToolOut):
    proposals: list[ProposalOut]


async def consensus_propose(call: Call, args: ConsensusProposeArgs) -> Output:
    context: dict[str, Any] = {}
    if args.context:
        context["text"] = args.context
    if args.file:
        s = call.settings
        code = await asyncio.to_thread(
            read_context, args.file, args.lines, cwd=s.cwd, max_bytes=s.context_max_bytes
        )
        context["code"] = code.as_dict()
    p = await call.client.propose(
        args.question,
        args.participants,
        rule=args.rule,
        quorum=args.quorum,
        judge=args.judge,
        deadline_s=args.deadline_s,
        context=context or None,
        tags=args.tags,
    )
    hint = "\nParticipants were asked; call peer_wait to hear the verdict (thread = its id)."
    return Output(proposal_text(p) + hint, p)


async def consensus_vote(call: Call, args: ConsensusVoteArgs) -> Output:
    p = await call.client.vote(args.proposal, args.choice, args.reason)
    return Output(proposal_text(p), p)


async def consensus_withdraw(call: Call, args: ConsensusWithdrawArgs) -> Output:
    p = await call.client.withdraw(args.proposal, args.reason)
    return Output(proposal_text(p) + "\nEveryone asked gets the outcome as a message.", p)


async def consensus_status(call: Call, args: ConsensusStatusArgs) -> Output:
    p = await call.client.proposal_status(args.proposal)
    return Output(proposal_text(p), p)


async def consensus_list(call: Call, args: ConsensusListArgs) -> Output:
    found = await call.client.proposals(args.status, args.limit)
    text = "\n\n".join(proposal_text(p) for p in found) or "No proposals."
    return Output(text, {"proposals": found})


CONSENSUS_TOOLS: tuple[Tool, ...] = (
    Tool(
        "consensus_propose",
        "Propose a decision for a vote",
        "Ask other agents to vote on a decision (the Salomo principle): `participants` vote "
        "approve/reject/abstain with a reason; `rule` majority needs 2/3 of the votes, "
        "unanimous is for critical architecture changes. With a `judge`, a split goes to the "
        "judge, whose ruling decides. Participants get it as a message; everyone gets the "
        "verdict with the tally as a message in the proposal's thread.",
        ConsensusProposeArgs,
        ProposalOut,
        consensus_propose,
    ),
    Tool(
        "consensus_vote",
        "Vote on a proposal",
        "Cast or change your vote on a proposal you were asked about (approve, reject or "
        "abstain, with a reason), until it is decided. As the judge of an escalated proposal, "
        "this is your ruling. Returns the proposal with its tally once the vote is stored.",
        ConsensusVoteArgs,
        ProposalOut,
        consensus_vote,
    ),
    Tool(
        "consensus_withdraw",
        "Withdraw your proposal",
        "Take back a proposal you made that is not decided yet (open or escalated), with a "
        "reason; its participants and judge get the outcome 'withdrawn' as a message. Only "
        "the author may withdraw; anyone else votes reject instead.",
        ConsensusWithdrawArgs,
        ProposalOut,
        consensus_withdraw,
    ),
    Tool(
        "consensus_status",
        "Show a proposal",
        "Show one proposal: its status (open, escalated, decided, expired, withdrawn), "
        "outcome, every vote with its reason, and the tally.",
        ConsensusStatusArgs,
        ProposalOut,
        consensus_status,
        read_only=True,
        idempotent=True,
    ),
    Tool(
        "consensus_list",
        "List proposals",
        "List the proposals you authored, were asked to vote on, or judge, newest first; "
        "optionally only those with one `status` (e.g. open ones waiting for your vote).",
        ConsensusListArgs,
        ConsensusListOut,
        consensus_list,
        read_only=True,
        idempotent=True,
    ),
)
