"""``ai-connect watch``: the live view of the bridge (the successor of chat_viewer.py).

An adapter like the other commands: it builds an observing
:class:`~ai_connect.client.BridgeClient` (``mode="observe"``: never a peer; an admin
token where auth is on) and hands it to :mod:`ai_connect.watch` (view, model, feed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import Annotated, Any

import typer

from ai_connect.cli.options import (
    BridgeOpt,
    CaOpt,
    PinOpt,
    TokenFileOpt,
    TokenOpt,
    warn_token_flag,
)
from ai_connect.client import BridgeClient
from ai_connect.config import client_settings
from ai_connect.watch.feed import FeedSource
from ai_connect.watch.filters import Filters
from ai_connect.watch.lines import wants_color
from ai_connect.watch.model import WatchModel
from ai_connect.watch.run import choose_view, parse_as, run_app, run_lines, stdin_lines

__all__ = ["watch"]


def watch(
    ctx: typer.Context,
    peer: Annotated[
        list[str] | None,
        typer.Option(metavar="PEER", help="Only traffic of this peer (address, name, prefix)"),
    ] = None,
    project: Annotated[
        list[str] | None, typer.Option(metavar="PROJECT", help="Only traffic touching PROJECT")
    ] = None,
    thread: Annotated[list[str] | None, typer.Option(metavar="ID", help="Only this thread")] = None,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="NAME",
            help='Reply and send as this person, shown to agents as a human ("Name (Project)" '
            "sets the project too); in line mode, type @PEER text on stdin; without it the "
            "watch is read-only",
        ),
    ] = None,
    lines: Annotated[
        bool, typer.Option("--lines", help="One line per event even on a terminal")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per event (implies --lines)")
    ] = False,
    last: Annotated[
        int,
        typer.Option(min=0, max=500, metavar="N", help="First show the last N messages stored"),
    ] = 0,
    stale: Annotated[
        float,
        typer.Option(min=1, metavar="S", help="Attention: delivered but not shown for S s"),
    ] = 60.0,
    bridge: BridgeOpt = None,
    token: TokenOpt = None,
    token_file: TokenFileOpt = None,
    ca: CaOpt = None,
    fingerprint: PinOpt = None,
) -> None:
    """Watch the bridge live: every message and its delivery state (accepted, delivered,
    shown), joins and leaves, proposals, votes and verdicts.

    On a terminal: a timeline, a peers panel and an attention line (q quits, Enter
    shows a message's detail, r replies, s sends, / filters). Piped, with --lines or
    --json, or on TERM=dumb: one line per event. NO_COLOR turns colour off. Where the
    bridge has auth on, --token must be an admin token (ai-connect token create NAME
    --admin); the watch never registers as a peer.
    """
    sender: str | None = None
    as_project: str | None = None
    if as_ is not None:
        try:
            sender, as_project = parse_as(as_)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--as") from exc
    warn_token_flag(token)
    settings = client_settings(
        url=bridge,
        name=sender,
        project=as_project,
        token=token,
        token_file=token_file,
        ca=ca,
        fingerprint=fingerprint,
    )
    options: dict[str, Any] = {"reconnect": True, "mode": "observe", **(ctx.obj or {})}
    client = BridgeClient.from_settings(settings, kind="watch", **options)
    model = WatchModel(Filters(tuple(peer or ()), tuple(project or ()), tuple(thread or ())))
    model.stale_s = stale
    view = choose_view(isatty=sys.stdout.isatty(), environ=os.environ, lines=lines or as_json)

    async def run() -> None:
        async with client:
            source = FeedSource(client, last=last)
            if view == "app":
                await run_app(source, model, sender=sender)
            else:
                color = wants_color(sys.stdout.isatty(), os.environ)
                typed = stdin_lines() if sender is not None else None
                await run_lines(
                    source,
                    model,
                    sys.stdout,
                    color=color,
                    as_json=as_json,
                    sender=sender,
                    typed=typed,
                )

    with contextlib.suppress(KeyboardInterrupt):  # ctrl+c is how a watch ends
        asyncio.run(run())
