"""What ``ai-connect setup CLIENT`` puts where: one plan per client and scope (pure).

A plan is a list of :class:`Change` (a file's text before and after); computing it reads
files through the ``read`` function it is given and writes nothing. docs/hooks.md lists
the files and events for each client.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ai_connect.agent_setup.edits import (
    SERVER_KEY,
    JsonEdit,
    edit_json,
    edit_toml,
    put_allow,
    put_flat_hook,
    put_group_hook,
    put_server,
    remove_allow,
    remove_flat_hooks,
    remove_group_hooks,
    remove_server,
    toml_block,
)
from ai_connect.agent_setup.grants import ALL, Grants, claude_rule
from ai_connect.errors import ConfigError

__all__ = [
    "ADVISOR_WAIT_S",
    "CLIENTS",
    "CLIENT_ENV",
    "WAIT_TIMEOUT_S",
    "Change",
    "Options",
    "Scope",
    "advisor_skill",
    "plan",
    "pre_edit_command",
]

CLIENTS = ("claude-code", "codex", "gemini", "cursor", "vscode")
WAIT_TIMEOUT_S = 86_400
"""The Claude Code waiter's hook timeout: an idle session stays wakeable for a day."""
HOOK_TIMEOUT_S = 30
PRE_EDIT_TIMEOUT_S = 10
"""The pre-edit hook answers in milliseconds; past its own bounds (seconds) it lets the
edit go ahead, so the client's limit is only a backstop."""
EDIT_TOOLS = {
    "claude-code": ("PreToolUse", "Edit|Write|MultiEdit|NotebookEdit", "claude"),
    "codex": ("PreToolUse", "apply_patch|Bash", "codex"),
    "gemini": ("BeforeTool", "write_file|replace", "gemini"),
}
"""Per client: the event, the matcher of its file-editing tools, and ``--client`` of the
pre-edit hook (docs/leases.md; Gemini CLI counts its timeout in milliseconds)."""
TOOL_TIMEOUT_S = 3600
"""peer_wait may block this long: clients that cap tool calls are told so (docs/mcp.md)."""
ADVISOR_WAIT_S = 3600
"""Advisor mode (Gemini CLI): how long the turn-end hook holds a turn open for mail."""
CLIENT_ENV = (
    "AI_CONNECT_BRIDGE", "AI_CONNECT_PEER_NAME", "AI_CONNECT_PROJECT", "AI_CONNECT_TOKEN",
    "AI_CONNECT_CA", "AI_CONNECT_FINGERPRINT", "AI_CONNECT_CONFIG", "AI_CONNECT_RUNTIME_DIR",
)  # fmt: skip
"""What ``ai-connect mcp`` reads from its environment: clients that strip the
environment of their MCP servers (Codex) are told to pass these through."""

Read = Callable[[Path], str | None]


@dataclass(frozen=True, slots=True)
class Scope:
    """Where the files live: a project's folder, or the user's home (``user=True``)."""

    user: bool
    project: Path
    home: Path
    vscode_user_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class Options:
    """The choices of ``ai-connect setup`` beyond where and with which program."""

    ask_before_send: bool = False
    """Grant ai-connect's reading and waiting tools only; ask before sending."""
    advisor: bool = False
    """Gemini CLI: the turn-end hook holds the turn open until mail comes (docs/hooks.md)."""

    @property
    def grants(self) -> Grants:
        return Grants(self.ask_before_send)


@dataclass(frozen=True, slots=True)
class Change:
    path: Path
    before: str | None
    """The file's text now; ``None``: it does not exist."""
    after: str | None
    """The text to write; ``None``: remove the file."""
    kind: str
    """``json``, ``toml`` or ``text``: how to compare it with a backup."""

    @property
    def changed(self) -> bool:
        return self.before != self.after


def advisor_skill() -> str:
    """The advisor skill shipped with the package (installed for Claude Code)."""
    return (resources.files("ai_connect") / "skills" / "advisor" / "SKILL.md").read_text(
        encoding="utf-8"
    )


def _json(path: Path, read: Read, edits: list[JsonEdit], uninstall: bool) -> Change:
    before = read(path)
    after = edit_json(before, str(path), *edits)
    if uninstall and after is not None and after != before and _empty(after):
        after = None  # only our entries were in it: the file goes, as it came
    return Change(path, before, after, "json")


def _empty(text: str) -> bool:
    return bool(json.loads(text) == {})


def _hook(command: list[str], **extra: Any) -> dict[str, Any]:
    return {"type": "command", "command": _shell(command), **extra}


def _shell(argv: list[str]) -> str:
    if sys.platform == "win32":
        return subprocess.list2cmdline(argv)
    return shlex.join(argv)


def _server(program: list[str], stdio_type: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "stdio"} if stdio_type else {}
    entry.update(command=program[0], args=[*program[1:], "mcp"])
    return entry


def pre_edit_command(program: list[str], read: Read) -> list[str]:
    """How a client starts the pre-edit hook (it runs before every edit: docs/leases.md).

    When ``program`` is this installation (its ``ai-connect`` script, whose ``#!`` names
    this Python, or ``python -m ai_connect``), the hook's front file itself, run with
    ``-I -S``: no site-packages, no ai_connect package to import first, half the
    start-up (bench/lease_hook_bench.py). Any other program: ``PROGRAM hook pre-edit``.
    """
    from ai_connect.leases import front

    python: str | None = None
    if len(program) == 1 and Path(program[0]).name == "ai-connect":
        first = (read(Path(program[0])) or "").partition("\n")[0]
        if first.startswith("#!") and " " not in first[2:].strip():
            python = first[2:].strip()
    elif len(program) == 3 and program[1:] == ["-m", "ai_connect"]:
        python = program[0]
    here = Path(front.__file__).resolve()
    if python is None or Path(python).resolve() != Path(sys.executable).resolve():
        return [*program, "hook", "pre-edit"]
    return [python, "-I", "-S", str(here)]


def _pre_edit(
    client: str, program: list[str], read: Read, uninstall: bool, ms: bool = False
) -> JsonEdit:
    """The pre-edit hook's entry (issue 15): before an edit of a leased file."""
    event, matcher, flag = EDIT_TOOLS[client]
    if uninstall:
        return remove_group_hooks(event)
    timeout = PRE_EDIT_TIMEOUT_S * (1000 if ms else 1)
    extra: dict[str, Any] = {"name": f"{SERVER_KEY}-leases"} if ms else {}
    command = [*pre_edit_command(program, read), "--client", flag]
    return put_group_hook(event, _hook(command, timeout=timeout, **extra), matcher=matcher)


def _claude(
    scope: Scope, program: list[str], read: Read, uninstall: bool, options: Options
) -> list[Change]:
    base = scope.home if scope.user else scope.project
    settings = base / ".claude" / "settings.json"
    servers = scope.home / ".claude.json" if scope.user else scope.project / ".mcp.json"
    hook = [*program, "hook", "claude"]
    wait = [*program, "hook", "wait", "--timeout", str(WAIT_TIMEOUT_S)]
    events = ("SessionStart", "UserPromptSubmit", "PostToolUse", "SessionEnd")
    ours = frozenset(claude_rule(t, SERVER_KEY) for t in ALL)
    if uninstall:
        edits = [remove_group_hooks(e) for e in (*events, "Stop")]
        edits.append(remove_allow(ours))
        server_edits = [remove_server("mcpServers")]
    else:
        edits = [put_group_hook(e, _hook(hook, timeout=HOOK_TIMEOUT_S)) for e in events]
        waiter = _hook(wait, timeout=WAIT_TIMEOUT_S, asyncRewake=True)
        waiter["async"] = True
        edits.append(put_group_hook("Stop", waiter))
        rules = [claude_rule(t, SERVER_KEY) for t in options.grants.granted]
        edits.append(put_allow(rules, ours))
        server_edits = [put_server("mcpServers", _server(program, stdio_type=True))]
    edits.append(_pre_edit("claude-code", program, read, uninstall))
    skill = base / ".claude" / "skills" / "advisor" / "SKILL.md"
    return [
        _json(servers, read, server_edits, uninstall),
        _json(settings, read, edits, uninstall),
        _skill(skill, read, uninstall),
    ]


def _our_skill(text: str) -> bool:
    """Ours: its front matter names ai-connect (a user's own advisor skill is kept)."""
    parts = text.split("---", 2)
    return text.startswith("---") and len(parts) == 3 and "ai-connect" in parts[1]


def _skill(path: Path, read: Read, uninstall: bool) -> Change:
    before = read(path)
    ours = advisor_skill()
    if uninstall:
        gone = before is not None and _our_skill(before)
        return Change(path, before, None if gone else before, "text")
    if before is not None and before != ours and not _our_skill(before):
        raise ConfigError(f"{path} exists and is not ai-connect's advisor skill; move it away")
    return Change(path, before, ours, "text")


def _codex(
    scope: Scope, program: list[str], read: Read, uninstall: bool, options: Options
) -> list[Change]:
    base = (scope.home if scope.user else scope.project) / ".codex"
    config, hooks = base / "config.toml", base / "hooks.json"
    cmd = [*program, "hook", "codex"]
    wait = [*program, "hook", "wait", "--client", "codex", "--timeout", str(WAIT_TIMEOUT_S)]
    events = ("SessionStart", "UserPromptSubmit", "PostToolUse")
    before = read(config)
    block = None
    if not uninstall:
        server: dict[str, Any] = {
            **_server(program),
            "tool_timeout_sec": TOOL_TIMEOUT_S,
            # Codex starts MCP servers with a stripped environment: pass ours through.
            "env_vars": list(CLIENT_ENV),
            "default_tools_approval_mode": "approve",
            # Codex sends its first model request without waiting for a server that is
            # still starting, unless it is required (0.171).
            "required": True,
        }
        if options.grants.asked:
            server["tools"] = {t: {"approval_mode": "prompt"} for t in options.grants.asked}
        block = toml_block(f"mcp_servers.{SERVER_KEY}", server)
    after = edit_toml(before, str(config), ("mcp_servers", SERVER_KEY), block)
    if uninstall and before is not None and after is not None and not after.strip():
        after = None
    if uninstall:
        edits = [remove_group_hooks(e) for e in (*events, "Stop")]
    else:
        edits = [put_group_hook(e, _hook(cmd, timeout=HOOK_TIMEOUT_S)) for e in events]
        # At the turn end: continue with mail already there (sync), and a waiter in the
        # background that wakes the idle session through `codex queue` (docs/hooks.md).
        waiter = _hook(wait, timeout=WAIT_TIMEOUT_S)
        waiter["async"] = True
        edits.append(put_group_hook("Stop", _hook(cmd, timeout=HOOK_TIMEOUT_S), waiter))
    edits.append(_pre_edit("codex", program, read, uninstall))
    return [Change(config, before, after, "toml"), _json(hooks, read, edits, uninstall)]


def _gemini(
    scope: Scope, program: list[str], read: Read, uninstall: bool, options: Options
) -> list[Change]:
    settings = (scope.home if scope.user else scope.project) / ".gemini" / "settings.json"
    cmd = [*program, "hook", "gemini"]
    events = ("SessionStart", "BeforeAgent", "AfterTool", "SessionEnd")
    if uninstall:
        edits = [remove_server("mcpServers"), *(remove_group_hooks(e) for e in events)]
        edits.append(remove_group_hooks("AfterAgent"))
    else:
        # Gemini CLI counts hook timeouts in milliseconds.
        hook = _hook(cmd, name=SERVER_KEY, timeout=HOOK_TIMEOUT_S * 1000)
        server = {
            **_server(program),
            "timeout": TOOL_TIMEOUT_S * 1000,
            # trust: Gemini asks before every call of an untrusted server's tools, and a
            # headless Gemini does not offer them at all. Its trust is per server.
            "trust": not options.grants.ask_before_send,
            # Gemini strips *TOKEN* variables from MCP servers unless named here.
            "env": {"AI_CONNECT_TOKEN": "$AI_CONNECT_TOKEN"},
        }
        edits = [put_server("mcpServers", server)]
        edits += [put_group_hook(e, hook) for e in events]
        turn_end = hook
        if options.advisor:
            held = [*cmd, "--wait", str(ADVISOR_WAIT_S)]
            turn_end = _hook(
                held, name=SERVER_KEY, timeout=(ADVISOR_WAIT_S + HOOK_TIMEOUT_S) * 1000
            )
        edits.append(put_group_hook("AfterAgent", turn_end))
    edits.append(_pre_edit("gemini", program, read, uninstall, ms=True))
    return [_json(settings, read, edits, uninstall)]


def _cursor(
    scope: Scope, program: list[str], read: Read, uninstall: bool, options: Options
) -> list[Change]:
    base = (scope.home if scope.user else scope.project) / ".cursor"
    hook = {"command": _shell([*program, "hook", "cursor"])}
    if uninstall:
        server_edits, hook_edits = [remove_server("mcpServers")], [remove_flat_hooks("stop")]
    else:
        server_edits = [put_server("mcpServers", _server(program))]
        hook_edits = [put_flat_hook("stop", hook)]
    return [
        _json(base / "mcp.json", read, server_edits, uninstall),
        _json(base / "hooks.json", read, hook_edits, uninstall),
    ]


def _vscode(
    scope: Scope, program: list[str], read: Read, uninstall: bool, options: Options
) -> list[Change]:
    if scope.user:
        if scope.vscode_user_dir is None:
            raise ConfigError("cannot tell where VS Code keeps its user settings here")
        path = scope.vscode_user_dir / "mcp.json"
    else:
        path = scope.project / ".vscode" / "mcp.json"
    edits = (
        [remove_server("servers")]
        if uninstall
        else [put_server("servers", _server(program, stdio_type=True))]
    )
    return [_json(path, read, edits, uninstall)]


_PLANS = {
    "claude-code": _claude,
    "codex": _codex,
    "gemini": _gemini,
    "cursor": _cursor,
    "vscode": _vscode,
}


def plan(
    client: str,
    scope: Scope,
    program: list[str],
    read: Read,
    *,
    uninstall: bool = False,
    options: Options | None = None,
) -> list[Change]:
    """The changes that install (or uninstall) ai-connect for ``client`` in ``scope``."""
    try:
        make = _PLANS[client]
    except KeyError:
        raise ConfigError(f"unknown client {client!r}; use one of {', '.join(CLIENTS)}") from None
    return make(scope, program, read, uninstall, options or Options())
