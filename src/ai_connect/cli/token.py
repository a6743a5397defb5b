"""``ai-connect token …`` and ``ai-connect admin …`` (docs/security.md).

``token create|list|revoke`` work on the bridge's database directly (the same ``--db`` /
``AI_CONNECT_DB`` / ``server.db`` resolution as ``ai-connect bridge``), so they work
whether or not the bridge runs; a running bridge re-reads its tokens every
``auth_reload_s`` (2 s) and disconnects the sessions of a revoked token. A token is
shown once, at creation: only its SHA-256 hash is stored.

``admin status|history`` are the observer views of an admin token, over the protocol.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ai_connect.bridge.auth import new_token, parse_expiry
from ai_connect.bridge.store.base import TokenRecord
from ai_connect.cli import stores
from ai_connect.cli.options import (
    CaOpt,
    Connection,
    JsonOpt,
    PinOpt,
    TokenFileOpt,
    bridge_option,
    connects,
)
from ai_connect.config import bridge_settings
from ai_connect.errors import BridgeError
from ai_connect.protocol import Brakes
from ai_connect.text import terminal

if TYPE_CHECKING:
    from ai_connect.bridge.store.postgres import PostgresStore
    from ai_connect.bridge.store.sqlite import SqliteStore

__all__ = [
    "ADMIN_OPTIONS",
    "AdminBridgeOpt",
    "AdminNameOpt",
    "AdminTokenOpt",
    "DbOpt",
    "admin_app",
    "admin_command",
    "open_store",
    "token_app",
    "token_state",
]

token_app = typer.Typer(
    help="Auth tokens in the bridge's database: create, list, revoke (docs/security.md).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
admin_app = typer.Typer(
    help="Observer views for admin tokens: every peer, any conversation, the loop brake.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DbOpt = Annotated[
    str | None,
    typer.Option(
        help="The bridge's database, a file or postgresql:// URL [default: as ai-connect "
        "bridge; env AI_CONNECT_DB]"
    ),
]


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def token_state(token: TokenRecord, now: float) -> str:
    """``active``, ``revoked`` or ``expired``."""
    if token.revoked is not None:
        return "revoked"
    if token.expires is not None and now >= token.expires:
        return "expired"
    return "active"


def _token_dict(token: TokenRecord, now: float) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "names": list(token.names),
        "admin": token.admin,
        "created": token.created,
        "expires": token.expires,
        "revoked": token.revoked,
        "state": token_state(token, now),
    }


def open_store(db: str | None) -> SqliteStore | PostgresStore:
    """The bridge's database, as ``ai-connect bridge`` resolves ``--db`` (cli/stores.py)."""
    return stores.open_store(bridge_settings(db=db))


@token_app.command()
def create(
    name: Annotated[str, typer.Argument(help="A label for the token (who or what holds it)")],
    names: Annotated[
        list[str] | None,
        typer.Option(
            "--names",
            metavar="PATTERN",
            help="Peer names it may register (fnmatch; 'Name (Project)' patterns match the "
            "address); repeat or separate with commas [default: NAME]",
        ),
    ] = None,
    admin: Annotated[bool, typer.Option(help="May use the admin (observer) requests")] = False,
    expires: Annotated[
        str | None, typer.Option(help="30d, 12h, 2w, or a date 2026-12-31 [default: never]")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token; print it once (only its hash is stored)."""
    now = time.time()
    patterns = [p for item in names or () for p in item.split(",") if p.strip()]
    token, record = new_token(
        name, patterns, admin=admin, now=now, expires=parse_expiry(expires, now)
    )
    with open_store(db) as store:
        store.put_token(record)
    if as_json:
        print(json.dumps({"token": token, **_token_dict(record, now)}))
    else:
        print(token)
    owns = ", ".join(record.names)
    print(
        f"token {record.id} ({record.name}) may register: {owns}"
        + ("; admin" if record.admin else "")
        + f"; expires {_when(record.expires)}.\n"
        "It is shown only now: hand it to its holder (--token, AI_CONNECT_TOKEN or "
        "bridge.token in the config file). A running bridge accepts it within 2 s.",
        file=sys.stderr,
    )


@token_app.command("list")
def list_(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List the tokens (never the tokens themselves: they are not stored)."""
    now = time.time()
    with open_store(db) as store:
        tokens = store.tokens()
    if as_json:
        print(json.dumps([_token_dict(t, now) for t in tokens], indent=2))
        return
    if not tokens:
        print("No tokens: auth is off unless the bridge runs with --auth.")
        return
    for t in tokens:
        flags = " admin" if t.admin else ""
        print(
            f"{t.id}  {token_state(t, now):7}  {terminal.clean(t.name)}{flags}  "
            f"names: {terminal.clean(', '.join(t.names))}  created {_when(t.created)}  "
            f"expires {_when(t.expires)}"
        )


@token_app.command()
def revoke(
    which: Annotated[
        str, typer.Argument(metavar="NAME|ID", help="A token's id, or every token of a name")
    ],
    db: DbOpt = None,
) -> None:
    """Revoke a token (or every token with that name); its live sessions are disconnected."""
    now = time.time()
    with open_store(db) as store:
        tokens: list[TokenRecord] = store.tokens()
        chosen = [t for t in tokens if t.id == which] or [t for t in tokens if t.name == which]
        if not chosen:
            raise BridgeError(f"no token has the id or name {which!r}; 'ai-connect token list'")
        done = [t for t in chosen if store.revoke_token(t.id, now)]
    for t in chosen:
        what = "revoked" if t in done else "was already revoked"
        print(f"token {t.id} ({terminal.clean(t.name)}) {what}")
    if done:
        print("A running bridge disconnects its sessions within 2 s.", file=sys.stderr)


# --- admin: observer views over the protocol ------------------------------------------


AdminBridgeOpt = Annotated[list[str] | None, bridge_option("[env AI_CONNECT_BRIDGE]")]
AdminNameOpt = Annotated[
    str | None, typer.Option(help="Name to register as (the token must own it)")
]
AdminTokenOpt = Annotated[
    str | None, typer.Option(help="An admin token; visible in ps: prefer --token-file")
]
ADMIN_OPTIONS = {
    "bridge": AdminBridgeOpt,
    "name": AdminNameOpt,
    "token": AdminTokenOpt,
    "token_file": TokenFileOpt,
    "ca": CaOpt,
    "fingerprint": PinOpt,
}
"""An operator's connection options: no --project (its client registers in ``admin``)."""


def admin_command(command: Callable[..., None]) -> Callable[..., None]:
    """:func:`~ai_connect.cli.options.connects` with :data:`ADMIN_OPTIONS`: an operator's
    command; its client is ``conn.client(kind="admin", mode="query")``, which only asks,
    so it never becomes a peer (protocol §2.4)."""
    made: Callable[..., None] = connects(command, options=ADMIN_OPTIONS, project="admin")
    return made


@admin_app.command("status")
@admin_command
def admin_status(
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Every peer with its mailbox cursors, connections, token and remote address."""

    async def run() -> None:
        async with conn.client(kind="admin", mode="query") as client:
            report = await client.admin_status()
        if as_json:
            print(terminal.to_json(report.model_dump(mode="json")))
            return
        print(
            f"bridge {terminal.clean(report.server)} · {report.storage} · up "
            f"{terminal.duration(report.uptime_s)} · auth {'on' if report.auth else 'off'} · "
            f"{report.connections} connections · {report.throttled} throttled frames"
        )
        for n in report.nodes:  # several nodes on one PostgreSQL database
            state = "alive" if n.alive else "DEAD "
            print(
                f"node {state} {terminal.clean(n.url)}  {n.sessions} sessions  heartbeat "
                f"{n.beat_age_s:.1f} s ago{'  (this one)' if n.this else ''}"
            )
        for p in report.peers:
            state = "online " if p.online else "offline"
            extra = f" token {terminal.clean(p.token)}" if p.token else ""
            extra += f" from {terminal.clean(p.remote)}" if p.remote else ""
            print(
                f"{state} {terminal.clean(p.address)}  unread {p.tip - p.acked} (tip {p.tip})  "
                f"{p.connections} conn{extra}"
            )

    asyncio.run(run())


@admin_app.command("history")
@admin_command
def admin_history(
    viewer: Annotated[str, typer.Argument(help="Whose history: an address or name")],
    peer: Annotated[str | None, typer.Argument(help="Only the conversation with this peer")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """The history VIEWER sees (with PEER: their conversation), oldest first."""

    async def run() -> None:
        async with conn.client(kind="admin", mode="query") as client:
            page = await client.admin_history(viewer, peer, limit)
        found = [terminal.view_dict(m) for m in page.messages]
        if as_json:
            print(terminal.to_json(found))
        else:
            print(terminal.messages_text(found, time.time()) or "No messages.")

    asyncio.run(run())


def _brakes_text(reply: Brakes) -> str:
    lines = [f"resumed {terminal.clean(key)}" for key in reply.resumed]
    for p in reply.paused:
        parties = ", ".join(terminal.clean(str(x)) for x in p.get("parties", []))
        lines.append(
            f"paused  {terminal.clean(str(p['conversation']))} ({parties}): "
            f"{terminal.clean(str(p['reason']))}"
        )
    return "\n".join(lines) or "No conversation is paused."


@admin_app.command("brakes")
@admin_command
def admin_brakes(
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """The conversations the loop brake paused, with why (docs/hooks.md, "The loop brake")."""

    async def run() -> None:
        async with conn.client(kind="admin", mode="query") as client:
            reply = await client.admin_brakes()
        print(terminal.to_json(reply.paused) if as_json else _brakes_text(reply))

    asyncio.run(run())


@admin_app.command("resume")
@admin_command
def admin_resume(
    conversation: Annotated[
        str | None,
        typer.Argument(help="As `ai-connect admin brakes` lists it [default: every one]"),
    ] = None,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Lift the loop brake's pause: the agents of the conversation wake for it again."""

    async def run() -> None:
        async with conn.client(kind="admin", mode="query") as client:
            reply = await client.admin_resume(conversation)
        if as_json:
            print(terminal.to_json({"resumed": reply.resumed, "paused": reply.paused}))
            return
        if conversation is not None and not reply.resumed:
            print(f"{terminal.clean(conversation)} is not paused.")
        print(_brakes_text(reply))

    asyncio.run(run())
