"""The writer's transactions on libpq's pipeline, through psycopg's ``pgconn``.

psycopg's ``execute`` spends about 85 µs of the writer thread's CPU on each statement
here, libpq's own call 15 (bench/RESULTS.md): a one-message commit runs eight
statements, and the writer thread holds the GIL against the event loop meanwhile. So a
commit's statements go out on libpq's pipeline directly: each prepared once per
connection under a name of ours, its column arrays written by ``arrays.py`` and its
other parameters dumped by psycopg's own ``Transformer`` (the same adapters, so the same
types and errors as ``execute``), their answers read at the few points where the commit
needs one (``rows``) and at ``COMMIT`` (bench/pg_client_cost.py compares the two).

A transaction that fails in any way closes the connection: the transaction, the
statements queued behind the error and the pipeline go with it, and the store opens a new
connection for its next call (``PostgresStore._writer``).
"""

from __future__ import annotations

import contextlib
import re
import select
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer

from ai_connect.bridge.store.postgres.arrays import ArrayType, array_type, encode

__all__ = ["Pipeline"]

_PLACEHOLDER = re.compile(r"%([%sbt])(::\w+\[\])?")
_FORMATS = {"s": PyFormat.AUTO, "b": PyFormat.BINARY, "t": PyFormat.TEXT}
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
_BINARY = pq.Format.BINARY


class Query(NamedTuple):
    """A statement as libpq takes it."""

    sql: bytes
    """With libpq's numbered parameters."""
    formats: list[PyFormat]
    """How psycopg dumps each parameter (``%s``: as it sees fit, ``%b``: binary...)."""
    arrays: list[ArrayType | None]
    """The column array each parameter is (``%b::T[]`` of a type ``arrays.py`` writes),
    or ``None``."""


def parsed(sql: str) -> Query:
    """psycopg's ``%s``/``%b``/``%t`` placeholders as libpq's ``$1, $2, ...`` (``%%`` is a
    ``%``), with what each parameter is."""
    formats: list[PyFormat] = []
    arrays: list[ArrayType | None] = []

    def number(match: re.Match[str]) -> str:
        if match[1] == "%":
            return "%"
        formats.append(_FORMATS[match[1]])
        cast = match[2] or ""
        arrays.append(array_type(cast[2:-2]) if match[1] == "b" and cast else None)
        return f"${len(formats)}{cast}"

    return Query(_PLACEHOLDER.sub(number, sql).encode(), formats, arrays)


class Pipeline:
    """One connection's transactions on libpq's pipeline (the writer thread's, one at a
    time)."""

    def __init__(self, db: psycopg.Connection[Any]) -> None:
        self.db = db
        self._pg = db.pgconn
        self._tx = Transformer(db)
        if db.info.encoding != "utf-8":  # (arrays.py writes text in UTF-8)
            db.execute("SET client_encoding TO 'UTF8'")
        self._encoding = db.info.encoding
        self._queries: dict[str, Query] = {}
        self._names: dict[tuple[str, tuple[int, ...]], bytes] = {}
        """(SQL, parameter types) -> the name it is prepared under on this connection:
        psycopg picks a scalar integer's type by its value, so one SQL may need two."""
        self._poll = select.poll()  # (not select.select: the bridge may hold > 1024 fds)
        self._poll.register(self._pg.socket, select.POLLIN)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Pipeline]:
        """``BEGIN`` ... ``COMMIT``, returning once the commit is answered; any error
        closes the connection (above) and goes on up."""
        pg = self._pg
        with self.db.lock:  # psycopg's own calls on this connection wait meanwhile
            try:
                pg.enter_pipeline_mode()
                pg.send_query_params(b"BEGIN", None)
                yield self
                pg.send_query_params(b"COMMIT", None)
                self.sync()
                pg.exit_pipeline_mode()
            except BaseException:
                self.db.close()
                raise

    def send(self, sql: str, params: Sequence[Any]) -> None:
        """Queues ``sql`` (psycopg's placeholders) with ``params``; its errors come with
        the next answer read."""
        query = self._queries.get(sql)
        if query is None:
            query = self._queries[sql] = parsed(sql)
        if len(params) != len(query.arrays):
            raise TypeError(f"{len(query.arrays)} parameters expected, {len(params)} given")
        values: list[Any] = []
        types: list[int] = []
        formats = [_BINARY] * len(params)
        others: list[int] = []
        for i, (kind, value) in enumerate(zip(query.arrays, params, strict=True)):
            if kind is None:
                others.append(i)
                values.append(None)
                types.append(0)
            else:
                values.append(encode(kind, value))
                types.append(kind.oid)
        if others:  # psycopg's adapters, as execute would
            tx = self._tx
            dumped = tx.dump_sequence(
                [params[i] for i in others], [query.formats[i] for i in others]
            )
            for i, value, oid, form in zip(
                others, dumped, tx.types or (), tx.formats or (), strict=True
            ):
                values[i], types[i], formats[i] = value, oid, form
        key = (sql, tuple(types))
        name = self._names.get(key)
        if name is None:
            name = f"ai_connect_{len(self._names)}".encode()
            self._pg.send_prepare(name, query.sql, param_types=types)
            self._names[key] = name
        self._pg.send_query_prepared(name, values, param_formats=formats)

    def flush(self) -> None:
        """Sends what is queued without waiting for answers: the server starts on it."""
        pg = self._pg
        while pg.flush():
            self._wait(select.POLLOUT)

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Sends ``sql`` and everything queued, and returns its rows."""
        self.send(sql, params)
        result = self.sync()
        tx = self._tx
        tx.set_pgresult(result)
        return tx.load_rows(0, result.ntuples, tuple)

    def sync(self) -> pq.abc.PGresult:
        """Sends what is queued and a sync point, and waits for every answer up to it;
        the last statement's result, or its first error raised."""
        pg = self._pg
        pg.pipeline_sync()
        self.flush()
        last: pq.abc.PGresult | None = None
        error: psycopg.Error | None = None
        while True:
            while pg.is_busy():
                self._wait(select.POLLIN)
                pg.consume_input()
            result = pg.get_result()
            if result is None:  # the end of one statement's results
                continue
            status = result.status
            if status == pq.ExecStatus.PIPELINE_SYNC:
                break
            if status == pq.ExecStatus.FATAL_ERROR and error is None:
                error = pg_errors.error_from_result(result, encoding=self._encoding)
            elif status not in _OK and status != pq.ExecStatus.PIPELINE_ABORTED:
                error = error or psycopg.InterfaceError(f"unexpected answer: {status}")
            last = result
        if error is not None:
            raise error
        if last is None:
            raise psycopg.InterfaceError("no answer before the sync point")
        return last

    def _wait(self, event: int) -> None:
        self._poll.modify(self._pg.socket, event)
        self._poll.poll()
