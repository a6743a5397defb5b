"""A client given several bridge URLs (the nodes of one bridge: docs/deploy.md) moves to
the next when its node refuses or dies, and resumes there where it was (issue 14, item 4)."""

from __future__ import annotations

import contextlib

import pytest

from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.config import client_settings, normalise_url
from ai_connect.errors import ConfigError
from tests.client.support import listen, make_client, run, take
from tests.support import inprocess


def test_url_lists_come_from_the_flag_env_or_config(tmp_path: pytest.TempPathFactory) -> None:
    """--bridge a,b, AI_CONNECT_BRIDGE=a,b and bridge.urls: [a, b] give the same list."""
    assert normalise_url(" host1:9999 , ws://host2:9999 ") == "ws://host1:9999,ws://host2:9999"
    with pytest.raises(ConfigError, match="mix ws:// and wss://"):
        normalise_url("ws://a:1,wss://b:1")
    config = tmp_path / "config.yaml"  # type: ignore[operator]
    config.write_text("bridge:\n  urls:\n    - wss://n1:9999\n    - wss://n2:9999\n")
    env = {"AI_CONNECT_CONFIG": str(config)}
    assert client_settings(env=env).url == "wss://n1:9999,wss://n2:9999"
    env_list = {**env, "AI_CONNECT_BRIDGE": "ws://a:1,ws://b:2"}
    assert client_settings(env=env_list).url == "ws://a:1,ws://b:2"
    assert client_settings(url="ws://c:3,ws://d:4", env=env).url == "ws://c:3,ws://d:4"


def test_a_refused_first_url_is_passed_over() -> None:
    """The first node refuses: the client registers on the second at once."""

    async def scenario() -> None:
        async with inprocess.bridge() as node:
            urls = f"{inprocess.unserved_url()},{node.url}"
            client = make_client(urls, "alice", reconnect_delays=lambda: iter([30.0] * 9))
            async with client:
                assert client.connected and client.node_url == node.url

    run(scenario(), timeout=30)


def test_a_client_of_a_dead_node_resumes_on_another(pg_url: str) -> None:
    """Two nodes on one database; bob's node dies: bob is back on the other node and gets
    what was sent to him meanwhile, after what he had, nothing twice."""

    async def scenario() -> None:
        async with contextlib.AsyncExitStack() as stack:
            a = await stack.enter_async_context(inprocess.bridge(PostgresStore(pg_url)))
            b_cm = inprocess.bridge(PostgresStore(pg_url))
            b = await b_cm.__aenter__()
            alice = await stack.enter_async_context(make_client(a.url, "alice"))
            bob = make_client(f"{b.url},{a.url}", "bob")
            await stack.enter_async_context(bob)
            inbox = listen(bob)
            assert bob.address is not None
            await alice.send(bob.address, "one")
            assert [m.body for m in await take(inbox)] == ["one"]
            await b_cm.__aexit__(None, None, None)  # bob's node goes away
            await alice.send(bob.address, "two")
            got = await take(inbox, 1, timeout=10)
            assert [(m.body, m.seq) for m in got] == [("two", 2)]
            assert bob.node_url == a.url and bob.connected
            assert inbox.empty()

    run(scenario(), timeout=60)
