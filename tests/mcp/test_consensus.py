"""The Salomo workflow through MCP tools alone: three agents, one real bridge."""

from __future__ import annotations

from typing import Any

from ai_connect.bridge.consensus_router import BRIDGE_SENDER
from mcp import Client
from tests.client.support import PROJECT, run
from tests.mcp.support import call, data, in_memory, settings, text
from tests.support.inprocess import bridge


async def next_in(client: Client, thread: str, sender: str | None = None) -> dict[str, Any]:
    """The next message of ``thread`` (from ``sender``) that peer_wait returns."""
    for _ in range(10):
        out = data(await call(client, "peer_wait", timeout_s=5))
        assert not out["timed_out"], f"nothing arrived in thread {thread}"
        found = [m for m in out["messages"] if m["thread"] == thread]
        found = [m for m in found if sender is None or m["from"] == sender]
        if found:
            message: dict[str, Any] = found[0]
            return message
    raise AssertionError(f"no message in thread {thread}")


def test_thesis_antithesis_synthesis_through_mcp_tools() -> None:
    """AIfred proposes, Sokrates disagrees, Salomo gets the record and decides; all hear."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "aifred")) as aifred,
            in_memory(settings(br.url, "sokrates")) as sokrates,
            in_memory(settings(br.url, "salomo")) as salomo,
        ):
            for client in (aifred, sokrates, salomo):
                data(await call(client, "peer_status"))
            proposed = data(
                await call(
                    aifred,
                    "consensus_propose",
                    question="Split core.py into router and consensus modules?",
                    participants=["aifred", "sokrates"],
                    judge="salomo",
                    context="core.py is 980 lines",
                )
            )
            pid = proposed["id"]
            assert proposed["status"] == "open" and proposed["rule"] == "majority"
            asked = await next_in(sokrates, pid)
            assert asked["context"]["proposal"]["context"] == {"text": "core.py is 980 lines"}
            data(await call(aifred, "consensus_vote", proposal=pid, choice="approve",
                            reason="smaller modules"))  # fmt: skip
            refused = await call(salomo, "consensus_vote", proposal=pid, choice="approve")
            assert refused.is_error and "not a participant" in text(refused)
            split = data(
                await call(
                    sokrates, "consensus_vote", proposal=pid, choice="reject", reason="churn"
                )
            )
            assert split["status"] == "escalated"
            record = await next_in(salomo, pid)
            assert "smaller modules" in record["content"] and "churn" in record["content"]
            mine = data(await call(salomo, "consensus_list", status="escalated"))["proposals"]
            assert [p["id"] for p in mine] == [pid]
            ruled = data(
                await call(salomo, "consensus_vote", proposal=pid, choice="approve", reason="do it")
            )
            assert (ruled["status"], ruled["outcome"]) == ("decided", "approved")
            for client in (aifred, sokrates):
                verdict = await next_in(client, pid, BRIDGE_SENDER)
                assert "approved" in verdict["content"]
            status = data(await call(sokrates, "consensus_status", proposal=pid))
            assert status["ruling"]["voter"] == f"salomo ({PROJECT})"
            assert status["tally"]["approve"] == 1 and status["tally"]["reject"] == 1
            assert "decided: approved" in text(await call(aifred, "consensus_status", proposal=pid))

    run(scenario())


def test_the_author_withdraws_through_mcp_and_the_voter_hears_it() -> None:
    """consensus_withdraw: a voter is refused with what to do instead, the author's withdraw
    closes the proposal, and the voter gets the outcome as a message."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "aifred")) as aifred,
            in_memory(settings(br.url, "sokrates")) as sokrates,
        ):
            for client in (aifred, sokrates):
                data(await call(client, "peer_status"))
            pid = data(
                await call(aifred, "consensus_propose", question="q?", participants=["sokrates"])
            )["id"]
            await next_in(sokrates, pid)
            refused = await call(sokrates, "consensus_withdraw", proposal=pid)
            assert refused.is_error and "only the author" in text(refused)
            assert "vote reject instead" in text(refused).lower()
            out = data(await call(aifred, "consensus_withdraw", proposal=pid, reason="moot"))
            assert (out["status"], out["reason"]) == ("withdrawn", "moot")
            heard = await next_in(sokrates, pid, BRIDGE_SENDER)
            assert "withdrawn" in heard["content"] and "moot" in heard["content"]

    run(scenario())
