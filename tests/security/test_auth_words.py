"""What a client says when the bridge stops taking its token: whole sentences, and the
token (not a bridge that is down) named as the thing to fix (issue 11, item 17)."""

from __future__ import annotations

import logging
import time

import pytest

from ai_connect.bridge.auth import new_token
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.client import LinkState
from ai_connect.errors import NotConnected
from ai_connect.protocol import CLOSE_AUTH
from tests.support.bridge import bridge as real_bridge
from tests.support.inprocess import bridge

from ..client.support import make_client, run

NOW = time.time()
ALICE_TOKEN, ALICE = new_token("alice", now=NOW)


def test_a_revoked_token_is_told_in_sentences_and_blames_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Revoked mid-session: the warning is "…was revoked; ask…", the close code is
    CLOSE_AUTH, and the next request's error names the token, not "start it"."""

    async def scenario() -> None:
        store = MemoryStore()
        async with bridge(store, tokens=(ALICE,), auth_reload_s=3600) as server:
            alice = make_client(server.url, "alice", token=ALICE_TOKEN, reconnect=False)
            await alice.connect()
            assert store.revoke_token(ALICE.id, time.time())
            await server.server.reload_tokens()
            await alice.wait_state(LinkState.CLOSED, 10)
            assert alice.close_code == CLOSE_AUTH
            with pytest.raises(NotConnected) as refused:
                await alice.status()
            assert "token" in str(refused.value) and "start it with" not in str(refused.value)
            await alice.close()

    with caplog.at_level(logging.WARNING, logger="ai_connect.client"):
        run(scenario())
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("bridge error")]
    assert said, caplog.text
    assert all("revoked; ask" in line for line in said), said


def test_wss_to_a_plain_bridge_says_to_use_ws_not_to_start_it() -> None:
    """wss:// to a bridge serving ws://: the error says use its ws:// URL, and never
    'start it with ai-connect bridge' (it runs)."""

    async def scenario() -> None:
        async with real_bridge() as server:
            secure = server.url.replace("ws://", "wss://")
            with pytest.raises(NotConnected) as refused:
                await make_client(secure, "alice", reconnect=False).connect()
            said = str(refused.value)
            assert "use its ws:// URL" in said and "start it with" not in said, said

    run(scenario())
