"""``ai-connect service install|status|uninstall|logs``: the bridge and the MCP server as
systemd services (README "Run it as a service").

User units by default (``--user``: they run as you, from login; ``loginctl enable-linger``
keeps them running after logout); ``--system`` for system units with a dedicated user
and sandboxing (:mod:`ai_connect.service.units`). Install is idempotent, ``--dry-run``
writes nothing, and uninstall leaves the files as they were before install. ``--root``
writes into a folder instead of ``/`` and runs no systemd command.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated

import platformdirs
import typer

from ai_connect.cli.setup import program
from ai_connect.config import bridge_settings
from ai_connect.errors import ConfigError
from ai_connect.launcher import spell
from ai_connect.service import units
from ai_connect.service.files import (
    File,
    Layout,
    Outcome,
    install_files,
    plan,
    uninstall_files,
)
from ai_connect.service.health import healthz
from ai_connect.service.systemd import Systemd

__all__ = ["service_app"]

service_app = typer.Typer(
    help="Run the bridge or the MCP server as a systemd service (user or system).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

EXIT_NOT_RUNNING = 3
"""``service status``: something installed is not running or not answering (as systemctl)."""

UserOpt = Annotated[bool, typer.Option("--user", help="A user service (the default)")]
SystemOpt = Annotated[
    bool, typer.Option("--system", help="A system service: own user, sandboxed (needs root)")
]
RootOpt = Annotated[
    Path | None,
    typer.Option(
        envvar="AI_CONNECT_SERVICE_ROOT",
        help="Write under this folder instead of / and run no systemd command",
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; change nothing")
]


def _kind(kind: str | None) -> list[str]:
    if kind is None:
        return list(units.KINDS)
    if kind not in units.KINDS:
        raise typer.BadParameter(f"{kind!r} is not a service; use bridge or mcp")
    return [kind]


def _layout(system: bool, root: Path | None) -> Layout:
    config_home = PurePosixPath(platformdirs.user_config_path().as_posix())
    return Layout(system, config_home, (root or Path("/")).absolute())


def _installed(layout: Layout, kinds: Sequence[str]) -> list[str]:
    return [k for k in kinds if layout.on_disk(layout.unit(k)).exists()]


def _layouts(user: bool, system: bool, root: Path | None, kinds: Sequence[str]) -> list[Layout]:
    """The scopes to act on: the one asked for, else those where a unit is installed."""
    if user and system:
        raise typer.BadParameter("choose --user or --system, not both")
    if user or system:
        return [_layout(system, root)]
    found = [lay for lay in (_layout(False, root), _layout(True, root)) if _installed(lay, kinds)]
    return found or [_layout(False, root)]


def _scope(layout: Layout) -> str:
    return "system" if layout.system else "user"


def _check_args(kind: str, args: Sequence[str]) -> None:
    """Parses the extra options as the service's command will, so a typo fails now."""
    from ai_connect.cli.bridge import bridge
    from ai_connect.cli.mcp import mcp

    one = typer.Typer(add_completion=False)
    one.command()(bridge if kind == "bridge" else mcp)
    command = typer.main.get_command(one)
    fixed = ["--transport", "http"] if kind == "mcp" else []
    try:
        command.make_context(f"ai-connect {kind}", [*fixed, *args])
    except typer.exceptions.TyperException as exc:  # typer's click: a usage error
        raise ConfigError(
            f"the options after -- are not valid for 'ai-connect {kind}': {exc}; "
            f"'ai-connect {kind} --help' lists them"
        ) from exc


def _need_root(layout: Layout, dry_run: bool) -> None:
    if layout.system and not dry_run and layout.root == Path("/") and os.geteuid() != 0:
        raise ConfigError(
            "--system writes /etc/systemd/system: run it as root (sudo "
            f"{' '.join(program())} service …), or see it first with --dry-run"
        )


def _show(outcomes: Sequence[Outcome]) -> None:
    for o in outcomes:
        note = f"  ({o.note})" if o.note else ""
        print(f"  {o.action:<9} {o.path}{note}")


def _commands(layout: Layout, systemd: Systemd, commands: list[list[str]], dry_run: bool) -> None:
    for argv in commands:
        text = " ".join(argv)
        if layout.root != Path("/"):
            print(f"  not run   {text}  (--root)")
        elif dry_run:
            print(f"  would run {text}")
        else:
            systemd.call(argv)
            print(f"  ran       {text}")


_WRITTEN = ("created", "updated", "replaced")


@service_app.command("install")
def install(
    kind: Annotated[str, typer.Argument(help="bridge | mcp")],
    extra: Annotated[
        list[str] | None,
        typer.Argument(metavar="[-- OPTIONS]", help="Options for the command, after --"),
    ] = None,
    user: UserOpt = False,
    system: SystemOpt = False,
    dry_run: DryRunOpt = False,
    root: RootOpt = None,
) -> None:
    """Install and start a service running this ai-connect (idempotent).

    The bridge runs 'ai-connect bridge', the MCP server 'ai-connect mcp --transport http';
    options after -- are added to that command (e.g. -- --port 9998 --name mini).
    """
    _kind(kind)
    if user and system:
        raise typer.BadParameter("choose --user or --system, not both")
    args = list(extra or [])
    _check_args(kind, args)
    layout = _layout(system, root)
    _need_root(layout, dry_run)
    files = plan(layout, kind, program(), args)
    outcomes = install_files(layout, files, dry_run=dry_run)
    print(f"ai-connect service install {kind} ({_scope(layout)}{', dry run' if dry_run else ''}):")
    _show(outcomes)
    if dry_run:
        print(f"--- {outcomes[0].path} would read:")
        sys.stdout.write(files[0].text)
        print("---")
    systemd = Systemd(layout.system)
    unit = units.unit_name(kind)
    written = {o.path for o in outcomes if o.action in _WRITTEN}
    commands = []
    if layout.system and layout.on_disk(layout.sysusers) in written:
        commands.append(["systemd-sysusers", str(layout.sysusers)])
    if written - {layout.on_disk(layout.env_file(kind))}:
        commands.append(systemd.systemctl("daemon-reload"))
    commands.append(systemd.systemctl("enable", "--now", unit))
    if outcomes[0].action in ("updated", "replaced"):
        commands.append(systemd.systemctl("try-restart", unit))
    _commands(layout, systemd, commands, dry_run)
    manager = "systemctl" if layout.system else "systemctl --user"
    print(f"Settings: {layout.env_file(kind)} (then '{manager} restart {unit}').")
    if not layout.system:
        print(
            "A user service runs while you are logged in; to keep it running after logout "
            f"and start it at boot: loginctl enable-linger {_login()}"
        )
    print("Check it: ai-connect service status · live log: ai-connect service logs -f")


def _login() -> str:
    return os.environ.get("USER") or os.environ.get("LOGNAME") or "$USER"


@service_app.command("uninstall")
def uninstall(
    kind: Annotated[str | None, typer.Argument(help="bridge | mcp [default: both]")] = None,
    user: UserOpt = False,
    system: SystemOpt = False,
    dry_run: DryRunOpt = False,
    root: RootOpt = None,
) -> None:
    """Stop and remove a service: the files return to how they were before install.

    The database and the logs stay (they are your data); an environment file you
    changed stays too.
    """
    kinds = _kind(kind)
    for layout in _layouts(user, system, root, kinds):
        _need_root(layout, dry_run)
        systemd = Systemd(layout.system)
        print(f"ai-connect service uninstall ({_scope(layout)}{', dry run' if dry_run else ''}):")
        installed = _installed(layout, kinds)
        stop = [systemd.systemctl("disable", "--now", units.unit_name(k)) for k in installed]
        _commands(layout, systemd, stop, dry_run)
        files: list[File] = []
        for k in kinds:
            files += [f for f in plan(layout, k, program(), ()) if f.path != layout.sysusers]
        others = set(_installed(layout, units.KINDS)) - set(kinds)
        if layout.system and not others:
            files.append(File(layout.sysusers, units.sysusers()))
        outcomes = uninstall_files(layout, files, dry_run=dry_run)
        _show([o for o in outcomes if o.action != "absent"])
        if installed:
            _commands(layout, systemd, [systemd.systemctl("daemon-reload")], dry_run)
        else:
            print(f"  nothing installed: no {' or '.join(units.unit_name(k) for k in kinds)}")
        if layout.system:
            print(
                f"Kept: {units.SYSTEM_STATE} (the database), {units.SYSTEM_LOGS} and the "
                f"system user {units.SERVICE_USER} (userdel {units.SERVICE_USER} removes it)."
            )
        else:
            data = platformdirs.user_data_path("ai-connect")
            logs = platformdirs.user_log_path("ai-connect")
            print(f"Kept: {data} (the database) and {logs} (the logs).")


def _unit_env(layout: Layout, values: dict[str, list[str]]) -> dict[str, str]:
    """The environment the unit gives its command: Environment= and EnvironmentFile=."""
    env: dict[str, str] = {}
    for item in values.get("Environment", []):
        for word in units.split_command(item):
            key, _, value = word.partition("=")
            env[key] = value
    for item in values.get("EnvironmentFile", []):
        path = layout.on_disk(PurePosixPath(units.split_command(item.lstrip("-"))[0]))
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith(("#", ";")):
                env[key.strip()] = value.strip().strip("'\"")
    return env


def _option(argv: Sequence[str], name: str) -> str | None:
    for i, word in enumerate(argv):
        if word == name and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def _listens(kind: str, argv: Sequence[str], env: dict[str, str]) -> tuple[str, int, bool]:
    """Where the unit's command listens: host, port, TLS."""
    if kind == "mcp":
        return _option(argv, "--host") or "127.0.0.1", int(_option(argv, "--port") or 9998), False
    port = _option(argv, "--port")
    cert = _option(argv, "--tls-cert")
    s = bridge_settings(
        host=_option(argv, "--host"),
        port=int(port) if port is not None else None,
        tls_cert=Path(cert) if cert else None,
        tls_key=Path(_option(argv, "--tls-key") or cert) if cert else None,
        env={**os.environ, **env},
    )
    return s.host, s.port, s.tls_cert is not None


def _status_one(layout: Layout, kind: str, systemd: Systemd) -> bool:
    path = layout.on_disk(layout.unit(kind))
    values = units.read_unit(path.read_text(encoding="utf-8"))
    argv = units.split_command(values.get("ExecStart", [""])[0])
    print(f"{kind}: {_scope(layout)} service {path}")
    mine = program()
    same = argv[: len(mine)] == mine
    where = (
        "this installation"
        if same
        else (
            f"NOT this installation ({' '.join(mine)}); 'ai-connect service install {kind}' "
            "points it here"
        )
    )
    print(f"  command  {' '.join(argv)}  ({where})")
    if layout.root != Path("/"):
        print("  (--root: systemd and the port are not asked)")
        return True
    state = systemd.show(units.unit_name(kind))
    healthy = True
    if state is None:
        print(
            "  state    systemd cannot tell (is systemd running? systemctl "
            f"{'' if layout.system else '--user '}status {units.unit_name(kind)})"
        )
        healthy = False
    else:
        active = f"{state.get('ActiveState', '?')} ({state.get('SubState', '?')})"
        extra = f", pid {state['MainPID']}" if state.get("MainPID", "0") != "0" else ""
        restarts = state.get("NRestarts", "0")
        print(f"  state    {active}, {state.get('UnitFileState', '?')}{extra}, restarts {restarts}")
        healthy = state.get("ActiveState") == "active"
    host, port, tls = _listens(kind, argv, _unit_env(layout, values))
    health = healthz(host, port, tls=tls)
    print(f"  /healthz {'ok' if health.ok else health.text}")
    log = _option(argv, "--log-file") or str(
        platformdirs.user_log_path("ai-connect") / f"{kind}.log"
    )
    print(f"  log      {log}")
    return healthy and health.ok


@service_app.command("status")
def status(
    kind: Annotated[str | None, typer.Argument(help="bridge | mcp [default: both]")] = None,
    user: UserOpt = False,
    system: SystemOpt = False,
    root: RootOpt = None,
) -> None:
    """Show the installed services: command, systemd state, /healthz, log file.

    Exit code 3 when an installed service is not running or not answering.
    """
    kinds = _kind(kind)
    healthy, any_installed = True, False
    for layout in _layouts(user, system, root, kinds):
        systemd = Systemd(layout.system)
        for k in _installed(layout, kinds):
            any_installed = True
            healthy = _status_one(layout, k, systemd) and healthy
            manager = "systemctl" if layout.system else "systemctl --user"
            journal = "journalctl" if layout.system else "journalctl --user"
            print(
                f"  more     {manager} status {units.unit_name(k)} · "
                f"{journal} -u {units.unit_name(k)} -f · ss -tlnp | grep ':{_port_hint(k)}'"
            )
    if not any_installed:
        print(
            spell(
                "No ai-connect service is installed here; 'ai-connect service install bridge' "
                "(or mcp) installs one."
            )
        )
        raise typer.Exit(EXIT_NOT_RUNNING)
    if not healthy:
        raise typer.Exit(EXIT_NOT_RUNNING)


def _port_hint(kind: str) -> str:
    return "9998" if kind == "mcp" else "9999"


@service_app.command("logs")
def logs(
    kind: Annotated[str | None, typer.Argument(help="bridge | mcp [default: both]")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="Lines of the past")] = 50,
    user: UserOpt = False,
    system: SystemOpt = False,
) -> None:
    """The services' journal (journalctl); the log files: ai-connect logs."""
    kinds = _kind(kind)
    layout = _layouts(user, system, None, kinds)[0]
    names = [units.unit_name(k) for k in (_installed(layout, kinds) or kinds)]
    argv = Systemd(layout.system).journalctl(names, follow=follow, lines=lines)
    journalctl = shutil.which(argv[0])
    if journalctl is None:
        raise ConfigError(
            "journalctl is not installed here; the log files are read with 'ai-connect logs'"
        )
    sys.stdout.flush()
    # Become journalctl: Ctrl-C and SIGTERM reach it directly, and no child outlives us.
    os.execv(journalctl, [journalctl, *argv[1:]])
