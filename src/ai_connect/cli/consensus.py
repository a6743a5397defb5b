"""``ai-connect consensus propose|vote|withdraw|status|list``: the consensus requests from a shell.

Thin over :class:`~ai_connect.client.BridgeClient` like the rest of the CLI
(docs/protocol.md §8). Each command opens one client, makes one request and prints the
proposal (``--json``: the bridge's JSON view).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import typer

from ai_connect.cli.options import Connection, JsonOpt, choose, connects
from ai_connect.errors import RequestRejected
from ai_connect.text import terminal
from ai_connect.text.agent import proposal_text

__all__ = ["consensus_app"]

consensus_app = typer.Typer(
    help="Proposals and votes between agents (the Salomo principle).", no_args_is_help=True
)

Pid = Annotated[str, typer.Argument(metavar="PROPOSAL", help="The proposal id (prop-...)")]


@contextlib.contextmanager
def _about(proposal: str) -> Iterator[None]:
    """A refusal about ``proposal`` names it in the CLI's hint (``consensus status ID``)."""
    try:
        yield
    except RequestRejected as exc:
        exc.facts.setdefault("proposal", proposal)
        raise


def _show(found: dict[str, Any] | list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(terminal.to_json(found), flush=True)
    elif isinstance(found, list):
        print("\n\n".join(proposal_text(p) for p in found) or "No proposals.", flush=True)
    else:
        print(proposal_text(found), flush=True)


@consensus_app.command()
@connects
def propose(
    question: Annotated[str, typer.Argument(help="What to decide")],
    participants: Annotated[list[str], typer.Option("--to", help="A participant (repeat), or '*'")],
    rule: Annotated[
        str, typer.Option(help="majority (2/3 of the votes) | unanimous | quorum")
    ] = "majority",
    quorum: Annotated[
        int | None, typer.Option(min=1, help="Approvals needed (rule quorum)")
    ] = None,
    judge: Annotated[str | None, typer.Option(help="Who decides a split (Salomo)")] = None,
    deadline: Annotated[float | None, typer.Option(min=1, help="Seconds to vote")] = None,
    context: Annotated[str | None, typer.Option(help="Text to attach")] = None,
    tags: Annotated[bool, typer.Option(help="Count [LGTM]/[CONTINUE] replies as votes")] = False,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Ask the participants to vote on QUESTION; prints the new proposal."""
    choose(rule, ("majority", "unanimous", "quorum"), "--rule")
    if rule == "quorum" and quorum is None:
        raise typer.BadParameter(
            "rule quorum needs --quorum N (approvals needed)", param_hint="--rule"
        )
    chosen: Literal["majority", "unanimous", "quorum"] = rule  # type: ignore[assignment]

    async def run() -> dict[str, Any]:
        async with conn.client() as client:
            return await client.propose(
                question,
                participants,
                rule=chosen,
                quorum=quorum,
                judge=judge,
                deadline_s=deadline,
                context={"text": context} if context else None,
                tags=tags,
            )

    _show(asyncio.run(run()), as_json)


@consensus_app.command()
@connects
def vote(
    proposal: Pid,
    choice: Annotated[str, typer.Argument(help="approve | reject | abstain")],
    reason: Annotated[str, typer.Option(help="Why (shown to everyone)")] = "",
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Cast or change your vote (or, as the judge of an escalated proposal, rule)."""
    choose(choice, ("approve", "reject", "abstain"), "CHOICE")
    picked: Literal["approve", "reject", "abstain"] = choice  # type: ignore[assignment]

    async def run() -> dict[str, Any]:
        async with conn.client() as client:
            with _about(proposal):
                return await client.vote(proposal, picked, reason)

    _show(asyncio.run(run()), as_json)


@consensus_app.command()
@connects
def withdraw(
    proposal: Pid,
    reason: Annotated[str, typer.Option(help="Why (shown to everyone asked)")] = "",
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Take back a proposal of yours that is not decided yet; everyone asked is told.

    Only its author may withdraw a proposal; the others vote reject instead.
    """

    async def run() -> dict[str, Any]:
        async with conn.client() as client:
            with _about(proposal):
                return await client.withdraw(proposal, reason)

    _show(asyncio.run(run()), as_json)


@consensus_app.command()
@connects
def status(
    proposal: Pid,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Show one proposal: status, outcome, every vote and the tally."""

    async def run() -> dict[str, Any]:
        async with conn.client(mode="query") as client:
            with _about(proposal):
                return await client.proposal_status(proposal)

    _show(asyncio.run(run()), as_json)


@consensus_app.command(name="list")
@connects
def list_(
    only: Annotated[
        str | None, typer.Option("--status", help="open|escalated|decided|expired|withdrawn")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """List the proposals you authored, are asked in, or judge, newest first."""
    allowed = ("open", "escalated", "decided", "expired", "withdrawn")
    if only is not None:
        choose(only, allowed, "--status")

    async def run() -> list[dict[str, Any]]:
        async with conn.client(mode="query") as client:
            return await client.proposals(only, limit)  # type: ignore[arg-type]

    _show(asyncio.run(run()), as_json)
