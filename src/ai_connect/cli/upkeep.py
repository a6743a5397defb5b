"""``ai-connect admin forget|dead-letters``: the operator's upkeep of the bridge's data.

``admin forget PEER`` asks the running bridge, over the protocol, to forget a peer (its
record and mailbox; its live connections are closed; protocol §2.5): an admin token where
auth is on. ``admin dead-letters`` reads the database itself, like ``ai-connect token``,
so it works whether or not the bridge runs: the messages the bridge moved aside because
they could not be read back as stored (docs/operations.md, "Damaged messages").
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer

from ai_connect.cli.options import Connection, JsonOpt
from ai_connect.cli.token import DbOpt, admin_app, admin_command, open_store
from ai_connect.text import terminal

__all__ = ["admin_dead_letters", "admin_forget"]


@admin_app.command("forget")
@admin_command
def admin_forget(
    peer: Annotated[str, typer.Argument(metavar="PEER", help="'Name (Project)' or a name")],
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Forget PEER: its record and its mailbox go, its live sessions are closed.

    Messages PEER sent stay with their recipients; messages others sent it leave its
    mailbox (history keeps them until retention removes them). The same name later is a
    new peer with an empty mailbox.
    """

    async def run() -> None:
        async with conn.client(kind="admin", mode="query") as client:
            gone = await client.admin_forget(peer)
        if as_json:
            print(terminal.to_json({"forgotten": gone.address}))
        else:
            print(f"forgot {terminal.clean(gone.address)}: its record and mailbox are gone.")

    asyncio.run(run())


@admin_app.command("dead-letters")
def admin_dead_letters(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest first, at most")] = 50,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Messages the bridge moved aside because they could not be read back as stored."""
    with open_store(db) as store:
        dead = store.dead_letters(limit)
    if as_json:
        rows = [
            {
                "id": d.id,
                "from": d.sender,
                "to": d.to,
                "recipients": list(d.recipients),
                "ts": d.ts,
                "reason": d.reason,
                "moved": d.moved,
                "body": d.body,
            }
            for d in dead
        ]
        print(terminal.to_json(rows))
        return
    if not dead:
        print("No dead letters: every stored message reads back as it was stored.")
        return
    for d in dead:
        moved = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.moved))
        who = ", ".join(terminal.clean(r) for r in d.recipients) or terminal.clean(d.to)
        print(
            f"{moved}  {terminal.clean(d.id) or '(no id)'}  from {terminal.clean(d.sender)}"
            f" to {who}: {terminal.clean(d.reason)}"
        )
        if d.body:
            print(f"    {terminal.clean(d.body[:200])}")
