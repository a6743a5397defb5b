"""Rows of another bridge database copied into an empty PostgreSQL one, in one
transaction: ``ai-connect admin migrate`` (its other half: ``store/sqlite/export.py``,
which gives the rows in the same columns).

Each table goes in with ``COPY ... FROM STDIN``, row by row from the source's cursor.
Messages keep their ``n`` (history cursors stay valid), their bytes and their stored
checksum; their search words are made here, as a commit makes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import psycopg

from ai_connect.bridge.store.postgres.batch import lexemes

__all__ = ["COLUMNS", "count", "is_empty", "load"]

COLUMNS: dict[str, str] = {
    "peers": "address, name, project, first_seen, last_seen, tip, acked",
    "messages": (
        "n, id, sender, cid, target, body, context, thread, reply_to, ts, checksum, words,"
        " human, receipt"
    ),
    "mailbox": "recipient, seq, n, delivered, shown, shown_path",
    "tokens": "id, name, hash, names, admin, created, expires, revoked",
    "dead_letters": (
        "n, id, sender, target, recipients, body, context, thread, reply_to, ts, cid,"
        " checksum, reason, moved"
    ),
    "proposals": "id, data",
    "leases": "id, repo, path, holder, reason, created, expires, ttl, bound",
    "work_status": "address, data, ts",
}
"""Table -> the columns its rows carry, in the order the copy writes the tables."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) else None


def _bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode()


def _message(row: tuple[Any, ...]) -> tuple[Any, ...]:
    n, id_, sender, cid, target, body, context, thread, reply_to, ts, crc, human, receipt = row
    text = (_bytes(body) or b"").decode(errors="replace")
    words = " ".join(f"'{w}'" for w in lexemes(text))
    ts = _number(ts)
    return (n, id_, sender, cid, target, _bytes(body) or b"", _bytes(context), thread,
            reply_to, 0.0 if ts is None else ts, _int(crc), words, bool(human),
            bool(receipt))  # fmt: skip


def _mailbox(row: tuple[Any, ...]) -> tuple[Any, ...]:
    recipient, seq, n, delivered, shown, path = row
    return (recipient, seq, n, _number(delivered), _number(shown), path)


def _lease(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row[:8], bool(row[8]))


def _dead(row: tuple[Any, ...]) -> tuple[Any, ...]:
    n, id_, sender, target, recipients, body, context, thread, reply_to, ts, cid, crc, *rest = row
    return (n, id_, sender, target, recipients, _bytes(body), _bytes(context), thread,
            reply_to, _number(ts), cid, _int(crc), *rest)  # fmt: skip


_SHAPE: dict[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]] = {
    "messages": _message,
    "mailbox": _mailbox,
    "dead_letters": _dead,
    "leases": _lease,
}


def is_empty(db: psycopg.Connection[Any]) -> bool:
    """Whether no table of ``COLUMNS`` holds a row."""
    for table in COLUMNS:
        if db.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone() != (False,):
            return False
    return True


def count(db: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows per table."""
    counts = {}
    for table in COLUMNS:
        row = db.execute(f"SELECT count(*) FROM {table}").fetchone()
        counts[table] = 0 if row is None else int(row[0])
    return counts


def load(
    db: psycopg.Connection[Any], source: Callable[[str], Iterable[tuple[Any, ...]]]
) -> dict[str, int]:
    """Copies ``source(table)``'s rows into each table, in the caller's transaction;
    the number of rows copied per table."""
    copied: dict[str, int] = {}
    with db.cursor() as cursor:
        for table, columns in COLUMNS.items():
            shape = _SHAPE.get(table)
            done = 0
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in source(table):
                    copy.write_row(shape(row) if shape is not None else row)
                    done += 1
            copied[table] = done
    return copied
