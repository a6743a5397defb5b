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

from ai_connect.agent_setup.apply import Report, apply, backup_folder, read_file
from ai_connect.agent_setup.clients import ADVISOR_WAIT_S, CLIENTS, Options, Scope, plan
from ai_connect.cli.options import choose
from ai_connect.errors import ConfigError
from ai_connect.launcher import spell

__all__ = ["program", "project_root", "setup", "vscode_user_dir"]

_NOTES = {
    "claude-code": (
        "Restart Claude Code in this project (or run /hooks) to load the hooks; the first "
        "start asks you to trust this folder (its permission rules apply only then) and to "
        "approve the 'ai-connect' MCP server.\n"
        "Wake: an idle session is woken by a peer's message (a background Stop hook)."
    ),
    "codex": (
        "Codex loads a project's .codex/ only when the project is trusted, and asks you to "
        "review the new hooks once (choose 'Trust all and continue').\n"
        "Wake: an idle interactive session is woken through 'codex queue' by a background "
        "Stop hook; a turn ending with mail waiting continues with it."
    ),
    "gemini": (
        "Gemini CLI connects MCP servers and runs hooks only in a trusted folder: trust "
        "this one when Gemini asks (or run 'gemini trust' here; headless: --skip-trust).\n"
    ),
    "cursor": "Cursor reloads .cursor/hooks.json and .cursor/mcp.json on its own.",
    "vscode": "VS Code starts the server from mcp.json when the agent first needs it.",
}


_LEASES_NOTE = (
    "File leases: before the agent edits a file another agent has claimed (peer_claim, "
    "'ai-connect claim'), a pre-edit hook tells it who holds it, why and until when; "
    "'leases: {on_conflict: deny}' in the config file refuses such edits (docs/leases.md)."
)


def _wake_note(client: str, options: Options) -> str:
    if client != "gemini":
        return ""
    if options.advisor:
        return (
            f"Wake: advisor mode. At each turn end the AfterAgent hook waits up to "
            f"{ADVISOR_WAIT_S // 60} min for peer mail and continues the turn with it; "
            "meanwhile the session shows as busy (what you type is queued; Esc cancels the "
            "turn). Gemini CLI has no way to wake an idle session: without --advisor, "
            "mail waits for your next prompt or the next tool call."
        )
    return (
        "Wake: Gemini CLI cannot wake an idle session; mail reaches it at your next prompt, "
        "after a tool call, or at a turn end. 'ai-connect setup gemini --advisor' keeps "
        "each turn open until mail comes instead."
    )


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


def vscode_user_dir(home: Path) -> Path:
    """Where VS Code keeps its user settings on this platform."""
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Code" / "User"
    if sys.platform == "win32":
        return home / "AppData" / "Roaming" / "Code" / "User"
    return home / ".config" / "Code" / "User"


_WOULD = {
    "created": "would create",
    "updated": "would update",
    "removed": "would remove",
    "restored": "would restore",
}
"""What ``--dry-run`` says instead of each action it did not carry out."""


def _show(
    client: str, reports: list[Report], dry_run: bool, uninstall: bool, options: Options
) -> None:
    for report in reports:
        if dry_run and report.diff:
            sys.stdout.write(report.diff)
    for report in reports:
        extra = f"  (backup: {report.backup})" if report.backup else ""
        action = _WOULD.get(report.action, report.action) if dry_run else report.action
        print(f"  {action:<9} {report.path}{extra}")
    moved = [p for r in reports for p in r.moved]
    if moved:
        print(f"  moved {len(moved)} backup(s) an older ai-connect left in the project to:")
        print("\n".join(f"    {p}" for p in moved))
    if any(r.backup or r.moved for r in reports):
        print(
            f"Backups (private, outside the project) are under {backup_folder()}; "
            "'ai-connect setup --uninstall' restores from them."
        )
    changed = [r for r in reports if r.action != "unchanged"]
    if dry_run:
        print("Dry run: nothing was written.")
    elif not changed:
        state = "is not installed" if uninstall else "is already set up"
        print(f"Nothing changed: ai-connect {state} for {client}.")
    if not uninstall and not dry_run:
        if changed:
            print(spell(_NOTES[client].rstrip("\n")))
        if wake := _wake_note(client, options):
            print(spell(wake))
        if client in ("claude-code", "codex", "gemini"):
            print(options.grants.describe())
            print(_LEASES_NOTE)


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
        Path | None,
        typer.Option(
            "--dir",
            exists=True,  # a misspelt --dir is an error, never a new folder
            file_okay=False,
            help="The project, an existing folder [default: git root of cwd]",
        ),
    ] = None,
    command: Annotated[
        str | None,
        typer.Option(help="How clients start ai-connect [default: this executable]"),
    ] = None,
    ask_before_send: Annotated[
        bool,
        typer.Option(
            "--ask-before-send",
            help="Let the agent ask you before it sends to other agents [default: it may "
            "use ai-connect's tools unasked]",
        ),
    ] = False,
    advisor: Annotated[
        bool,
        typer.Option(
            "--advisor",
            help="Gemini CLI: hold each turn open until peer mail comes (no idle wake there)",
        ),
    ] = False,
) -> None:
    """Register the MCP server and install the wake-on-message hooks for a client.

    Merges into existing settings (a private backup first, under
    ~/.local/state/ai-connect/backups/, never in the project), changes nothing on a second
    run, and --uninstall removes only ai-connect's entries.
    """
    if project and user:
        raise typer.BadParameter("choose --project or --user, not both")
    choose(client, CLIENTS, "CLIENT", "unknown client")
    home = Path.home()
    scope = Scope(
        user=user,
        project=project_root(directory or Path.cwd()),
        home=home,
        vscode_user_dir=vscode_user_dir(home),
    )
    if advisor and client != "gemini":
        raise typer.BadParameter("--advisor is for gemini: the other clients wake by themselves")
    options = Options(ask_before_send=ask_before_send, advisor=advisor)
    changes = plan(client, scope, program(command), read_file, uninstall=uninstall, options=options)
    where = "user" if user else f"project {scope.project}"
    verb = "uninstall" if uninstall else "setup"
    print(f"ai-connect {verb} {client} ({where}):")
    try:
        reports = apply(changes, dry_run=dry_run, uninstall=uninstall)
    except OSError as exc:
        raise ConfigError(f"could not write {exc.filename}: {exc.strerror}") from exc
    _show(client, reports, dry_run, uninstall, options)
    if not dry_run and not uninstall:
        _check_server(program(command), probe=client == "claude-code")


def _check_server(argv: list[str], probe: bool) -> None:
    """Starts the MCP server once, as the agent will: it proves it starts, and teaches its
    quick front the handshake, so the agent's first start is quick too."""
    from ai_connect.mcp.front import warm

    try:
        count = warm(argv, probe=probe)  # Claude Code 2.1.33x probes (2026 protocol)
    except (OSError, TimeoutError, ValueError, KeyError) as exc:
        print(f"Note: '{shlex.join([*argv, 'mcp'])}' did not start as expected ({exc}).")
        return
    print(f"MCP server: '{shlex.join([*argv, 'mcp'])}' starts and lists {count} tools.")
