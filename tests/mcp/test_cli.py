"""The ``ai-connect mcp`` command line: its options and its refusals."""

from __future__ import annotations

import pytest

import ai_connect.code_context
import ai_connect.mcp.http
import ai_connect.mcp.models
import ai_connect.mcp.server
import ai_connect.mcp.tools
import ai_connect.text.agent
from ai_connect.cli import main


def test_mcp_help_names_both_transports_and_the_identity_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``ai-connect mcp --help`` documents transports, port, bridge, name and project."""
    assert main(["mcp", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--transport", "--port", "--bridge", "--name", "--project", "--ready-file"):
        assert option in out
    assert "stdio" in out and "/sse" in out


def test_an_unknown_transport_is_an_error_naming_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--transport carrier-pigeon`` exits 1 and says which transports exist."""
    assert main(["mcp", "--transport", "carrier-pigeon", "--bridge", "ws://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ConfigError: --transport must be stdio or http (sse: the same)")


@pytest.mark.parametrize(
    "module",
    [
        ai_connect.code_context,
        ai_connect.text.agent,
        ai_connect.mcp.http,
        ai_connect.mcp.models,
        ai_connect.mcp.server,
        ai_connect.mcp.tools,
    ],
)
def test_public_names_exist(module: object) -> None:
    """Every name in ``__all__`` of the MCP modules is defined."""
    names = module.__all__  # type: ignore[attr-defined]
    assert names and all(hasattr(module, name) for name in names)


def test_an_invalid_own_name_is_refused_before_serving(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--name 'a*b'`` exits 1 saying the bridge would refuse it and what to change."""
    assert main(["mcp", "--name", "a*b", "--bridge", "ws://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ConfigError: cannot register as 'a*b' in project ")
    assert err.rstrip().endswith("or peer.name in the config file) or --project")


def test_an_invalid_name_from_the_environment_names_every_source_without_pydantic(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """AI_CONNECT_PEER_NAME with a control character (as an MCP config's env may set it):
    the refusal names the variable among the sources, without pydantic's 'Value error,'
    (it said only '--name or --project', which the user never gave)."""
    monkeypatch.setenv("AI_CONNECT_PEER_NAME", "evil\x07")
    assert main(["mcp", "--bridge", "ws://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ConfigError: cannot register as 'evil\\x07' in project ")
    assert "Value error" not in err and "AI_CONNECT_PEER_NAME in its environment" in err
