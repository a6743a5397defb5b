"""``ai-connect bridge``: runs the bridge, safe by default (docs/security.md).

It binds 127.0.0.1 unless told otherwise. Auth is on when any token exists in the
database (``ai-connect token create``) or with ``--auth``; binding any other address
without auth refuses to start, unless ``--insecure`` says so explicitly (then every start
logs a warning). ``--tls-cert``/``--tls-key`` serve ``wss://`` and print the certificate's
fingerprint for clients to pin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from ai_connect import __version__, tls
from ai_connect.bridge.brake import BrakeLimits
from ai_connect.bridge.collection import collect_young_less_often
from ai_connect.bridge.guard import is_loopback
from ai_connect.bridge.store.base import TokenRecord
from ai_connect.cli.options import LogFileOpt, setup_logging
from ai_connect.cli.stores import database_name, open_bridge_store
from ai_connect.config import bridge_settings, default_db_path, redacted
from ai_connect.errors import BridgeError, ConfigError
from ai_connect.launcher import spell
from ai_connect.protocol import Limits

__all__ = ["bridge", "exposure_problem", "raise_open_file_limit"]

log = logging.getLogger("ai_connect.bridge")


def exposure_problem(host: str, auth: bool, db: str) -> str | None:
    """Why the bridge must not listen on ``host`` as configured, or ``None``."""
    if auth or is_loopback(host):
        return None
    return (
        f"refusing to listen on {host} without auth: anyone who can reach it could register "
        "as any peer, read its offline mail and send in its name. Create a token first: "
        f"'ai-connect token create NAME --db {db}' (clients pass it with --token or "
        "AI_CONNECT_TOKEN), or start with --auth; --insecure starts without auth anyway "
        "(docs/security.md)"
    )


def raise_open_file_limit() -> None:
    """Lifts the soft limit on open files to the hard limit: the bridge holds one per peer.

    Many systems start processes with a soft limit of 1024, which would stall the bridge's
    accept loop near 1,000 peers (bench/RESULTS.md, register); the hard limit is what the
    administrator allows.
    """
    try:
        import resource
    except ImportError:  # Windows: no RLIMIT_NOFILE, and its socket limit is far higher
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 65_536 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        # ValueError/OSError: the OS caps it lower (macOS OPEN_MAX); keep the soft limit.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _auth_line(tokens: list[TokenRecord], required: bool, db: Path | str | None = None) -> str:
    """The banner's auth line; ``db``: a database other than the default, which the token
    commands must then be told (or they would use the default one)."""
    where = f" --db {shlex.quote(str(db))}" if db is not None else ""
    if not tokens and not required:
        return f"auth: off (no token exists; 'ai-connect token create NAME{where}' turns it on)"
    admins = sum(1 for t in tokens if t.admin)
    return f"auth: on ({len(tokens)} tokens, {admins} admin; 'ai-connect token list{where}')"


_D = Limits()
_B = BrakeLimits()
STORE_PROCESS = False
"""SQLite's writer runs in a thread of the bridge unless ``--store-process`` (issue 13,
item 5: on a busy 2-core machine the child process did not pay; on a quiet one it pays in
throughput and costs a lone message ~0.1 ms: bench/RESULTS.md, docs/operations.md)."""
SWITCH_INTERVAL_S = 0.0005
"""How long a thread of the bridge on SQLite holds the GIL while another waits for it
(Python's default: 5 ms). The store's writer thread runs Python between its SQLite calls;
with the default, the event loop could wait up to 5 ms behind it at every commit.
Measured (issue 13, bench/RESULTS.md): 10x10 throughput +10-18 %, 1x1 +1-13 %, nothing
slower. Not on PostgreSQL, where the writer's driver runs Python around every statement:
there it cost 7-17 % more CPU per message for no steady gain."""


def tune_process(sqlite: bool) -> None:
    """The interpreter settings of a bridge's process: a shorter GIL switch interval on
    SQLite (``SWITCH_INTERVAL_S``), fewer young collections (bridge/collection.py)."""
    if sqlite:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
    collect_young_less_often()


def bridge(
    host: Annotated[str | None, typer.Option(help="Address to bind [default: 127.0.0.1]")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to bind; 0 picks a free one [default: 9999]")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            help="SQLite file, or postgresql://USER@HOST/DB for many nodes on one database "
            "(docs/deploy.md) [default: XDG data dir]"
        ),
    ] = None,
    memory: Annotated[bool, typer.Option(help="Keep everything in memory (lost on exit)")] = False,
    presence_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds of silence before a peer is shown offline [default: 60]"),
    ] = None,
    retention_days: Annotated[
        float | None,
        typer.Option(
            help="Keep read messages and idle peers this many days; broadcasts reach the "
            "peers seen within it [default: 30]"
        ),
    ] = None,
    synchronous: Annotated[
        str | None, typer.Option(help="SQLite durability: FULL (default) or NORMAL")
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="PEM certificate (chain): serve wss:// [env AI_CONNECT_TLS_CERT]"),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="PEM private key of --tls-cert [env AI_CONNECT_TLS_KEY]")
    ] = None,
    auth: Annotated[
        bool, typer.Option(help="Require tokens even while none exists [config server.auth]")
    ] = False,
    ui: Annotated[
        bool,
        typer.Option(
            help="Serve the web dashboard at http://HOST:PORT/ui/ (admin token login when "
            "auth is on) [config server.ui]"
        ),
    ] = False,
    insecure: Annotated[
        bool, typer.Option(help="Allow a non-loopback --host without auth (not recommended)")
    ] = False,
    rate: Annotated[
        float, typer.Option(min=0, help="Frames/s per connection; 0: no limit")
    ] = _D.rate_per_s,
    burst: Annotated[int, typer.Option(min=1, help="Frames per connection above --rate")] = (
        _D.rate_burst
    ),
    token_rate: Annotated[
        float, typer.Option(min=0, help="Frames/s per auth token, all its connections; 0: no limit")
    ] = _D.token_rate_per_s,
    token_burst: Annotated[
        int, typer.Option(min=1, help="Frames per auth token above --token-rate")
    ] = _D.token_rate_burst,
    max_conns_per_token: Annotated[
        int, typer.Option(min=0, help="Live connections per auth token; 0: no limit")
    ] = _D.max_conns_per_token,
    max_conns_per_ip: Annotated[
        int, typer.Option(min=0, help="Live connections per non-loopback IP; 0: no limit")
    ] = _D.max_conns_per_ip,
    loop_hops: Annotated[
        int,
        typer.Option(
            min=0,
            help="Loop brake: pause a conversation after this many messages between agents "
            "with no human input; 0: no limit",
        ),
    ] = _B.hops,
    loop_rate: Annotated[
        int,
        typer.Option(
            min=0, help="Loop brake: pause a conversation past this many messages a minute"
        ),
    ] = _B.per_minute,
    store_process: Annotated[
        bool,
        typer.Option(
            "--store-process/--store-in-process",
            envvar="AI_CONNECT_STORE_PROCESS",
            help="SQLite: write the database from a child process, so that the bridge can "
            "use a second core (docs/operations.md); --store-in-process (the default) "
            "writes from a thread of the bridge [env AI_CONNECT_STORE_PROCESS=1|0]",
        ),
    ] = STORE_PROCESS,
    ready_file: Annotated[
        Path | None, typer.Option(help="Write the bridge URL to this file once listening")
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    log_file: LogFileOpt = None,
) -> None:
    """Run the bridge: routes messages between agents and keeps their mailboxes."""
    # Imported here, not at the top: the server and the stores load only for this command,
    # not for every ai-connect start (hooks start through the same CLI).
    from ai_connect.bridge.server import BridgeServer, ServerSettings
    from ai_connect.bridge.store.base import Store
    from ai_connect.bridge.store.memory import MemoryStore
    from ai_connect.bridge.store.sqlite.lock import DatabaseLock

    log_path = setup_logging(log_level, "bridge", log_file)
    raise_open_file_limit()
    settings = bridge_settings(
        host=host,
        port=port,
        db=db,
        presence_timeout_s=presence_timeout,
        retention_days=retention_days,
        synchronous=synchronous,
        tls_cert=tls_cert,
        tls_key=tls_key,
        auth=auth,
        ui=ui,
    )
    if memory and settings.auth:
        raise ConfigError("--auth needs a database: tokens live in it (drop --memory, use --db)")
    limits = Limits(
        rate_per_s=rate,
        rate_burst=burst,
        token_rate_per_s=token_rate,
        token_rate_burst=token_burst,
        max_conns_per_token=max_conns_per_token,
        max_conns_per_ip=max_conns_per_ip,
    )
    context = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        context = tls.server_context(settings.tls_cert, settings.tls_key)
    store: Store
    # One bridge per SQLite file (store/sqlite/lock.py): taken before the store opens, held
    # until this process exits; a second bridge refuses here, naming this one. PostgreSQL
    # nodes share their database by design: no lock.
    lock = DatabaseLock(settings.db)
    locked = not memory and settings.db_url is None
    if locked:
        lock.acquire()
    try:
        store = MemoryStore() if memory else open_bridge_store(settings, process=store_process)
    except BaseException:
        lock.release()
        raise
    where = "memory (lost on exit)" if memory else database_name(settings)
    tokens = store.tokens()
    problem = exposure_problem(settings.host, settings.auth or bool(tokens), where)
    if problem is not None and not insecure:
        store.close()
        lock.release()
        raise BridgeError(problem)
    server = BridgeServer(
        store,
        ServerSettings(
            host=settings.host,
            port=settings.port,
            limits=limits,
            presence_timeout_s=settings.presence_timeout_s,
            retention_s=settings.retention_s,
            ssl=context,
            require_auth=settings.auth,
            brake=BrakeLimits(hops=loop_hops, per_minute=loop_rate),
            ui=settings.ui,
        ),
    )

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await server.start()
        except OSError as exc:
            store.close()
            lock.release()
            raise BridgeError(
                f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}; "
                "is another bridge running? choose another --port"
            ) from exc
        say(f"ai-connect bridge {__version__} listening on {server.url} (storage: {where})")
        own_db: Path | str | None = None
        if settings.db_url is not None:
            own_db = redacted(settings.db_url)  # the token commands need it too (no password)
        elif not memory and settings.db != default_db_path():
            own_db = settings.db
        say(spell(_auth_line(tokens, settings.auth, own_db)))
        if settings.ui:
            page = server.url.replace("ws", "http", 1) + "/ui/"
            login = "; log in with an admin token" if settings.auth or tokens else ""
            say(f"dashboard: {page}{login}")
        if log_path is not None:
            say(spell(f"log: {log_path} ('ai-connect logs bridge -f' follows it)"))
        if problem is not None:
            log.warning(
                "listening on %s WITHOUT auth (--insecure): anyone who can reach it can "
                "register as any peer and read its mail; create a token to turn auth on",
                settings.host,
            )
        if settings.tls_cert is not None:
            pin = tls.colon_hex(tls.file_fingerprint(settings.tls_cert))
            say(f"TLS certificate sha256 {pin} (clients: --fingerprint {pin}, or --ca FILE)")
        say(
            spell(
                "connect an agent: run 'ai-connect setup claude-code --project' in its "
                "project (or codex|gemini|cursor|vscode); by hand: ai-connect wait --bridge "
                f"{server.url}"
            )
        )
        if locked:
            lock.announce(server.url)
        if ready_file is not None:
            ready_file.write_text(server.url + "\n", encoding="utf-8")
        stopping = asyncio.ensure_future(stop.wait())
        failing = asyncio.ensure_future(server.wait_failure())
        try:
            await asyncio.wait({stopping, failing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            failing.cancel()
            await server.close()
            lock.release()
        if server.failure is not None:
            raise BridgeError(
                f"{server.failure}, so the bridge stopped. Nothing accepted is lost: start it "
                "again ('ai-connect bridge'); without --store-process it writes from itself"
            )

    tune_process(sqlite=settings.db_url is None)
    asyncio.run(run())
