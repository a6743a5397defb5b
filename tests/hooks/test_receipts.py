"""A hook that shows mail acks it as the hook path: the sender's receipts say so (§3.7)."""

from __future__ import annotations

from pathlib import Path

from ai_connect.hooks.runtime import run_inject
from ai_connect.identity import format_address
from tests.client.support import make_client, run
from tests.support.inprocess import bridge

from .support import NAME, Emitted, agent, claude_input, hook, runtime_dir, settings

PROJECT = "proj"
ADDRESS = format_address(NAME, PROJECT)


def test_mail_shown_by_a_hook_is_receipted_via_hook(tmp_path: Path) -> None:
    """PostToolUse shows Bob's message; Bob's receipt: shown via hook, and a notice."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with bridge() as srv, agent(srv.url, rt, PROJECT, "s1"):
                bob = make_client(srv.url, "Bob", PROJECT)
                await bob.connect()
                sent = await bob.send(ADDRESS, "the tests fail on main", receipt=True)
                emitted = Emitted()
                data = claude_input("PostToolUse", tmp_path)
                await run_inject(hook("claude", data), settings(rt, srv.url), emitted)
                assert (
                    "the tests fail on main"
                    in emitted.json()["hookSpecificOutput"]["additionalContext"]
                )
                assert sent.id is not None
                (notice,) = await bob.wait_receipts(5)
                assert (notice.id, notice.recipient, notice.path) == (sent.id, ADDRESS, "hook")
                (state,) = (await bob.receipts(sent.id)).recipients
                assert (state.state, state.path) == ("shown", "hook")
                await bob.close()

    run(scenario())
