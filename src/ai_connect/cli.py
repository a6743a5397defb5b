"""The ``ai-connect`` command: a thin typer adapter over the bridge and BridgeClient.

``main(argv) -> int`` catches only :class:`~ai_connect.errors.BridgeError`, prints
``Type: message`` to stderr and returns a non-zero exit code.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from ai_connect import __version__
from ai_connect.config import bridge_settings
from ai_connect.errors import BridgeError

__all__ = ["app", "main"]

app = typer.Typer(
    name="ai-connect",
    help="A message bridge that lets AI coding agents talk, share context and decide together.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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


@app.command()
def bridge(
    host: Annotated[str | None, typer.Option(help="Address to bind [default: 127.0.0.1]")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to bind; 0 picks a free one [default: 9999]")
    ] = None,
    db: Annotated[Path | None, typer.Option(help="SQLite database [default: XDG data dir]")] = None,
    memory: Annotated[bool, typer.Option(help="Keep everything in memory (lost on exit)")] = False,
    presence_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds of silence before a peer is shown offline [default: 60]"),
    ] = None,
    retention_days: Annotated[
        float | None,
        typer.Option(help="Broadcasts reach peers seen within this many days [default: 30]"),
    ] = None,
    synchronous: Annotated[
        str | None, typer.Option(help="SQLite durability: FULL (default) or NORMAL")
    ] = None,
    ready_file: Annotated[
        Path | None, typer.Option(help="Write the bridge URL to this file once listening")
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
) -> None:
    """Run the bridge: routes messages between agents and keeps their mailboxes."""
    from ai_connect.bridge.server import BridgeServer, ServerSettings
    from ai_connect.bridge.store.base import Store
    from ai_connect.bridge.store.memory import MemoryStore
    from ai_connect.bridge.store.sqlite import SqliteStore

    _setup_logging(log_level)
    settings = bridge_settings(
        host=host,
        port=port,
        db=db,
        presence_timeout_s=presence_timeout,
        retention_days=retention_days,
        synchronous=synchronous,
    )
    store: Store
    if memory:
        store = MemoryStore()
    else:
        store = SqliteStore(settings.db, synchronous=settings.synchronous)
    server = BridgeServer(
        store,
        ServerSettings(
            host=settings.host,
            port=settings.port,
            presence_timeout_s=settings.presence_timeout_s,
            retention_s=settings.retention_s,
        ),
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await server.start()
        except OSError as exc:
            store.close()
            raise BridgeError(
                f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}; "
                "is another bridge running? choose another --port"
            ) from exc
        where = "memory (lost on exit)" if memory else str(settings.db)
        print(
            f"ai-connect bridge {__version__} listening on {server.url} (storage: {where})",
            file=sys.stderr,
            flush=True,
        )
        print(
            f"connect an agent: claude mcp add ai-connect -- ai-connect mcp --bridge {server.url}",
            file=sys.stderr,
            flush=True,
        )
        if ready_file is not None:
            ready_file.write_text(server.url + "\n", encoding="utf-8")
        try:
            await stop.wait()
        finally:
            await server.close()

    asyncio.run(run())


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


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
