"""What the commands of ``ai-connect`` share: the connection options, one way to build a
client from them, and logging for the long-running commands (bridge, mcp).

Typer cannot group parameters, so each command repeats the options in its signature; the
``Annotated`` types below keep their names and help in one place, and
:func:`make_client` turns them into a :class:`~ai_connect.client.BridgeClient`
(flags > env > config file, :mod:`ai_connect.config`; then ``BridgeClient.from_settings``).
"""

from __future__ import annotations

import difflib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from ai_connect.client import BridgeClient
from ai_connect.config import client_settings, log_settings
from ai_connect.errors import ConfigError

__all__ = [
    "BridgeOpt",
    "CaOpt",
    "JsonOpt",
    "LogFileOpt",
    "NameOpt",
    "PinOpt",
    "ProjectOpt",
    "TokenOpt",
    "choose",
    "make_client",
    "setup_logging",
]

BridgeOpt = Annotated[
    str | None,
    typer.Option(metavar="ws://HOST:PORT", help="[env AI_CONNECT_BRIDGE; config bridge.*]"),
]
NameOpt = Annotated[
    str | None, typer.Option(help="Your peer name [env AI_CONNECT_PEER_NAME; config peer.name]")
]
ProjectOpt = Annotated[str | None, typer.Option(help="Your project [default: git root of cwd]")]
TokenOpt = Annotated[str | None, typer.Option(help="Auth token [env AI_CONNECT_TOKEN]")]
CaOpt = Annotated[
    str | None, typer.Option(metavar="FILE", help="wss://: CA of the bridge [env AI_CONNECT_CA]")
]
PinOpt = Annotated[
    str | None,
    typer.Option(
        "--fingerprint",
        metavar="SHA256",
        help="wss://: pin the bridge's certificate [env AI_CONNECT_FINGERPRINT]",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output")]


def choose(value: str, choices: Sequence[str], param: str, what: str = "") -> str:
    """``value`` if it is one of ``choices``; else a usage error (exit 2) that lists them
    and says which one a typo most likely meant (``did you mean approve?``)."""
    if value in choices:
        return value
    close = difflib.get_close_matches(value.lower(), list(choices), n=1, cutoff=0.6)
    meant = f"did you mean {close[0]}? " if close else ""
    head = f"{what} {value!r}: " if what else f"{value!r}: "
    raise typer.BadParameter(f"{head}{meant}use one of {', '.join(choices)}", param_hint=param)


def make_client(
    ctx: typer.Context,
    bridge: str | None,
    name: str | None,
    project: str | None,
    token: str | None,
    ca: str | None = None,
    fingerprint: str | None = None,
    *,
    kind: str = "cli",
) -> BridgeClient:
    """The client of one command: settings from flags > env > config, TLS, no reconnect.

    ``ctx.obj`` holds the extra BridgeClient arguments :func:`ai_connect.cli.main` was
    given (tests pass the transport, ``connect``); a command takes ``ctx`` for this only.
    """
    settings = client_settings(
        url=bridge, name=name, project=project, token=token, ca=ca, fingerprint=fingerprint
    )
    options = {"reconnect": False, **(ctx.obj or {})}
    return BridgeClient.from_settings(settings, kind=kind, **options)


LEVELS = ("debug", "info", "warning", "error")

LogFileOpt = Annotated[
    str | None,
    typer.Option(
        metavar="FILE",
        help="Rotating log file; '-': stderr only [default: ~/.local/state/ai-connect/log/]",
    ),
]


def setup_logging(level: str, kind: str | None = None, log_file: str | None = None) -> Path | None:
    """Logs to stderr at ``level`` (debug, info, warning, error) and, for ``kind`` (bridge,
    mcp), to its rotating log file (:mod:`ai_connect.logfiles`); only commands that run for
    long log. Like ``logging.basicConfig``, it adds no handler where logging is configured
    already (a program that embeds ours, or pytest). Returns the log file, if any."""
    from ai_connect import logfiles  # not for every start: hooks do not log to files

    if level.lower() not in LEVELS:
        raise ConfigError(f"--log-level must be one of {', '.join(LEVELS)}, not {level!r}")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    path = logfiles.resolve_log_file(log_file, kind) if kind is not None else None
    if logging.getLogger().handlers:
        path = None
    if path is not None:
        handlers.append(logfiles.file_handler(path, log_settings()))
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format=logfiles.FORMAT,
        handlers=handlers,
    )
    if level.lower() != "debug":
        # websockets logs every handshake and close at INFO; we log the lifecycle ourselves.
        logging.getLogger("ai_connect.bridge.ws").setLevel(logging.WARNING)
    return path
