"""The systemd files of ``ai-connect service install`` (pure: text in, text out).

Two services, ``ai-connect-bridge`` and ``ai-connect-mcp`` (``ai-connect mcp --transport
http``, the original AI-Connect's ``client.http_server``), each as a **user** unit (the
default: ``~/.config/systemd/user``, runs as you, starts at login) or a **system** unit
(``/etc/systemd/system``, runs as the dedicated system user ``ai-connect`` made by
systemd-sysusers, with its database in ``/var/lib/ai-connect``, its log in
``/var/log/ai-connect`` and the sandboxing options below). Both run the exact
``ai-connect`` of the installation that wrote them, restart on failure, and read an
environment file the operator edits (``bridge.env``/``mcp.env``).

Every file written here starts with :data:`MARK`, so that uninstall removes only what
install wrote.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

__all__ = [
    "KINDS",
    "MARK",
    "SERVICE_USER",
    "SYSTEM_CONFIG",
    "SYSTEM_LOGS",
    "SYSTEM_STATE",
    "UnitSpec",
    "env_template",
    "quote",
    "read_unit",
    "render_unit",
    "split_command",
    "sysusers",
    "unit_name",
]

KINDS = ("bridge", "mcp")
MARK = "# Written by 'ai-connect service install'; 'ai-connect service uninstall' removes it."
SERVICE_USER = "ai-connect"
SYSTEM_STATE = PurePosixPath("/var/lib/ai-connect")
SYSTEM_LOGS = PurePosixPath("/var/log/ai-connect")
SYSTEM_CONFIG = PurePosixPath("/etc/ai-connect")

_HOMES = (PurePosixPath("/home"), PurePosixPath("/root"), PurePosixPath("/run/user"))
"""What ProtectHome= hides (systemd.exec(5))."""

_DESCRIPTION = {
    "bridge": "ai-connect bridge: routes messages between AI coding agents",
    "mcp": "ai-connect MCP server (Streamable HTTP /mcp and SSE /sse)",
}
_COMMAND = {"bridge": ("bridge",), "mcp": ("mcp", "--transport", "http")}

# systemd.exec(5). Each line is a door closed: the bridge needs the network, its state
# directory and its log directory, nothing else. Not MemoryDenyWriteExecute: ctypes
# callbacks would break under it, and nothing here gains from it.
_HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "DevicePolicy=closed",
    "PrivateMounts=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "ProtectProc=invisible",
    "ProcSubset=pid",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "RemoveIPC=yes",
    "LockPersonality=yes",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged",
    "SystemCallErrorNumber=EPERM",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "UMask=0077",
)


def unit_name(kind: str) -> str:
    return f"ai-connect-{kind}.service"


def quote(word: str) -> str:
    """One word of a systemd command line (systemd.service(5), "Command lines").

    ``%`` and ``$`` are doubled (specifiers, variable expansion); a word with spaces,
    quotes or backslashes is double-quoted with C-style escapes.
    """
    word = word.replace("%", "%%").replace("$", "$$")
    if word and not any(c in word for c in " \t\"'\\;"):
        return word
    escaped = word.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """What one unit runs and where its files are, as the running system sees them."""

    kind: str
    """``bridge`` or ``mcp``."""
    system: bool
    program: Sequence[str]
    """How to start this ai-connect: its absolute path (or python -m ai_connect)."""
    env_file: PurePosixPath
    args: Sequence[str] = ()
    """Extra arguments after the command (``-- --port 9998 --name mini``)."""
    readable: Sequence[PurePosixPath] = field(default_factory=tuple)
    """Directories the program needs (venv, interpreter, sources); a system unit binds
    those under a home directory read-only, since ProtectHome= hides the rest."""

    def command(self) -> list[str]:
        argv = [*self.program, *_COMMAND[self.kind]]
        if self.system:
            argv += ["--log-file", str(SYSTEM_LOGS / f"{self.kind}.log")]
        return argv + list(self.args)


def _under_home(paths: Iterable[PurePosixPath]) -> list[PurePosixPath]:
    """The paths that lie under a hidden home, outermost only, sorted."""
    inside = sorted({p for p in paths if any(p == h or h in p.parents for h in _HOMES)})
    return [p for p in inside if not any(q in p.parents for q in inside)]


def render_unit(spec: UnitSpec) -> str:
    """The text of ``ai-connect-<kind>.service`` for ``spec``."""
    after = "network-online.target"
    if spec.kind == "mcp":
        after += f" {unit_name('bridge')}"  # harmless when the bridge runs elsewhere
    lines = [
        MARK,
        "[Unit]",
        f"Description={_DESCRIPTION[spec.kind]}",
        f"After={after}",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=exec",
        "ExecStart=" + " ".join(quote(word) for word in spec.command()),
        "Restart=on-failure",
        "RestartSec=5",
        "TimeoutStopSec=30",
        "LimitNOFILE=65536",  # the bridge holds one file per connected peer
        "Environment=PYTHONUNBUFFERED=1",
    ]
    if spec.system:
        lines += [
            f"Environment=AI_CONNECT_CONFIG={SYSTEM_CONFIG / 'config.yaml'}",
            f"Environment=AI_CONNECT_DB={SYSTEM_STATE / 'bridge.db'}",
            "Environment=XDG_RUNTIME_DIR=%t",
        ]
    lines.append(f"EnvironmentFile=-{quote(str(spec.env_file))}")
    if spec.system:
        hidden = _under_home(spec.readable)
        lines += [
            f"User={SERVICE_USER}",
            f"Group={SERVICE_USER}",
            f"WorkingDirectory={SYSTEM_STATE}",
            "StateDirectory=ai-connect",
            "StateDirectoryMode=0700",
            "LogsDirectory=ai-connect",
            "LogsDirectoryMode=0750",
            "RuntimeDirectory=ai-connect",
            "RuntimeDirectoryMode=0700",
            *_HARDENING,
            "ProtectHome=tmpfs" if hidden else "ProtectHome=yes",
        ]
        if hidden:
            lines.append("BindReadOnlyPaths=" + " ".join(quote(str(p)) for p in hidden))
        wanted = "multi-user.target"
    else:
        lines += ["WorkingDirectory=%h", "NoNewPrivileges=yes", "UMask=0077"]
        wanted = "default.target"
    lines += ["", "[Install]", f"WantedBy={wanted}", ""]
    return "\n".join(lines)


def sysusers() -> str:
    """``/etc/sysusers.d/ai-connect.conf``: the system user of the system units."""
    return (
        f"{MARK}\n"
        f'u {SERVICE_USER} - "ai-connect bridge and MCP server" {SYSTEM_STATE} /usr/sbin/nologin\n'
    )


_ENV_VARS = {
    "bridge": (
        ("AI_CONNECT_HOST", "127.0.0.1", "address to bind; beyond loopback needs auth"),
        ("AI_CONNECT_PORT", "9999", "port to bind"),
        ("AI_CONNECT_DB", None, "the SQLite database"),
        ("AI_CONNECT_TLS_CERT", None, "serve wss:// with this PEM certificate"),
        ("AI_CONNECT_TLS_KEY", None, "and its private key"),
    ),
    "mcp": (
        ("AI_CONNECT_BRIDGE", "ws://127.0.0.1:9999", "where the bridge is"),
        ("AI_CONNECT_PEER_NAME", None, "this server's peer name"),
        ("AI_CONNECT_PROJECT", None, "its project (default: the working directory's name)"),
        ("AI_CONNECT_TOKEN", None, "auth token, when the bridge requires one"),
        ("AI_CONNECT_CA", None, "wss://: the bridge's CA (PEM file)"),
        ("AI_CONNECT_FINGERPRINT", None, "wss://: or its pinned certificate (sha256)"),
    ),
}


def env_template(kind: str, system: bool) -> str:
    """The environment file, every variable commented out: the operator's to edit."""
    manager = "systemctl" if system else "systemctl --user"
    lines = [
        MARK,
        f"# The environment of {unit_name(kind)}: one VAR=value per line, '#' starts a",
        f"# comment. Apply a change with: {manager} restart {unit_name(kind)}",
        "# Settings: flags > these variables > the config file (ai-connect doctor shows them).",
    ]
    for name, example, what in _ENV_VARS[kind]:
        value = example if example is not None else ""
        lines.append(f"# {name}={value:<28} # {what}")
    lines += [
        "# Other options go on the command line: ai-connect service install "
        f"{kind} -- --log-level debug",
        "",
    ]
    return "\n".join(lines)


def read_unit(text: str) -> dict[str, list[str]]:
    """The ``Key=value`` lines of a unit file, every value of each key in order."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, sep, value = line.partition("=")
        if sep:
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def split_command(value: str) -> list[str]:
    """The words of an ``ExecStart=`` value written by :func:`render_unit`."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(value, posix=True)]
