"""What an MCP server keeps on disk (ai_connect.client.keep): a message it answered
``queued`` for survives its restart, and a message it showed is not shown again after
one (issue 11 items 10 and 11; docs/mcp.md "Bridge outages")."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from ai_connect.client import LinkState
from ai_connect.client.keep import Keep
from ai_connect.mcp.server import McpSettings
from tests.client.support import run
from tests.mcp.support import call, data, in_memory, served, settings, text
from tests.support.bridge import SharedStore
from tests.support.inprocess import bridge, unserved_url


def kept(url: str, name: str, folder: Path) -> McpSettings:
    return dataclasses.replace(settings(url, name), keep_dir=folder)


def test_a_queued_send_survives_a_restart_of_the_server_and_is_stored_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Queued while the bridge is down, the server stopped, started again with the bridge
    up: the message is delivered once, and the answer said where it was kept."""
    caplog.set_level(logging.INFO, logger="ai_connect.client")
    store, url = SharedStore(), unserved_url()

    async def scenario() -> None:
        async with bridge(store, url=url), in_memory(settings(url, "bob")) as b:
            data(await call(b, "peer_status"))  # bob is known to the store
        async with in_memory(kept(url, "alice", tmp_path)) as a:
            queued = await call(a, "peer_send", to="bob", message="sent during the outage")
            assert data(queued)["state"] == "queued"
            where = str(tmp_path / "client.sqlite3")
            assert data(queued)["kept"] == where and f"kept on disk in {where}" in text(queued)
            status = await call(a, "peer_status")
            assert (data(status)["queued"], data(status)["kept_in"]) == (1, where)
            assert f"queued:    1 not yet stored by the bridge (kept in {where})" in text(status)
        assert f"kept in {where}" in caplog.text
        async with bridge(store, url=url), in_memory(settings(url, "bob")) as b:
            async with served(kept(url, "alice", tmp_path)) as (a, hub):
                await hub.default.wait_state(LinkState.CONNECTED, 5)
                got = data(await call(b, "peer_wait", timeout_s=10))
                assert [m["content"] for m in got["messages"]] == ["sent during the outage"]
            # Started a third time: whatever is still kept goes out with its cid, and the
            # bridge stores it once; a new message comes after it (per-sender order).
            async with in_memory(kept(url, "alice", tmp_path)) as a:
                data(await call(a, "peer_send", to="bob", message="after the restarts"))
            got = data(await call(b, "peer_wait", timeout_s=10))
            assert [m["content"] for m in got["messages"]] == ["after the restarts"]
            history = data(await call(b, "peer_history", peer="alice"))
            bodies = [m["content"] for m in history["messages"]]
            assert bodies == ["sent during the outage", "after the restarts"]
        assert Keep(tmp_path).adopt(url, "alice", "proj") == []

    run(scenario())


def test_a_message_shown_before_a_restart_is_not_shown_again(tmp_path: Path) -> None:
    """peer_read showed a message while its ack could not reach the bridge; the server
    restarts: the bridge delivers it again, and nothing shows it twice (it is acked)."""
    store, url = SharedStore(), unserved_url()

    async def scenario() -> None:
        async with served(kept(url, "bob", tmp_path)) as (b, hub):
            async with bridge(store, url=url):
                await hub.default.wait_state(LinkState.CONNECTED, 5)
                async with in_memory(settings(url, "alice")) as a:
                    data(await call(a, "peer_send", to="bob", message="once only"))
                assert [m.body for m in await hub.default.wait(5)] == ["once only"]
            await hub.default.wait_disconnected()
            shown = data(await call(b, "peer_read"))  # shown; the ack cannot be stored
            assert [m["content"] for m in shown["messages"]] == ["once only"]
        async with bridge(store, url=url), served(kept(url, "bob", tmp_path)) as (b, hub):
            await hub.default.wait_state(LinkState.CONNECTED, 5)
            assert data(await call(b, "peer_read"))["messages"] == []
            assert data(await call(b, "peer_status"))["bridge_unread"] == 0

    run(scenario())
