"""What the PostgreSQL writer's client side costs per one-message commit (issue 14):
the store's commit (on libpq's pipeline, ``store/postgres/pipeline.py``) against the
same append statements sent bare -- through psycopg's ``execute`` in its pipeline mode
(how the store sent them before) and through the store's ``Pipeline`` -- interleaved, on
a private PostgreSQL (pgserver).

    python bench/pg_client_cost.py [--commits 500] [--rounds 3]

Prints the writer thread's CPU and the wall time per commit of each. The bare paths
number nothing and check no duplicate: the store's figure also holds its numbering, its
row building and its notification (a few hundred µs).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg

from ai_connect.bridge.store.base import AppendOp, PeerRecord, StoredMessage, WriteBatch
from ai_connect.bridge.store.postgres import _NOTIFY, PostgresStore
from ai_connect.bridge.store.postgres import batch as statements
from ai_connect.bridge.store.postgres.pipeline import Pipeline
from ai_connect.bridge.store.postgres.plans import KEEP_PLANS
from pg_bench import Server

ALICE, BOB = "Alice (p)", "Bob (p)"
CAROL = "Carol (p)"
"""The bare paths' recipient, their messages numbered below 0: the store's own stay apart."""


class Bare:
    """An append commit's statements, as the writer sends them, numbered by the caller."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute(KEEP_PLANS)  # as the writer
        self.pipeline = Pipeline(self.conn)

    @staticmethod
    def statements(i: int) -> list[tuple[str, list[Any]]]:
        """The statements after the batch start, for message ``i``."""
        n, seq, now = -1 - i, 1 + i, time.time()
        body = f"hello number {i} words"
        return [
            (statements._INSERT_MESSAGES,
             [[n], [f"d{i}"], [ALICE], [f"d{i}"], [CAROL], [body.encode()], [None], [None],
              [None], [now], [0], [body], [False], [False]]),
            (statements._INSERT_MAILBOX, [[CAROL], [seq], [n]]),
            (statements._UPSERT_TIPS, [[CAROL], ["Carol"], ["p"], [now], [seq]]),
            (_NOTIFY, ["bench"]),
        ]  # fmt: skip

    def via_pipeline(self, first: int, count: int) -> None:
        pipeline = self.pipeline
        for i in range(first, first + count):
            with pipeline.transaction():
                pipeline.send(statements._LOCK, ())
                pipeline.rows(statements._START, ([CAROL], [ALICE], [f"d{i}"]))
                for sql, params in self.statements(i):
                    pipeline.send(sql, params)

    def via_execute(self, first: int, count: int) -> None:
        conn = self.conn
        for i in range(first, first + count):
            with conn.pipeline(), conn.transaction():
                conn.execute(statements._LOCK)
                conn.execute(statements._START, ([CAROL], [ALICE], [f"d{i}"])).fetchone()
                for sql, params in self.statements(i):
                    conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()


def store_commits(store: PostgresStore, first: int, count: int) -> None:
    for i in range(first, first + count):
        body = f"hello number {i} words"
        message = StoredMessage(f"m{i}", ALICE, BOB, body, None, None, None, time.time(), f"c{i}")
        store.commit(WriteBatch(appends=[AppendOp(message, (BOB,))]))


def measure(run: Callable[[int, int], None], first: int, count: int) -> tuple[float, float]:
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
        bare = Bare(url)
        runs: dict[str, Callable[[int, int], None]] = {
            "the store's commit": lambda f, c: store_commits(store, f, c),
            "bare, psycopg execute": bare.via_execute,
            "bare, libpq pipeline": bare.via_pipeline,
        }
        try:
            store.commit(
                WriteBatch(peers=[PeerRecord(a, a[:5], "p", 1.0, 1.0) for a in (ALICE, BOB)])
            )
            store_commits(store, 0, 300)  # prepared, and the tables not empty
            bare.via_execute(0, 50)
            bare.via_pipeline(50, 50)
            for round_ in range(args.rounds):
                figures = []
                for k, (name, run) in enumerate(runs.items()):
                    first = 1_000 + (round_ * len(runs) + k) * args.commits
                    cpu, wall = measure(run, first, args.commits)
                    figures.append(f"{name} {cpu:,.0f} µs CPU, {wall:,.0f} µs wall")
                print(f"round {round_ + 1} (per commit): " + "; ".join(figures))
        finally:
            bare.close()
            store.close()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
