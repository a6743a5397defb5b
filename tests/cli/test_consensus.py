"""``ai-connect consensus propose|vote|status|list`` against a real bridge (thread)."""

from __future__ import annotations

import json

import pytest

from tests.cli import test_cli as base
from tests.cli.test_cli import PROJECT, as_, cli_run, register

isolated_env = base.isolated_env  # the same fixtures as the CLI tests
bridge = base.bridge
url = base.url


def test_propose_vote_status_and_list_from_a_shell(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A proposal made, voted on and listed with the CLI alone reaches its verdict."""
    register(url, "bob", "carol")
    code, out, err = cli_run(
        capsys, "consensus", "propose", "ship it?", "--to", "bob", "--to", "carol",
        *as_(url, "alice"), "--json",
    )  # fmt: skip
    assert code == 0, err
    pid = json.loads(out)["id"]
    code, out, _ = cli_run(capsys, "consensus", "vote", pid, "approve", "--reason", "ok",
                           *as_(url, "bob"))  # fmt: skip
    assert code == 0 and "1 approve" in out
    code, out, _ = cli_run(capsys, "consensus", "vote", pid, "approve", *as_(url, "carol"))
    assert code == 0 and "decided: approved" in out
    code, out, _ = cli_run(capsys, "consensus", "status", pid, *as_(url, "alice"), "--json")
    assert json.loads(out)["outcome"] == "approved"
    code, out, _ = cli_run(capsys, "consensus", "list", "--status", "decided", *as_(url, "bob"))
    assert code == 0 and pid in out and f"bob ({PROJECT}): approve ok" in out


def test_a_refused_vote_exits_non_zero_with_the_reason(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A non-participant's vote prints RequestRejected: ... not a participant, exit 1."""
    register(url, "bob")
    code, out, _ = cli_run(capsys, "consensus", "propose", "q", "--to", "bob",
                           *as_(url, "alice"), "--json")  # fmt: skip
    pid = json.loads(out)["id"]
    code, _, err = cli_run(capsys, "consensus", "vote", pid, "reject", *as_(url, "mallory"))
    assert code == 1 and "not a participant" in err
    code, _, err = cli_run(capsys, "consensus", "vote", pid, "maybe", *as_(url, "bob"))
    assert code == 2


def test_the_author_withdraws_others_are_refused_and_voters_see_it(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """consensus withdraw: a participant is refused (exit 1), the author withdraws, bob's
    read shows the outcome."""
    register(url, "bob")
    code, out, _ = cli_run(capsys, "consensus", "propose", "q?", "--to", "bob",
                           *as_(url, "alice"), "--json")  # fmt: skip
    pid = json.loads(out)["id"]
    code, _, err = cli_run(capsys, "consensus", "withdraw", pid, *as_(url, "bob"))
    assert code == 1 and "only the author" in err
    code, out, _ = cli_run(capsys, "consensus", "withdraw", pid, "--reason", "moot",
                           *as_(url, "alice"))  # fmt: skip
    assert code == 0 and "[withdrawn" in out and "moot" in out
    code, out, _ = cli_run(capsys, "read", *as_(url, "bob"))
    assert code == 0 and "withdrawn" in out and "moot" in out
    code, _, err = cli_run(capsys, "consensus", "withdraw", pid, *as_(url, "alice"))
    assert code == 1 and "already withdrawn" in err
