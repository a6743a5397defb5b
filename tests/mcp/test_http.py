"""``ai-connect mcp --transport http`` in process: Streamable HTTP at /mcp and legacy SSE
at /sse on one port (127.0.0.1, port 0), per-session identities, and the wake path
between two MCP servers."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack

import httpx2
import pytest
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from ai_connect.client import BridgeClient
from ai_connect.protocol import Presence
from mcp import Client
from tests.client.support import make_client, run, tcp_ends
from tests.mcp.support import (
    MODES,
    TOOL_NAMES,
    JsonRpcSession,
    call,
    data,
    http_server,
    settings,
    text,
)
from tests.support.bridge import bridge


@pytest.mark.parametrize("mode", MODES)
def test_streamable_http_and_sse_on_one_port_serve_every_tool(mode: str) -> None:
    """/mcp and the original's /sse URL list all tools and act as the server's identity."""

    async def scenario() -> None:
        async with bridge() as br, http_server(settings(br.url, "srv")) as base:
            for client in (Client(f"{base}/mcp", mode=mode), Client(sse_client(f"{base}/sse"))):
                async with client:
                    tools = (await client.list_tools()).tools
                    assert {t.name for t in tools} == TOOL_NAMES
                    assert all(t.output_schema and t.annotations for t in tools)
                    status = data(await call(client, "peer_status"))
                    assert (status["address"], status["identity"]) == ("srv (proj)", "server")
            async with httpx2.AsyncClient() as http:
                health = await http.get(f"{base}/healthz")
                assert (health.status_code, health.text) == (200, "ok")

    run(scenario())


@pytest.mark.parametrize("mode", MODES)
def test_sessions_get_their_own_identity_from_query_or_headers(mode: str) -> None:
    """?name=&project= (or X-AI-Connect-* headers) make a session a peer of its own."""

    async def scenario() -> None:
        async with bridge() as br, http_server(settings(br.url, "srv")) as base:
            headers = {"X-AI-Connect-Name": "dora", "X-AI-Connect-Project": "api"}
            async with AsyncExitStack() as stack:
                http = await stack.enter_async_context(create_mcp_http_client(headers=headers))
                by_query = Client(f"{base}/mcp?name=carol&project=web", mode=mode)
                by_header = Client(streamable_http_client(f"{base}/mcp", http_client=http))
                by_sse = Client(sse_client(f"{base}/sse?name=erin", headers=headers))
                shared = Client(f"{base}/mcp", mode=mode)
                clients = [by_query, by_header, by_sse, shared]
                for client in clients:
                    await stack.enter_async_context(client)
                addresses = [data(await call(c, "peer_status"))["address"] for c in clients]
                assert addresses == ["carol (web)", "dora (api)", "erin (api)", "srv (proj)"]
                listed = data(await call(shared, "peer_list"))["peers"]
                assert sorted(p["address"] for p in listed) == sorted(addresses)  # one each
                sent = data(await call(by_query, "peer_send", to="dora", message="hi from carol"))
                assert sent["online"] == ["dora (api)"]
                [got] = data(await call(by_header, "peer_read"))["messages"]
                assert (got["from"], got["content"]) == ("carol (web)", "hi from carol")

    run(scenario())


def test_a_session_identity_goes_offline_when_its_session_ends() -> None:
    """Closing an SSE or Streamable HTTP session closes its own BridgeClient."""

    async def scenario() -> None:
        async with bridge() as br, http_server(settings(br.url, "srv")) as base:
            left: asyncio.Queue[str] = asyncio.Queue()

            def on_event(item: object) -> None:
                if isinstance(item, Presence) and item.event == "leave":
                    left.put_nowait(item.peer.address)

            watcher = make_client(br.url, "watcher", presence=True)
            watcher.add_listener(on_event)
            async with watcher:
                for url in (f"{base}/mcp?name=carol", f"{base}/sse?name=erin"):
                    transport = sse_client(url) if "/sse" in url else url
                    async with Client(transport, mode="legacy") as client:
                        data(await call(client, "peer_status"))
                    assert await asyncio.wait_for(left.get(), 5) in ("carol (proj)", "erin (proj)")
                peers = {p.address: p.online for p in await watcher.peers()}
                assert peers["carol (proj)"] is False and peers["erin (proj)"] is False
                assert peers["srv (proj)"] is True

    run(scenario())


def test_an_invalid_session_identity_is_refused_with_the_reason() -> None:
    """A name the bridge would refuse is a tool error (HTTP) or a 400 (SSE) saying why."""

    async def scenario() -> None:
        async with bridge() as br, http_server(settings(br.url, "srv")) as base:
            async with Client(f"{base}/mcp?name=a*b", mode="legacy") as client:
                result = await call(client, "peer_status")
                assert result.is_error
                assert text(result).startswith("cannot register as 'a*b' in project 'proj': ")
                assert "X-AI-Connect-* header" in text(result)
            async with httpx2.AsyncClient() as http:
                refused = await http.get(f"{base}/sse?name=a*b")
                assert refused.status_code == 400 and "cannot register as 'a*b'" in refused.text

    run(scenario())


@pytest.mark.parametrize("mode", MODES)
def test_peer_send_on_one_server_wakes_a_pending_wait_on_another(mode: str) -> None:
    """Two HTTP MCP servers, two identities: a send on A ends B's pending peer_wait."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            http_server(settings(br.url, "alice")) as base_a,
            http_server(settings(br.url, "bob")) as base_b,
            Client(f"{base_a}/mcp", mode=mode) as a,
            Client(f"{base_b}/mcp", mode=mode) as b,
        ):
            pending = asyncio.Event()

            async def on_progress(
                progress: float, total: float | None, message: str | None
            ) -> None:
                pending.set()

            wait = asyncio.create_task(
                b.call_tool("peer_wait", {"timeout_s": 30}, progress_callback=on_progress)
            )
            await asyncio.wait_for(pending.wait(), 5)
            loop = asyncio.get_running_loop()
            data(await call(a, "peer_send", to="bob", message="are you there?"))
            sent_at = loop.time()
            got = data(await asyncio.wait_for(wait, 5))
            assert loop.time() - sent_at < 1.0
            assert [(m["from"], m["content"]) for m in got["messages"]] == [
                ("alice (proj)", "are you there?")
            ]

    run(scenario())


def test_a_bridge_client_and_an_mcp_session_talk_both_ways() -> None:
    """A BridgeClient and an HTTP MCP session on one bridge exchange messages both ways."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            http_server(settings(br.url, "srv")) as base,
            make_client(br.url, "cli") as cli,
            Client(f"{base}/mcp", mode="legacy") as mcp,
        ):
            assert isinstance(cli, BridgeClient)
            await cli.send("srv", "from the cli")
            got = data(await call(mcp, "peer_wait", timeout_s=5))
            assert [m["content"] for m in got["messages"]] == ["from the cli"]
            data(await call(mcp, "peer_send", to="cli", message="from mcp"))
            [message] = await cli.wait(5)
            assert (message.sender, message.body) == ("srv (proj)", "from mcp")

    run(scenario())


def test_two_sessions_of_one_identity_never_show_a_message_twice() -> None:
    """Two sessions sharing the server's identity both wait; one message reaches one."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            http_server(settings(br.url, "srv")) as base,
            Client(f"{base}/mcp", mode="legacy") as one,
            Client(f"{base}/mcp", mode="legacy") as two,
            make_client(br.url, "cli") as cli,
        ):
            pending = [asyncio.Event(), asyncio.Event()]
            waits = []
            for session, event in zip((one, two), pending, strict=True):

                async def on_progress(
                    progress: float,
                    total: float | None,
                    message: str | None,
                    event: asyncio.Event = event,
                ) -> None:
                    event.set()

                waits.append(asyncio.create_task(session.call_tool(
                    "peer_wait", {"timeout_s": 1.5}, progress_callback=on_progress
                )))  # fmt: skip
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in pending)), 5)
            await cli.send("srv", "only once")
            results = [data(r) for r in await asyncio.wait_for(asyncio.gather(*waits), 10)]
            shown = [m["content"] for r in results for m in r["messages"]]
            assert shown == ["only once"]
            assert sorted(r["timed_out"] for r in results) == [False, True]

    run(scenario())


def test_tool_calls_on_one_kept_alive_connection_have_nagle_off() -> None:
    """Two tool calls share one kept-alive connection whose server end has TCP_NODELAY
    (with Nagle on, each call on it waited ~40 ms for the client's delayed ACK)."""

    async def scenario() -> None:
        async with bridge() as br, http_server(settings(br.url, "srv")) as base:
            port = int(base.rsplit(":", 1)[1])
            limits = httpx2.Limits(max_connections=1)
            async with httpx2.AsyncClient(limits=limits) as http:
                session = JsonRpcSession(http, f"{base}/mcp")
                await session.initialize()
                carried = set()
                for _ in range(2):
                    result, where = await session.request(
                        "tools/call", {"name": "peer_list", "arguments": {}}
                    )
                    assert not result["isError"] and "srv (proj)" in json.dumps(result)
                    carried.add(where)
                assert len(carried) == 1
                assert tcp_ends(port) == [("client", True), ("server", True)]

    run(scenario())
