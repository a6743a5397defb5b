"""wss:// end to end: the bridge serves TLS; clients verify by CA, or by a pinned fingerprint.

A CA and certificates are made at test time (certs.py); everything runs on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ai_connect import tls
from ai_connect.bridge.server import BridgeServer
from ai_connect.cli import main
from ai_connect.client import BridgeClient, LinkState
from ai_connect.errors import ConfigError, NotConnected, TlsError

from ..client.support import make_client, run
from .certs import Issued, make_authority
from .support import secured_bridge


@dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path
    good: Issued
    wrong_host: Issued


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pki]:
    """One CA with a certificate for 127.0.0.1 and one for another host; a second CA."""
    folder = tmp_path_factory.mktemp("pki")
    authority = make_authority(folder, "ours")
    other = make_authority(folder, "theirs")
    yield Pki(
        authority.pem,
        other.pem,
        authority.issue("good", ip="127.0.0.1"),
        authority.issue("elsewhere", ip=None, dns="bridge.example"),
    )


def serving(cert: Issued) -> dict[str, object]:
    """ServerSettings for wss:// with ``cert``."""
    return {"ssl": tls.server_context(cert.cert, cert.key)}


async def refused(client: BridgeClient) -> TlsError:
    """Connects ``client`` expecting a TlsError; the client is then closed."""
    with pytest.raises(TlsError) as caught:
        await client.connect()
    assert client.state is LinkState.CLOSED
    return caught.value


def test_a_certificate_from_the_given_ca_is_accepted(pki: Pki) -> None:
    """wss:// with --ca: the handshake verifies the chain and the IP, then hello works."""

    async def scenario() -> None:
        async with secured_bridge(**serving(pki.good)) as server:
            assert server.url.startswith("wss://127.0.0.1:")
            context = tls.client_context(server.url, pki.ca)
            async with make_client(server.url, "alice", ssl=context) as client:
                assert (await client.status()).address == "alice (proj)"

    run(scenario())


def test_a_certificate_from_another_ca_is_refused_clearly(pki: Pki) -> None:
    """Wrong CA: TlsError naming the failed verification and --ca/--fingerprint; no hello."""

    async def scenario() -> None:
        async with secured_bridge(**serving(pki.good)) as server:
            context = tls.client_context(server.url, pki.other_ca)
            error = await refused(make_client(server.url, "alice", ssl=context))
            assert "could not be verified" in str(error) and "--ca" in str(error)
            assert "Nothing was sent" in str(error)
            assert server.router.online == {}

    run(scenario())


def test_the_system_store_does_not_trust_a_private_ca(pki: Pki) -> None:
    """wss:// without --ca uses the system store, which refuses a private CA's certificate."""

    async def scenario() -> None:
        async with secured_bridge(**serving(pki.good)) as server:
            error = await refused(make_client(server.url, "alice"))
            assert "system's trust store" in str(error)

    run(scenario())


def test_a_certificate_for_another_host_is_refused(pki: Pki) -> None:
    """A valid chain for bridge.example does not pass for 127.0.0.1: the host name is named."""

    async def scenario() -> None:
        async with secured_bridge(**serving(pki.wrong_host)) as server:
            context = tls.client_context(server.url, pki.ca)
            error = await refused(make_client(server.url, "alice", ssl=context))
            assert "host name" in str(error)

    run(scenario())


def test_a_pinned_fingerprint_is_enough_and_must_match(pki: Pki) -> None:
    """--fingerprint: the right pin connects without a CA; a wrong one is refused before hello."""

    async def scenario() -> None:
        async with secured_bridge(**serving(pki.wrong_host)) as server:
            pin = tls.colon_hex(tls.cert_fingerprint(pki.good.der))
            good = tls.file_fingerprint(pki.wrong_host.cert)
            async with make_client(server.url, "alice", fingerprint=good) as client:
                assert client.connected
            error = await refused(make_client(server.url, "bob", fingerprint=pin))
            assert "not the pinned" in str(error) and good in str(error)
            assert set(server.router.online) == set()

    run(scenario())


def test_plaintext_and_tls_never_mix(pki: Pki) -> None:
    """ws:// to a wss bridge and wss:// to a ws bridge both fail: never a silent downgrade."""

    async def scenario() -> None:
        async with secured_bridge(**serving(pki.good)) as server:
            plain = server.url.replace("wss://", "ws://")
            with pytest.raises(NotConnected) as caught:
                await make_client(plain, "alice", reconnect=False).connect()
            assert not isinstance(caught.value, TlsError)
        async with secured_bridge() as server:
            secure = server.url.replace("ws://", "wss://")
            context = tls.client_context(secure, pki.ca)
            client = make_client(secure, "alice", ssl=context, reconnect=False)
            with pytest.raises(NotConnected):
                await client.connect()
            assert server.router.online == {}

    run(scenario())


def test_ca_or_fingerprint_with_a_ws_url_is_a_config_error(pki: Pki) -> None:
    """--ca or --fingerprint on a ws:// URL would promise protection: ConfigError."""
    with pytest.raises(ConfigError, match="wss://"):
        tls.client_context("ws://127.0.0.1:1", pki.ca)
    with pytest.raises(ConfigError, match="SHA-256"):
        tls.normalise_fingerprint("not-a-fingerprint")
    assert tls.normalise_fingerprint("sha256:" + "AB:" * 31 + "AB") == "ab" * 32


def test_the_cli_verifies_with_ca_and_fingerprint_options(
    pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """ai-connect status with --ca or --fingerprint connects; a wrong CA exits 1 (TlsError)."""

    async def scenario(server_ready: asyncio.Future[BridgeServer], done: asyncio.Event) -> None:
        async with secured_bridge(**serving(pki.good)) as server:
            server_ready.set_result(server)
            await done.wait()

    async def drive() -> None:
        ready: asyncio.Future[BridgeServer] = asyncio.get_running_loop().create_future()
        done = asyncio.Event()
        task = asyncio.create_task(scenario(ready, done))
        server = await ready
        url = server.url
        pin = tls.file_fingerprint(pki.good.cert)
        loop = asyncio.get_running_loop()
        args = ["status", "--bridge", url, "--name", "cli", "--project", "p"]
        codes = [
            await loop.run_in_executor(None, main, [*args, "--ca", str(pki.ca)]),
            await loop.run_in_executor(None, main, [*args, "--fingerprint", pin]),
            await loop.run_in_executor(None, main, [*args, "--ca", str(pki.other_ca)]),
        ]
        done.set()
        await task
        assert codes == [0, 0, 1]

    run(drive())
    err = capsys.readouterr().err
    assert "TlsError: TLS verification of wss://127.0.0.1" in err


def test_hooks_take_ca_and_fingerprint_from_flags_or_environment(pki: Pki, tmp_path: Path) -> None:
    """ai-connect hook --ca/--fingerprint (or AI_CONNECT_CA/_FINGERPRINT) reach the link."""
    from ai_connect.hooks.contracts import parse_input
    from ai_connect.hooks.runtime import HookSettings, resolve_link

    hook = parse_input("claude", '{"hook_event_name": "Stop", "session_id": "s", "cwd": "/"}')
    env = {"AI_CONNECT_CONFIG": str(tmp_path / "none.yaml"), "AI_CONNECT_RUNTIME_DIR":
           str(tmp_path), "AI_CONNECT_FINGERPRINT": "ab" * 32}  # fmt: skip
    by_env = resolve_link(hook, HookSettings(env=env, bridge="wss://127.0.0.1:1", chain=(1,)))
    assert (by_env.ca, by_env.fingerprint) == (None, "ab" * 32)
    flags = HookSettings(env=env, bridge="wss://127.0.0.1:1", ca=str(pki.ca), chain=(1,))
    assert resolve_link(hook, flags).ca == str(pki.ca)
