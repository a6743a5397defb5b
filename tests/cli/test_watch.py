"""``ai-connect watch``'s command line: its options, a bridge that is down, a bad --as.

The live behaviour is tested in tests/watch/ (the model, the Textual view through its
pilot, the feed against a real bridge, and the command as a real process)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ai_connect import cli
from ai_connect.watch.run import choose_view, parse_as
from tests.support.inprocess import CLIENT_OPTIONS, unserved_url


def test_help_lists_the_filters_and_modes(capsys: pytest.CaptureFixture[str]) -> None:
    """watch --help names its filters, --as, the line modes and the admin token."""
    assert cli.main(["watch", "--help"]) == 0
    out = capsys.readouterr().out
    for option in (
        "--peer",
        "--project",
        "--thread",
        "--as",
        "--lines",
        "--json",
        "--last",
        "--stale",
    ):
        assert option in out
    assert "admin" in out and "NO_COLOR" in out


def test_a_bridge_that_is_down_is_an_error_saying_so(capsys: pytest.CaptureFixture[str]) -> None:
    """Started against a bridge nobody serves: exit 1 and a message, not a blank screen."""
    code = cli.main(["watch", "--bridge", unserved_url(), "--lines"], client_options=CLIENT_OPTIONS)
    assert code == 1
    assert "NotConnected" in capsys.readouterr().err


def test_a_bad_as_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--as with parentheses in the name is refused before connecting, saying what fits."""
    assert cli.main(["watch", "--as", "Ada)", "--bridge", unserved_url()]) == 2
    assert "--as takes a person's name" in capsys.readouterr().err


def test_parse_as() -> None:
    """--as NAME, or --as 'Name (Project)' for the project too."""
    assert parse_as("Ada") == ("Ada", None)
    assert parse_as("Ada (ops)") == ("Ada", "ops")
    for bad in ("", "a*b", "x" * 65, "Ada\x1b"):
        with pytest.raises(ValueError, match="--as"):
            parse_as(bad)


def test_the_view_follows_the_terminal() -> None:
    """The Textual view on a terminal that draws; lines when piped, --lines, or TERM=dumb."""
    assert choose_view(isatty=True, environ={"TERM": "xterm"}, lines=False) == "app"
    assert choose_view(isatty=False, environ={"TERM": "xterm"}, lines=False) == "lines"
    assert choose_view(isatty=True, environ={"TERM": "xterm"}, lines=True) == "lines"
    assert choose_view(isatty=True, environ={"TERM": "dumb"}, lines=False) == "lines"
    assert choose_view(isatty=True, environ={}, lines=False) == "lines"


def test_other_commands_do_not_load_textual() -> None:
    """Textual loads for the terminal view only: hooks and the other commands start fast."""
    code = "import sys, ai_connect.cli.app; print('textual' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"
