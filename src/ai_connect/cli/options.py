"""What the commands of ``ai-connect`` share: the connection options, one way to build a
client from them, and logging for the long-running commands (bridge, mcp).

Typer cannot group parameters, so each command repeats the options in its signature; the
``Annotated`` types below keep their names and help in one place, and
:func:`make_client` turns them into a :class:`~ai_connect.client.BridgeClient`
(flags > env > config file, :mod:`ai_connect.config`).
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from ai_connect import tls
from ai_connect.client import BridgeClient
from ai_connect.config import client_settings

__all__ = [
    "BridgeOpt",
    "CaOpt",
    "JsonOpt",
    "NameOpt",
    "PinOpt",
    "ProjectOpt",
    "TokenOpt",
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


def make_client(
    bridge: str | None,
    name: str | None,
    project: str | None,
    token: str | None,
    ca: str | None = None,
    fingerprint: str | None = None,
    *,
    kind: str = "cli",
) -> BridgeClient:
    """The client of one command: settings from flags > env > config, TLS, no reconnect."""
    s = client_settings(
        url=bridge, name=name, project=project, token=token, ca=ca, fingerprint=fingerprint
    )
    secure = tls.client_options(s.url, s.ca, s.fingerprint)
    return BridgeClient(
        s.url, s.name, s.project, token=s.token, kind=kind, reconnect=False, **secure
    )


def setup_logging(level: str) -> None:
    """Logs to stderr at ``level`` (debug, info, warning, error); only commands that run
    for long (bridge, mcp) log."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level.lower() != "debug":
        # websockets logs every handshake and close at INFO; we log the lifecycle ourselves.
        logging.getLogger("ai_connect.bridge.ws").setLevel(logging.WARNING)
