"""``--bridge`` given several times names the nodes of one bridge, like a comma list
(issue 14, item 4: "--bridge repeated, a comma list in AI_CONNECT_BRIDGE, bridge.urls")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from ai_connect import cli
from ai_connect.cli.app import app
from ai_connect.config import client_settings, explain_client, joined_urls
from tests.cli import test_cli
from tests.support.bridge import ThreadedBridge
from tests.support.inprocess import CLIENT_OPTIONS, serving, unserved_url

isolated_env = test_cli.isolated_env  # the same fixture as the CLI tests


def commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every command under ``group`` (typer's click tree), with its full name."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from commands(command, f"{prefix}{name} ")
        else:
            yield prefix + name, command


def test_every_command_with_bridge_takes_it_repeated_and_says_so() -> None:
    """Every --bridge (CLI, consensus, admin, doctor, watch, mcp, hooks) may be repeated,
    and its help says so."""
    root = typer.main.get_command(app)
    seen = []
    for name, command in commands(root):
        for param in command.params:
            if "--bridge" in getattr(param, "opts", []):
                seen.append(name)
                assert param.multiple, f"ai-connect {name}: --bridge keeps only the last"
                assert "repeat" in (param.help or ""), f"ai-connect {name}: help is silent"
    wanted = {"send", "read", "wait", "status", "peers", "mcp", "doctor", "watch"}
    wanted |= {"admin status", "consensus propose", "hook claude", "hook wait", "hook codex"}
    assert wanted <= set(seen)


def test_repeated_urls_join_into_the_same_list_as_a_comma_list() -> None:
    """--bridge a --bridge b,c is the list a,b,c, in order, as from the env or config."""
    assert joined_urls(None) is None and joined_urls([]) is None
    assert joined_urls("ws://a:1") == "ws://a:1"
    env: dict[str, str] = {"AI_CONNECT_BRIDGE": "ws://env:1"}
    got = client_settings(url=["a:1", "ws://b:2,ws://c:3"], env=env).url
    assert got == "ws://a:1,ws://b:2,ws://c:3"
    assert client_settings(url=[], env=env).url == "ws://env:1"
    assert explain_client(url=["a:1", "b:2"], env={})["url"].source == "flag --bridge"


def test_a_command_given_two_nodes_reaches_the_second_when_the_first_refuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """status --bridge REFUSED --bridge NODE: connected to NODE (before, only the last
    --bridge counted, so the order decided whether it connected at all)."""
    with ThreadedBridge(listen=False) as bridge, serving(bridge) as url:
        for first, second in ((unserved_url(), url), (url, unserved_url())):
            argv = ["status", "--json", "--bridge", first, "--bridge", second, "--name", "al"]
            assert cli.main(argv, client_options=CLIENT_OPTIONS) == 0
            status = json.loads(capsys.readouterr().out)
            assert status["connected"] is True, status
