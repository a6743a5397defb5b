"""``ai-connect setup CLIENT``: register the MCP server and install the wake-up hooks.

A thin shell over :mod:`ai_connect.agent_setup` (pure plans, then backups and writes).
docs/hooks.md lists the files and events of each client.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from ai_connect.agent_setup.apply import Report, apply, read_file
from ai_connect.agent_setup.clients import CLIENTS, Scope, plan
from ai_connect.errors import ConfigError

__all__ = ["program", "project_root", "setup"]

_NOTES = {
    "claude-code": (
        "Restart Claude Code in this project (or run /hooks) to load the hooks; the first "
        "start asks you to approve the 'ai-connect' MCP server."
    ),
    "codex": (
        "Codex loads a project's .codex/ only when the project is trusted, and asks you to "
        "review new hooks before they run."
    ),
    "gemini": (
        "The hooks run once the hooks system is enabled (Gemini CLI: /settings, "
        "'Enable Hooks System', or tools.enableHooks in settings.json)."
    ),
    "cursor": "Cursor reloads .cursor/hooks.json and .cursor/mcp.json on its own.",
    "vscode": "VS Code starts the server from mcp.json when the agent first needs it.",
}


def program(explicit: str | None = None) -> list[str]:
    """How clients start ai-connect: this very executable (a venv works), by absolute path."""
    if explicit:
        return shlex.split(explicit)
    argv0 = Path(sys.argv[0])
    if argv0.name in ("ai-connect", "ai-connect.exe") and argv0.exists():
        return [str(argv0.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "ai_connect"]


def project_root(start: Path) -> Path:
    """The git root above ``start``, else ``start`` (the rule ``ai-connect mcp`` uses)."""
    start = start.absolute()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def _vscode_user_dir(home: Path) -> Path:
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Code" / "User"
    if sys.platform == "win32":
        return home / "AppData" / "Roaming" / "Code" / "User"
    return home / ".config" / "Code" / "User"


def _show(client: str, reports: list[Report], dry_run: bool, uninstall: bool) -> None:
    for report in reports:
        if dry_run and report.diff:
            sys.stdout.write(report.diff)
    for report in reports:
        extra = f"  (backup: {report.backup})" if report.backup else ""
        print(f"  {report.action:<9} {report.path}{extra}")
    changed = [r for r in reports if r.action != "unchanged"]
    if dry_run:
        print("Dry run: nothing was written.")
    elif not changed:
        state = "is not installed" if uninstall else "is already set up"
        print(f"Nothing changed: ai-connect {state} for {client}.")
    elif not uninstall:
        print(_NOTES[client])


def setup(
    client: Annotated[str, typer.Argument(help=" | ".join(CLIENTS))],
    project: Annotated[
        bool, typer.Option("--project", help="This project's files (the default)")
    ] = False,
    user: Annotated[bool, typer.Option("--user", help="Your user-wide files")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the diff; write nothing")
    ] = False,
    uninstall: Annotated[
        bool, typer.Option("--uninstall", help="Remove exactly what setup added")
    ] = False,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="The project [default: git root of cwd]")
    ] = None,
    command: Annotated[
        str | None,
        typer.Option(help="How clients start ai-connect [default: this executable]"),
    ] = None,
) -> None:
    """Register the MCP server and install the wake-on-message hooks for a client.

    Merges into existing settings (a backup FILE.bak-<time> first), changes nothing on a
    second run, and --uninstall removes only ai-connect's entries.
    """
    if project and user:
        raise typer.BadParameter("choose --project or --user, not both")
    if client not in CLIENTS:
        raise typer.BadParameter(f"unknown client {client!r}; use one of {', '.join(CLIENTS)}")
    home = Path.home()
    scope = Scope(
        user=user,
        project=project_root(directory or Path.cwd()),
        home=home,
        vscode_user_dir=_vscode_user_dir(home),
    )
    changes = plan(client, scope, program(command), read_file, uninstall=uninstall)
    where = "user" if user else f"project {scope.project}"
    verb = "uninstall" if uninstall else "setup"
    print(f"ai-connect {verb} {client} ({where}):")
    try:
        reports = apply(changes, dry_run=dry_run, uninstall=uninstall)
    except OSError as exc:
        raise ConfigError(f"could not write {exc.filename}: {exc.strerror}") from exc
    _show(client, reports, dry_run, uninstall)
