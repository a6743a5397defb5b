"""Pure config edits: recognising our entries, merging, and TOML blocks."""

from __future__ import annotations

import json
import tomllib

import pytest

from ai_connect.agent_setup.edits import (
    edit_json,
    edit_toml,
    is_our_command,
    is_our_server,
    put_group_hook,
    remove_group_hooks,
    toml_block,
)
from ai_connect.errors import ConfigError


@pytest.mark.parametrize(
    ("command", "ours"),
    [
        ("/venv/bin/ai-connect hook claude", True),
        ("ai-connect hook wait --timeout 60", True),
        ("'/path with space/ai-connect' hook codex", True),
        ("/usr/bin/python3 -m ai_connect hook gemini", True),
        ("ai-connect mcp", False),
        ("my-ai-connect-wrapper hook claude", False),
        ("echo ai-connect hook", False),
        (42, False),
    ],
)
def test_our_hook_commands_are_recognised_by_program_and_verb(command: object, ours: bool) -> None:
    """Only ``<ai-connect> hook …`` (or ``python -m ai_connect hook …``) is ours."""
    assert is_our_command(command) is ours


def test_our_servers_are_recognised_by_command_and_args() -> None:
    """``ai-connect mcp`` and ``python -m ai_connect mcp`` are ours; anything else is not."""
    assert is_our_server({"command": "/x/ai-connect", "args": ["mcp"]})
    assert is_our_server({"command": "/py", "args": ["-m", "ai_connect", "mcp"]})
    assert not is_our_server({"command": "/x/ai-connect", "args": ["bridge"]})
    assert not is_our_server({"url": "http://127.0.0.1:9998/sse"})


def test_group_hook_is_added_once_and_removed_without_touching_others() -> None:
    """A second put is a no-op (same text); remove takes only our hook out of a shared group."""
    ours = {"type": "command", "command": "ai-connect hook claude"}
    theirs = {"type": "command", "command": "lint"}
    start = json.dumps({"hooks": {"PostToolUse": [{"hooks": [theirs, ours]}]}})
    once = edit_json(start, "f", put_group_hook("PostToolUse", ours))
    assert once is not None
    assert edit_json(once, "f", put_group_hook("PostToolUse", ours)) == once
    removed = edit_json(once, "f", remove_group_hooks("PostToolUse"))
    assert removed is not None
    assert json.loads(removed) == {"hooks": {"PostToolUse": [{"hooks": [theirs]}]}}


def test_edit_json_returns_the_same_text_when_nothing_changes() -> None:
    """No edit, no rewrite: the caller sees the identical string."""
    text = '{"a":1}'
    assert edit_json(text, "f", remove_group_hooks("Stop")) is text


def test_toml_block_escapes_strings() -> None:
    """Paths with quotes, backslashes or spaces come back from tomllib unchanged."""
    path = 'C:\\Program Files\\a "b"\\ai-connect.exe'
    block = toml_block("mcp_servers.ai-connect", {"command": path, "args": ["mcp"]})
    assert tomllib.loads(block)["mcp_servers"]["ai-connect"] == {"command": path, "args": ["mcp"]}


def test_toml_block_after_text_without_final_newline() -> None:
    """A file that does not end in a newline still gets a valid table appended."""
    block = toml_block("mcp_servers.ai-connect", {"command": "a", "args": ["mcp"]})
    new = edit_toml('model = "x"', "f", ("mcp_servers", "ai-connect"), block)
    assert new is not None and tomllib.loads(new)["model"] == "x"
    assert edit_toml(new, "f", ("mcp_servers", "ai-connect"), None) == 'model = "x"\n'


def test_toml_that_cannot_take_our_table_is_refused() -> None:
    """An inline ``mcp_servers = {…}`` cannot be extended by a table: ConfigError."""
    block = toml_block("mcp_servers.ai-connect", {"command": "a", "args": ["mcp"]})
    with pytest.raises(ConfigError, match="with our"):
        edit_toml(
            'mcp_servers = { docs = { command = "d" } }\n',
            "f",
            ("mcp_servers", "ai-connect"),
            block,
        )
