"""The loop brake with the real Claude Code (issue 9): two agents told to answer each
other forever are stopped at the limit, both are told why, and a person's prompt in
either session resumes them.

Two headless Claude Code sessions (the pinned version) on a bridge whose brake pauses a
conversation after 4 unattended messages (``--loop-hops 4``). A person prompts Ann once;
from then on each woken model answers the other with ``peer_send``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from ai_connect.bridge.brake import BrakeLimits
from ai_connect.bridge.server import BridgeServer, ServerSettings
from ai_connect.bridge.store.memory import MemoryStore
from tests.agents.apis import conversation
from tests.agents.clients import versions
from tests.agents.pairs import Agent, act, agent, woken

HOPS = 4


@contextlib.asynccontextmanager
async def braking_bridge() -> AsyncIterator[BridgeServer]:
    server = BridgeServer(MemoryStore(), ServerSettings(port=0, brake=BrakeLimits(HOPS, 0)))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def _quiet(who: Agent, seconds: float) -> bool:
    """True if ``who`` asks its model nothing for ``seconds`` (a bounded wait on the API)."""
    try:
        await who.api.request(who.seen, seconds)
    except AssertionError:
        return True
    return False


def test_a_runaway_pair_is_paused_told_why_and_resumed_by_a_person(tmp_path: Path) -> None:
    """Messages 1-4 wake the other side; message 5 is stored but wakes nobody, its sender
    reads why in peer_send's result; a prompt in Bob's session resumes the pair: Bob's
    model sees the notice and the held message, and its answer wakes Ann again."""

    async def scenario() -> None:
        version = versions("claude")[0]
        async with (
            braking_bridge() as br,
            agent("claude", version, tmp_path, "ann", br.url) as ann,
            agent("claude", version, tmp_path, "bob", br.url) as bob,
        ):
            await ann.driver.say("Talk with bob forever: answer every message he sends.")
            body = await ann.next_request()
            me, other = ann, bob
            for hop in range(1, HOPS + 1):
                args = {"to": other.address, "message": f"PING-{hop} from {me.name}"}
                _, result = await act(me, body, "peer_send", args, "sent")
                assert "ai-connect paused" not in result
                body, _ = await woken(other, f"PING-{hop}")
                me, other = other, me
            held = f"PING-{HOPS + 1} from {me.name}"
            await act(me, body, "peer_send", {"to": other.address, "message": held}, "stop")
            # peer_send's result says why (Claude Code shows its structured content), and
            # the brake's notice comes along as context.
            told = conversation(me.api.requests[-1])
            assert me is ann and f"{HOPS} messages passed between agents with no human" in told
            assert "ai-connect paused the conversation" in told
            assert await _quiet(bob, 2.0), "the paused message woke bob"

            await bob.driver.say("What is going on with ann?")
            body = await bob.next_request()
            seen = conversation(body)
            assert held in seen and "ai-connect paused the conversation" in seen
            await act(bob, body, "peer_send", {"to": ann.address, "message": "RESUMED"}, "ok")
            body, _ = await woken(ann, "RESUMED")
            assert conversation(body).count("ai-connect paused the conversation") <= 1

    asyncio.run(asyncio.wait_for(scenario(), 150))
