"""Unattended round trips between real clients (issue 9): A's message wakes B, B's
``peer_send`` answer wakes A, nobody types after the first prompt, nothing is approved,
and each model sees each message once.

Pairs: Claude Code with Claude Code, with Codex CLI, with Gemini CLI (advisor mode: a
turn held open at its end is continued). Each pair runs with the pinned versions and
with the newest ones (tests/agents/clients.py). bench/agents_bench.py measures the same
exchange, more times.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.agents.apis import conversation
from tests.agents.clients import versions
from tests.agents.pairs import agent, both, round_trips
from tests.support.bridge import bridge

PAIRS = ["claude", "codex", "gemini"]


def _version(kind: str, channel: str) -> str:
    found = versions(kind)
    return found[0] if channel == "pinned" else found[-1]


@pytest.mark.parametrize("channel", ["pinned", "newest"])
@pytest.mark.parametrize("peer", PAIRS)
def test_claude_and_peer_answer_each_other_unattended(
    peer: str, channel: str, tmp_path: Path
) -> None:
    """Claude Code asks PEER with peer_send; PEER is woken, answers with peer_send; Claude
    Code is woken with the answer; each message reaches each model exactly once."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            both(
                agent("claude", _version("claude", channel), tmp_path, "ann", br.url),
                agent(peer, _version(peer, channel), tmp_path, "bob", br.url),
            ) as (a, b),
        ):
            exchange = await round_trips(a, b, count=1)
            question, answer = exchange.texts
            for who in (a, b):
                last = conversation(who.api.requests[-1])
                assert last.count(question) == 1, (who.name, question)
                assert last.count(answer) == 1, (who.name, answer)
            assert all(s < 20 for s in exchange.question_s + exchange.answer_s)

    asyncio.run(asyncio.wait_for(scenario(), 150))
