"""The Claude Code channel (``ai-connect mcp --channel``): the capability, when to push,
the pushed event, and that a pushed message is read once (acked, not shown again).

The official MCP client receives ``notifications/claude/channel`` through a notification
binding; the server runs in memory (legacy handshake, as stdio clients do) or as a real
``ai-connect mcp`` process over stdio.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from mcp.client.extension import ClientExtension, NotificationBinding
from mcp.types import Implementation, InitializeRequestParams
from pydantic import BaseModel

from ai_connect.cli import main
from ai_connect.client import BridgeClient
from ai_connect.client.mailbox import Message
from ai_connect.code_context import read_context
from ai_connect.errors import ConfigError
from ai_connect.hooks import agent_link
from ai_connect.hooks.slots import file_lock, key
from ai_connect.mcp import channel as mcp_channel
from ai_connect.mcp.channel import Channel, development_channels, event, wanted
from ai_connect.mcp.server import Hub, McpScope, McpSettings, build_server, sharing
from mcp import Client
from tests.client.support import make_client, run
from tests.mcp.support import call, data, settings, stdio_params
from tests.support import inprocess
from tests.support.bridge import bridge
from tests.support.checkouts import two_clones

DEV = mcp_channel.DEV_FLAG
CLAUDE = ["/usr/bin/claude", DEV, "server:ai-connect", "--verbose"]
META_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
"""Claude Code 2.1.197 drops meta keys that do not match this."""


class ChannelParams(BaseModel):
    content: str
    meta: dict[str, str] = {}


class Listener(ClientExtension):
    """Collects the channel events a client receives."""

    identifier = "test.ai-connect/channel-listener"

    def __init__(self) -> None:
        self.events: asyncio.Queue[ChannelParams] = asyncio.Queue()

    def notifications(self) -> Sequence[NotificationBinding[ChannelParams]]:
        return [
            NotificationBinding(
                method=mcp_channel.METHOD, params_type=ChannelParams, handler=self._on
            )
        ]

    async def _on(self, params: ChannelParams) -> None:
        self.events.put_nowait(params)

    async def next(self, timeout: float = 5.0) -> ChannelParams:
        return await asyncio.wait_for(self.events.get(), timeout)


def _params(
    name: str, experimental: dict[str, dict[str, object]] | None = None
) -> InitializeRequestParams:
    return InitializeRequestParams.model_validate(
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {"experimental": experimental} if experimental else {},
            "clientInfo": {"name": name, "version": "1"},
        }
    )


def _message(**fields: object) -> Message:
    base: dict[str, object] = {
        "seq": 3, "id": "m-1", "sender": "alice (proj)", "to": "bob (proj)", "body": "hi",
        "context": None, "thread": None, "reply_to": None, "ts": 1_700_000_000.0,
    }  # fmt: skip
    return Message(**(base | fields))  # type: ignore[arg-type]


# --- pure -------------------------------------------------------------------------------


def test_development_channels_reads_the_servers_after_the_flag() -> None:
    """Space-separated values up to the next option, and the ``=`` form; plugins skipped."""
    assert development_channels(CLAUDE) == {"ai-connect"}
    argv = ["claude", DEV, "server:a", "plugin:x@y", "server:b", "-p", "server:c"]
    assert development_channels(argv) == {"a", "b"}
    assert development_channels(["claude", f"{DEV}=server:z"]) == {"z"}
    assert development_channels(["claude", "--channels", "server:ai-connect"]) == set()


def test_auto_pushes_only_to_a_client_known_to_listen() -> None:
    """on: always; off: never; auto: a declared capability, or an interactive Claude Code
    loading our development channel."""
    plain, claude = _params("inspector"), _params("claude-code")
    assert wanted("on", plain, []) and not wanted("off", claude, CLAUDE)
    assert not wanted("auto", plain, CLAUDE)
    assert not wanted("auto", claude, ["claude", "-p"])
    assert not wanted("auto", claude, [*CLAUDE, "-p"])  # 2.1.197 ignores the flag with -p
    assert not wanted("auto", claude, ["claude", DEV, "server:other"])
    assert not wanted("auto", None, CLAUDE)
    assert wanted("auto", claude, CLAUDE)
    assert wanted("auto", _params("x", {mcp_channel.CAPABILITY: {}}), [])
    with pytest.raises(ConfigError, match="--channel"):
        wanted("sometimes", plain, [])


def test_event_carries_sender_id_and_thread_in_meta_and_the_message_as_content() -> None:
    """The content shows the message as a peer message; meta keys are ones Claude keeps."""
    params = event(_message(thread="review", reply_to="m-0", body="look at\nthis"))
    assert params["meta"] == {
        "sender": "alice (proj)", "id": "m-1", "thread": "review", "reply_to": "m-0",
    }  # fmt: skip
    assert all(META_KEY.match(k) for k in params["meta"])
    content = params["content"]
    assert content.startswith("ai-connect: a peer message (from other AI agents, not from your")
    assert "peer_send(to='alice (proj)', reply_to='m-1')" in content
    assert "[peer message from alice (proj) · id m-1 · " in content
    assert "\n    look at\n    this" in content
    assert event(_message(to="*"))["meta"]["broadcast"] == "true"
    assert "thread" not in event(_message())["meta"]


def test_an_unknown_channel_mode_is_refused_naming_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``ai-connect mcp --channel sometimes`` exits 1 and names auto, on and off."""
    assert main(["mcp", "--channel", "sometimes", "--bridge", "ws://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ConfigError: --channel must be auto, on or off, not 'sometimes'")
    assert main(["mcp", "--help"]) == 0
    assert "--channel" in capsys.readouterr().out


def test_channel_module_exports_exist() -> None:
    """Every name in ``mcp_channel.__all__`` is defined."""
    assert all(hasattr(mcp_channel, name) for name in mcp_channel.__all__)


# --- in memory --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def channel_client(
    s: McpSettings,
    mode: str,
    runtime: Path,
    *,
    name: str = "claude-code",
    argv: Sequence[str] = (),
    cwd: Path | None = None,
) -> AsyncIterator[tuple[Client, Channel, Listener, Hub]]:
    """The official client in memory against a server whose channel runs as in stdio."""
    hub, listener = Hub(s), Listener()
    async with hub:
        env = {"AI_CONNECT_RUNTIME_DIR": str(runtime)}
        channel = Channel(hub.default, mode, env=env, agent_argv=lambda: list(argv), cwd=cwd)
        server = build_server(s, lifespan=sharing(McpScope(hub)), channel=channel)
        pushing = asyncio.create_task(channel.run())
        client = Client(
            server, mode="legacy", extensions=[listener],
            client_info=Implementation(name=name, version="1"),
        )  # fmt: skip
        try:
            async with client:
                yield client, channel, listener, hub
        finally:
            pushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pushing


def test_the_server_declares_the_channel_and_says_how_to_answer(tmp_path: Path) -> None:
    """claude/channel is in the experimental capabilities, the instructions explain it;
    with --channel off neither."""

    async def scenario() -> None:
        async with inprocess.bridge() as br:
            s = settings(br.url, "bob")
            async with channel_client(s, "auto", tmp_path) as (client, *_):
                result = client.session.initialize_result
                assert result is not None
                assert result.capabilities.experimental == {"claude/channel": {}}
                instructions = result.instructions or ""
                assert '<channel source="ai-connect"' in instructions
                assert "never from your user" in instructions
                assert "peer_send with `to` = its sender and `reply_to` = its id" in instructions
            async with channel_client(s, "off", tmp_path) as (client, *_):
                result = client.session.initialize_result
                assert result is not None and result.capabilities.experimental is None
                assert "<channel" not in (result.instructions or "")

    run(scenario())


def test_a_message_arrives_as_a_channel_event_once_and_is_acked(tmp_path: Path) -> None:
    """Sent to the session: one channel event with sender, id, thread in meta; acked on
    the bridge as the channel's showing; peer_read shows nothing afterwards."""

    async def scenario() -> None:
        async with inprocess.bridge() as br, make_client(br.url, "alice") as alice:
            s = settings(br.url, "bob")
            async with channel_client(s, "on", tmp_path) as (client, channel, listener, hub):
                await hub.ready(hub.default)
                receipt = await alice.send("bob", "please review", thread="t1", receipt=True)
                got = await listener.next()
                assert got.meta == {"sender": "alice (proj)", "id": receipt.id, "thread": "t1"}
                assert "    please review" in got.content
                (shown,) = await alice.wait_receipts(5)  # the ack names the channel (§3.7)
                assert (shown.id, shown.path) == (receipt.id, "channel")
                async with make_client(br.url, "bob", session=hub.default.session,
                                       attach=True) as look:  # fmt: skip
                    assert (await look.status()).unread == 0
                assert data(await call(client, "peer_read"))["messages"] == []
                assert channel.pushed == 1 and listener.events.empty()

    run(scenario())


def test_auto_pushes_to_claude_code_loading_the_channel_and_not_to_others(tmp_path: Path) -> None:
    """auto: Claude Code with the development channel gets the event; another client
    gets nothing pushed and reads the message with peer_read."""

    async def scenario() -> None:
        async with inprocess.bridge() as br, make_client(br.url, "alice") as alice:
            async with channel_client(settings(br.url, "cc"), "auto", tmp_path,
                                      argv=CLAUDE) as (_, channel, listener, hub):  # fmt: skip
                await hub.ready(hub.default)
                await alice.send("cc", "pushed")
                assert "pushed" in (await listener.next()).content
            async with channel_client(settings(br.url, "ed"), "auto", tmp_path, name="editor",
                                      argv=CLAUDE) as (client, channel, listener, hub):  # fmt: skip
                await hub.ready(hub.default)
                await alice.send("ed", "kept")
                got = data(await call(client, "peer_wait", timeout_s=5))
                assert [m["content"] for m in got["messages"]] == ["kept"]
                assert channel.pushed == 0 and listener.events.empty()

    run(scenario())


def test_a_message_a_hook_showed_first_is_not_pushed(tmp_path: Path) -> None:
    """While a hook holds the address's lock and acks a message, the channel waits; it
    then pushes only what is still unread."""

    async def scenario() -> None:
        async with inprocess.bridge() as br, make_client(br.url, "alice") as alice:
            s = settings(br.url, "bob")
            async with channel_client(s, "on", tmp_path) as (_, channel, listener, hub):
                bob = await hub.ready(hub.default)
                hooks = agent_link.private_dir(tmp_path / "h")
                lock = hooks / f"m-{key(br.url, 'bob (proj)')}.lock"
                hook = make_client(br.url, "bob", session=bob.session, attach=True)
                async with file_lock(lock), hook:
                    first = await alice.send("bob", "shown by the hook")
                    [message] = await hook.wait(5)
                    assert message.id == first.id
                    await hook.ack([message], wait=True)
                second = await alice.send("bob", "pushed")
                got = await listener.next()
                assert got.meta["id"] == second.id and "shown by the hook" not in got.content
                assert channel.pushed == 1

    run(scenario())


# --- over stdio ----------------------------------------------------------------------------


def test_stdio_server_pushes_after_writing_and_peer_read_shows_nothing(tmp_path: Path) -> None:
    """``ai-connect mcp --channel on`` as a process: the event arrives, the message is
    acked, and peer_read returns nothing."""

    async def scenario() -> None:
        async with bridge() as br, make_client(br.url, "alice") as alice:
            params = stdio_params(br.url, "sam", tmp_path, "--channel", "on")
            params.env = (params.env or {}) | {"AI_CONNECT_RUNTIME_DIR": str(tmp_path / "rt")}
            listener = Listener()
            async with Client(params, mode="legacy", extensions=[listener]) as sam:
                assert data(await call(sam, "peer_status"))["state"] == "connected"
                receipt = await alice.send(f"sam ({tmp_path.name})", "over stdio")
                got = await listener.next(10)
                assert got.meta["id"] == receipt.id and "    over stdio" in got.content
                assert data(await call(sam, "peer_read"))["messages"] == []
                assert data(await call(sam, "peer_status"))["unread"] == 0
            check = BridgeClient(br.url, "sam", tmp_path.name, request_timeout=5)
            async with check:
                assert check.address == f"sam ({tmp_path.name})"
                assert (await check.status()).unread == 0

    run(scenario())


def test_a_channel_event_shows_a_verified_reference_instead_of_the_content(
    tmp_path: Path,
) -> None:
    """The session's directory is a clone of the sender's repo: the pushed event names the
    local file and lines, verified, without the lines themselves."""

    async def scenario() -> None:
        alice_repo, bob_repo = two_clones(tmp_path / "repos")
        code = read_context("src/app.py", "21-40", cwd=alice_repo).as_dict()
        async with inprocess.bridge() as br, make_client(br.url, "alice") as alice:
            s = settings(br.url, "bob")
            async with channel_client(s, "on", tmp_path, cwd=bob_repo) as (_, _, listener, hub):
                await hub.ready(hub.default)
                await alice.send("bob", "review f11-f20", context=code)
                got = await listener.next()
                local = (bob_repo / "src" / "app.py").resolve()
                assert f"by reference: your copy {local} lines 21-40 is verified" in got.content
                assert "def f11" not in got.content

    run(scenario())
