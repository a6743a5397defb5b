"""``ai-connect send|read|wait|peers|history|search|status``: the message commands.

Each opens one :class:`~ai_connect.client.BridgeClient` (:meth:`Connection.client`), makes its
requests, and prints human text or, with ``--json``, JSON (:mod:`ai_connect.text.terminal`).
A bridge that is down or a peer nobody is raises a BridgeError: ``ai-connect`` prints it
and exits 1 (:func:`ai_connect.cli.main`). ``wait`` exits 124 when no message came in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from ai_connect import identity
from ai_connect.cli.message_text import message_body
from ai_connect.cli.options import Connection, JsonOpt, connects
from ai_connect.cli.printing import Printer, print_page
from ai_connect.client import BridgeClient
from ai_connect.code_context import ContextError, read_context
from ai_connect.errors import NotConnected, RequestTimeout
from ai_connect.protocol import CLOSE_AUTH
from ai_connect.text import receipts, terminal

__all__ = [
    "COMMANDS",
    "EXIT_TIMEOUT",
    "history",
    "peers",
    "read",
    "search",
    "send",
    "status",
    "wait",
]

EXIT_ERROR = 1
EXIT_TIMEOUT = 124
"""``wait`` found no message within ``--timeout`` (as timeout(1) exits)."""
_FOREVER = 10 * 365 * 86400.0


def _run(coro: Coroutine[Any, Any, int]) -> None:
    if code := asyncio.run(coro):
        raise typer.Exit(code)


def _out(text: str) -> None:
    print(text, flush=True)


@connects
def send(
    to: Annotated[str, typer.Argument(metavar="TO", help="'Name (Project)', a name, or *")],
    message: Annotated[str, typer.Argument(metavar="MESSAGE", help="The text; - reads stdin")],
    thread: Annotated[str | None, typer.Option(help="Thread to file it under")] = None,
    reply_to: Annotated[
        str | None,
        typer.Option(help="Id of the message it answers: whole, or as shown (…0e42f1a3)"),
    ] = None,
    context_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="Attach FILE (its --lines) as code: content, git provenance, a reference",
        ),
    ] = None,
    lines: Annotated[
        str | None, typer.Option(help="Lines of --context-file: 10-40, 10, 120- (1-based)")
    ] = None,
    by_reference: Annotated[
        bool,
        typer.Option(
            help="Also send a reference: a peer whose checkout holds the same lines is shown "
            "it instead of the content"
        ),
    ] = True,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for the bridge")] = 10.0,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Send MESSAGE to TO; prints its id and whether it went live or waits for an offline peer.

    Success is reported only once the bridge has stored the message; a bridge that is
    down or a TO that names nobody is an error (exit 1).
    """
    body = message_body(message)
    if not body:
        raise typer.BadParameter("the message is empty", param_hint="MESSAGE")
    context = None
    if context_file is not None:
        try:  # as peer_context reads it (docs/mcp.md "Code context", "Context by reference")
            code = read_context(str(context_file), lines, cwd=Path.cwd(), reference=by_reference)
        except ContextError as exc:
            raise typer.BadParameter(str(exc), param_hint="--context-file/--lines") from exc
        context = code.as_dict()
    elif lines is not None:
        raise typer.BadParameter("--lines needs --context-file FILE", param_hint="--lines")

    async def run() -> int:
        async with conn.client() as client:
            answers = reply_to
            if reply_to is not None:
                how = "See message ids with 'ai-connect read' or 'ai-connect history PEER'."
                answers = await client.find_message(reply_to, how=how)
            receipt = await client.send(
                to,
                body,
                context=context,
                thread=thread,
                reply_to=answers,
                timeout=timeout,
                queue=False,
            )
        data = terminal.receipt_dict(receipt)
        _out(terminal.to_json(data) if as_json else terminal.receipt_text(receipt))
        return 0

    _run(run())


@connects
def read(
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for deliveries")] = 10.0,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Print every unread message, oldest first, then mark it read (only once printed).

    --json prints one array of objects with id, seq, from, to, content, context,
    thread, reply_to, timestamp.
    """

    async def run() -> int:
        async with conn.client(keep=True) as client:
            goal = client.welcome.tip if client.welcome else 0
            with Printer(as_json) as printer:
                # The bridge sends one flow-control window at a time (docs/protocol.md
                # §3.3): print and ack each page to be sent the next.
                while batch := await client.drain(timeout):
                    printer.show(batch)
                    await client.ack(batch, wait=True, path="cli")
                    if client.inbox.received >= goal and not client.unread():
                        break
            await client.ack([], wait=True)  # repeats of what an earlier run showed (§7)
            if client.inbox.acked < goal:
                raise RequestTimeout(
                    f"{goal - client.inbox.acked} unread messages did not arrive within "
                    f"{timeout:g} s; run 'ai-connect read' again"
                )
        if not printer.count and not as_json:
            _out("No unread messages.")
        return 0

    _run(run())


async def _sender(client: BridgeClient, wanted: str) -> str:
    """A full address as given, else the one known peer a bare name or prefix names."""
    if identity.parse_address(wanted) is not None:
        return wanted.strip()
    return identity.resolve(wanted, [p.address for p in await client.peers()])


def _interactive() -> bool:
    return sys.stderr.isatty()


def _waiting_note(client: BridgeClient, sender: str | None, interactive: bool) -> str | None:
    """``waiting as ADDRESS …`` for a person at a terminal; for anyone when the bridge gave
    another address than the one asked for (``zoe#2``: mail to ``zoe`` goes elsewhere)."""
    got, asked = client.address, identity.format_address(client.name, client.project)
    if got is None or (got == asked and not interactive):
        return None
    note = f"waiting as {terminal.clean(got)} on {client.url}"
    note += f" for a message from {terminal.clean(sender)}" if sender else ""
    if got != asked:
        note += (
            f"; {terminal.clean(asked)} is taken by another live session, so mail sent to "
            f"it goes there, not here (choose another --name to be told apart)"
        )
    return note + (" (Ctrl-C stops)" if interactive else "")


@connects
def wait(
    timeout: Annotated[
        float | None, typer.Option(min=0, metavar="S", help="Give up after S s [default: never]")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Only messages from this peer (or bare name)")
    ] = None,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Block until a message arrives, print every message that came, mark them read.

    Exit codes: 0 messages printed; 1 error (bridge down, link lost); 124 no message
    within --timeout seconds (as timeout(1) does). With --from, messages from others
    stay unread; acks being cumulative, the next read may show the printed ones again.
    """

    async def run() -> int:
        async with conn.client(keep=True) as client:
            sender = await _sender(client, from_) if from_ else None
            limit = _FOREVER if timeout is None else timeout
            if note := _waiting_note(client, sender, _interactive()):
                print(note, file=sys.stderr, flush=True)
            waiter = asyncio.ensure_future(client.wait(limit, sender))
            lost = asyncio.ensure_future(client.wait_disconnected())
            await asyncio.wait({waiter, lost}, return_when=asyncio.FIRST_COMPLETED)
            for task in (waiter, lost):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if waiter.cancelled():
                again = "check that it runs, then wait again"
                if client.close_code == CLOSE_AUTH:  # it runs, and refuses our token
                    again = (
                        "it no longer accepts this token: wait again with a valid one "
                        "(--token or AI_CONNECT_TOKEN), which the bridge's operator gives out"
                    )
                raise NotConnected(
                    f"lost the bridge at {client.url} while waiting ({client.last_error}); " + again
                )
            if not (messages := waiter.result()):
                print(f"no message within {limit:g} s", file=sys.stderr)
                return EXIT_TIMEOUT
            with Printer(as_json) as printer:
                printer.show(messages)
            await client.ack(messages, wait=True, path="cli")
        return 0

    _run(run())


@connects
def peers(
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """List the known peers: online first, then offline ones with when they were last seen."""

    async def run() -> int:
        async with conn.client(mode="query") as client:
            views, me = await client.peers(include_offline=True), client.address
        data = [terminal.peer_dict(p) for p in views]
        _out(terminal.to_json(data) if as_json else terminal.peers_text(views, time.time(), me))
        return 0

    _run(run())


@connects
def history(
    peer: Annotated[str, typer.Argument(metavar="PEER", help="'Name (Project)' or a name")],
    limit: Annotated[int, typer.Option(min=1, max=500, help="Messages per page")] = 20,
    before: Annotated[int | None, typer.Option(min=0, help="Cursor from the newer page")] = None,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Show the conversation with PEER (broadcasts included), oldest first."""

    async def run() -> int:
        async with conn.client(mode="query") as client:
            page = await client.history(peer, limit, before)
        if as_json:
            found = [terminal.view_dict(m) for m in page.messages]
            _out(terminal.to_json({"messages": found, "before": page.before}))
        else:
            again = f"history {shlex.quote(peer)}"
            print_page(page.messages, page.before, client.address, again, "No messages.")
        return 0

    _run(run())


@connects
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="Words that must all appear")],
    limit: Annotated[int, typer.Option(min=1, max=200, help="Most results")] = 20,
    before: Annotated[int | None, typer.Option(min=0, help="Cursor from the newer page")] = None,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Full-text search over the messages you may see, newest first.

    --json prints {"messages": [...], "before": N}, as history --json does: pass N as
    --before for the next, older page (null: there is none).
    """

    async def run() -> int:
        async with conn.client(mode="query") as client:
            results = await client.search(query, limit, before)
        if as_json:
            found = [terminal.view_dict(m) for m in results.messages]
            _out(terminal.to_json({"messages": found, "before": results.before}))
        else:
            empty = f"No messages match {terminal.clean(query)!r}."
            again = f"search {shlex.quote(query)}"
            print_page(results.messages, results.before, client.address, again, empty)
        return 0

    _run(run())


@connects
def status(
    message_id: Annotated[
        str | None,
        typer.Argument(
            metavar="[MESSAGE-ID]",
            help="A message you sent: its state per recipient (waiting, delivered, shown)",
        ),
    ] = None,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Show your address, unread count, and the bridge's URL, version, storage, uptime;
    with MESSAGE-ID, where that message stands for each recipient (its receipts)."""
    if message_id is not None:
        client = conn.client(mode="query")
        _run(_receipts(client, message_id, as_json))
        return

    async def run() -> int:
        client = conn.client(mode="query")
        try:
            async with client:
                data = terminal.status_dict(await client.status(), client.url)
        except NotConnected as exc:  # the answer to "am I connected?": no, and why
            data = {"bridge": client.url, "connected": False, **terminal.error_dict(exc)}
            _out(terminal.to_json(data) if as_json else terminal.status_text(data))
            print(terminal.error_text(exc), file=sys.stderr)
            return EXIT_ERROR
        _out(terminal.to_json(data) if as_json else terminal.status_text(data))
        return 0

    _run(run())


async def _receipts(client: BridgeClient, message_id: str, as_json: bool) -> int:
    """``ai-connect status MESSAGE-ID``: asks as a query connection (no peer left behind)."""
    async with client:
        report = await client.receipts(
            message_id.strip(), how="ai-connect history and ai-connect read show message ids."
        )
    data = receipts.report_dict(report)
    _out(terminal.to_json(data) if as_json else receipts.report_text(report, time.time()))
    return 0


COMMANDS: tuple[Callable[..., None], ...] = (send, read, wait, peers, history, search, status)
"""The commands in the order ``ai-connect --help`` lists them."""
