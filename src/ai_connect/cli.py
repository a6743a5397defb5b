"""The ``ai-connect`` command: a thin typer adapter over the bridge and BridgeClient.

``main(argv) -> int`` catches only :class:`~ai_connect.errors.BridgeError`, prints
``Type: message`` to stderr and returns a non-zero exit code. Exit codes: 0 done,
1 a BridgeError (bridge down, unknown peer, ...), 2 a usage error, 124 ``wait`` timed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from ai_connect import __version__, identity, tls
from ai_connect.bridge_cli import bridge as _bridge_command
from ai_connect.client import BridgeClient, Message
from ai_connect.config import client_settings
from ai_connect.errors import BridgeError, NotConnected, RequestTimeout
from ai_connect.text import terminal

__all__ = ["app", "main"]

app = typer.Typer(
    name="ai-connect",
    help="A message bridge that lets AI coding agents talk, share context and decide together.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich markup would eat "[default: ...]" and "[env ...]"
)

EXIT_ERROR = 1
EXIT_TIMEOUT = 124


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level.lower() != "debug":
        # websockets logs every handshake and close at INFO; we log the lifecycle ourselves.
        logging.getLogger("ai_connect.bridge.ws").setLevel(logging.WARNING)


app.command(name="bridge")(_bridge_command)


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


# --- client commands: thin adapters over one BridgeClient ------------------------------

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

_FOREVER = 10 * 365 * 86400.0


def _client(
    bridge: str | None,
    name: str | None,
    project: str | None,
    token: str | None,
    ca: str | None = None,
    fingerprint: str | None = None,
) -> BridgeClient:
    s = client_settings(
        url=bridge, name=name, project=project, token=token, ca=ca, fingerprint=fingerprint
    )
    secure = tls.client_options(s.url, s.ca, s.fingerprint)
    return BridgeClient(
        s.url, s.name, s.project, token=s.token, kind="cli", reconnect=False, **secure
    )


def _run(coro: Coroutine[Any, Any, int]) -> None:
    if code := asyncio.run(coro):
        raise typer.Exit(code)


def _out(text: str) -> None:
    print(text, flush=True)


class _Printer:
    """Prints messages as they are handed over: human blocks, or one streamed JSON array."""

    def __init__(self, as_json: bool) -> None:
        self.as_json, self.count = as_json, 0

    def __enter__(self) -> _Printer:
        if self.as_json:
            sys.stdout.write("[")
        return self

    def show(self, messages: list[Message]) -> None:
        for m in messages:
            if self.as_json:
                sys.stdout.write(
                    ("," if self.count else "")
                    + "\n  "
                    + terminal.to_json(m.as_dict(), indent=None)
                )
            else:
                gap = "\n" if self.count else ""
                sys.stdout.write(gap + terminal.message_text(m.as_dict(), time.time()) + "\n")
            self.count += 1
        sys.stdout.flush()

    def __exit__(self, *exc_info: object) -> None:
        if self.as_json:
            sys.stdout.write("\n]\n" if self.count else "]\n")
            sys.stdout.flush()


@app.command()
def send(
    to: Annotated[str, typer.Argument(metavar="TO", help="'Name (Project)', a name, or *")],
    message: Annotated[str, typer.Argument(metavar="MESSAGE", help="The text; - reads stdin")],
    thread: Annotated[str | None, typer.Option(help="Thread to file it under")] = None,
    reply_to: Annotated[str | None, typer.Option(help="Id of the message it answers")] = None,
    context_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, readable=True, help="Attach FILE as context"),
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for the bridge")] = 10.0,
    bridge: BridgeOpt = None,
    name: NameOpt = None,
    project: ProjectOpt = None,
    token: TokenOpt = None,
    ca: CaOpt = None,
    fingerprint: PinOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send MESSAGE to TO; prints its id and whether it went live or waits for an offline peer.

    Success is reported only once the bridge has stored the message; a bridge that is
    down or a TO that names nobody is an error (exit 1).
    """
    body = sys.stdin.read() if message == "-" else message
    if not body:
        raise typer.BadParameter("the message is empty", param_hint="MESSAGE")
    context = None
    if context_file is not None:
        text = context_file.read_text(encoding="utf-8", errors="replace")
        context = {"file": str(context_file), "content": text}

    async def run() -> int:
        async with _client(bridge, name, project, token, ca, fingerprint) as client:
            receipt = await client.send(
                to,
                body,
                context=context,
                thread=thread,
                reply_to=reply_to,
                timeout=timeout,
                queue=False,
            )
        data = terminal.receipt_dict(receipt)
        _out(terminal.to_json(data) if as_json else terminal.receipt_text(receipt))
        return 0

    _run(run())


@app.command()
def read(
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for deliveries")] = 10.0,
    bridge: BridgeOpt = None,
    name: NameOpt = None,
    project: ProjectOpt = None,
    token: TokenOpt = None,
    ca: CaOpt = None,
    fingerprint: PinOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print every unread message, oldest first, then mark it read (only once printed).

    --json prints one array of objects with id, seq, from, to, content, context,
    thread, reply_to, timestamp.
    """

    async def run() -> int:
        async with _client(bridge, name, project, token, ca, fingerprint) as client:
            goal = client.welcome.tip if client.welcome else 0
            with _Printer(as_json) as printer:
                # The bridge sends one flow-control window at a time (docs/protocol.md
                # §3.3): print and ack each page to be sent the next.
                while batch := await client.drain(timeout):
                    printer.show(batch)
                    await client.ack(batch, wait=True)
                    if client.inbox.received >= goal and not client.unread():
                        break
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


@app.command()
def wait(
    timeout: Annotated[
        float | None, typer.Option(min=0, metavar="S", help="Give up after S s [default: never]")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Only messages from this peer (or bare name)")
    ] = None,
    bridge: BridgeOpt = None,
    name: NameOpt = None,
    project: ProjectOpt = None,
    token: TokenOpt = None,
    ca: CaOpt = None,
    fingerprint: PinOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Block until a message arrives, print every message that came, mark them read.

    Exit codes: 0 messages printed; 1 error (bridge down, link lost); 124 no message
    within --timeout seconds (as timeout(1) does). With --from, messages from others
    stay unread; acks being cumulative, the next read may show the printed ones again.
    """

    async def run() -> int:
        async with _client(bridge, name, project, token, ca, fingerprint) as client:
            sender = await _sender(client, from_) if from_ else None
            limit = _FOREVER if timeout is None else timeout
            waiter = asyncio.ensure_future(client.wait(limit, sender))
            lost = asyncio.ensure_future(client.wait_disconnected())
            await asyncio.wait({waiter, lost}, return_when=asyncio.FIRST_COMPLETED)
            for task in (waiter, lost):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if waiter.cancelled():
                raise NotConnected(
                    f"lost the bridge at {client.url} while waiting ({client.last_error}); "
                    "check that it runs, then wait again"
                )
            if not (messages := waiter.result()):
                print(f"no message within {limit:g} s", file=sys.stderr)
                return EXIT_TIMEOUT
            with _Printer(as_json) as printer:
                printer.show(messages)
            await client.ack(messages, wait=True)
        return 0

    _run(run())


@app.command()
def peers(
    bridge: BridgeOpt = None,
    name: NameOpt = None,
    project: ProjectOpt = None,
    token: TokenOpt = None,
    ca: CaOpt = None,
    fingerprint: PinOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the known peers: online first, then offline ones with when they were last seen."""

    async def run() -> int:
        async with _client(bridge, name, project, token, ca, fingerprint) as client:
            views, me = await client.peers(include_offline=True), client.address
        data = [terminal.peer_dict(p) for p in views]
        _out(terminal.to_json(data) if as_json else terminal.peers_text(views, time.time(), me))
        return 0

    _run(run())


@app.command()
def history(
    peer: Annotated[str, typer.Argument(metavar="PEER", help="'Name (Project)' or a name")],
    limit: Annotated[int, typer.Option(min=1, max=500, help="Messages per page")] = 20,
    before: Annotated[int | None, typer.Option(min=0, help="Cursor from the newer page")] = None,
    bridge: BridgeOpt = None,
    name: NameOpt = None,
    project: ProjectOpt = None,
    token: TokenOpt = None,
    ca: CaOpt = None,
    fingerprint: PinOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the conversation with PEER (broadcasts included), oldest first."""

    async def run() -> int:
        async with _client(bridge, name, project, token, ca, fingerprint) as client:
            page = await client.history(peer, limit, before)
        found = [terminal.view_dict(m) for m in page.messages]
        if as_json:
            _out(terminal.to_json({"messages": found, "before": page.before}))
            return 0
        _out(terminal.messages_text(found, time.time(), client.address) or "No messages.")
        if page.before is not None:
            _out(f"\nolder: ai-connect history {shlex.quote(peer)} --before {page.before}")
        return 0

    _run(run())


@app.command()
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="Words that must all appear")],
    limit: Annotated[int, typer.Option(min=1, max=200, help="Most results")] = 20,
    bridge: BridgeOpt = None,
    name: NameOpt = None,
    project: ProjectOpt = None,
    token: TokenOpt = None,
    ca: CaOpt = None,
    fingerprint: PinOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Full-text search over the messages you may see, newest first."""

    async def run() -> int:
        async with _client(bridge, name, project, token, ca, fingerprint) as client:
            results = await client.search(query, limit)
        found = [terminal.view_dict(m) for m in results.messages]
        if as_json:
            _out(terminal.to_json(found))
        else:
            text = terminal.messages_text(found, time.time(), client.address)
            _out(text or f"No messages match {terminal.clean(query)!r}.")
        return 0

    _run(run())


@app.command()
def status(
    bridge: BridgeOpt = None,
    name: NameOpt = None,
    project: ProjectOpt = None,
    token: TokenOpt = None,
    ca: CaOpt = None,
    fingerprint: PinOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show your address, unread count, and the bridge's URL, version, storage, uptime."""

    async def run() -> int:
        client = _client(bridge, name, project, token, ca, fingerprint)
        try:
            async with client:
                data = terminal.status_dict(await client.status(), client.url)
        except BridgeError as exc:
            data = {"bridge": client.url, "connected": False, "error": str(exc)}
            _out(terminal.to_json(data) if as_json else terminal.status_text(data))
            raise
        _out(terminal.to_json(data) if as_json else terminal.status_text(data))
        return 0

    _run(run())


@app.command()
def mcp(
    transport: Annotated[
        str, typer.Option(help="stdio (a client spawns it) or http (/mcp and legacy /sse)")
    ] = "stdio",
    host: Annotated[str, typer.Option(help="http: address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="http: port; 0 picks a free one")] = 9998,
    bridge: Annotated[
        str | None, typer.Option(metavar="ws://HOST:PORT", help="[env AI_CONNECT_BRIDGE]")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Peer name [env AI_CONNECT_PEER_NAME]")] = None,
    project: Annotated[str | None, typer.Option(help="Project [default: git root of cwd]")] = None,
    token: Annotated[str | None, typer.Option(help="Auth token [env AI_CONNECT_TOKEN]")] = None,
    ca: CaOpt = None,
    fingerprint: PinOpt = None,
    context_max_bytes: Annotated[
        int | None, typer.Option(min=1024, help="peer_context size cap [default: 49152]")
    ] = None,
    progress_interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between peer_wait progress notifications")
    ] = 10.0,
    ready_file: Annotated[
        Path | None, typer.Option(help="http: write the base URL here once listening")
    ] = None,
    channel: Annotated[
        str,
        typer.Option(
            help="stdio: push new mail as Claude Code channel events: auto (to a client "
            "known to listen), on, off (docs/hooks.md)"
        ),
    ] = "auto",
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
) -> None:
    """Run the MCP server: the peer_* tools for Claude Code, Codex, Gemini CLI, Cursor, VS Code.

    See docs/mcp.md. Logs go to stderr; over stdio, stdout carries MCP.
    """
    from ai_connect.mcp.run import run  # the MCP SDK loads only for this command

    _setup_logging(log_level)
    if log_level.lower() != "debug":
        logging.getLogger("mcp").setLevel(logging.WARNING)  # one INFO line per HTTP session
    run(
        transport,
        host=host,
        port=port,
        bridge=bridge,
        name=name,
        project=project,
        token=token,
        ca=ca,
        fingerprint=fingerprint,
        context_max_bytes=context_max_bytes,
        progress_interval_s=progress_interval,
        ready_file=ready_file,
        channel=channel,
    )


from ai_connect.hook_cli import hooks_app  # noqa: E402  (hooks and setup: docs/hooks.md)
from ai_connect.setup_cli import setup as _setup_command  # noqa: E402

app.add_typer(hooks_app, name="hook")
app.command(name="setup")(_setup_command)

from ai_connect.token_cli import admin_app, token_app  # noqa: E402  (docs/security.md)

app.add_typer(token_app, name="token")
app.add_typer(admin_app, name="admin")

from ai_connect.consensus_cli import consensus_app  # noqa: E402  (docs/protocol.md §8)

app.add_typer(consensus_app, name="consensus")


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI; returns the exit code instead of raising SystemExit."""
    try:
        app(args=argv, prog_name="ai-connect")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    except BridgeError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
