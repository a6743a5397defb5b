"""What a newcomer meets first: --version, -h, completion, wait's address, errors in the
CLI's own words (issue 11, items 17 and 18)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ai_connect import __version__
from ai_connect.cli import messages
from tests.cli import test_cli as base
from tests.cli.test_cli import PROJECT, as_, cli_run, client, register, run, send_all

isolated_env = base.isolated_env  # the same fixtures as the CLI tests
bridge = base.bridge
url = base.url
refused_url = base.refused_url


# --- --version, -h, completion ------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_flags_print_the_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`ai-connect --version` (and -V) prints the version, exit 0."""
    assert cli_run(capsys, flag)[:2] == (0, f"{__version__}\n")


@pytest.mark.parametrize(
    "argv", [["-h"], ["send", "-h"], ["consensus", "-h"], ["consensus", "vote", "-h"]]
)
def test_dash_h_is_help_everywhere(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """-h shows the same help as --help, on the app, a command and a group's command."""
    code, out, _ = cli_run(capsys, *argv)
    assert code == 0 and out.startswith("Usage: ai-connect")
    assert cli_run(capsys, *argv[:-1], "--help")[1] == out


def test_shell_completion_completes_commands_and_options(tmp_path: Path) -> None:
    """typer's completion: --show-completion prints a script; the program completes."""
    program = [sys.executable, "-m", "ai_connect"]
    env = {**os.environ, "AI_CONNECT_CONFIG": str(tmp_path / "none.yaml")}
    # The shell is named, not detected: under `sh scripts/test.sh` the parent is sh.
    env["_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"] = "1"
    shown = subprocess.run(
        [*program, "--show-completion", "bash"], capture_output=True, text=True, env=env, timeout=60
    )
    assert shown.returncode == 0 and "_AI_CONNECT_COMPLETE" in shown.stdout
    asked = {
        **env,
        "_AI_CONNECT_COMPLETE": "complete_bash",
        "COMP_WORDS": "ai-connect consensus wi",
        "COMP_CWORD": "2",
    }
    done = subprocess.run(program, capture_output=True, text=True, env=asked, timeout=60)
    assert done.stdout.split() == ["withdraw"], done


# --- wait says which address it waits as ----------------------------------------------------


def test_wait_at_a_terminal_says_which_address_it_waits_as(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a terminal, wait prints 'waiting as bob (proj) on URL' to stderr first."""
    monkeypatch.setattr(messages, "_interactive", lambda: True)
    code, out, err = cli_run(capsys, "wait", "--timeout", "0.2", *as_(url, "bob"))
    assert (code, out) == (124, "")
    assert err.splitlines()[0] == f"waiting as bob ({PROJECT}) on {url} (Ctrl-C stops)"


def test_wait_as_a_taken_name_says_it_got_name_2(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second wait as zoe is zoe#2: it says so, and where mail to zoe goes, even piped."""

    async def scenario() -> tuple[int, str]:
        async with client(url, "zoe"):
            code = await asyncio.to_thread(
                base.main, ["wait", "--timeout", "0.2", *as_(url, "zoe")]
            )
        return code, capsys.readouterr().err

    code, err = run(scenario())
    assert code == 124
    first = err.splitlines()[0]
    assert first.startswith(f"waiting as zoe#2 ({PROJECT}) on {url}; zoe ({PROJECT}) is taken")


# --- errors in the CLI's words --------------------------------------------------------------


def test_a_typo_of_a_peer_gets_did_you_mean_and_a_cli_command(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """send alcie: 'did you mean alice (proj)?' and 'ai-connect peers', never 'call peers'."""
    register(url, "alice")
    code, _, err = cli_run(capsys, "send", "alcie", "hi", *as_(url, "bob"))
    assert code == 1
    assert f"did you mean alice ({PROJECT})?" in err
    assert "ai-connect peers" in err and "call peers" not in err


def test_consensus_errors_name_cli_commands(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown or closed proposal points to 'ai-connect consensus …', not MCP tools."""
    register(url, "bob")
    code, _, err = cli_run(capsys, "consensus", "vote", "prop-nope", "approve", *as_(url, "bob"))
    assert code == 1 and "ai-connect consensus list" in err
    assert "consensus_list" not in err and "frame" not in err
    _, out, _ = cli_run(capsys, "consensus", "propose", "q", "--to", "bob",
                        *as_(url, "alice"), "--json")  # fmt: skip
    pid = json.loads(out)["id"]
    cli_run(capsys, "consensus", "withdraw", pid, *as_(url, "alice"))
    code, _, err = cli_run(capsys, "consensus", "vote", pid, "approve", *as_(url, "bob"))
    assert code == 1 and f"ai-connect consensus status {pid}" in err
    assert "consensus_status" not in err


def test_quorum_rule_without_quorum_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--rule quorum without --quorum says --quorum (exit 2), before any connection."""
    code, _, err = cli_run(capsys, "consensus", "propose", "q", "--to", "b", "--rule", "quorum")
    assert code == 2 and "--quorum" in err


def test_a_proposal_reads_as_text_with_the_cli_way_to_vote(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """read shows a proposal as lines (rule, participants, how to vote with
    'ai-connect consensus vote'), no raw JSON and no MCP tool name."""
    register(url, "bob")
    _, out, _ = cli_run(capsys, "consensus", "propose", "Split core.py?", "--to", "bob",
                        "--context", "core.py is long", *as_(url, "alice"), "--json")  # fmt: skip
    pid = json.loads(out)["id"]
    code, out, _ = cli_run(capsys, "read", *as_(url, "bob"))
    assert code == 0
    assert "Split core.py?" in out and "consensus_vote" not in out and '{"' not in out
    assert f"ai-connect consensus vote {pid} approve|reject|abstain --reason" in out
    assert "core.py is long" in out


def test_a_peer_context_reads_as_file_lines_not_json(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A peer_context message (file, lines, commit, sha256, content) reads as a header and
    '| ' lines in `read`, not as one JSON dump."""
    register(url, "bob")
    context = {
        "file": "src/app.py",
        "lines": "1-2",
        "content": "import os\nprint(os.name)\n",
        "sha256": "ab" * 32,
        "repo": "shop",
        "branch": "main",
        "commit": "0123456789abcdef",
        "dirty": False,
        "truncated": False,
    }
    send_all(url, "alice", "bob", ["look at this"], context=context)
    code, out, _ = cli_run(capsys, "read", *as_(url, "bob"))
    assert code == 0 and '{"' not in out
    assert "context: src/app.py lines 1-2 · repo shop · branch main · commit 0123456789ab" in out
    assert "    | print(os.name)" in out


def test_json_errors_are_json_on_stdout(
    refused_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --json a failure prints {"error": {type, message, hint}} on stdout, exit 1."""
    code, out, _ = cli_run(capsys, "send", "bob", "hi", "--json", *as_(refused_url, "a"))
    assert code == 1
    error = json.loads(out)["error"]
    assert error["type"] == "NotConnected" and refused_url in error["message"]


def test_json_usage_errors_are_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    """A usage error under --json is JSON on stdout as well (exit 2)."""
    code, out, _ = cli_run(capsys, "consensus", "vote", "p", "maybe", "--json")
    assert code == 2
    assert json.loads(out)["error"]["type"] == "UsageError"


def test_a_bad_name_is_one_clear_error_not_connected_no(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """status --name 'bad(name': no 'connected: no' line, no pydantic 'Value error,'."""
    code, out, err = cli_run(capsys, "status", "--bridge", url, "--name", "bad(name")
    assert (code, out) == (1, "")
    assert err.startswith("LocalProtocolError: cannot register as 'bad(name'")
    assert "Value error" not in err


def test_the_bridge_banner_names_its_own_database_in_the_token_hint(tmp_path: Path) -> None:
    """A bridge on --db X says 'ai-connect token create NAME --db X' (else the token would
    go to the default database); on the default one, no --db."""
    from ai_connect.cli.bridge import _auth_line

    db = tmp_path / "my bridge.db"
    assert f"'ai-connect token create NAME --db '{db}''" in _auth_line([], False, db)
    assert "'ai-connect token create NAME' turns it on" in _auth_line([], False, None)


def test_wait_cut_off_by_a_revoked_token_blames_the_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A waiter whose token is revoked exits 1 saying the bridge no longer accepts the
    token, not 'check that it runs'."""
    from ai_connect.bridge.auth import new_token
    from ai_connect.bridge.store.memory import MemoryStore
    from ai_connect.protocol import Presence
    from tests.support.bridge import ThreadedBridge
    from tests.support.inprocess import serving

    now = time.time()
    alice_token, alice = new_token("alice", now=now)
    watch_token, watcher = new_token("watcher", now=now)
    store = MemoryStore()
    with (
        ThreadedBridge(store, listen=False, tokens=(alice, watcher), auth_reload_s=3600) as br,
        serving(br) as served,
    ):

        async def scenario() -> int:
            joined: asyncio.Queue[Presence] = asyncio.Queue()
            async with client(served, "watcher", presence=True, token=watch_token) as w:
                w.add_listener(lambda e: joined.put_nowait(e) if isinstance(e, Presence) else None)
                argv = ["wait", "--timeout", "20", *as_(served, "alice"), "--token", alice_token]
                waiting = asyncio.ensure_future(asyncio.to_thread(base.main, argv))
                while (await asyncio.wait_for(joined.get(), 10)).peer.address != "alice (proj)":
                    pass
                assert store.revoke_token(alice.id, time.time())
                assert br.server is not None
                await asyncio.to_thread(br.call, br.server.reload_tokens())
                return await asyncio.wait_for(waiting, 15)

        assert run(scenario()) == 1
    err = capsys.readouterr().err
    assert "no longer accepts this token" in err and "check that it runs" not in err, err


def test_help_as_a_command_shows_the_same_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`ai-connect help` and `ai-connect help consensus vote` are --help of those."""
    assert cli_run(capsys, "help")[:2] == cli_run(capsys, "--help")[:2]
    code, out, _ = cli_run(capsys, "help", "consensus", "vote")
    assert code == 0 and out == cli_run(capsys, "consensus", "vote", "--help")[1]


@pytest.mark.parametrize(
    ("argv", "meant"),
    [
        (["consensus", "vote", "prop-1", "aprove"], "did you mean approve?"),
        (["consensus", "list", "--status", "opne"], "did you mean open?"),
        (["consensus", "propose", "q", "--to", "b", "--rule", "majorty"], "did you mean majority?"),
        (["setup", "claude"], "did you mean claude-code?"),
        (["sned", "bob", "hi"], "Did you mean 'send'?"),
    ],
)
def test_typos_of_values_and_commands_get_did_you_mean(
    argv: list[str], meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt choice, client or command is a usage error (exit 2) naming the likely one."""
    code, _, err = cli_run(capsys, *argv)
    assert code == 2 and meant in err, err
