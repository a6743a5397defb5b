"""Auth over real sockets: each refusal reaches the client clearly, revocation disconnects,
admin requests need an admin token, and the token never shows up in logs or status."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from ai_connect.bridge.auth import new_token
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.cli import main
from ai_connect.client import LinkState
from ai_connect.errors import RequestRejected
from ai_connect.text.terminal import status_dict
from tests.support.inprocess import CLIENT_OPTIONS, bridge

from ..client.support import make_client, run
from .support import recording

NOW = time.time()
ALICE_TOKEN, ALICE = new_token("alice", now=NOW)
BOB_TOKEN, BOB = new_token("bob", now=NOW)
OPS_TOKEN, OPS = new_token("ops", admin=True, now=NOW)
OLD_TOKEN, OLD = new_token("old", now=NOW)
LATE_TOKEN, LATE = new_token("late", now=NOW - 100, expires=NOW - 1)
A_TOKEN, A = new_token("a", now=NOW)
TOKENS = (ALICE, BOB, OPS, dataclasses.replace(OLD, revoked=NOW), LATE, A)


def test_each_refusal_reaches_the_client_with_its_own_message() -> None:
    """No, wrong, revoked, expired token and another's name: auth_failed, five messages."""
    cases = {
        "missing": ("alice", None, "requires an auth token"),
        "wrong": ("alice", ALICE_TOKEN[:-3] + "zzz", "not valid for this bridge"),
        "revoked": ("old", OLD_TOKEN, "was revoked"),
        "expired": ("late", LATE_TOKEN, "has expired"),
        "not_owner": ("alice", BOB_TOKEN, "may not register the name 'alice'"),
    }

    async def scenario() -> None:
        async with bridge(tokens=TOKENS) as server:
            for name, token, expected in cases.values():
                client = make_client(server.url, name, token=token, reconnect=False)
                with pytest.raises(RequestRejected) as caught:
                    await client.connect()
                assert caught.value.code == "auth_failed"
                assert expected in caught.value.message and caught.value.hint
                if token:
                    assert token not in str(caught.value)
            assert server.server.router.online == {}

    run(scenario())


def test_the_token_never_appears_in_logs_or_status() -> None:
    """With DEBUG logs of every frame (ours and websockets'), no token shows, not even in part."""

    async def scenario() -> None:
        with recording() as logs:
            async with bridge(tokens=TOKENS) as server:
                # A short name and project: websockets' elided frame lines would show the token.
                async with make_client(server.url, "a", "p", token=A_TOKEN) as client:
                    report = await client.status()
                    await client.send("a", "note to self")
                    shown = status_dict(report, client.url)
                wrong = make_client(server.url, "bob", token=A_TOKEN, reconnect=False)
                with pytest.raises(RequestRejected):
                    await wrong.connect()
        assert A_TOKEN[:13] not in logs.text() and A_TOKEN not in repr(shown)
        assert '"token": "***"' in logs.text() or '"token":"***"' in logs.text()
        assert logs.problems() == []

    run(scenario())


def test_revocation_disconnects_a_live_client_for_good() -> None:
    """Revoking a live token closes its link; the client's reconnect is refused, so it stops."""

    async def scenario() -> None:
        store = MemoryStore()
        async with bridge(store, tokens=TOKENS, auth_reload_s=3600) as server:
            alice = make_client(server.url, "alice", token=ALICE_TOKEN)
            bob = make_client(server.url, "bob", token=BOB_TOKEN)
            await alice.connect()
            await bob.connect()
            assert store.revoke_token(ALICE.id, time.time())
            await server.server.reload_tokens()
            await alice.wait_state(LinkState.CLOSED, 10)
            assert "revoked" in (alice.last_error or "")
            assert (await bob.status()).address == "bob (proj)"
            await bob.close()

    run(scenario())


def test_a_running_bridge_picks_up_a_revocation_made_by_the_cli(tmp_path: Path) -> None:
    """ai-connect token create/revoke on the bridge's database take effect on the live bridge."""
    db = tmp_path / "bridge.db"
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        assert main(["token", "create", "carol", "--db", str(db)]) == 0
    token = out.getvalue().strip()

    async def scenario() -> None:
        async with bridge(SqliteStore(db), auth_reload_s=0.05) as server:
            carol = make_client(server.url, "carol", token=token)
            await carol.connect()
            with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
                assert main(["token", "revoke", "carol", "--db", str(db)]) == 0
            await carol.wait_state(LinkState.CLOSED, 10)
            await carol.close()

    run(scenario())


def test_admin_requests_need_an_admin_token() -> None:
    """admin_status from a normal token is forbidden; an admin token gets the report."""

    async def scenario() -> None:
        async with (
            bridge(tokens=TOKENS) as server,
            make_client(server.url, "alice", token=ALICE_TOKEN) as alice,
            make_client(server.url, "ops", token=OPS_TOKEN) as ops,
        ):
            with pytest.raises(RequestRejected) as caught:
                await alice.admin_status()
            assert caught.value.code == "forbidden"
            with pytest.raises(RequestRejected) as caught:
                await alice.admin_history("ops")
            assert caught.value.code == "forbidden"
            await alice.send("ops", "for the operator")
            report = await ops.admin_status()
            assert {p.address: p.token for p in report.peers if p.online} == {
                "alice (proj)": "alice",
                "ops (proj)": "ops",
            }
            page = await ops.admin_history("alice")
            assert [m.body for m in page.messages] == ["for the operator"]

    run(scenario())


def test_settings_objects_never_show_the_token() -> None:
    """The reprs of client, MCP and hook settings leave the token out."""
    from ai_connect.config import client_settings
    from ai_connect.hooks.runtime import Link
    from ai_connect.mcp.server import McpSettings

    env = {"AI_CONNECT_CONFIG": "/nonexistent/config.yaml", "AI_CONNECT_TOKEN": ALICE_TOKEN}
    settings = client_settings(url="ws://127.0.0.1:1", name="alice", project="p", env=env)
    assert settings.token == ALICE_TOKEN and ALICE_TOKEN not in repr(settings)
    mcp = McpSettings(settings)
    link = Link(settings, "s", None)
    assert ALICE_TOKEN not in repr(mcp) and ALICE_TOKEN not in repr(link)


def test_the_admin_cli_shows_peers_and_histories(capsys: pytest.CaptureFixture[str]) -> None:
    """ai-connect admin status / history with an admin token; a normal token exits 1."""
    import asyncio

    async def scenario() -> None:
        async with (
            bridge(tokens=TOKENS) as server,
            make_client(server.url, "alice", token=ALICE_TOKEN) as alice,
        ):
            await alice.send("alice", "a note for the record")
            loop = asyncio.get_running_loop()

            async def cli(*args: str) -> int:
                argv = ["admin", *args]
                return await loop.run_in_executor(
                    None, lambda: main(argv, client_options=CLIENT_OPTIONS)
                )

            ops = ["--bridge", server.url, "--name", "ops", "--token", OPS_TOKEN]
            bob = ["--bridge", server.url, "--name", "bob", "--token", BOB_TOKEN]
            codes = [
                await cli("status", *ops),
                await cli("history", "alice", *ops),
                await cli("status", *bob),
            ]
            assert codes == [0, 0, 1]

    run(scenario())
    out, err = capsys.readouterr()
    assert "online  alice (proj)" in out and "token alice" in out
    assert "a note for the record" in out
    assert "admin tokens only" in err and OPS_TOKEN not in out + err


def test_failed_logins_are_logged_with_the_address_and_held_but_good_ones_are_not() -> None:
    """Over a real port: each wrong token is logged at INFO with the remote address (never
    the token); past the free failures the refusal comes only after its hold; a valid
    token from the same address is welcomed at once."""
    from ai_connect.bridge.logins import LoginPolicy
    from tests.support.bridge import bridge as real_bridge

    wrong = ALICE_TOKEN[:-3] + "zzz"
    policy = LoginPolicy(free=1, base_s=0.2, max_s=0.2)

    async def scenario() -> None:
        async with real_bridge(tokens=TOKENS, logins=policy) as server:
            loop = asyncio.get_running_loop()
            held = []
            for _ in range(2):
                client = make_client(server.url, "alice", token=wrong, reconnect=False)
                started = loop.time()
                with pytest.raises(RequestRejected) as caught:
                    await client.connect()
                held.append(loop.time() - started)
                assert caught.value.code == "auth_failed"
            assert held[1] >= 0.19  # the second failure waited out its hold
            good = make_client(server.url, "alice", token=ALICE_TOKEN, reconnect=False)
            await good.connect()  # not held (no LoginFailed for it)
            await good.close()

    with recording() as logs:
        run(scenario())
    failed = [r for r in logs.records if r.getMessage().startswith("failed login from")]
    assert [r.levelno for r in failed] == [logging.INFO, logging.INFO]
    assert all("127.0.0.1:" in r.getMessage() for r in failed)
    assert "as alice (" in failed[0].getMessage() and ": wrong, 1 from" in failed[0].getMessage()
    assert "held 0.2 s" in failed[1].getMessage()
    assert wrong not in logs.text() and ALICE_TOKEN not in logs.text()
