"""A Salomo round across two vendors, unattended (issue 9): AIfred (Claude Code)
proposes, Sokrates (Codex CLI) and Salomo (Claude Code) are woken by the proposal and
vote, the bridge counts, and the verdict wakes all three. One prompt to AIfred; nobody
types after it.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.agents.apis import conversation
from tests.agents.clients import versions
from tests.agents.pairs import act, agent, woken
from tests.agents.scripted import Text
from tests.support.bridge import bridge

QUESTION = "SALOMO-Q: split core.py into state and delivery?"


def test_propose_vote_verdict_across_claude_code_and_codex(tmp_path: Path) -> None:
    """Each voter is woken by the proposal and votes with consensus_vote; the verdict
    (approved) reaches the proposer and both voters, each once."""

    async def scenario() -> None:
        claude, codex = versions("claude")[0], versions("codex")[0]
        async with (
            bridge() as br,
            agent("claude", claude, tmp_path, "aifred", br.url) as aifred,
            agent("codex", codex, tmp_path, "sokrates", br.url) as sokrates,
            agent("claude", claude, tmp_path, "salomo", br.url) as salomo,
        ):
            await aifred.driver.say("Ask sokrates and salomo to decide the split.")
            body = await aifred.next_request()
            args = {"question": QUESTION, "participants": [sokrates.address, salomo.address]}
            _, result = await act(aifred, body, "consensus_propose", args, "proposed")
            match = re.search(r"prop-[0-9A-Za-z-]+", result)
            assert match, result
            proposal = match.group(0)
            for voter in (sokrates, salomo):
                body, _ = await woken(voter, QUESTION)
                assert proposal in conversation(body)
                vote = {"proposal": proposal, "choice": "approve", "reason": "smaller modules"}
                await act(voter, body, "consensus_vote", vote, "voted")
            verdict = f"Verdict on proposal {proposal}"
            for who in (aifred, sokrates, salomo):
                # The deciding voter sees the verdict at once, as context on its vote's
                # result; the others are woken by it.
                if verdict not in conversation(who.api.requests[-1]):
                    await woken(who, verdict)
                    who.api.reply(Text("ok"))
                last = conversation(who.api.requests[-1])
                assert last.count(verdict) == 1 and "approved" in last, who.name

    asyncio.run(asyncio.wait_for(scenario(), 150))
