"""Settings from the config file: bridge URLs, keys nothing reads, the original's sections."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ai_connect import config
from ai_connect.cli import main
from ai_connect.errors import ConfigError


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("ws://mini", "ws://mini:9999"),
        ("wss://mini", "wss://mini:9999"),
        ("mini", "ws://mini:9999"),
        ("ws://mini:", "ws://mini:9999"),
        ("ws://[::1]", "ws://[::1]:9999"),
        ("WS://mini:5/path", "ws://mini:5/path"),
        ("ws://mini:1234", "ws://mini:1234"),
    ],
)
def test_a_url_without_a_port_gets_the_bridge_port(given: str, url: str) -> None:
    """A bridge URL with no port means 9999 (the bridge's), never the scheme's 80/443."""
    assert config.normalise_url(given) == url


@pytest.mark.parametrize("given", ["ws://mini:99999", "ws://mini:abc", "ws://mini:0", "ws://:5"])
def test_a_url_with_a_bad_port_or_no_host_is_a_config_error(given: str) -> None:
    """An impossible port or a missing host is a ConfigError that says what to write."""
    with pytest.raises(ConfigError, match=r"ws://HOST:PORT|port number"):
        config.normalise_url(given)


@pytest.mark.parametrize("port", ["99999", "abc"])
def test_the_cli_answers_a_bad_port_without_a_traceback(
    port: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--bridge ws://127.0.0.1:99999` (or :abc) is one ConfigError line, exit 1."""
    monkeypatch.setenv("AI_CONNECT_CONFIG", str(tmp_path / "none.yaml"))
    code = main(["send", "bob", "hi", "--bridge", f"ws://127.0.0.1:{port}", "--name", "a"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith("ConfigError: bridge URL") and "Traceback" not in err


def test_misspelt_keys_are_warned_about_once_with_the_likely_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """hots, nmae and a key put at the top get "did you mean"; the warning comes once."""
    path = tmp_path / "config.yaml"
    path.write_text("bridge:\n  hots: x\npeer:\n  nmae: y\nname: z\nbrdige: {}\n")
    env = {"AI_CONNECT_CONFIG": str(path)}
    with caplog.at_level(logging.WARNING, logger="ai_connect.config"):
        config.client_settings(env=env, cwd=tmp_path)
        config.client_settings(env=env, cwd=tmp_path)
    lines = [r.getMessage() for r in caplog.records if r.name == "ai_connect.config"]
    assert len(lines) == 4, lines
    assert "nothing reads 'bridge.hots' (did you mean bridge.host?)" in lines[0]
    assert "nothing reads 'peer.nmae' (did you mean peer.name?)" in lines[1]
    assert "nothing reads 'name' (did you mean peer.name?)" in lines[2]
    assert "nothing reads 'brdige' (did you mean bridge?)" in lines[3]
    assert all(str(path) in line for line in lines)


def test_the_original_keys_are_read_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """bridge, peer (auto_connect too), mcp and logging of the original draw no warning."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "bridge:\n  host: h\n  port: 1\npeer:\n  name: n\n  auto_connect: true\n"
        "mcp:\n  host: 127.0.0.2\n  port: 19890\nlogging:\n  max_megabytes: 5\n  backup_count: 2\n"
    )
    env = {"AI_CONNECT_CONFIG": str(path)}
    with caplog.at_level(logging.WARNING, logger="ai_connect.config"):
        config.client_settings(env=env, cwd=tmp_path)
        assert config.log_settings(env) == config.LogSettings(5 * 1024 * 1024, 2)
    assert [r for r in caplog.records if r.name == "ai_connect.config"] == []


def test_the_original_mcp_section_sets_where_mcp_http_listens(tmp_path: Path) -> None:
    """mcp.host and mcp.port pick the HTTP server's address; flags beat them."""
    path = tmp_path / "config.yaml"
    env = {"AI_CONNECT_CONFIG": str(path)}
    assert config.mcp_address(env=env) == ("127.0.0.1", 9998)
    path.write_text("mcp:\n  host: 127.0.0.2\n  port: 19890\n")
    assert config.mcp_address(env=env) == ("127.0.0.2", 19890)
    assert config.mcp_address("::1", 0, env=env) == ("::1", 0)
    path.write_text("mcp:\n  port: abc\n")
    with pytest.raises(ConfigError, match=r"mcp\.port"):
        config.mcp_address(env=env)
