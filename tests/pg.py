"""A private PostgreSQL for the tests, from the ``pgserver`` package (PostgreSQL 16
binaries on PyPI: no root, no network, a Unix socket in a temporary folder).

One server per test session (``pg_server``); each test that wants a database gets a new
empty one (``pg_url``). Where it cannot start, a test skips saying how to get it, except
in CI (``CI=true``), where it fails: the PostgreSQL tests must run there.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

__all__ = ["PgServer", "own_pg_server", "pg_server", "pg_url", "started", "unavailable"]

_names = itertools.count(1)


def unavailable(why: str) -> None:
    """Skips (or, in CI, fails) a test that needs PostgreSQL, saying how to get it."""
    text = (
        f"PostgreSQL could not be started for the tests: {why}. "
        "Install the test tools (sh scripts/setup.sh --test installs pgserver)."
    )
    if os.environ.get("CI", "").lower() in ("1", "true"):
        pytest.fail(text)
    pytest.skip(text)


class PgServer:
    """A PostgreSQL server in ``folder``, started by pgserver; ``stop``/``start`` take it
    down and bring it back on the same socket (the database outage tests)."""

    def __init__(self, folder: Path) -> None:
        with warnings.catch_warnings():
            # pgserver asks platformdirs for a runtime folder at import; without
            # XDG_RUNTIME_DIR that warns, and the suite turns warnings into errors.
            warnings.simplefilter("ignore")
            import pgserver
            from pgserver import _commands

        self._commands: Any = _commands
        self.folder = folder
        self.server: Any = pgserver.get_server(folder, cleanup_mode=None)  # type: ignore[attr-defined]
        self.uri: str = self.server.get_uri()
        with psycopg.connect(self.uri, autocommit=True) as db:
            # A test server: nothing here must outlive a power cut (a crash of PostgreSQL,
            # yes: synchronous_commit stays on), and CREATE DATABASE per test must be
            # quick. bench/pg_bench.py measures with fsync on.
            for setting in ("fsync", "full_page_writes"):
                db.execute(f"ALTER SYSTEM SET {setting} = off")
            db.execute("SELECT pg_reload_conf()")

    def url(self, database: str = "postgres") -> str:
        return str(self.server.get_uri(database))

    def new_database(self) -> str:
        """A new empty database; its URL."""
        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.uri, autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Shuts the server down now (connections are cut, as in an outage)."""
        self._commands.pg_ctl(
            ["-w", "-m", "immediate", "stop"], pgdata=self.folder, user=self.server.system_user
        )

    def start(self) -> None:
        """Starts it again, on the same socket."""
        self.server.ensure_postgres_running()
        assert self.server.get_uri() == self.uri, "PostgreSQL came back on another socket"

    def close(self) -> None:
        """Stops the server for good (the fixture removes its folder)."""
        if self.server.get_postmaster_info().is_running():
            self.stop()


@contextlib.contextmanager
def started() -> Iterator[PgServer]:
    """A new server in a temporary folder, stopped and removed at the end (skips, or
    fails in CI, if it cannot start)."""
    folder = Path(tempfile.mkdtemp(prefix="ai-connect-pg-"))
    try:
        server = PgServer(folder / "data")
    except Exception as exc:  # whatever the reason, the test says it and how to fix it
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"{type(exc).__name__}: {exc}")
        raise  # unreachable: unavailable() raises
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):  # already stopped by a test is fine
            server.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server."""
    with started() as server:
        yield server


@pytest.fixture
def own_pg_server() -> Iterator[PgServer]:
    """A server of the test's own, for a test that stops and starts it (an outage)."""
    with started() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a new empty database on the session's server."""
    return pg_server.new_database()
