"""The connection options every command that talks to the bridge shares (cli/options.py):
one ``conn: Connection`` parameter in the code, the same options on every command line."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import typer.main

from ai_connect import cli
from ai_connect.cli.app import app
from ai_connect.cli.options import CONNECTION_OPTIONS, Connection, JsonOpt, connects
from tests.cli import test_cli
from tests.cli.test_bridge_repeated import commands

TLS = {"--ca", "--fingerprint"}


isolated_env = test_cli.isolated_env  # the same fixture as the CLI tests


def test_every_command_that_takes_bridge_takes_ca_and_fingerprint() -> None:
    """A wss:// bridge with its own CA or a pinned certificate is reachable from every
    command with --bridge: consensus and admin included."""
    missing = {}
    for name, command in commands(typer.main.get_command(app)):
        opts = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if "--bridge" in opts and not opts >= TLS:
            missing[name] = sorted(TLS - opts)
    assert missing == {}


@pytest.mark.parametrize(
    "argv", [["consensus", "list"], ["consensus", "status", "prop-1"], ["admin", "status"]]
)
def test_consensus_and_admin_pass_the_pin_to_their_client(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--fingerprint reaches the client's settings: on a ws:// URL it is refused as the
    other commands refuse it (exit 1, what to do), not as an unknown option (exit 2)."""
    code = cli.main([*argv, "--bridge", "ws://127.0.0.1:9", "--fingerprint", "ab" * 32])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "--ca and --fingerprint verify a wss:// bridge" in err


def test_connects_puts_the_options_where_conn_stands() -> None:
    """The command line shows the connection options, in order, in place of ``conn``;
    the decorated command gets them as one Connection."""
    got: list[Connection] = []

    @connects
    def command(what: str, *, conn: Connection, as_json: JsonOpt = False) -> None:
        got.append(conn)

    names = list(inspect.signature(command).parameters)
    assert names == ["ctx", "what", *CONNECTION_OPTIONS, "as_json"]
    given = dict.fromkeys(CONNECTION_OPTIONS) | {"token_file": "/t", "ca": "/ca.pem"}
    command(ctx=typer.Context(typer.main.get_command(app), obj={"x": 1}), what="w", **given)
    assert got == [Connection(token_file="/t", ca="/ca.pem", extra={"x": 1})]


def test_connects_refuses_a_command_without_conn() -> None:
    """A command that takes no ``conn`` is a mistake in our code, caught at import."""

    def command(what: str) -> None: ...

    with pytest.raises(TypeError, match="conn"):
        connects(command)


def test_a_connection_makes_the_client_of_its_options(tmp_path: Path) -> None:
    """Connection.client: the nodes, name, project and the token read from --token-file;
    a command's client never reconnects by itself."""
    secret = tmp_path / "token"
    secret.write_text("s3cret\n", encoding="utf-8")
    secret.chmod(0o600)
    conn = Connection(
        bridge=["ws://127.0.0.1:1", "ws://127.0.0.1:2"],
        name="alice",
        project="app",
        token_file=str(secret),
    )
    client = conn.client(mode="query")
    assert (client.url, client.name, client.project) == (
        "ws://127.0.0.1:1,ws://127.0.0.1:2",
        "alice",
        "app",
    )
    assert client._token == "s3cret" and client._mode == "query"
    assert client._link._reconnect is False
