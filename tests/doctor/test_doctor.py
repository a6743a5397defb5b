"""``ai-connect doctor`` run as a user runs it, against a bridge that is up, down, on TLS
with the wrong pin, with auth on; and its machine checks on a scratch home."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from ai_connect import tls
from ai_connect.bridge.auth import new_token
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.cli import main
from ai_connect.client import BridgeClient
from ai_connect.config import client_settings
from ai_connect.doctor.checks import Outcome, check_config, check_database
from tests.security.certs import make_authority
from tests.support.bridge import ThreadedBridge


@pytest.fixture(autouse=True)
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch home, config file and project, so the real ones are never read."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    for var in ("AI_CONNECT_BRIDGE", "AI_CONNECT_TOKEN", "AI_CONNECT_CA", "AI_CONNECT_DB"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "config.yaml"
    config.write_text("peer:\n  name: tester\n")
    monkeypatch.setenv("AI_CONNECT_CONFIG", str(config))
    project = tmp_path / "proj"
    project.mkdir()
    monkeypatch.chdir(project)
    return tmp_path


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """Runs ``ai-connect doctor --json``; returns the exit code and the checks by name."""
    code = main(["doctor", "--json", "--timeout", "5", *args])
    checks = json.loads(capsys.readouterr().out)
    return code, {c["check"]: c for c in checks}


def known_peers(url: str, name: str = "probe", **options: Any) -> list[str]:
    """The addresses the bridge knows, asked in query mode (which adds none)."""

    async def ask() -> list[str]:
        client = BridgeClient(url, name, "p", mode="query", reconnect=False, **options)
        await client.connect()
        try:
            return [p.address for p in await client.peers(include_offline=True)]
        finally:
            await client.close()

    return asyncio.run(asyncio.wait_for(ask(), 20))


def test_a_bridge_that_is_up_passes_with_a_round_trip_and_no_peer_left(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Up: bridge, token and round trip pass; afterwards the bridge knows no peer."""
    with ThreadedBridge() as bridge:
        code, checks = doctor(capsys, "--bridge", bridge.url)
        assert checks["bridge"]["outcome"] == "pass", checks["bridge"]
        assert checks["round trip"]["outcome"] == "pass", checks["round trip"]
        assert "hook path" in checks["round trip"]["summary"]
        assert "forgot the test peer" in checks["round trip"]["summary"]
        assert known_peers(bridge.url) == []
    assert checks["config"]["data"]["settings"]["url"]["source"] == "flag --bridge"
    assert checks["config"]["data"]["settings"]["name"] == {
        "value": "tester",
        "source": "file peer.name",
    }
    assert code == (1 if any(c["outcome"] == "fail" for c in checks.values()) else 0)


def test_a_bridge_that_is_down_fails_with_how_to_start_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Down: the bridge check fails naming the URL and the fix; no round trip; exit 1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}"
        code, checks = doctor(capsys, "--bridge", url)
    assert code == 1
    assert checks["bridge"]["outcome"] == "fail" and url in checks["bridge"]["summary"]
    assert "ai-connect bridge" in checks["bridge"]["fix"]
    assert "round trip" not in checks


@pytest.fixture
def certs(scratch: Path) -> Any:
    return make_authority(scratch, "ca").issue("bridge")


def test_a_tls_bridge_with_the_wrong_pin_fails_the_tls_check(
    certs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """TLS, wrong pin: the tls check fails with the fingerprint to take; nothing is sent."""
    context = tls.server_context(certs.cert, certs.key)
    wrong = "AB:" * 31 + "AB"
    with ThreadedBridge(ssl=context) as bridge:
        code, checks = doctor(capsys, "--bridge", bridge.url, "--fingerprint", wrong)
    assert code == 1
    assert checks["tls"]["outcome"] == "fail"
    assert "not the pinned" in checks["tls"]["summary"] and "fingerprint" in checks["tls"]["fix"]


def test_a_tls_bridge_with_the_right_pin_passes(
    certs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """TLS, right pin: tls passes and the round trip works over wss:// (the hook too)."""
    context = tls.server_context(certs.cert, certs.key)
    pin = tls.colon_hex(tls.file_fingerprint(certs.cert))
    with ThreadedBridge(ssl=context) as bridge:
        _, checks = doctor(capsys, "--bridge", bridge.url, "--fingerprint", pin)
    assert checks["tls"]["outcome"] == "pass"
    assert checks["round trip"]["outcome"] == "pass", checks["round trip"]


def test_ws_to_a_wss_bridge_is_named_as_such(
    certs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """ws:// to a bridge that serves wss://: the fix says to use wss://."""
    context = tls.server_context(certs.cert, certs.key)
    with ThreadedBridge(ssl=context) as bridge:
        plain = bridge.url.replace("wss://", "ws://")
        code, checks = doctor(capsys, "--bridge", plain)
    assert code == 1
    assert "serves wss://" in checks["bridge"]["fix"]


def test_with_auth_a_wrong_token_fails_and_a_good_one_round_trips(
    scratch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Auth on: another name's token fails the token check; the owner's passes the round
    trip in a project of its own, and leaves no peer."""
    store = SqliteStore(scratch / "b.db")
    token, record = new_token("tester", now=0.0)
    other, other_record = new_token("someone", now=0.0)
    store.put_token(record)
    store.put_token(other_record)
    with ThreadedBridge(store) as bridge:
        code, checks = doctor(capsys, "--bridge", bridge.url, "--token", other)
        assert code == 1 and checks["token"]["outcome"] == "fail"
        assert "may not register" in checks["token"]["summary"]
        code, checks = doctor(capsys, "--bridge", bridge.url, "--token", token)
        assert checks["token"]["outcome"] == "pass"
        assert checks["round trip"]["outcome"] == "pass", checks["round trip"]
        assert known_peers(bridge.url, "tester", token=token) == []


def test_unknown_config_keys_are_flagged(scratch: Path) -> None:
    """Misspelt keys are named (the original's mcp: is read now); values show sources."""
    config = scratch / "config.yaml"
    config.write_text("bridge:\n  hots: x\npeer:\n  nmae: y\nmcp:\n  port: 9998\nmpc: {}\n")
    env = {"AI_CONNECT_CONFIG": str(config), "AI_CONNECT_PEER_NAME": "envname"}
    check = check_config({"url": "ws://h:1"}, env)
    assert check.outcome is Outcome.WARN
    assert check.data["unknown_keys"] == ["bridge.hots", "peer.nmae", "mpc"]
    assert check.data["settings"]["name"] == {
        "value": "envname",
        "source": "env AI_CONNECT_PEER_NAME",
    }
    assert check.data["settings"]["url"]["source"] == "flag --bridge"
    assert client_settings(url="ws://h:1", env=env).name == "envname"


def test_a_config_file_that_is_named_but_missing_fails(scratch: Path) -> None:
    """AI_CONNECT_CONFIG naming no file: fail, saying so."""
    check = check_config({}, {"AI_CONNECT_CONFIG": str(scratch / "nope.yaml")})
    assert check.outcome is Outcome.FAIL and "does not exist" in check.summary


def test_a_database_others_can_read_is_flagged(scratch: Path) -> None:
    """A 0644 database in a 0755 folder: warn, with the chmod commands."""
    folder = scratch / "data"
    folder.mkdir(mode=0o755)
    db = folder / "bridge.db"
    db.write_bytes(b"x" * 10)
    db.chmod(0o644)
    folder.chmod(0o755)
    check = check_database({"AI_CONNECT_DB": str(db), "AI_CONNECT_CONFIG": "/nonexistent"})
    assert check.outcome is Outcome.WARN
    assert f"chmod 600 {db}" in check.fix and f"chmod 700 {folder}" in check.fix
    db.chmod(0o600)
    folder.chmod(0o700)
    assert check_database({"AI_CONNECT_DB": str(db)}).outcome is Outcome.PASS


def test_setups_show_present_current_and_outdated(
    scratch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After 'ai-connect setup claude-code --project' the doctor says current; another
    program path makes it outdated with the setup command as the fix."""
    from ai_connect.doctor.checks import check_setups

    project = scratch / "proj"
    assert (
        main(
            [
                "setup",
                "claude-code",
                "--project",
                "--dir",
                str(project),
                "--command",
                "/x/ai-connect",
            ]
        )
        == 0
    )
    capsys.readouterr()
    home = Path.home()
    current = {c.name: c for c in check_setups(["/x/ai-connect"], project, home, home)}
    assert current["setup claude-code --project"].outcome is Outcome.PASS
    outdated = {c.name: c for c in check_setups(["/y/ai-connect"], project, home, home)}
    check = outdated["setup claude-code --project"]
    assert check.outcome is Outcome.WARN and check.fix.startswith("ai-connect setup claude-code")


def test_a_list_of_node_urls_is_checked_through_its_first_answering_node(
    certs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """--bridge with several nodes (docs/deploy.md): a dead first node is passed over;
    a ws:// list to wss:// nodes is named as such, from the first node."""
    context = tls.server_context(certs.cert, certs.key)
    pin = tls.colon_hex(tls.file_fingerprint(certs.cert))
    with ThreadedBridge(ssl=context) as bridge:
        host_port = bridge.url.split("://", 1)[1]
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            dead = f"wss://127.0.0.1:{closed.getsockname()[1]}"
            _, checks = doctor(capsys, "--bridge", f"{dead},{bridge.url}", "--fingerprint", pin)
        assert checks["round trip"]["outcome"] == "pass", checks
        code, checks = doctor(capsys, "--bridge", f"ws://{host_port},ws://{host_port}")
    assert code == 1 and "serves wss://" in checks["bridge"]["fix"]
