"""``ai-connect status MESSAGE-ID``: a message's receipts per recipient (protocol §3.7)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.cli import test_cli
from tests.cli.test_cli import as_, cli_run, register, send_all
from tests.support.bridge import ThreadedBridge
from tests.support.inprocess import serving

isolated_env = test_cli.isolated_env  # the same fixture as the CLI tests


@pytest.fixture
def url() -> Iterator[str]:
    """A bridge in its own thread on no port, at its in-process URL."""
    with ThreadedBridge(listen=False) as running, serving(running) as served:
        yield served


def test_status_of_a_message_shows_waiting_then_shown_via_cli(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Offline recipient: waiting; after `ai-connect read` it is shown, via cli."""
    register(url, "bob")
    (mid,) = send_all(url, "alice", "bob", ["are the tests green?"])
    code, out, err = cli_run(capsys, "status", mid, *as_(url, "alice"))
    assert (code, err) == (0, "")
    assert f"message {mid} to bob (proj)" in out
    assert "bob (proj): waiting (stored; not delivered yet); offline" in out
    assert cli_run(capsys, "read", *as_(url, "bob"))[0] == 0
    code, out, err = cli_run(capsys, "status", mid, "--json", *as_(url, "alice"))
    assert (code, err) == (0, "")
    data = json.loads(out)
    (bob,) = data["recipients"]
    assert (bob["recipient"], bob["state"], bob["path"]) == ("bob (proj)", "shown", "cli")
    assert bob["delivered"] <= bob["shown"]
    assert data["summary"] == {"waiting": 0, "delivered": 0, "shown": 1}
    assert cli_run(capsys, "status", mid, *as_(url, "zed"))[0] == 1  # not zed's message
    code, out, _ = cli_run(capsys, "peers", "--json", *as_(url, "alice"))
    assert "zed (proj)" not in out  # asking leaves no peer behind (a query connection)


def test_a_broadcast_shows_each_recipient(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """One line per recipient and a summary of the states."""
    register(url, "bob", "carol")
    (mid,) = send_all(url, "alice", "*", ["release at five"])
    assert cli_run(capsys, "read", *as_(url, "carol"))[0] == 0
    code, out, _ = cli_run(capsys, "status", mid, *as_(url, "alice"))
    assert code == 0
    assert "to everyone (*)" in out
    assert "carol (proj): shown" in out and "via cli" in out
    assert "bob (proj): waiting" in out
    assert "1 waiting, 1 shown" in out


def test_status_of_someone_elses_or_an_unknown_message_says_what_to_do(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 1 with unknown_message: the recipient may not read the sender's receipts."""
    register(url, "bob")
    (mid,) = send_all(url, "alice", "bob", ["private"])
    for name, asked in (("bob", mid), ("alice", "no-such-id")):
        code, out, err = cli_run(capsys, "status", asked, *as_(url, name))
        assert code == 1 and out == ""
        assert "unknown_message" in err or "no message" in err
        assert "ai-connect send prints it" in err
