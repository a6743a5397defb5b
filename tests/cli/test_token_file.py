"""The token without the process list (issue 11, item 8): ``--token-file`` wherever
``--token`` exists (every client command, admin, doctor, mcp, hooks), ``AI_CONNECT_TOKEN``
and ``AI_CONNECT_TOKEN_FILE``, ``bridge.token_file``; a warning when ``--token`` is used."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from ai_connect import cli
from ai_connect.bridge.auth import new_token
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.cli.app import app
from ai_connect.cli.options import TOKEN_ON_COMMAND_LINE
from ai_connect.config import client_settings, explain_client
from ai_connect.errors import ConfigError
from ai_connect.hooks.contracts import parse_input
from ai_connect.hooks.runtime import HookSettings, resolve_link
from tests.support.bridge import ThreadedBridge
from tests.support.inprocess import CLIENT_OPTIONS, serving

TOKEN, RECORD = new_token("alice", now=0.0)


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No user config, no token in the environment."""
    monkeypatch.setenv("AI_CONNECT_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("AI_CONNECT_PROJECT", "proj")
    for var in ("AI_CONNECT_TOKEN", "AI_CONNECT_TOKEN_FILE", "AI_CONNECT_BRIDGE"):
        monkeypatch.delenv(var, raising=False)
    return {"AI_CONNECT_CONFIG": str(tmp_path / "none.yaml")}


def test_the_token_comes_from_a_file_env_or_config(
    token_file: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """--token-file, AI_CONNECT_TOKEN_FILE and bridge.token_file each give the file's token;
    a flag wins over the environment, the environment over the config file."""
    assert client_settings(token_file=str(token_file), env=env).token == TOKEN
    assert client_settings(env=env | {"AI_CONNECT_TOKEN_FILE": str(token_file)}).token == TOKEN
    config = tmp_path / "config.yaml"
    config.write_text(f"bridge:\n  token_file: {token_file}\n")
    assert client_settings(env={"AI_CONNECT_CONFIG": str(config)}).token == TOKEN
    both = {"AI_CONNECT_CONFIG": str(config), "AI_CONNECT_TOKEN": "aic_env"}
    assert client_settings(env=both).token == "aic_env"
    assert client_settings(token_file=str(token_file), env=both).token == TOKEN
    source = explain_client(token_file=str(token_file), env=env)["token"].source
    assert source == f"flag --token-file {token_file}"


def test_a_bad_token_file_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    """Missing, empty, or both --token and --token-file: a ConfigError saying what to do."""
    with pytest.raises(ConfigError, match=r"cannot read the token file .*first line"):
        client_settings(token_file=str(tmp_path / "missing"), env=env)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        client_settings(token_file=str(empty), env=env)
    with pytest.raises(ConfigError, match="--token or --token-file, not both"):
        client_settings(token="aic_x", token_file=str(empty), env=env)


def test_a_token_file_others_can_read_is_used_with_a_warning(
    token_file: Path, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A 0644 token file still works, and says: chmod 600 FILE."""
    token_file.chmod(0o644)
    with caplog.at_level(logging.WARNING, "ai_connect.config"):
        assert client_settings(token_file=str(token_file), env=env).token == TOKEN
    assert f"chmod 600 {token_file}" in caplog.text


def test_a_config_file_holding_the_token_warns_when_others_can_read_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """bridge.token in a 0644 config file: used, with the chmod that fixes it; 0600: quiet."""
    config = tmp_path / "config.yaml"
    config.write_text("bridge:\n  token: aic_conf\n")
    config.chmod(0o644)
    env = {"AI_CONNECT_CONFIG": str(config)}
    with caplog.at_level(logging.WARNING, "ai_connect.config"):
        assert client_settings(env=env).token == "aic_conf"
    assert f"chmod 600 {config}" in caplog.text
    caplog.clear()
    config.chmod(0o600)
    with caplog.at_level(logging.WARNING, "ai_connect.config"):
        client_settings(env=env)
    assert caplog.text == ""


def _commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf command under ``group`` (typer's own click), with its full name."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield prefix + name, command


def test_every_command_with_token_also_takes_token_file() -> None:
    """CLI, consensus, admin, doctor, mcp: --token never comes without --token-file; every
    hook command takes --token-file (hooks have no --token at all)."""
    root = typer.main.get_command(app)
    with_token = []
    for name, command in _commands(root):
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        if name.startswith("hook "):
            assert "--token-file" in options and "--token" not in options, name
        elif "--token" in options:
            with_token.append(name)
            assert "--token-file" in options, f"ai-connect {name} has --token only"
    assert {"send", "read", "status", "mcp", "doctor", "admin status"} <= set(with_token)
    assert {"hook claude", "hook wait", "hook codex"} <= {n for n, _ in _commands(root)}


def test_the_cli_authenticates_from_a_token_file_and_warns_about_token(
    token_file: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """status --token-file connects quietly; status --token connects and warns on stderr."""
    store = MemoryStore()
    store.put_token(RECORD)
    with ThreadedBridge(store, listen=False) as bridge, serving(bridge) as url:
        me = ["--bridge", url, "--name", "alice"]
        assert (
            cli.main(
                ["status", *me, "--token-file", str(token_file)], client_options=CLIENT_OPTIONS
            )
            == 0
        )
        out, err = capsys.readouterr()
        assert "connected: yes" in out and err == ""
        assert cli.main(["status", *me, "--token", TOKEN], client_options=CLIENT_OPTIONS) == 0
        out, err = capsys.readouterr()
        assert "connected: yes" in out and TOKEN_ON_COMMAND_LINE in err
        assert TOKEN not in err


def test_a_hook_reads_its_token_file(token_file: Path, tmp_path: Path) -> None:
    """HookSettings.token_file (ai-connect hook … --token-file) reaches the hook's client."""
    data = {"hook_event_name": "PostToolUse", "cwd": str(tmp_path)}
    hook = parse_input("claude", json.dumps(data))
    settings = HookSettings(
        env={"AI_CONNECT_CONFIG": str(tmp_path / "none.yaml")},
        token_file=str(token_file),
        chain=(1,),
    )
    assert resolve_link(hook, settings).connection.token == TOKEN
