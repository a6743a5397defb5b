"""Hostile input at the CLI a user touches (the release check of 2026-12, branch
i16-release): bytes that are not UTF-8, stdin larger than any message, arguments the
protocol refuses, a config file that is not text, bridge flags out of range. Each is
refused with an error in ``ai-connect …`` words, exit 1 or 2, no traceback, and nothing
that was sent before is lost."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from ai_connect.config import bridge_settings, load_file
from ai_connect.errors import ConfigError, LocalProtocolError
from ai_connect.protocol import Limits
from tests.cli import test_cli as base
from tests.cli.test_cli import as_, cli_run, client, read_json, register, run, send_all
from tests.leases.support import clones

isolated_env = base.isolated_env  # the same fixtures as the CLI tests
bridge = base.bridge
url = base.url


class _Bytes(io.TextIOWrapper):
    """A stdin whose bytes are ``data`` (as a shell pipe gives them)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")


def test_send_refuses_stdin_that_is_not_utf8_and_keeps_the_earlier_mail(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`send PEER -` with Latin-1 (or random) bytes on stdin: a usage error naming the
    first bad byte and what to do, no traceback; bob still gets what came before."""
    register(url, "bob")
    send_all(url, "alice", "bob", ["before"])
    monkeypatch.setattr("sys.stdin", _Bytes(b"caf\xe9 au lait"))
    code, out, err = cli_run(capsys, "send", "bob", "-", *as_(url, "alice"))
    assert code == 2 and out == ""
    assert "stdin is not UTF-8 text (byte 0xe9 at offset 3)" in err
    assert "iconv" in err and "Traceback" not in err
    assert [m["content"] for m in read_json(capsys, url, "bob")] == ["before"]


def test_send_refuses_a_message_argument_that_is_not_utf8(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bytes in argv that are not UTF-8 reach Python as lone surrogates: refused as
    MESSAGE, not sent, no traceback."""
    register(url, "bob")
    bad = b"a\xffb".decode("utf-8", "surrogateescape")
    code, _, err = cli_run(capsys, "send", "bob", bad, *as_(url, "alice"))
    assert code == 2 and "MESSAGE is not UTF-8 text (byte 0xff at offset 1)" in err
    assert read_json(capsys, url, "bob") == []


def test_send_refuses_stdin_larger_than_any_frame_without_reading_it_all(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipe of more than a frame's hard limit is refused after reading just past it."""
    cap = Limits().hard_frame_bytes
    stream = io.BytesIO(b"x" * (cap + 4096))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(stream, encoding="utf-8"))
    code, _, err = cli_run(capsys, "send", "bob", "-", *as_(url, "alice"))
    assert code == 2 and f"stdin holds more than {cap} bytes" in err
    assert stream.tell() <= cap + 1 + io.DEFAULT_BUFFER_SIZE


def test_client_send_refuses_text_that_is_not_unicode_and_keeps_nothing(url: str) -> None:
    """BridgeClient.send with a lone surrogate (a library user's undecodable bytes):
    LocalProtocolError before the outbox, so nothing poisons a later reconnect."""

    async def scenario() -> None:
        async with client(url, "bob"):
            pass
        async with client(url, "alice") as alice:
            with pytest.raises(LocalProtocolError, match="not valid Unicode"):
                await alice.send("bob", "a\udcffb")
            with pytest.raises(LocalProtocolError, match="not valid Unicode"):
                await alice.send("bob", "fine", context={"note": "t\ud800"})
            assert alice.queued == 0
            receipt = await alice.send("bob", "after")
            assert receipt.id

    run(scenario())


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["search", ""], "invalid search request (query: String should have at least 1"),
        (
            ["send", "bob", "hi", "--thread", "t" * 200],
            "invalid send request (thread: String should have at most 128",
        ),
        (
            ["consensus", "propose", "", "--to", "bob"],
            "invalid propose request (question: String should have at least 1",
        ),
    ],
)
def test_arguments_the_protocol_refuses_are_errors_not_tracebacks(
    url: str, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    """An argument a frame's schema refuses: `LocalProtocolError: …` naming the field and
    the command's --help, exit 1 (it was a pydantic traceback); with --json also JSON."""
    register(url, "bob")
    code, out, err = cli_run(capsys, *argv, *as_(url, "alice"))
    assert (code, out) == (1, "")
    assert err.startswith("LocalProtocolError: " + said) and "Traceback" not in err
    command = " ".join(argv[: 2 if argv[0] == "consensus" else 1])
    assert f"'ai-connect {command} --help' shows" in err
    code, out, _ = cli_run(capsys, *argv, *as_(url, "alice"), "--json")
    assert code == 1 and '"type": "LocalProtocolError"' in out


def test_claim_of_an_empty_path_is_refused_not_the_whole_repository(
    url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`claim ''` (an unset shell variable) was a lease on every file (`**`): refused,
    saying that '.' is how to claim the whole repository."""
    monkeypatch.chdir(clones(tmp_path)[0])
    code, _, err = cli_run(capsys, "claim", "", *as_(url, "alice"))
    assert code == 1 and "an empty path" in err and "'.' for the whole repository" in err
    code, out, _ = cli_run(capsys, "claims", *as_(url, "alice"))
    assert code == 0 and "No file is leased" in out


def test_a_config_file_that_is_not_text_is_a_config_error(
    isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A binary or Latin-1 config.yaml: ConfigError with the file, the byte and what to
    do (it was a UnicodeDecodeError traceback on every command)."""
    isolated_env.write_bytes(b"peer:\n  name: J\xf6rg\n")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 0xf6 at offset 15\)"):
        load_file(isolated_env)
    code, _, err = cli_run(capsys, "status")
    assert code == 1 and err.startswith("ConfigError: config file ") and "move it away" in err


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        ({"port": 70000}, "--port must be a port number 0-65535, not 70000"),
        ({"port": -1}, "--port must be a port number 0-65535"),
        ({"retention_days": -1.0}, "--retention-days must be a positive number"),
        ({"retention_days": 0.0}, "--retention-days must be a positive number"),
        ({"presence_timeout_s": float("nan")}, "--presence-timeout must be a positive number"),
        ({"presence_timeout_s": float("inf")}, "--presence-timeout must be a positive number"),
    ],
)
def test_bridge_flags_out_of_range_are_config_errors(
    isolated_env: Path, flags: dict[str, Any], said: str
) -> None:
    """`bridge --port 70000` was an OverflowError traceback; `--retention-days -1` ran a
    bridge that pruned every read message and idle peer at once: both refused, as the
    same values in the config file are."""
    with pytest.raises(ConfigError, match=said.replace("(", r"\(")):
        bridge_settings(env={"AI_CONNECT_CONFIG": str(isolated_env)}, **flags)


def test_config_numbers_that_are_not_finite_are_refused(isolated_env: Path) -> None:
    """`retention_days: .nan` (YAML's NaN) passed the `<= 0` check: refused now."""
    isolated_env.write_text("server:\n  retention_days: .nan\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"server\.retention_days in .* must be a positive"):
        bridge_settings(env={"AI_CONNECT_CONFIG": str(isolated_env)})


def test_bridge_db_that_is_a_directory_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bridge --db FOLDER` said "unable to open database file. Check that its directory
    can be created" (newcomer review: confusing); now: it is a directory, give a file."""
    folder = tmp_path / "data"
    folder.mkdir()
    code, _, err = cli_run(capsys, "bridge", "--db", str(folder), "--port", "0")
    assert code == 1 and "it is a directory" in err and str(folder / "bridge.db") in err
    assert list(folder.iterdir()) == []


def test_a_project_the_bridge_would_refuse_names_where_it_came_from(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """AI_CONNECT_PROJECT with parentheses or an escape: refused before connecting, and
    the fix names the variable (it named only --project, which the user never gave)."""
    monkeypatch.setenv("AI_CONNECT_PROJECT", "web\x1b(shop)")
    code, _, err = cli_run(capsys, "status", *as_(url, "alice"))
    assert code == 1 and "in project 'web\\x1b(shop)'" in err
    assert "(--project, AI_CONNECT_PROJECT, peer.project)" in err and "Traceback" not in err
