"""What the PostgreSQL writer's client side costs per one-message commit (issue 14):
the store's commit through psycopg's API, against the same statements sent through
libpq's pipeline directly (psycopg's ``pgconn``, statements prepared once, parameters
dumped by psycopg's own ``Transformer``), interleaved, on a private PostgreSQL (pgserver).

    python bench/pg_client_cost.py [--commits 500] [--rounds 3]

Prints the writer thread's CPU and the wall time per commit of each. The direct path
is a measurement, not the store: it numbers nothing and checks no duplicate, so the
store's figure also holds a few hundred µs of numbering and row building.
"""

from __future__ import annotations

import argparse
import re
import select
import sys
import time
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.numeric import Int8

from ai_connect.bridge.store.base import AppendOp, PeerRecord, StoredMessage, WriteBatch
from ai_connect.bridge.store.postgres import _NOTIFY, PostgresStore
from ai_connect.bridge.store.postgres import batch as statements
from pg_bench import Server

ALICE, BOB = "Alice (p)", "Bob (p)"
CAROL = "Carol (p)"
"""The direct path's recipient, its messages numbered below 0: the store's own stay apart."""


def numbered_sql(sql: str) -> bytes:
    """psycopg's ``%s``/``%b`` placeholders as libpq's ``$1, $2...``."""
    count = iter(range(1, 1000))
    return re.sub(r"%[bs]", lambda _: f"${next(count)}", sql).encode()


class Direct:
    """An append commit's statements on libpq's pipeline, as the writer would send them."""

    STATEMENTS = {
        b"lock": statements._LOCK,
        b"start": statements._START,
        b"messages": statements._INSERT_MESSAGES,
        b"mailbox": statements._INSERT_MAILBOX,
        b"tips": statements._UPSERT_TIPS,
        b"notify": _NOTIFY,
    }

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute("SET plan_cache_mode = force_generic_plan")  # as the writer
        self.pgconn = self.conn.pgconn
        self.transformer = Transformer(self.conn)
        self.prepared: set[bytes] = set()

    def send(self, name: bytes, params: list[Any]) -> None:
        tx = self.transformer
        dumped = tx.dump_sequence(params, [PyFormat.BINARY] * len(params))
        if name not in self.prepared:
            self.pgconn.send_prepare(name, numbered_sql(self.STATEMENTS[name]), tx.types)
            self.prepared.add(name)
        self.pgconn.send_query_prepared(name, dumped, param_formats=tx.formats)

    def sync(self) -> list[pq.abc.PGresult]:
        """Sends a sync point and waits for every result up to it."""
        pgconn = self.pgconn
        pgconn.pipeline_sync()
        while pgconn.flush():
            select.select([], [pgconn.socket], [])
        results = []
        while True:
            while pgconn.is_busy():
                select.select([pgconn.socket], [], [])
                pgconn.consume_input()
            result = pgconn.get_result()
            if result is None:
                continue
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                return results
            if result.status == pq.ExecStatus.FATAL_ERROR:
                raise RuntimeError(result.error_message.decode())
            results.append(result)

    def commits(self, first: int, count: int) -> None:
        pgconn = self.pgconn
        pgconn.enter_pipeline_mode()
        try:
            for i in range(first, first + count):
                pgconn.send_query_params(b"BEGIN", None)
                self.send(b"lock", [])
                self.send(b"start", [[CAROL], [ALICE], [f"d{i}"]])
                self.sync()  # the store numbers the batch after this answer
                n, seq, now = Int8(-1 - i), Int8(1 + i), time.time()
                body = f"hello number {i} words"
                self.send(
                    b"messages",
                    [[n], [f"d{i}"], [ALICE], [f"d{i}"], [CAROL], [body.encode()], [None],
                     [None], [None], [now], [Int8(0)], [body], [False], [False]],
                )  # fmt: skip
                self.send(b"mailbox", [[CAROL], [seq], [n]])
                self.send(b"tips", [[CAROL], ["Carol"], ["p"], [now], [seq]])
                self.send(b"notify", ["bench"])
                pgconn.send_query_params(b"COMMIT", None)
                self.sync()
        finally:
            pgconn.exit_pipeline_mode()

    def close(self) -> None:
        self.conn.close()


def store_commits(store: PostgresStore, first: int, count: int) -> None:
    for i in range(first, first + count):
        body = f"hello number {i} words"
        message = StoredMessage(f"m{i}", ALICE, BOB, body, None, None, None, time.time(), f"c{i}")
        store.commit(WriteBatch(appends=[AppendOp(message, (BOB,))]))


def measure(run: Any, first: int, count: int) -> tuple[float, float]:
    """(client CPU µs, wall µs) per commit of ``run(first, count)``."""
    cpu, wall = time.thread_time(), time.perf_counter()
    run(first, count)
    return 1e6 * (time.thread_time() - cpu) / count, 1e6 * (time.perf_counter() - wall) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    server = Server()
    try:
        url = server.new_database()
        store = PostgresStore(url)
        direct = Direct(url)
        try:
            store.commit(
                WriteBatch(peers=[PeerRecord(a, a[:5], "p", 1.0, 1.0) for a in (ALICE, BOB)])
            )
            store_commits(store, 0, 300)  # prepared, and the tables not empty
            direct.commits(0, 50)
            for round_ in range(args.rounds):
                first = 1_000 + round_ * args.commits
                api = measure(lambda f, c: store_commits(store, f, c), first, args.commits)
                raw = measure(direct.commits, first, args.commits)
                print(
                    f"round {round_ + 1}: psycopg API (the store) {api[0]:,.0f} µs CPU, "
                    f"{api[1]:,.0f} µs wall; libpq pipeline {raw[0]:,.0f} µs CPU, "
                    f"{raw[1]:,.0f} µs wall per commit ({raw[0] / api[0]:.2f}x the CPU)"
                )
        finally:
            direct.close()
            store.close()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
