"""``ai-connect admin migrate --from sqlite:PATH --to postgresql://...``: an SQLite bridge's
data moved into PostgreSQL (docs/deploy.md), to run several nodes on it.

Everything moves, as stored: peers with their mailbox cursors, messages with their ids,
numbers, checksums and flags (sent by a person, receipts asked), mailboxes with their
receipt marks, tokens (hashes), proposals, dead letters, leases, work status. The source
must not be in use: the command takes the bridge's own lock on the file, so it refuses
while a bridge runs on it, naming that bridge. The target must be an empty database; the
copy is one transaction, so a failure leaves it empty. The source is left as it was
(upgraded to this version's schema first, as a bridge start would).
"""

from __future__ import annotations

import sqlite3
from typing import Annotated

import typer

from ai_connect.cli.options import JsonOpt
from ai_connect.cli.token import admin_app
from ai_connect.config import database, redacted
from ai_connect.errors import ConfigError, StoreError
from ai_connect.text import terminal

__all__ = ["admin_migrate"]


@admin_app.command("migrate")
def admin_migrate(
    source: Annotated[
        str,
        typer.Option(
            "--from", metavar="sqlite:PATH", help="The SQLite database of a stopped bridge"
        ),
    ],
    target: Annotated[
        str,
        typer.Option(
            "--to", metavar="postgresql://USER@HOST/DB", help="An empty PostgreSQL database"
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Copy an SQLite bridge database into an empty PostgreSQL database."""
    from ai_connect.bridge.store.postgres import PostgresStore
    from ai_connect.bridge.store.sqlite import SqliteStore, export
    from ai_connect.bridge.store.sqlite.lock import DatabaseLock

    path, _ = database(source, "--from")
    if path is None:
        raise ConfigError("--from must be an SQLite file: --from sqlite:PATH")
    if not path.is_file():
        raise ConfigError(f"--from {path}: no such file (the bridge's database; see --db)")
    _, to_url = database(target, "--to")
    if to_url is None:
        raise ConfigError("--to must be a PostgreSQL URL: postgresql://USER@HOST/DATABASE")
    with DatabaseLock(path):  # refuses while a bridge runs on it, naming that bridge
        SqliteStore(path).close()  # the source at this version's schema
        with PostgresStore(to_url) as store:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                copied = store.load(lambda table: export.rows(db, table))
                wanted = {
                    t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in export.TABLES
                }
            except sqlite3.Error as exc:
                raise StoreError(
                    f"Cannot read {path}: {exc}. Nothing was copied; check the file."
                ) from exc
            finally:
                db.close()
            stored = store.counts()
    if stored != wanted or copied != wanted:
        raise StoreError(
            f"the copy does not match: {path} has {wanted}, {redacted(to_url)} {stored}"
        )
    if as_json:
        print(terminal.to_json({"from": str(path), "to": redacted(to_url), "copied": copied}))
        return
    rows = ", ".join(f"{n} {table.replace('_', ' ')}" for table, n in copied.items())
    print(f"copied {path} into {redacted(to_url)}: {rows}.")
    print(f"start the nodes with: ai-connect bridge --db '{redacted(to_url)}'")
