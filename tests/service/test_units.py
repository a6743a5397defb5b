"""The unit files of ``ai-connect service`` as text (pure: no file, no systemd)."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from ai_connect.service import units
from ai_connect.service.units import UnitSpec

PROGRAM = ("/opt/ai-connect/bin/ai-connect",)


def spec(
    kind: str = "bridge",
    system: bool = False,
    args: tuple[str, ...] = (),
    readable: tuple[PurePosixPath, ...] = (),
) -> UnitSpec:
    env = PurePosixPath(f"/etc/ai-connect/{kind}.env")
    return UnitSpec(kind, system, PROGRAM, env, args, readable)


def test_a_user_unit_runs_this_installation_and_restarts_on_failure() -> None:
    """ExecStart is the given absolute program and command; Restart=on-failure; default.target."""
    values = units.read_unit(units.render_unit(spec(args=("--port", "9990"))))
    assert values["ExecStart"] == ["/opt/ai-connect/bin/ai-connect bridge --port 9990"]
    assert values["Restart"] == ["on-failure"]
    assert values["EnvironmentFile"] == ["-/etc/ai-connect/bridge.env"]
    assert values["WantedBy"] == ["default.target"]
    assert "User" not in values


def test_the_mcp_unit_serves_http_after_the_bridge() -> None:
    """The MCP service runs ``mcp --transport http`` and is ordered after a local bridge."""
    values = units.read_unit(units.render_unit(spec("mcp")))
    assert values["ExecStart"] == ["/opt/ai-connect/bin/ai-connect mcp --transport http"]
    assert "ai-connect-bridge.service" in values["After"][0]


def test_a_system_unit_has_its_own_user_state_logs_and_sandbox() -> None:
    """A system unit: User=ai-connect, StateDirectory, a log file, the hardening options."""
    values = units.read_unit(units.render_unit(spec(system=True)))
    assert values["User"] == ["ai-connect"]
    assert values["StateDirectory"] == ["ai-connect"]
    assert values["ExecStart"] == [
        "/opt/ai-connect/bin/ai-connect bridge --log-file /var/log/ai-connect/bridge.log"
    ]
    assert "AI_CONNECT_DB=/var/lib/ai-connect/bridge.db" in values["Environment"]
    for key, value in (
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("UMask", "0077"),
        ("CapabilityBoundingSet", ""),
    ):
        assert values[key] == [value], key
    assert values["WantedBy"] == ["multi-user.target"]


def test_an_installation_under_a_home_is_bound_read_only() -> None:
    """ProtectHome hides /home and /root: their installation folders are bound back, read-only."""
    readable = (
        PurePosixPath("/root/.pyenv/versions/3.11.7"),
        PurePosixPath("/home/ann/ai-connect/.venv"),
        PurePosixPath("/home/ann/ai-connect"),
        PurePosixPath("/usr"),
    )
    values = units.read_unit(units.render_unit(spec(system=True, readable=readable)))
    assert values["ProtectHome"] == ["tmpfs"]
    assert values["BindReadOnlyPaths"] == ["/home/ann/ai-connect /root/.pyenv/versions/3.11.7"]


@pytest.mark.parametrize(
    "word",
    ["plain", "two words", "100%", "$HOME", 'say "hi"', "back\\slash", ";", "it's", ""],
)
def test_command_words_survive_quoting(word: str) -> None:
    """A word quoted for ExecStart reads back as the same word (specifiers, $, quotes)."""
    quoted = units.quote(word)
    assert units.split_command(f"/bin/echo {quoted}") == ["/bin/echo", word]
    assert "%" not in quoted.replace("%%", "")


def test_the_environment_file_lists_every_variable_commented_out() -> None:
    """The env template sets nothing (defaults stay) and names each variable it reads."""
    text = units.env_template("mcp", system=False)
    assert text.startswith(units.MARK)
    assert all(line.startswith("#") for line in text.splitlines() if line)
    for name in ("AI_CONNECT_BRIDGE", "AI_CONNECT_PEER_NAME", "AI_CONNECT_TOKEN"):
        assert f"# {name}=" in text
    assert "systemctl --user restart ai-connect-mcp.service" in text
