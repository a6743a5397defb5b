"""What the commands of ``ai-connect`` share: the connection options, one way to build a
client from them, and logging for the long-running commands (bridge, mcp).

Typer cannot group parameters, so :func:`connects` does it: a command that talks to the
bridge takes one ``conn: Connection`` parameter, and the decorator puts the connection
options (``--bridge --name --project --token --token-file --ca --fingerprint``, the
``Annotated`` types below: names and help in one place) in its place on the command line.
:meth:`Connection.client` turns them into a :class:`~ai_connect.client.BridgeClient`
(flags > env > config file, :mod:`ai_connect.config`; then ``BridgeClient.from_settings``).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer

from ai_connect.client import BridgeClient
from ai_connect.client.keep import Keep
from ai_connect.config import ClientSettings, client_settings, log_settings
from ai_connect.errors import ConfigError

__all__ = [
    "BRIDGES",
    "CONNECTION_OPTIONS",
    "TOKEN_ON_COMMAND_LINE",
    "BridgeOpt",
    "CaOpt",
    "Connection",
    "JsonOpt",
    "LogFileOpt",
    "NameOpt",
    "PinOpt",
    "ProjectOpt",
    "TokenFileOpt",
    "TokenOpt",
    "bridge_option",
    "choose",
    "connects",
    "setup_logging",
    "warn_token_flag",
]

BRIDGES = (
    "the bridge's URL; for several nodes, repeat --bridge or give a comma list "
    "(tried in turn, docs/deploy.md)"
)


def bridge_option(sources: str) -> Any:
    """The ``--bridge`` option: repeatable, each value a URL or a comma list of them
    (config.joined_urls makes one list); ``sources`` names where else it is read from."""
    return typer.Option(metavar="ws://HOST:PORT", help=f"{BRIDGES.capitalize()} {sources}")


BridgeOpt = Annotated[
    list[str] | None, bridge_option("[env AI_CONNECT_BRIDGE; config bridge.url(s)]")
]
NameOpt = Annotated[
    str | None, typer.Option(help="Your peer name [env AI_CONNECT_PEER_NAME; config peer.name]")
]
ProjectOpt = Annotated[str | None, typer.Option(help="Your project [default: git root of cwd]")]
TokenOpt = Annotated[
    str | None,
    typer.Option(help="Auth token; visible to local users in ps: prefer --token-file"),
]
TokenFileOpt = Annotated[
    str | None,
    typer.Option(
        metavar="FILE",
        help="File holding the auth token [env AI_CONNECT_TOKEN, AI_CONNECT_TOKEN_FILE; "
        "config bridge.token, bridge.token_file]",
    ),
]
TOKEN_ON_COMMAND_LINE = (
    "--token on the command line is visible to every local user (ps, /proc/PID/cmdline); "
    "use --token-file FILE or the AI_CONNECT_TOKEN environment variable instead"
)


def warn_token_flag(token: str | None) -> None:
    """Warns on stderr when the token was given as ``--token`` (docs/security.md)."""
    if token:
        print(f"ai-connect: warning: {TOKEN_ON_COMMAND_LINE}", file=sys.stderr)


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


CONNECTION_OPTIONS: Mapping[str, Any] = {
    "bridge": BridgeOpt,
    "name": NameOpt,
    "project": ProjectOpt,
    "token": TokenOpt,
    "token_file": TokenFileOpt,
    "ca": CaOpt,
    "fingerprint": PinOpt,
}
"""The options :func:`connects` gives a command, in this order: name -> ``Annotated`` type."""

_R = TypeVar("_R")


@dataclass(frozen=True)
class Connection:
    """The connection options one command was given, and the client they make."""

    bridge: Sequence[str] | None = None
    name: str | None = None
    project: str | None = None
    token: str | None = None
    token_file: str | None = None
    ca: str | None = None
    fingerprint: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Extra BridgeClient arguments :func:`ai_connect.cli.main` was given (tests pass the
    transport, ``connect``)."""

    def client(
        self,
        *,
        kind: str = "cli",
        mode: Literal["peer", "query", "observe"] = "peer",
        keep: bool = False,
    ) -> BridgeClient:
        """The client of one command: settings from flags > env > config, TLS, no reconnect.

        ``mode="query"``: a command that only asks (status, peers, history, search, admin …)
        never becomes a peer: it gets no mailbox and no broadcasts (docs/protocol.md §2.4);
        ``mode="observe"``: the operators' event feed (§9).
        ``keep``: a command that shows mail (read, wait) records what it showed on disk
        before its ack, so a run killed in between does not show it again
        (:mod:`ai_connect.client.keep`). A ``--token`` is warned about: the process list
        shows it.
        """
        warn_token_flag(self.token)
        options: dict[str, Any] = {"reconnect": False, **self.extra}
        if mode != "peer":
            options["mode"] = mode
        if keep:
            options["keep"] = Keep(outbox=False)  # under XDG_STATE_HOME; it never queues
        return BridgeClient.from_settings(self.settings(), kind=kind, **options)

    def settings(self) -> ClientSettings:
        """These options, completed from the environment and the config file."""
        return client_settings(
            url=self.bridge,
            name=self.name,
            project=self.project,
            token=self.token,
            token_file=self.token_file,
            ca=self.ca,
            fingerprint=self.fingerprint,
        )


def connects(
    command: Callable[..., _R] | None = None,
    *,
    options: Mapping[str, Any] = CONNECTION_OPTIONS,
    **fixed: Any,
) -> Any:
    """Decorates a command that takes ``conn: Connection``: on its command line the
    ``options`` (default :data:`CONNECTION_OPTIONS`) stand where ``conn`` stands, with
    their names and help, and the command is called with them as one :class:`Connection`.
    ``fixed``: Connection fields that are no option of this command (``project="admin"``).
    """
    if command is None:
        return functools.partial(connects, options=options, **fixed)
    signature = inspect.signature(command, eval_str=True)
    if "conn" not in signature.parameters:
        raise TypeError(f"{command.__name__} takes no 'conn: Connection' to fill")
    keyword = inspect.Parameter.KEYWORD_ONLY
    own_ctx = "ctx" in signature.parameters
    # Typer hands the context to the parameter annotated typer.Context: its obj holds
    # the extra BridgeClient arguments of cli.main (the command may take ctx itself).
    params = [] if own_ctx else [inspect.Parameter("ctx", keyword, annotation=typer.Context)]
    for param in signature.parameters.values():
        if param.name == "conn":
            params.extend(
                inspect.Parameter(name, keyword, default=None, annotation=a)
                for name, a in options.items()
            )
        else:  # keyword-only: typer passes every parameter by name
            params.append(param.replace(kind=keyword))

    @functools.wraps(command)
    def with_connection(**given: Any) -> _R:
        values = {name: given.pop(name) for name in options}
        ctx: typer.Context = given["ctx"] if own_ctx else given.pop("ctx")
        connection = Connection(**values, **fixed, extra=ctx.obj or {})
        return command(**given, conn=connection)

    with_connection.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    with_connection.__annotations__ = {p.name: p.annotation for p in params}
    return with_connection


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
    for handler in handlers:
        handler.setFormatter(logfiles.NeutralFormatter())  # peer names in lines: neutralised
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format=logfiles.FORMAT,
        handlers=handlers,
    )
    if level.lower() != "debug":
        # websockets logs every handshake and close at INFO; we log the lifecycle ourselves.
        logging.getLogger("ai_connect.bridge.ws").setLevel(logging.WARNING)
    return path
